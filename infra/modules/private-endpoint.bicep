// A private endpoint of one sub-resource (groupId) of a service in the endpoints subnet, registered
// in its private DNS zone, so the service's usual host name resolves to the endpoint's private
// address inside the virtual network.
param location string
param tags object
param endpointName string
param subnetId string

@description('Resource id of the account or namespace.')
param targetResourceId string

@description('Sub-resource: blob, dfs (storage), namespace (Event Hubs, Service Bus), Sql (Cosmos DB NoSQL).')
param groupId string

param privateDnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: endpointName
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: endpointName
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [groupId]
        }
      }
    ]
  }
}

resource dnsGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [{ name: groupId, properties: { privateDnsZoneId: privateDnsZoneId } }]
  }
}

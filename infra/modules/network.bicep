// The private network (with enablePrivateNetworking): one virtual network with a subnet for the
// Container Apps environment and one for the private endpoints, and the private DNS zones that make
// the services' usual host names resolve to those endpoints from inside it.
//
// - The environment's subnet is delegated to Microsoft.App/environments (a workload-profiles
//   environment needs /27 at least; /23 leaves room to scale out).
// - One zone serves Event Hubs and Service Bus alike (both are <namespace>.servicebus.windows.net).
param location string
param tags object
param vnetName string

@description('Address space of the virtual network.')
param addressPrefix string = '10.40.0.0/16'
param appsSubnetPrefix string = '10.40.0.0/23'
param endpointsSubnetPrefix string = '10.40.2.0/24'

// privatelink zones of the blob and dfs endpoints, the Event Hubs and Service Bus namespaces and Cosmos DB (NoSQL).
var zoneNames = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  dfs: 'privatelink.dfs.${environment().suffixes.storage}'
  servicebus: 'privatelink.servicebus.windows.net'
  cosmos: 'privatelink.documents.azure.com'
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: appsSubnetPrefix
          delegations: [{ name: 'container-apps', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: { addressPrefix: endpointsSubnetPrefix }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zone in items(zoneNames): {
    name: zone.value
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zone, i) in items(zoneNames): {
    parent: zones[i]
    name: '${vnetName}-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: { id: vnet.id }
    }
  }
]

output appsSubnetId string = '${vnet.id}/subnets/apps'
output endpointsSubnetId string = '${vnet.id}/subnets/private-endpoints'
// Zone ids by service: blob, dfs, servicebus, cosmos.
output zoneIds object = {
  blob: resourceId('Microsoft.Network/privateDnsZones', zoneNames.blob)
  dfs: resourceId('Microsoft.Network/privateDnsZones', zoneNames.dfs)
  servicebus: resourceId('Microsoft.Network/privateDnsZones', zoneNames.servicebus)
  cosmos: resourceId('Microsoft.Network/privateDnsZones', zoneNames.cosmos)
}

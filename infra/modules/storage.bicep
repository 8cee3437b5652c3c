// The lake: an ADLS Gen2 account (hierarchical namespace) reached only with Microsoft Entra ID.
//
// - allowSharedKeyAccess is false: no account key or SAS works. Event Hubs Capture still writes
//   here because it authenticates with the namespace's managed identity (event-hubs.bicep).
// - Containers (filesystems) are created here; the services' data roles cannot create them.
param location string
param tags object

@minLength(3)
@maxLength(24)
param accountName string

@description('Filesystems to create: the lake and the Event Hubs checkpoint container.')
param containerNames array

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_RAGRS'])
param skuName string = 'Standard_LRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    isHnsEnabled: true
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    accessTier: 'Hot'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for name in containerNames: {
    parent: blobService
    name: name
    properties: { publicAccess: 'None' }
  }
]

output accountName string = account.name
output accountId string = account.id
// https://<account>.blob.core.windows.net (the Blob endpoint, which HNS accounts serve too), without the trailing slash.
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'

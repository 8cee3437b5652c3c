// The lake: an ADLS Gen2 account (hierarchical namespace) reached only with Microsoft Entra ID.
//
// - allowSharedKeyAccess is false: no account key or SAS works. Event Hubs Capture still writes
//   here because it authenticates with the namespace's managed identity (event-hubs.bicep).
// - Containers (filesystems) are created here; the services' data roles cannot create them.
// - Soft delete (softDeleteDays > 0) keeps deleted blobs and containers that many days, so a
//   mistaken delete of lake data or of a whole container can be undone.
// - Lifecycle (rawCoolAfterDays / rawDeleteAfterDays > 0): Capture's Avro files under raw/ move to
//   the cool tier, and are deleted, that many days after they were written. Only raw/: the Delta
//   tables, manifests and checkpoints are never tiered or deleted by a rule.
// - Private (privateNetworking): every network is refused except the trusted Azure services
//   (Event Hubs Capture writes from Microsoft's network, not from the VNet); the apps reach the
//   account through its private endpoints (blob and dfs).
// - Diagnostic settings (logAnalyticsWorkspaceId not empty): blob reads, writes and deletes and the
//   account's metrics go to Log Analytics.
param location string
param tags object

@minLength(3)
@maxLength(24)
param accountName string

@description('Filesystems to create: the lake and the Event Hubs checkpoint container.')
param containerNames array

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_RAGRS'])
param skuName string = 'Standard_LRS'

@minValue(0)
@maxValue(365)
@description('Days deleted blobs and containers are kept (soft delete); 0: soft delete off.')
param softDeleteDays int = 0

@description('Blob name prefix of the Capture files, container included (e.g. lake/raw/).')
param rawPrefix string = ''

@minValue(0)
@description('Days after which a raw Capture file moves to the cool tier; 0: never.')
param rawCoolAfterDays int = 0

@minValue(0)
@description('Days after which a raw Capture file is deleted; 0: never.')
param rawDeleteAfterDays int = 0

@description('Refuse public networks (trusted Azure services excepted); reach the account through private endpoints.')
param privateNetworking bool = false

@description('Log Analytics workspace of the diagnostic settings; empty: none.')
param logAnalyticsWorkspaceId string = ''

var softDelete = softDeleteDays > 0
var lifecycle = !empty(rawPrefix) && (rawCoolAfterDays > 0 || rawDeleteAfterDays > 0)
var rawActions = union(
  rawCoolAfterDays > 0 ? { tierToCool: { daysAfterModificationGreaterThan: rawCoolAfterDays } } : {},
  rawDeleteAfterDays > 0 ? { delete: { daysAfterModificationGreaterThan: rawDeleteAfterDays } } : {}
)

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
    // Deny every network but the trusted Azure services (Event Hubs Capture among them): with
    // publicNetworkAccess 'Disabled' the trusted-service exception would not apply and Capture stops.
    networkAcls: privateNetworking
      ? { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [], virtualNetworkRules: [] }
      : { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: softDelete ? { enabled: true, days: softDeleteDays } : { enabled: false }
    containerDeleteRetentionPolicy: softDelete ? { enabled: true, days: softDeleteDays } : { enabled: false }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for name in containerNames: {
    parent: blobService
    name: name
    properties: { publicAccess: 'None' }
  }
]

resource rawLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (lifecycle) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'raw-capture-files'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: [rawPrefix] }
            actions: { baseBlob: rawActions }
          }
        }
      ]
    }
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'Transaction', enabled: true }]
  }
}

output accountName string = account.name
output accountId string = account.id
// https://<account>.blob.core.windows.net (the Blob endpoint, which HNS accounts serve too), without the trailing slash.
output blobEndpoint string = 'https://${account.name}.blob.${environment().suffixes.storage}'
// https://<account>.dfs.core.windows.net: the endpoint a OneLake shortcut (adlsGen2) names.
output dfsEndpoint string = 'https://${account.name}.dfs.${environment().suffixes.storage}'

// Event Hubs: the namespace, the hub, the capture app's consumer group, and optionally Event Hubs
// Capture writing Avro into the lake.
//
// - Local auth (SAS) is disabled; clients use Microsoft Entra ID.
// - Capture writes raw/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}
//   in the lake container, the layout bronze reads (BRONZE_RAW_PREFIX = raw). It authenticates with
//   the namespace's system-assigned identity, which gets Storage Blob Data Contributor on the
//   account before the hub turns Capture on (the account refuses shared keys). Event Hubs checks
//   that grant when Capture is configured ("Linked access check failed" when it is missing or not
//   yet propagated: docs/deploy.md, "Capture and the lake's role").
// - Auto-inflate (maxThroughputUnits > 0) raises the throughput units up to that many when the
//   traffic needs them, instead of throttling at one unit; it never lowers them again by itself.
// - Zone redundancy and private networking (public network access off; the apps come through the
//   private endpoint) where asked; diagnostic settings send every log category and the metrics to
//   Log Analytics (ArchiveLogs are Capture's errors).
param location string
param tags object
param namespaceName string
param hubName string

@minValue(1)
@maxValue(32)
param partitionCount int

param consumerGroupName string
param enableCapture bool
param captureStorageAccountName string
param captureContainerName string

@minValue(60)
@maxValue(900)
param captureIntervalSeconds int

@minValue(10485760)
@maxValue(524288000)
param captureSizeLimitBytes int

param storageBlobDataContributorRoleId string

@minValue(1)
@maxValue(7)
param messageRetentionInDays int = 7

@minValue(0)
@maxValue(40)
@description('Auto-inflate up to this many throughput units; 0: auto-inflate off (one unit).')
param maxThroughputUnits int = 0

@description('Spread the namespace over availability zones (regions with zones only).')
param zoneRedundant bool = false

@description('Public network access off: clients come through a private endpoint.')
param privateNetworking bool = false

@description('Log Analytics workspace of the diagnostic settings; empty: none.')
param logAnalyticsWorkspaceId string = ''

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  // Capture needs the Standard tier or above.
  sku: { name: 'Standard', tier: 'Standard', capacity: 1 }
  identity: { type: 'SystemAssigned' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    isAutoInflateEnabled: maxThroughputUnits > 0
    maximumThroughputUnits: maxThroughputUnits
    zoneRedundant: zoneRedundant
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

resource captureAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: captureStorageAccountName
}

resource captureWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableCapture) {
  name: guid(captureAccount.id, namespace.id, storageBlobDataContributorRoleId)
  scope: captureAccount
  properties: {
    principalId: namespace.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'Event Hubs Capture writes the hub\'s Avro files into the lake as the namespace\'s identity.'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: hubName
  dependsOn: [captureWriter]
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: messageRetentionInDays
    captureDescription: enableCapture
      ? {
          enabled: true
          encoding: 'Avro'
          intervalInSeconds: captureIntervalSeconds
          sizeLimitInBytes: captureSizeLimitBytes
          // No empty files: bronze lists fewer objects, and an idle partition costs nothing.
          skipEmptyArchives: true
          destination: {
            name: 'EventHubArchive.AzureBlockBlob'
            identity: { type: 'SystemAssigned' }
            properties: {
              storageAccountResourceId: captureAccount.id
              blobContainer: captureContainerName
              archiveNameFormat: 'raw/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}'
            }
          }
        }
      : null
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

output namespaceName string = namespace.name
output namespaceId string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
output hubName string = hub.name
output consumerGroupName string = consumerGroup.name

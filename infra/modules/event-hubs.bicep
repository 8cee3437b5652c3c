// Event Hubs: the namespace, the hub, the capture app's consumer group, and optionally Event Hubs
// Capture writing Avro into the lake.
//
// - Local auth (SAS) is disabled; clients use Microsoft Entra ID.
// - Capture writes raw/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}
//   in the lake container, the layout bronze reads (BRONZE_RAW_PREFIX = raw). It authenticates with
//   the namespace's system-assigned identity, which gets Storage Blob Data Contributor on the
//   account before the hub turns Capture on (the account refuses shared keys).
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

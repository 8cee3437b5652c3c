// The medallion pipeline on Azure: one resource group holding the lake (ADLS Gen2), Event Hubs
// (+ Capture), Service Bus, Cosmos DB, monitoring, a registry and one Container App per service.
//
// Invariants kept here:
// - No secrets: every service authenticates with its own user-assigned managed identity
//   (AZURE_CLIENT_ID); local auth (keys, SAS) is disabled on every data service. The one Container
//   Apps secret is generated here, not a credential: the key the serving-api replicas share to sign
//   continuation tokens (SERVING_TOKEN_KEY), new on each deployment.
// - The serving API faces the internet: callers need a Microsoft Entra ID token for its app
//   registration with the app role servingApiRole (SERVING_AUTH=entra), unless servingApiAuth is
//   turned off; health probes and /docs stay public. infra/README.md says how to register the API.
// - Least privilege: each identity gets only the data-plane roles its adapters need, scoped to the
//   container, hub or queue it touches (the table is `roleAssignments` below; infra/README.md
//   explains it and infra/tests/role-coverage.spec.ts checks it against the adapters' code).
// - Entities (containers, hub, consumer group, queues, Cosmos database and container) are created
//   here, never by the services: their data-plane roles cannot create them.
// - Capture notices (queue, Event Grid system topic and subscription, their grants, bronze's
//   BRONZE_NOTICES_QUEUE) exist only with both enableEventHubsCapture and enableCaptureNotices;
//   without them nothing of it is deployed and bronze lists as before.
// - What a team needs to run it, each behind its own parameter with the default a first deployment
//   wants: diagnostic settings to Log Analytics, alerts to an action group, private networking
//   (off by default: it needs Service Bus Premium and locks out a laptop), a lifecycle rule for raw
//   Capture files, Event Hubs auto-inflate, soft delete on the lake, zone redundancy (off by
//   default: not every region has zones). infra/README.md has the table.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource.')
param location string

@description('true: Event Hubs Capture writes Avro to lake/raw and the capture app is scaled to 0 with no roles; false: the capture app does it.')
param enableEventHubsCapture bool = true

@description('With Event Hubs Capture on: Event Grid puts a notice of each new Capture file (CaptureFileCreated) on a queue that bronze reads, so bronze takes a file when it lands and lists only every 5 minutes as the safety net. false: bronze finds files by listing alone.')
param enableCaptureNotices bool = true

@minValue(1)
@maxValue(32)
@description('Event hub partitions; fixed after creation on the Standard tier.')
param eventHubPartitions int = 4

@minValue(60)
@maxValue(900)
@description('Capture window in seconds: a file is written per partition at least this often.')
param captureIntervalSeconds int = 300

@minValue(10485760)
@maxValue(524288000)
@description('Capture window in bytes: a file is cut earlier when this much arrived.')
param captureSizeLimitBytes int = 314572800

@minValue(1)
@maxValue(30)
@description('Gold replicas at most. Instances split the shards evenly (ownership records in the ownership container) and take over a dead one\'s shards within 13 s; more instances than shards only idle.')
param goldMaxReplicas int = 1

@minValue(1)
@maxValue(2)
@description('Silver replicas at most. One runs; a second stands by on the lease beside the silver checkpoint and takes over within about 12 s of its death (1: no standby, Container Apps restarts the one replica). More would only stand by too.')
param silverMaxReplicas int = 2

@minValue(1)
@maxValue(2)
@description('Bronze replicas, always on. One runs; a second stands by on the lease beside the bronze checkpoint and takes over within about 12 s of its death (1: no standby, Container Apps restarts the one replica). More would only stand by too.')
param bronzeReplicas int = 2

@minValue(1)
@maxValue(30)
@description('serving-api replicas at least 1 (always on) and at most this.')
param servingApiMaxReplicas int = 3

@description('serving-api: require a Microsoft Entra ID bearer token on /v1 (SERVING_AUTH=entra). Turn off only for a deployment nobody else can reach.')
param servingApiAuth bool = true

@description('serving-api: the audiences of its tokens, comma-separated: the API app registration\'s application (client) id and/or application id URI (api://…). Required while servingApiAuth is on: without it the API refuses to start and says so.')
param servingApiAudience string = ''

@description('serving-api: the app role (of the API app registration) a caller needs to read.')
param servingApiRole string = 'Pipeline.Read'

@description('serving-api: browser origins allowed to call it (CORS), comma-separated, e.g. https://dashboard.example.com; empty: none.')
param servingApiCorsOrigins string = ''

@secure()
@description('serving-api: the key its replicas share to sign continuation tokens (SERVING_TOKEN_KEY). Generated on each deployment; tokens handed out before a deployment are refused after it (clients start their paging again).')
param servingApiTokenKey string = '${newGuid()}${newGuid()}'

@description('Cosmos DB serverless (pay per request) instead of provisioned throughput.')
param cosmosServerless bool = true

@description('Diagnostic settings: Event Hubs, Service Bus, Cosmos DB and the lake send their logs and metrics to the Log Analytics workspace.')
param enableDiagnostics bool = true

@description('Alerts (dead letters, Event Hubs throttling, Capture backlog and errors, Cosmos DB 429s, container restarts, a stalled watermark) to one action group.')
param enableAlerts bool = true

@description('E-mail address the alerts go to; empty: they fire in the portal only.')
param alertEmail string = ''

@allowed([15, 30, 45])
@description('Minutes a gold shard may commit rows without its watermark moving before it alerts.')
param watermarkStallMinutes int = 30

@description('Private networking: a virtual network for the Container Apps environment, private endpoints with private DNS zones for the lake, Event Hubs, Service Bus (Premium) and Cosmos DB, their public network access off. The serving API stays reachable through its ingress.')
param enablePrivateNetworking bool = false

@description('Lifecycle rule for the raw Capture files (lake/raw/): cool tier, and deletion, after the days below.')
param enableRawCaptureLifecycle bool = true

@minValue(1)
@description('Days after which a raw Capture file moves to the cool tier (with enableRawCaptureLifecycle).')
param rawCaptureCoolAfterDays int = 30

@minValue(0)
@description('Days after which a raw Capture file is deleted (with enableRawCaptureLifecycle); 0: kept. Replays from raw files (pipeline replay) cannot reach back further.')
param rawCaptureDeleteAfterDays int = 0

@description('Event Hubs auto-inflate: throughput units rise up to eventHubsMaxThroughputUnits instead of throttling at one.')
param enableEventHubsAutoInflate bool = true

@minValue(1)
@maxValue(40)
@description('Throughput units auto-inflate may reach.')
param eventHubsMaxThroughputUnits int = 4

@description('Soft delete on the lake: deleted blobs and containers are kept lakeSoftDeleteDays days.')
param enableLakeSoftDelete bool = true

@minValue(1)
@maxValue(365)
@description('Days soft-deleted blobs and containers are kept.')
param lakeSoftDeleteDays int = 7

@description('Zone redundancy where the SKU allows it: the lake (ZRS), Event Hubs, Cosmos DB (provisioned throughput), and with private networking Service Bus (Premium) and the Container Apps environment. Only in regions with availability zones.')
param zoneRedundant bool = false

@description('Image of each service; azd sets them on deploy, the placeholder is used before the first deploy.')
param producerImage string = ''
param captureImage string = ''
param bronzeImage string = ''
param silverImage string = ''
param goldImage string = ''
param servingApiImage string = ''

var tags = { 'azd-env-name': environmentName }
// A short, stable suffix: globally unique names (storage, registry, namespaces) without collisions.
var token = toLower(uniqueString(subscription().id, environmentName, location))
var lakeContainer = 'lake'
var checkpointContainer = 'eventhub-checkpoints'
// Gold's shard ownership records (one scope per gold checkpoint), beside the lake.
var ownershipContainer = 'ownership'
var hubName = 'events'
var captureConsumerGroup = 'capture'
var bronzeQueue = 'bronze-manifests'
var silverQueue = 'silver-manifests'
// Plain queue (Event Grid cannot deliver to a session queue) of the Capture file notices bronze reads.
var noticesQueue = 'capture-notices'
var captureNotices = enableEventHubsCapture && enableCaptureNotices
var cosmosDatabase = 'pipeline'
var cosmosContainer = 'serving'
var pipelineSpec = 'examples/sensors.spec.yaml'
// Where Capture (or the capture app) writes its Avro files: the container, then BRONZE_RAW_PREFIX.
var rawCapturePrefix = '${lakeContainer}/raw/'
var diagnosticsWorkspaceId = enableDiagnostics ? monitoring.outputs.logAnalyticsWorkspaceId : ''

// Built-in role definition ids (Azure RBAC), and the Cosmos DB SQL data-plane built-in roles.
var role = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  cosmosDataReader: '00000000-0000-0000-0000-000000000001'
  cosmosDataContributor: '00000000-0000-0000-0000-000000000002'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${token}'
    applicationInsightsName: 'appi-${token}'
  }
}

module lake 'modules/storage.bicep' = {
  name: 'lake'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: 'stlake${token}'
    containerNames: [lakeContainer, checkpointContainer, ownershipContainer]
    skuName: zoneRedundant ? 'Standard_ZRS' : 'Standard_LRS'
    softDeleteDays: enableLakeSoftDelete ? lakeSoftDeleteDays : 0
    rawPrefix: enableRawCaptureLifecycle ? rawCapturePrefix : ''
    rawCoolAfterDays: rawCaptureCoolAfterDays
    rawDeleteAfterDays: rawCaptureDeleteAfterDays
    privateNetworking: enablePrivateNetworking
    logAnalyticsWorkspaceId: diagnosticsWorkspaceId
  }
}

module eventHubs 'modules/event-hubs.bicep' = {
  name: 'event-hubs'
  scope: rg
  params: {
    location: location
    tags: tags
    namespaceName: 'evhns-${token}'
    hubName: hubName
    partitionCount: eventHubPartitions
    consumerGroupName: captureConsumerGroup
    enableCapture: enableEventHubsCapture
    captureStorageAccountName: lake.outputs.accountName
    captureContainerName: lakeContainer
    captureIntervalSeconds: captureIntervalSeconds
    captureSizeLimitBytes: captureSizeLimitBytes
    storageBlobDataContributorRoleId: role.storageBlobDataContributor
    maxThroughputUnits: enableEventHubsAutoInflate ? eventHubsMaxThroughputUnits : 0
    zoneRedundant: zoneRedundant
    privateNetworking: enablePrivateNetworking
    logAnalyticsWorkspaceId: diagnosticsWorkspaceId
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'service-bus'
  scope: rg
  params: {
    location: location
    tags: tags
    namespaceName: 'sbns-${token}'
    sessionQueueNames: [bronzeQueue, silverQueue]
    plainQueueNames: captureNotices ? [noticesQueue] : []
    privateNetworking: enablePrivateNetworking
    zoneRedundant: zoneRedundant
    logAnalyticsWorkspaceId: diagnosticsWorkspaceId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: 'cosmos-${token}'
    databaseName: cosmosDatabase
    containerName: cosmosContainer
    serverless: cosmosServerless
    privateNetworking: enablePrivateNetworking
    zoneRedundant: zoneRedundant
    logAnalyticsWorkspaceId: diagnosticsWorkspaceId
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    registryName: 'cr${token}'
  }
}

module environment 'modules/container-apps-environment.bicep' = {
  name: 'container-apps-environment'
  scope: rg
  params: {
    location: location
    tags: tags
    environmentName: 'cae-${token}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    infrastructureSubnetId: enablePrivateNetworking ? network!.outputs.appsSubnetId : ''
    zoneRedundant: zoneRedundant
  }
}

// ---------------------------------------------------------------------------------------------
// Private networking: the environment joins the VNet; the lake (blob, dfs), Event Hubs, Service Bus
// and Cosmos DB get private endpoints registered in private DNS zones, and refuse public networks.
// ---------------------------------------------------------------------------------------------

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  scope: rg
  params: { location: location, tags: tags, vnetName: 'vnet-${token}' }
}

// The endpoints: one per sub-resource (the lake's blob and dfs endpoints both serve the apps and tools).
var privateEndpoints = [
  { name: 'lake-blob', service: 'lake', groupId: 'blob', zone: 'blob' }
  { name: 'lake-dfs', service: 'lake', groupId: 'dfs', zone: 'dfs' }
  { name: 'event-hubs', service: 'eventHubs', groupId: 'namespace', zone: 'servicebus' }
  { name: 'service-bus', service: 'serviceBus', groupId: 'namespace', zone: 'servicebus' }
  { name: 'cosmos', service: 'cosmos', groupId: 'Sql', zone: 'cosmos' }
]

module privateEndpoint 'modules/private-endpoint.bicep' = [
  for endpoint in privateEndpoints: if (enablePrivateNetworking) {
    name: 'private-endpoint-${endpoint.name}'
    scope: rg
    params: {
      location: location
      tags: tags
      endpointName: 'pe-${endpoint.name}-${token}'
      subnetId: network!.outputs.endpointsSubnetId
      targetResourceId: {
        lake: lake.outputs.accountId
        eventHubs: eventHubs.outputs.namespaceId
        serviceBus: serviceBus.outputs.namespaceId
        cosmos: cosmos.outputs.accountId
      }[endpoint.service]
      groupId: endpoint.groupId
      privateDnsZoneId: network!.outputs.zoneIds[endpoint.zone]
    }
  }
]

// One identity per service: a compromised service reaches only what its own roles allow.
module producerIdentity 'modules/identity.bicep' = {
  name: 'identity-producer'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-producer-${token}' }
}
module captureIdentity 'modules/identity.bicep' = {
  name: 'identity-capture'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-capture-${token}' }
}
module bronzeIdentity 'modules/identity.bicep' = {
  name: 'identity-bronze'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-bronze-${token}' }
}
module silverIdentity 'modules/identity.bicep' = {
  name: 'identity-silver'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-silver-${token}' }
}
module goldIdentity 'modules/identity.bicep' = {
  name: 'identity-gold'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-gold-${token}' }
}
module servingApiIdentity 'modules/identity.bicep' = {
  name: 'identity-serving-api'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-serving-api-${token}' }
}
// KEDA's Service Bus scaler reads queue runtime counts, which Data Sender/Receiver do not allow.
module queueScalerIdentity 'modules/identity.bicep' = {
  name: 'identity-queue-scaler'
  scope: rg
  params: { location: location, tags: tags, identityName: 'id-queue-scaler-${token}' }
}

// ---------------------------------------------------------------------------------------------
// Role assignments: the data-plane table of the settings contract, one module call per grant.
// ---------------------------------------------------------------------------------------------

// producer: sends events.
module producerHubSender 'modules/roles/event-hub-role.bicep' = {
  name: 'role-producer-hub-sender'
  scope: rg
  params: {
    namespaceName: eventHubs.outputs.namespaceName
    hubName: hubName
    principalId: producerIdentity.outputs.principalId
    roleDefinitionId: role.eventHubsDataSender
  }
}

// capture (only when it runs instead of Event Hubs Capture): receives, writes the lake and its checkpoints.
module captureHubReceiver 'modules/roles/event-hub-role.bicep' = if (!enableEventHubsCapture) {
  name: 'role-capture-hub-receiver'
  scope: rg
  params: {
    namespaceName: eventHubs.outputs.namespaceName
    hubName: hubName
    principalId: captureIdentity.outputs.principalId
    roleDefinitionId: role.eventHubsDataReceiver
  }
}
module captureLakeWriter 'modules/roles/storage-container-role.bicep' = if (!enableEventHubsCapture) {
  name: 'role-capture-lake-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: lakeContainer
    principalId: captureIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}
module captureCheckpointWriter 'modules/roles/storage-container-role.bicep' = if (!enableEventHubsCapture) {
  name: 'role-capture-checkpoint-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: checkpointContainer
    principalId: captureIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}

// bronze: reads raw/, writes bronze tables and manifests, announces them.
module bronzeLakeWriter 'modules/roles/storage-container-role.bicep' = {
  name: 'role-bronze-lake-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: lakeContainer
    principalId: bronzeIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}
module bronzeQueueSender 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-bronze-queue-sender'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: bronzeQueue
    principalId: bronzeIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataSender
  }
}

// bronze (Capture notices on): takes the CaptureFileCreated notices Event Grid puts on its queue.
module bronzeNoticesReceiver 'modules/roles/service-bus-queue-role.bicep' = if (captureNotices) {
  name: 'role-bronze-notices-receiver'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: noticesQueue
    principalId: bronzeIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataReceiver
  }
}

// silver: receives bronze manifests, writes silver tables, announces silver manifests.
module silverLakeWriter 'modules/roles/storage-container-role.bicep' = {
  name: 'role-silver-lake-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: lakeContainer
    principalId: silverIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}
module silverQueueReceiver 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-silver-queue-receiver'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: bronzeQueue
    principalId: silverIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataReceiver
  }
}
module silverQueueSender 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-silver-queue-sender'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: silverQueue
    principalId: silverIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataSender
  }
}

// gold: receives silver manifests, keeps its shard ownership records, writes gold tables and the serving store.
module goldLakeWriter 'modules/roles/storage-container-role.bicep' = {
  name: 'role-gold-lake-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: lakeContainer
    principalId: goldIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}
module goldQueueReceiver 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-gold-queue-receiver'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: silverQueue
    principalId: goldIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataReceiver
  }
}
module goldOwnershipWriter 'modules/roles/storage-container-role.bicep' = {
  name: 'role-gold-ownership-writer'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: ownershipContainer
    principalId: goldIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataContributor
  }
}
module goldServingWriter 'modules/roles/cosmos-sql-role.bicep' = {
  name: 'role-gold-serving-writer'
  scope: rg
  params: {
    accountName: cosmos.outputs.accountName
    principalId: goldIdentity.outputs.principalId
    roleDefinitionId: role.cosmosDataContributor
  }
}

// serving-api: reads the lake (late rows, status) and the serving store.
module servingApiLakeReader 'modules/roles/storage-container-role.bicep' = {
  name: 'role-serving-api-lake-reader'
  scope: rg
  params: {
    accountName: lake.outputs.accountName
    containerName: lakeContainer
    principalId: servingApiIdentity.outputs.principalId
    roleDefinitionId: role.storageBlobDataReader
  }
}
module servingApiServingReader 'modules/roles/cosmos-sql-role.bicep' = {
  name: 'role-serving-api-serving-reader'
  scope: rg
  params: {
    accountName: cosmos.outputs.accountName
    principalId: servingApiIdentity.outputs.principalId
    roleDefinitionId: role.cosmosDataReader
  }
}

// The queue scaler identity: queue-scoped, used only by the KEDA rules of silver and gold.
module scalerBronzeQueueOwner 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-scaler-bronze-queue'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: bronzeQueue
    principalId: queueScalerIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataOwner
  }
}
module scalerSilverQueueOwner 'modules/roles/service-bus-queue-role.bicep' = {
  name: 'role-scaler-silver-queue'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: silverQueue
    principalId: queueScalerIdentity.outputs.principalId
    roleDefinitionId: role.serviceBusDataOwner
  }
}

// ---------------------------------------------------------------------------------------------
// Capture notices: the Event Hubs namespace's system topic delivers each CaptureFileCreated event of
// the hub to the notices queue, as the topic's own identity. The grant comes before the
// subscription, so Event Grid never delivers without it.
// ---------------------------------------------------------------------------------------------

var captureNoticesTopicName = 'evgt-${token}'

module captureNoticesTopic 'modules/event-grid-system-topic.bicep' = if (captureNotices) {
  name: 'capture-notices-topic'
  scope: rg
  params: {
    location: location
    tags: tags
    topicName: captureNoticesTopicName
    sourceResourceId: eventHubs.outputs.namespaceId
    topicType: 'Microsoft.EventHub.Namespaces'
  }
}
module captureNoticesSender 'modules/roles/service-bus-queue-role.bicep' = if (captureNotices) {
  name: 'role-capture-notices-sender'
  scope: rg
  params: {
    namespaceName: serviceBus.outputs.namespaceName
    queueName: noticesQueue
    // Deployed under the same condition, so the topic exists whenever this is evaluated.
    principalId: captureNoticesTopic!.outputs.principalId
    roleDefinitionId: role.serviceBusDataSender
  }
}
module captureNoticesSubscription 'modules/event-grid-queue-subscription.bicep' = if (captureNotices) {
  name: 'capture-notices-subscription'
  scope: rg
  dependsOn: [captureNoticesTopic, captureNoticesSender]
  params: {
    topicName: captureNoticesTopicName
    subscriptionName: 'capture-files-to-bronze'
    includedEventTypes: ['Microsoft.EventHub.CaptureFileCreated']
    // Capture files of the pipeline's hub only: the subject of CaptureFileCreated is eventhubs/<hub>.
    subjects: ['eventhubs/${hubName}']
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    queueName: noticesQueue
  }
}

// Every identity pulls its image from the registry.
module registryPull 'modules/roles/registry-role.bicep' = {
  name: 'role-registry-pull'
  scope: rg
  params: {
    registryName: registry.outputs.registryName
    principalIds: [
      producerIdentity.outputs.principalId
      captureIdentity.outputs.principalId
      bronzeIdentity.outputs.principalId
      silverIdentity.outputs.principalId
      goldIdentity.outputs.principalId
      servingApiIdentity.outputs.principalId
    ]
    roleDefinitionId: role.acrPull
  }
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

var storageUrl = lake.outputs.blobEndpoint
var lakeSettings = [
  { name: 'AZURE_STORAGE_ACCOUNT_URL', value: storageUrl }
  { name: 'PIPELINE_LAKE_CONTAINER', value: lakeContainer }
]
var servingSettings = [
  { name: 'AZURE_COSMOS_ENDPOINT', value: cosmos.outputs.endpoint }
  { name: 'PIPELINE_COSMOS_DATABASE', value: cosmosDatabase }
  { name: 'PIPELINE_COSMOS_CONTAINER', value: cosmosContainer }
]
var busSettings = [{ name: 'AZURE_SERVICEBUS_NAMESPACE', value: serviceBus.outputs.fullyQualifiedNamespace }]
var hubSettings = [
  { name: 'AZURE_EVENTHUBS_NAMESPACE', value: eventHubs.outputs.fullyQualifiedNamespace }
  { name: 'PIPELINE_EVENT_HUB', value: hubName }
]
var specSettings = [{ name: 'PIPELINE_SPEC', value: pipelineSpec }]
// The serving API behind the Container Apps ingress: TLS ends there (HSTS on), one proxy hop in front
// (its X-Forwarded-For names the client the rate limit counts), Entra ID tokens of this tenant.
var servingEdgeSettings = [
  { name: 'SERVING_AUTH', value: servingApiAuth ? 'entra' : 'off' }
  { name: 'SERVING_AUTH_TENANT_ID', value: tenant().tenantId }
  { name: 'SERVING_AUTH_AUDIENCE', value: servingApiAudience }
  { name: 'SERVING_AUTH_ROLE', value: servingApiRole }
  { name: 'SERVING_CORS_ORIGINS', value: servingApiCorsOrigins }
  { name: 'SERVING_TRUST_PROXY', value: '1' }
  { name: 'SERVING_HSTS', value: 'true' }
]
// Where capture files are: raw/{Namespace}/{EventHub}/{PartitionId}/…, as Capture (or the capture app) writes them.
var captureLayoutSettings = [
  { name: 'PIPELINE_EVENT_HUB_NAMESPACE', value: eventHubs.outputs.namespaceName }
  { name: 'PIPELINE_EVENT_HUB', value: hubName }
  { name: 'PIPELINE_EVENT_HUB_PARTITIONS', value: string(eventHubPartitions) }
]
// Bronze reads new-file notices from this queue; without it bronze finds files by listing alone.
var captureNoticeSettings = captureNotices ? [{ name: 'BRONZE_NOTICES_QUEUE', value: noticesQueue }] : []

module producer 'modules/container-job.bicep' = {
  name: 'service-producer'
  scope: rg
  dependsOn: [registryPull]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'producer' })
    jobName: 'job-producer-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: producerIdentity.outputs.identityId
    identityClientId: producerIdentity.outputs.clientId
    image: producerImage
    env: concat(hubSettings, specSettings, [{ name: 'PIPELINE_CSV', value: 'examples/sensors.sample.csv' }])
  }
}

module capture 'modules/container-app.bicep' = {
  name: 'service-capture'
  scope: rg
  dependsOn: [registryPull]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'capture' })
    appName: 'ca-capture-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: captureIdentity.outputs.identityId
    identityClientId: captureIdentity.outputs.clientId
    image: captureImage
    env: concat(lakeSettings, hubSettings, [
      { name: 'PIPELINE_EVENT_HUB_NAMESPACE', value: eventHubs.outputs.namespaceName }
      { name: 'CAPTURE_CONSUMER_GROUP', value: captureConsumerGroup }
      { name: 'CAPTURE_CHECKPOINT_CONTAINER', value: checkpointContainer }
    ])
    // With Event Hubs Capture on, the app stays deployed (azd deploys every service) but never runs.
    minReplicas: 0
    maxReplicas: enableEventHubsCapture ? 1 : eventHubPartitions
    scaleRules: enableEventHubsCapture
      ? []
      : [
          {
            name: 'event-hub-backlog'
            custom: {
              type: 'azure-eventhub'
              identity: captureIdentity.outputs.identityId
              metadata: {
                eventHubNamespace: eventHubs.outputs.namespaceName
                eventHubName: hubName
                consumerGroup: captureConsumerGroup
                unprocessedEventThreshold: '64'
                activationUnprocessedEventThreshold: '1'
                checkpointStrategy: 'blobMetadata'
                storageAccountName: lake.outputs.accountName
                blobContainer: checkpointContainer
              }
            }
          }
        ]
  }
}

module bronze 'modules/container-app.bicep' = {
  name: 'service-bronze'
  scope: rg
  dependsOn: [registryPull]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'bronze' })
    appName: 'ca-bronze-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: bronzeIdentity.outputs.identityId
    identityClientId: bronzeIdentity.outputs.clientId
    image: bronzeImage
    env: concat(lakeSettings, busSettings, captureLayoutSettings, captureNoticeSettings)
    // Bronze polls the lake (and the notices queue) for new Capture files: one instance runs (it holds the
    // lease beside its checkpoint), a second stands by. No scale rule: more instances would only stand by.
    minReplicas: bronzeReplicas
    maxReplicas: bronzeReplicas
    scaleRules: []
  }
}

module silver 'modules/container-app.bicep' = {
  name: 'service-silver'
  scope: rg
  dependsOn: [registryPull, scalerBronzeQueueOwner]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'silver' })
    appName: 'ca-silver-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: silverIdentity.outputs.identityId
    identityClientId: silverIdentity.outputs.clientId
    scalerIdentityId: queueScalerIdentity.outputs.identityId
    image: silverImage
    env: concat(lakeSettings, busSettings, specSettings)
    // One instance runs (it holds the lease beside its checkpoint); under a backlog a second one stands by.
    minReplicas: 0
    maxReplicas: silverMaxReplicas
    scaleRules: [
      {
        name: 'bronze-manifest-backlog'
        custom: {
          type: 'azure-servicebus'
          identity: queueScalerIdentity.outputs.identityId
          metadata: {
            namespace: serviceBus.outputs.namespaceName
            queueName: bronzeQueue
            messageCount: '5'
          }
        }
      }
    ]
  }
}

module gold 'modules/container-app.bicep' = {
  name: 'service-gold'
  scope: rg
  dependsOn: [registryPull, scalerSilverQueueOwner]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'gold' })
    appName: 'ca-gold-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: goldIdentity.outputs.identityId
    identityClientId: goldIdentity.outputs.clientId
    scalerIdentityId: queueScalerIdentity.outputs.identityId
    image: goldImage
    env: concat(lakeSettings, busSettings, servingSettings, specSettings, [{ name: 'PIPELINE_OWNERSHIP_CONTAINER', value: ownershipContainer }])
    // Gold catches its owned shards up from the lake on a timer, so one instance stays up to own the shards.
    minReplicas: 1
    maxReplicas: goldMaxReplicas
    scaleRules: [
      {
        name: 'silver-manifest-backlog'
        custom: {
          type: 'azure-servicebus'
          identity: queueScalerIdentity.outputs.identityId
          metadata: {
            namespace: serviceBus.outputs.namespaceName
            queueName: silverQueue
            messageCount: '20'
          }
        }
      }
    ]
  }
}

module servingApi 'modules/container-app.bicep' = {
  name: 'service-serving-api'
  scope: rg
  dependsOn: [registryPull]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'serving-api' })
    appName: 'ca-serving-api-${token}'
    environmentId: environment.outputs.environmentId
    registryServer: registry.outputs.loginServer
    identityId: servingApiIdentity.outputs.identityId
    identityClientId: servingApiIdentity.outputs.clientId
    image: servingApiImage
    // The hub's name: the status finds the capture app's checkpoint (capture-<hub>) by it.
    env: concat(lakeSettings, servingSettings, specSettings, servingEdgeSettings, [
      { name: 'PIPELINE_EVENT_HUB', value: hubName }
      { name: 'SERVING_PORT', value: '8080' }
      { name: 'SERVING_HOST', value: '0.0.0.0' }
    ])
    secretEnv: { SERVING_TOKEN_KEY: servingApiTokenKey }
    ingressTargetPort: 8080
    healthProbes: true
    minReplicas: 1
    maxReplicas: servingApiMaxReplicas
    scaleRules: [
      {
        name: 'http-concurrency'
        http: { metadata: { concurrentRequests: '50' } }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Alerts (docs/runbook.md, "Alerts"): platform metrics of the data services and the apps, Capture's
// error log, and gold's commit log for a stalled watermark.
// ---------------------------------------------------------------------------------------------

module alerts 'modules/alerts.bicep' = if (enableAlerts) {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-pipeline-${token}'
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    eventHubsNamespaceId: eventHubs.outputs.namespaceId
    cosmosAccountId: cosmos.outputs.accountId
    containerAppIds: [capture.outputs.appId, bronze.outputs.appId, silver.outputs.appId, gold.outputs.appId, servingApi.outputs.appId]
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    captureOn: enableEventHubsCapture
    captureLogsOn: enableDiagnostics
    goldAppName: gold.outputs.appName
    watermarkStallMinutes: watermarkStallMinutes
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = environment.outputs.environmentId
output AZURE_STORAGE_ACCOUNT_URL string = storageUrl
// The lake's dfs endpoint and container: what deploy/fabric-shortcuts.js points OneLake shortcuts at.
output AZURE_STORAGE_DFS_URL string = lake.outputs.dfsEndpoint
output PIPELINE_LAKE_CONTAINER string = lakeContainer
output AZURE_EVENTHUBS_NAMESPACE string = eventHubs.outputs.fullyQualifiedNamespace
output AZURE_SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output AZURE_COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output SERVING_API_URL string = 'https://${servingApi.outputs.fqdn}'
output PRODUCER_JOB_NAME string = producer.outputs.jobName

// Service Bus: the pipeline's queues. Every queue locks for 30 s, dead-letters after 10 deliveries
// and on expiry — the QueueOptions the services declare (bronze.module.ts, silver.module.ts,
// gold.module.ts). The manifest queues use sessions (one session per gold shard, delivered in
// order); plain queues take what Event Grid delivers, which cannot go to a session-enabled queue.
// Local auth (SAS) is disabled; the services cannot create queues, so they are created here.
//
// Private networking needs the Premium tier (private endpoints and network rules exist only there):
// then every network is refused except the trusted Azure services (Event Grid delivering the
// Capture notices with its managed identity is one), and the apps come through the private
// endpoint. Zone redundancy is a Premium feature too, so it applies only with Premium.
param location string
param tags object
param namespaceName string
@description('Session-enabled queues (the manifest queues).')
param sessionQueueNames array
@description('Queues without sessions (the capture-file notices Event Grid delivers); may be empty.')
param plainQueueNames array

@description('Premium tier, network rules refusing public networks (trusted Azure services excepted), for private endpoints.')
param privateNetworking bool = false

@description('Spread the namespace over availability zones (Premium only, so only with privateNetworking).')
param zoneRedundant bool = false

@description('Log Analytics workspace of the diagnostic settings; empty: none.')
param logAnalyticsWorkspaceId string = ''

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' = {
  name: namespaceName
  location: location
  tags: tags
  // Sessions need the Standard tier or above; private endpoints need Premium.
  sku: privateNetworking ? { name: 'Premium', tier: 'Premium', capacity: 1 } : { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    zoneRedundant: privateNetworking && zoneRedundant
  }
}

resource networkRules 'Microsoft.ServiceBus/namespaces/networkRuleSets@2021-11-01' = if (privateNetworking) {
  parent: namespace
  name: 'default'
  properties: {
    publicNetworkAccess: 'Enabled'
    defaultAction: 'Deny'
    trustedServiceAccessEnabled: true
    ipRules: []
    virtualNetworkRules: []
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

var queueProperties = {
  lockDuration: 'PT30S'
  maxDeliveryCount: 10
  deadLetteringOnMessageExpiration: true
}

resource sessionQueues 'Microsoft.ServiceBus/namespaces/queues@2021-11-01' = [
  for name in sessionQueueNames: {
    parent: namespace
    name: name
    properties: union(queueProperties, { requiresSession: true })
  }
]

resource plainQueues 'Microsoft.ServiceBus/namespaces/queues@2021-11-01' = [
  for name in plainQueueNames: {
    parent: namespace
    name: name
    properties: union(queueProperties, { requiresSession: false })
  }
]

output namespaceName string = namespace.name
output namespaceId string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'

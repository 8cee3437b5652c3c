// Service Bus: the pipeline's queues. Every queue locks for 30 s, dead-letters after 10 deliveries
// and on expiry — the QueueOptions the services declare (bronze.module.ts, silver.module.ts,
// gold.module.ts). The manifest queues use sessions (one session per gold shard, delivered in
// order); plain queues take what Event Grid delivers, which cannot go to a session-enabled queue.
// Local auth (SAS) is disabled; the services cannot create queues, so they are created here.
param location string
param tags object
param namespaceName string
@description('Session-enabled queues (the manifest queues).')
param sessionQueueNames array
@description('Queues without sessions (the capture-file notices Event Grid delivers); may be empty.')
param plainQueueNames array

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' = {
  name: namespaceName
  location: location
  tags: tags
  // Sessions need the Standard tier or above.
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
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
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'

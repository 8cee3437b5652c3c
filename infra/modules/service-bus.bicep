// Service Bus: the manifest queues. Every queue is session-enabled (one session per gold shard,
// delivered in order), locks for 30 s, dead-letters after 10 deliveries and on expiry — the
// QueueOptions the services declare (bronze.module.ts, silver.module.ts, gold.module.ts).
// Local auth (SAS) is disabled; the services cannot create queues, so they are created here.
param location string
param tags object
param namespaceName string
param queueNames array

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

resource queues 'Microsoft.ServiceBus/namespaces/queues@2021-11-01' = [
  for name in queueNames: {
    parent: namespace
    name: name
    properties: {
      requiresSession: true
      lockDuration: 'PT30S'
      maxDeliveryCount: 10
      deadLetteringOnMessageExpiration: true
    }
  }
]

output namespaceName string = namespace.name
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'

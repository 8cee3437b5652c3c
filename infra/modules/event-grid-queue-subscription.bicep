// An Event Grid subscription of a system topic that delivers the matching events to a plain Service
// Bus queue, authenticated as the topic's system-assigned identity (no SAS: the namespace refuses
// local auth). The identity needs Azure Service Bus Data Sender on the queue; create that grant
// before this subscription.
//
// - Events keep the Event Grid schema; bronze reads it (and CloudEvents 1.0).
// - Retry: Event Grid retries with back-off for eventTimeToLiveInMinutes, then drops the event.
//   There is no dead-letter destination: a notice is only a hint, and bronze's listing (every
//   BRONZE_LIST_INTERVAL, 5 minutes by default) finds every file whose notice was dropped.
param topicName string
param subscriptionName string

@description('Event types delivered, e.g. Microsoft.EventHub.CaptureFileCreated.')
param includedEventTypes array

@description('Subjects delivered (exact, case-insensitive), e.g. eventhubs/<hub>; events of other subjects are filtered out.')
param subjects array

param serviceBusNamespaceName string
param queueName string

@minValue(1)
@maxValue(1440)
@description('How long Event Grid keeps retrying an event; an hour covers a role assignment still propagating after a deployment.')
param eventTimeToLiveInMinutes int = 60

@minValue(1)
@maxValue(30)
@description('Delivery attempts at most; with the default the time to live ends the retries first.')
param maxDeliveryAttempts int = 30

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: topicName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2021-11-01' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2021-11-01' existing = {
  parent: namespace
  name: queueName
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: subscriptionName
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: includedEventTypes
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'subject'
          values: subjects
        }
      ]
    }
    deliveryWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      destination: {
        endpointType: 'ServiceBusQueue'
        properties: {
          resourceId: queue.id
        }
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
  }
}

output subscriptionName string = subscription.name

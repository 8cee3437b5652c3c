// An Event Grid system topic: the events one Azure resource raises (here the Event Hubs namespace's
// Microsoft.EventHub.CaptureFileCreated), with a system-assigned identity so that its subscriptions
// deliver with Microsoft Entra ID (deliveryWithResourceIdentity) instead of keys.
//
// An Azure resource has at most one system topic, in the resource's own region.
param location string
param tags object
param topicName string

@description('Resource id of the resource whose events the topic carries.')
param sourceResourceId string

@description('Topic type of the source, e.g. Microsoft.EventHub.Namespaces.')
param topicType string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    source: sourceResourceId
    topicType: topicType
  }
}

output topicName string = topic.name
// The identity its subscriptions deliver with: grant it the sender role on each destination.
output principalId string = topic.identity.principalId

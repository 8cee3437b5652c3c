// Alerts for the people who run the pipeline, each sent to one action group (e-mail when given).
// docs/runbook.md ("Alerts") says for each what it means and what to do.
//
// Metric alerts on the services' platform metrics (no diagnostic settings needed):
// - dead letters on any Service Bus queue (DeadletteredMessages > 0, per queue);
// - Event Hubs throttling (ThrottledRequests > 0): the throughput units are too few;
// - Capture falling behind (CaptureBacklog), with Event Hubs Capture on;
// - Cosmos DB 429s (TotalRequests with StatusCode 429): the serving store's throughput is too small;
// - a container restarted (RestartCount), per Container App.
// Log alerts on Log Analytics:
// - Capture errors (Event Hubs ArchiveLogs), with Capture and diagnostic settings on;
// - a gold shard's watermark stalled while rows keep arriving, from gold's own commit log: the
//   pipeline's watermark metrics (pipeline.watermark.lag) travel over OTLP, which this deployment
//   does not send to Azure Monitor (docs/metrics.md), while each committed batch's log line carries
//   the same watermark.
param location string
param tags object
param actionGroupName string

@description('E-mail address the alerts go to; empty: the alerts fire in the portal only.')
param alertEmail string

param serviceBusNamespaceId string
param eventHubsNamespaceId string
param cosmosAccountId string

@description('Container Apps whose restarts alert.')
param containerAppIds array

param logAnalyticsWorkspaceId string

@description('Event Hubs Capture on: alert on its backlog.')
param captureOn bool

@description('Event Hubs diagnostic settings on (with Capture): alert on Capture errors from ArchiveLogs.')
param captureLogsOn bool

@description('Name prefix of the gold Container App (its console logs hold the commit lines).')
param goldAppName string

@allowed([15, 30, 45])
@description('Minutes a gold shard may commit rows without its watermark moving before it alerts.')
param watermarkStallMinutes int = 30

@minValue(1)
@description('Capture backlog (events not yet captured) that alerts.')
param captureBacklogThreshold int = 100000

var actions = [{ actionGroupId: actionGroup.id }]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'pipeline'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [{ name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

// One static-threshold criterion on one resource's metric.
func criteria(metricNamespace string, metricName string, aggregation string, threshold int, dimensions array) object => {
  'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
  allOf: [
    {
      criterionType: 'StaticThresholdCriterion'
      name: metricName
      metricNamespace: metricNamespace
      metricName: metricName
      timeAggregation: aggregation
      operator: 'GreaterThan'
      threshold: threshold
      dimensions: dimensions
    }
  ]
}

resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'pipeline-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue holds dead-lettered messages (runbook: Dead letters).'
    severity: 2
    enabled: true
    scopes: [serviceBusNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: criteria('Microsoft.ServiceBus/namespaces', 'DeadletteredMessages', 'Maximum', 0, [
      { name: 'EntityName', operator: 'Include', values: ['*'] }
    ])
    actions: actions
  }
}

resource hubThrottling 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'pipeline-event-hubs-throttled'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Hubs throttled requests: the namespace needs more throughput units.'
    severity: 2
    enabled: true
    scopes: [eventHubsNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: criteria('Microsoft.EventHub/namespaces', 'ThrottledRequests', 'Total', 0, [])
    actions: actions
  }
}

resource captureBacklog 'Microsoft.Insights/metricAlerts@2018-03-01' = if (captureOn) {
  name: 'pipeline-capture-backlog'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Hubs Capture is falling behind: events wait to be written to the lake.'
    severity: 2
    enabled: true
    scopes: [eventHubsNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: criteria('Microsoft.EventHub/namespaces', 'CaptureBacklog', 'Total', captureBacklogThreshold, [])
    actions: actions
  }
}

resource cosmosThrottling 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'pipeline-cosmos-429'
  location: 'global'
  tags: tags
  properties: {
    description: 'Cosmos DB answered 429 (request rate too large): the serving store needs more throughput.'
    severity: 3
    enabled: true
    scopes: [cosmosAccountId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: criteria('Microsoft.DocumentDB/databaseAccounts', 'TotalRequests', 'Count', 0, [
      { name: 'StatusCode', operator: 'Include', values: ['429'] }
    ])
    actions: actions
  }
}

resource restarts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for appId in containerAppIds: {
    name: 'pipeline-restarts-${last(split(appId, '/'))}'
    location: 'global'
    tags: tags
    properties: {
      description: 'A replica of ${last(split(appId, '/'))} restarted (crash, failed probe or out of memory).'
      severity: 2
      enabled: true
      scopes: [appId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: criteria('Microsoft.App/containerApps', 'RestartCount', 'Maximum', 0, [])
      actions: actions
    }
  }
]

resource captureErrors 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = if (captureOn && captureLogsOn) {
  name: 'pipeline-capture-errors'
  location: location
  tags: tags
  properties: {
    displayName: 'pipeline-capture-errors'
    description: 'Event Hubs Capture logged errors writing to the lake (ArchiveLogs).'
    severity: 1
    enabled: true
    scopes: [logAnalyticsWorkspaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'AzureDiagnostics | where ResourceProvider == "MICROSOFT.EVENTHUB" and Category == "ArchiveLogs"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [actionGroup.id] }
  }
}

// A shard whose batches keep committing rows while its watermark stays put: a source partition holds
// event time back (pipeline.watermark.lag grows), windows stop closing and results stop appearing.
var watermarkQuery = '''
ContainerAppConsoleLogs
| where ContainerAppName == "{app}" and Log has "gold batch committed"
| extend line = parse_json(Log)
| where isnotnull(line.watermark)
| summarize rows = sum(toint(line.rows)), first = min(todatetime(line.watermark)), last = max(todatetime(line.watermark)), holder = take_any(tostring(line.held_by_partition)) by shard = tostring(line.shard)
| where rows > 0 and first == last
'''

resource watermarkStalled 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'pipeline-watermark-stalled'
  location: location
  tags: tags
  properties: {
    displayName: 'pipeline-watermark-stalled'
    description: 'A gold shard committed rows for ${watermarkStallMinutes} minutes without its watermark moving (runbook: Alerts).'
    severity: 2
    enabled: true
    scopes: [logAnalyticsWorkspaceId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT${watermarkStallMinutes}M'
    criteria: {
      allOf: [
        {
          query: replace(watermarkQuery, '{app}', goldAppName)
          timeAggregation: 'Count'
          dimensions: [{ name: 'shard', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: [actionGroup.id] }
  }
}

output actionGroupId string = actionGroup.id

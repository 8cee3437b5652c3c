// The Container Apps environment (Consumption profile).
//
// - Console and system logs go to Log Analytics through diagnostic settings (destination
//   'azure-monitor'), so no workspace shared key is handed to the platform.
// - The managed OpenTelemetry agent forwards the services' OTLP traces and logs to Application
//   Insights; the platform injects OTEL_EXPORTER_OTLP_* into every app. openTelemetryConfiguration
//   exists only in the preview API versions of Microsoft.App/managedEnvironments (2024-10-02-preview).
// - With infrastructureSubnetId the environment joins that subnet of the private network, so the
//   apps reach the data services through their private endpoints; the serving API's ingress stays
//   external. Zone redundancy needs such a subnet, so it applies only with one.
param location string
param tags object
param environmentName string
param logAnalyticsWorkspaceId string

@secure()
param applicationInsightsConnectionString string

@description('Subnet (delegated to Microsoft.App/environments) the environment joins; empty: no virtual network.')
param infrastructureSubnetId string = ''

@description('Spread the replicas over availability zones (needs infrastructureSubnetId).')
param zoneRedundant bool = false

var inVnet = !empty(infrastructureSubnetId)

resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: { destination: 'azure-monitor' }
    appInsightsConfiguration: { connectionString: applicationInsightsConnectionString }
    openTelemetryConfiguration: {
      tracesConfiguration: { destinations: ['appInsights'] }
      logsConfiguration: { destinations: ['appInsights'] }
    }
    workloadProfiles: [{ name: 'Consumption', workloadProfileType: 'Consumption' }]
    vnetConfiguration: inVnet ? { infrastructureSubnetId: infrastructureSubnetId, internal: false } : null
    zoneRedundant: inVnet && zoneRedundant
  }
}

resource logs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-log-analytics'
  scope: environment
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

output environmentId string = environment.id

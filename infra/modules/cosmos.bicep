// Cosmos DB (NoSQL API): the serving store. Local auth (keys) is disabled, so the account is
// reached only with Microsoft Entra ID and the SQL data-plane roles (roles/cosmos-sql-role.bicep).
// The database and container are created here: data-plane roles cannot create them. The indexing
// policy matches the adapter's (libs/adapters/src/cosmos.serving-store.ts): the key queries ORDER BY
// several fields, which needs these composite indexes.
//
// Private networking turns public network access off (the apps come through the private endpoint);
// zone redundancy applies to provisioned throughput only (serverless accounts stay in one zone);
// diagnostic settings send the data-plane logs (429s among them) and the request metrics to Log
// Analytics.
param location string
param tags object
param accountName string
param databaseName string
param containerName string
param serverless bool

@description('Public network access off: clients come through a private endpoint.')
param privateNetworking bool = false

@description('Zone-redundant region (provisioned throughput only).')
param zoneRedundant bool = false

@description('Log Analytics workspace of the diagnostic settings; empty: none.')
param logAnalyticsWorkspaceId string = ''

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    disableLocalAuth: true
    minimalTlsVersion: 'Tls12'
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: zoneRedundant && !serverless }]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(logAnalyticsWorkspaceId)) {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'Requests', enabled: true }]
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: { paths: ['/pk'], kind: 'Hash' }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [{ path: '/*' }]
        compositeIndexes: [
          [
            { path: '/windowStart', order: 'ascending' }
            { path: '/window', order: 'ascending' }
            { path: '/id', order: 'ascending' }
          ]
          [
            { path: '/windowStart', order: 'descending' }
            { path: '/window', order: 'descending' }
          ]
        ]
      }
    }
  }
}

output accountName string = account.name
output accountId string = account.id
output endpoint string = account.properties.documentEndpoint

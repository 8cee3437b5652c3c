// Cosmos DB (NoSQL API): the serving store. Local auth (keys) is disabled, so the account is
// reached only with Microsoft Entra ID and the SQL data-plane roles (roles/cosmos-sql-role.bicep).
// The database and container are created here: data-plane roles cannot create them. The indexing
// policy matches the adapter's (libs/adapters/src/cosmos.serving-store.ts): the key queries ORDER BY
// several fields, which needs these composite indexes.
param location string
param tags object
param accountName string
param databaseName string
param containerName string
param serverless bool

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
    locations: [{ locationName: location, failoverPriority: 0, isZoneRedundant: false }]
    capabilities: serverless ? [{ name: 'EnableServerless' }] : []
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
output endpoint string = account.properties.documentEndpoint

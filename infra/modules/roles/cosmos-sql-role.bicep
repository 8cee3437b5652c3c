// A Cosmos DB SQL data-plane role for one principal. Scoped to the account: the SDK reads the
// account's metadata ("/") when it connects, which a database- or container-scoped grant refuses.
param accountName string
param principalId string

@description('GUID of a built-in SQL role: 00000000-0000-0000-0000-000000000001 (Data Reader) or ...002 (Data Contributor).')
param roleDefinitionId string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: accountName
}

resource assignment 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(account.id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${roleDefinitionId}'
    scope: account.id
  }
}

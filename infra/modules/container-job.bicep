// The producer as a manually triggered Container Apps Job: it replays a CSV once and exits.
// Start it with `az containerapp job start -n <job> -g <rg>`.
param location string
param tags object
param jobName string
param environmentId string
param registryServer string
param identityId string
param identityClientId string
param image string
param env array

@description('Seconds a run may take before the platform stops it.')
param replicaTimeoutSeconds int = 14400

param cpu string = '0.5'
param memory string = '1Gi'

var placeholderImage = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'

resource job 'Microsoft.App/jobs@2024-10-02-preview' = {
  name: jobName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      triggerType: 'Manual'
      replicaTimeout: replicaTimeoutSeconds
      // A failed replay is started again by hand, after looking at why, not retried blindly.
      replicaRetryLimit: 0
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 }
      registries: [{ server: registryServer, identity: identityId }]
    }
    template: {
      containers: [
        {
          name: 'main'
          image: empty(image) ? placeholderImage : image
          resources: { cpu: json(cpu), memory: memory }
          env: concat(
            [
              { name: 'PIPELINE_BACKEND', value: 'azure' }
              { name: 'AZURE_CLIENT_ID', value: identityClientId }
              { name: 'AZURE_CREDENTIAL', value: 'managed-identity' }
            ],
            env
          )
        }
      ]
    }
  }
}

output jobName string = job.name

// One service as a Container App with its own user-assigned identity.
//
// - Settings are plain values (endpoints and names, never secrets); PIPELINE_BACKEND=azure and
//   AZURE_CLIENT_ID (the identity DefaultAzureCredential picks) are added to every app.
// - Ingress only when ingressTargetPort > 0 (the serving-api); workers have no HTTP.
// - Until azd deploys the first image, a public placeholder runs, without the health probes; azd
//   deploy then changes only the image, so the probes arrive with the next `azd provision`.
param location string
param tags object
param appName string
param environmentId string
param registryServer string
param identityId string
param identityClientId string

@description('A second identity attached only for KEDA scale rules (empty: none).')
param scalerIdentityId string = ''

param image string
param env array

@minValue(0)
param minReplicas int

@minValue(1)
param maxReplicas int

param scaleRules array

@description('Port of the HTTP ingress; 0 means no ingress.')
param ingressTargetPort int = 0

@description('HTTP liveness (/health/live) and readiness (/health/ready) probes on the ingress port.')
param healthProbes bool = false

param cpu string = '0.5'
param memory string = '1Gi'

var placeholderImage = 'mcr.microsoft.com/k8se/quickstart:latest'
var hasImage = !empty(image)
var identities = union({ '${identityId}': {} }, empty(scalerIdentityId) ? {} : { '${scalerIdentityId}': {} })
var probes = healthProbes && hasImage
  ? [
      {
        type: 'Liveness'
        httpGet: { path: '/health/live', port: ingressTargetPort }
        periodSeconds: 10
        failureThreshold: 3
      }
      {
        type: 'Readiness'
        httpGet: { path: '/health/ready', port: ingressTargetPort }
        periodSeconds: 5
        failureThreshold: 3
      }
    ]
  : []

resource app 'Microsoft.App/containerApps@2024-10-02-preview' = {
  name: appName
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: identities
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [{ server: registryServer, identity: identityId }]
      ingress: ingressTargetPort > 0
        ? {
            external: true
            targetPort: ingressTargetPort
            transport: 'http'
            allowInsecure: false
          }
        : null
    }
    template: {
      containers: [
        {
          name: 'main'
          image: hasImage ? image : placeholderImage
          resources: { cpu: json(cpu), memory: memory }
          env: concat(
            [
              { name: 'PIPELINE_BACKEND', value: 'azure' }
              { name: 'AZURE_CLIENT_ID', value: identityClientId }
            ],
            env
          )
          probes: probes
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: scaleRules
      }
    }
  }
}

output appName string = app.name
output fqdn string = ingressTargetPort > 0 ? app.properties.configuration.ingress.fqdn : ''

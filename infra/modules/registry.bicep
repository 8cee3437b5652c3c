// The container registry azd pushes the images to; the apps pull with their identities (AcrPull),
// so the admin user stays off.
param location string
param tags object

@minLength(5)
@maxLength(50)
param registryName string

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
  }
}

output registryName string = registry.name
output loginServer string = registry.properties.loginServer

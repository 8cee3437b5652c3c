/**
 * Opens the adapter a backend description (from `@pipeline/config`'s readers) names, so every
 * service picks local or Azure the same way.
 *
 * - The Azure adapters and their SDKs load on first use: a service on the embedded backends never
 *   pays for them (about 40 MiB of memory and 0.4 s of start-up together).
 * - Entra ID access shares one credential per process and kind (token caching): `DefaultAzureCredential`,
 *   or `ManagedIdentityCredential` when `AZURE_CREDENTIAL=managed-identity` (the Azure deployment).
 * - The embedded adapters create their files and folders themselves.
 * - With a connection string (emulators, tests) missing containers and databases are created;
 *   with Entra ID they must exist (infra/ creates them): data roles cannot create them, and a
 *   missing one is a `FatalBackendError` at first use.
 */
import type { TokenCredential } from '@azure/identity';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import {
  connectionStringValue,
  type AzureAccess,
  type BusBackend,
  type CheckpointStoreBackend,
  type EntraCredential,
  type EventHubBackend,
  type LakeBackend,
  type ServingBackend,
} from '@pipeline/config';
import { systemClock, type Clock } from '@pipeline/engine';
import type { Bus, CheckpointStore, EventHubConsumer, EventHubProducer, Lake, ServingStore } from '@pipeline/ports';
import type { NamespaceAccess } from './azure-access';
import { LocalBus } from './local.bus';
import { LocalCheckpointStore } from './local.checkpoint-store';
import { LocalEventHub } from './local.event-hub';
import { LocalLake } from './local.lake';
import { LocalServingStore } from './local.serving-store';

const sharedCredentials = new Map<string, TokenCredential>();

/** The process's Microsoft Entra ID credential of the kind the settings chose, made once. */
export async function azureCredential(choice: EntraCredential): Promise<TokenCredential> {
  const key = choice.kind === 'managed-identity' ? `managed-identity:${choice.clientId ?? 'system-assigned'}` : 'default';
  const shared = sharedCredentials.get(key);
  if (shared) return shared;
  const { DefaultAzureCredential, ManagedIdentityCredential } = await import('@azure/identity');
  // Another call may have made it while the module loaded: the first one made is the one kept.
  const credential =
    sharedCredentials.get(key) ??
    (choice.kind === 'default' ? new DefaultAzureCredential() : new ManagedIdentityCredential(choice.clientId === undefined ? {} : { clientId: choice.clientId }));
  sharedCredentials.set(key, credential);
  return credential;
}

/** Service Bus and Event Hubs take the namespace host; the setting may carry a scheme or a slash. */
export async function sdkAccess(access: AzureAccess): Promise<NamespaceAccess> {
  if (access.kind === 'connection-string') return { connectionString: access.connectionString };
  return { fullyQualifiedNamespace: access.endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, ''), credential: await azureCredential(access.credential) };
}

async function blobService(access: AzureAccess): Promise<BlobServiceClient> {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  return access.kind === 'entra'
    ? new BlobServiceClient(access.endpoint, await azureCredential(access.credential))
    : BlobServiceClient.fromConnectionString(access.connectionString);
}

/** A blob container; created when absent only with a connection string (emulators). */
async function openBlobContainer(access: AzureAccess, name: string): Promise<ContainerClient> {
  const container = (await blobService(access)).getContainerClient(name);
  if (access.kind === 'connection-string') await container.createIfNotExists();
  return container;
}

export async function openLake(backend: LakeBackend): Promise<Lake> {
  switch (backend.kind) {
    case 'local':
      return new LocalLake(backend.root);
    case 'azure': {
      const { AdlsLake } = await import('./adls.lake');
      return new AdlsLake({ container: await openBlobContainer(backend.storage, backend.container), ...(backend.root ? { root: backend.root } : {}) });
    }
  }
}

/** `AccountEndpoint=…;AccountKey=…;` → its two parts. */
function cosmosConnectionString(connectionString: string): { endpoint: string; key: string } {
  const endpoint = connectionStringValue(connectionString, 'AccountEndpoint');
  const key = connectionStringValue(connectionString, 'AccountKey');
  if (!endpoint || !key) throw new Error('AZURE_COSMOS_CONNECTION_STRING needs AccountEndpoint=…;AccountKey=…; (the emulator shows it on its start page).');
  return { endpoint, key };
}

export async function openServingStore(backend: ServingBackend): Promise<ServingStore> {
  switch (backend.kind) {
    case 'local':
      return LocalServingStore.open({ file: backend.file });
    case 'azure': {
      const { CosmosServingStore } = await import('./cosmos.serving-store');
      if (backend.access.kind === 'entra') {
        return CosmosServingStore.open(
          { endpoint: backend.access.endpoint, aadCredentials: await azureCredential(backend.access.credential) },
          backend.database,
          backend.container,
          { create: false },
        );
      }
      // Emulators serve one region at their own address: endpoint discovery would redirect elsewhere.
      return CosmosServingStore.open(
        { ...cosmosConnectionString(backend.access.connectionString), connectionPolicy: { enableEndpointDiscovery: false } },
        backend.database,
        backend.container,
      );
    }
  }
}

export async function openBus(backend: BusBackend, clock: Clock = systemClock): Promise<Bus> {
  switch (backend.kind) {
    case 'local':
      return LocalBus.open({ file: backend.file, clock });
    case 'azure': {
      // Queues come from infra/ (or the emulator's config): the services' identities hold data roles only.
      const { ServiceBusBus } = await import('./service-bus.bus');
      return ServiceBusBus.open(await sdkAccess(backend.access), { clock });
    }
  }
}

export interface EventHubTarget {
  hubName: string;
  /** Partitions of the embedded hub (an Azure hub has its own). */
  partitions: number;
}

export async function openEventHubProducer(backend: EventHubBackend, target: EventHubTarget, clock: Clock = systemClock): Promise<EventHubProducer> {
  switch (backend.kind) {
    case 'local':
      return LocalEventHub.open({ file: backend.file, hubName: target.hubName, partitionCount: target.partitions, namespace: backend.namespace, clock });
    case 'azure': {
      const { EventHubsProducer } = await import('./eventhubs.producer');
      return EventHubsProducer.open(await sdkAccess(backend.access), target.hubName);
    }
  }
}

export async function openEventHubConsumer(backend: EventHubBackend, target: EventHubTarget & { consumerGroup: string }, clock: Clock = systemClock): Promise<EventHubConsumer> {
  switch (backend.kind) {
    case 'local':
      return LocalEventHub.open({
        file: backend.file,
        hubName: target.hubName,
        partitionCount: target.partitions,
        namespace: backend.namespace,
        consumerGroup: target.consumerGroup,
        clock,
      });
    case 'azure': {
      const { EventHubsConsumer } = await import('./eventhubs.consumer');
      return EventHubsConsumer.open(await sdkAccess(backend.access), target.hubName, { consumerGroup: target.consumerGroup });
    }
  }
}

export async function openCheckpointStore(backend: CheckpointStoreBackend, clock: Clock = systemClock): Promise<CheckpointStore> {
  switch (backend.kind) {
    case 'local':
      return new LocalCheckpointStore(backend.file, clock);
    case 'azure': {
      const { blobCheckpointStore } = await import('./eventhubs.checkpoint-store');
      return blobCheckpointStore(await openBlobContainer(backend.storage, backend.container));
    }
  }
}

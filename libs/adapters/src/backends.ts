/**
 * Opens the adapter a backend description (from `@pipeline/config`'s readers) names, so every
 * service picks local or Azure the same way.
 *
 * - Entra ID access shares one `DefaultAzureCredential` per process (token caching).
 * - With a connection string (emulators, tests) missing containers and databases are created;
 *   with Entra ID they must exist (infra/ creates them): data roles cannot create them, and a
 *   missing one is a `FatalBackendError` at first use.
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { AzureAccess, BusBackend, CheckpointStoreBackend, EventHubBackend, LakeBackend, ServingBackend } from '@pipeline/config';
import { systemClock, type Clock } from '@pipeline/engine';
import type { Bus, CheckpointStore, EventHubConsumer, EventHubProducer, Lake, ServingStore } from '@pipeline/ports';
import { AdlsLake } from './adls.lake';
import type { NamespaceAccess } from './azure-access';
import { CosmosServingStore } from './cosmos.serving-store';
import { blobCheckpointStore } from './eventhubs.checkpoint-store';
import { EventHubsConsumer } from './eventhubs.consumer';
import { EventHubsProducer } from './eventhubs.producer';
import { LocalBus } from './local.bus';
import { LocalCheckpointStore } from './local.checkpoint-store';
import { LocalEventHub } from './local.event-hub';
import { LocalLake } from './local.lake';
import { LocalServingStore } from './local.serving-store';
import { ServiceBusBus } from './service-bus.bus';

let sharedCredential: TokenCredential | undefined;

/** The process's Microsoft Entra ID credential (managed identity, `AZURE_CLIENT_ID`, or a developer login). */
export function azureCredential(): TokenCredential {
  return (sharedCredential ??= new DefaultAzureCredential());
}

/** Service Bus and Event Hubs take the namespace host; the setting may carry a scheme or a slash. */
export function sdkAccess(access: AzureAccess): NamespaceAccess {
  if (access.kind === 'connection-string') return { connectionString: access.connectionString };
  return { fullyQualifiedNamespace: access.endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, ''), credential: azureCredential() };
}

function blobService(access: AzureAccess): BlobServiceClient {
  return access.kind === 'entra' ? new BlobServiceClient(access.endpoint, azureCredential()) : BlobServiceClient.fromConnectionString(access.connectionString);
}

/** A blob container; created when absent only with a connection string (emulators). */
export async function openBlobContainer(access: AzureAccess, name: string): Promise<ContainerClient> {
  const container = blobService(access).getContainerClient(name);
  if (access.kind === 'connection-string') await container.createIfNotExists();
  return container;
}

export async function openLake(backend: LakeBackend): Promise<Lake> {
  switch (backend.kind) {
    case 'local':
      mkdirSync(backend.root, { recursive: true });
      return new LocalLake(backend.root);
    case 'azure':
      return new AdlsLake({ container: await openBlobContainer(backend.storage, backend.container), ...(backend.root ? { root: backend.root } : {}) });
  }
}

/** `AccountEndpoint=…;AccountKey=…;` → its two parts. */
function cosmosConnectionString(connectionString: string): { endpoint: string; key: string } {
  const part = (name: string) => new RegExp(`(?:^|;)\\s*${name}=([^;]+)`, 'i').exec(connectionString)?.[1]?.trim();
  const endpoint = part('AccountEndpoint');
  const key = part('AccountKey');
  if (!endpoint || !key) throw new Error('AZURE_COSMOS_CONNECTION_STRING needs AccountEndpoint=…;AccountKey=…; (the emulator shows it on its start page).');
  return { endpoint, key };
}

export async function openServingStore(backend: ServingBackend): Promise<ServingStore> {
  switch (backend.kind) {
    case 'local':
      mkdirSync(path.dirname(backend.file), { recursive: true });
      return LocalServingStore.open({ file: backend.file });
    case 'azure':
      if (backend.access.kind === 'entra')
        return CosmosServingStore.open({ endpoint: backend.access.endpoint, aadCredentials: azureCredential() }, backend.database, backend.container, { create: false });
      // Emulators serve one region at their own address: endpoint discovery would redirect elsewhere.
      return CosmosServingStore.open(
        { ...cosmosConnectionString(backend.access.connectionString), connectionPolicy: { enableEndpointDiscovery: false } },
        backend.database,
        backend.container,
      );
  }
}

export async function openBus(backend: BusBackend, clock: Clock = systemClock): Promise<Bus> {
  switch (backend.kind) {
    case 'local':
      mkdirSync(path.dirname(backend.file), { recursive: true });
      return LocalBus.open({ file: backend.file, clock });
    case 'azure':
      // Queues come from infra/ (or the emulator's config): the services' identities hold data roles only.
      return ServiceBusBus.open(sdkAccess(backend.access), { clock });
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
      mkdirSync(path.dirname(backend.file), { recursive: true });
      return LocalEventHub.open({ file: backend.file, hubName: target.hubName, partitionCount: target.partitions, namespace: backend.namespace, clock });
    case 'azure':
      return EventHubsProducer.open(sdkAccess(backend.access), target.hubName);
  }
}

export async function openEventHubConsumer(backend: EventHubBackend, target: EventHubTarget & { consumerGroup: string }, clock: Clock = systemClock): Promise<EventHubConsumer> {
  switch (backend.kind) {
    case 'local':
      mkdirSync(path.dirname(backend.file), { recursive: true });
      return LocalEventHub.open({
        file: backend.file,
        hubName: target.hubName,
        partitionCount: target.partitions,
        namespace: backend.namespace,
        consumerGroup: target.consumerGroup,
        clock,
      });
    case 'azure':
      return EventHubsConsumer.open(sdkAccess(backend.access), target.hubName, { consumerGroup: target.consumerGroup });
  }
}

export async function openCheckpointStore(backend: CheckpointStoreBackend, clock: Clock = systemClock): Promise<CheckpointStore> {
  switch (backend.kind) {
    case 'local':
      mkdirSync(path.dirname(backend.file), { recursive: true });
      return new LocalCheckpointStore(backend.file, clock);
    case 'azure':
      return blobCheckpointStore(await openBlobContainer(backend.storage, backend.container));
  }
}

import { randomUUID } from 'node:crypto';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { FatalBackendError } from '@pipeline/ports';
import { describeCheckpointStoreContract, startAzuriteBlob, type AzuriteBlob } from '@pipeline/testing';
import { blobCheckpointStore, ownershipBlobName } from './eventhubs.checkpoint-store';

let azurite: AzuriteBlob;
beforeAll(async () => {
  azurite = await startAzuriteBlob();
});
afterAll(async () => {
  await azurite.stop();
});

/** A fresh container, removed by `dispose`. */
async function freshContainer(): Promise<{ container: ContainerClient; dispose(): Promise<void> }> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`checkpoints-${randomUUID()}`);
  await container.create();
  return { container, dispose: async () => void (await container.deleteIfExists()) };
}

describeCheckpointStoreContract('azure blob checkpoint store (in-process Azurite)', async () => {
  const { container, dispose } = await freshContainer();
  return { store: blobCheckpointStore(container), dispose };
});

describe('azure blob checkpoint store', () => {
  const partition = (partitionId: string, ownerId: string, etag?: string) => ({
    fullyQualifiedNamespace: 'Contoso.servicebus.windows.net',
    eventHubName: 'Telemetry',
    consumerGroup: '$Default',
    partitionId,
    ownerId,
    ...(etag === undefined ? {} : { etag }),
  });

  it('keeps ownership and checkpoints where the Azure SDK store reads them, so both see the same state', async () => {
    const { container, dispose } = await freshContainer();
    try {
      const store = blobCheckpointStore(container);
      const [ours] = await store.claimOwnership([partition('0', 'capture-1')]);
      await store.updateCheckpoint({ ...partition('0', ''), sequenceNumber: 41, offset: '8192' });
      const sdk = new BlobCheckpointStore(container);
      await expect(sdk.listOwnership('Contoso.servicebus.windows.net', 'Telemetry', '$Default')).resolves.toEqual([
        // The SDK lists etags bare; this store hands them out quoted, as write responses carry them.
        expect.objectContaining({ partitionId: '0', ownerId: 'capture-1', etag: ours?.etag?.replace(/"/g, '') }),
      ]);
      await expect(sdk.listCheckpoints('contoso.servicebus.windows.net', 'telemetry', '$default')).resolves.toEqual([
        expect.objectContaining({ partitionId: '0', sequenceNumber: 41, offset: '8192' }),
      ]);
      await expect(container.getBlockBlobClient(ownershipBlobName(partition('0', ''))).exists()).resolves.toBe(true);
      expect(ownershipBlobName(partition('0', ''))).toBe('contoso.servicebus.windows.net/telemetry/$default/ownership/0');
    } finally {
      await dispose();
    }
  });

  it('takes a partition over with the etag a listing returned, as the capture app does', async () => {
    const { container, dispose } = await freshContainer();
    try {
      const store = blobCheckpointStore(container);
      const [first] = await store.claimOwnership([partition('0', 'capture-1')]);
      const [listed] = await store.listOwnership('Contoso.servicebus.windows.net', 'Telemetry', '$Default');
      expect(listed?.etag).toBe(first?.etag);
      const [taken] = await store.claimOwnership([partition('0', 'capture-2', listed?.etag)]);
      expect(taken).toMatchObject({ ownerId: 'capture-2' });
      await expect(store.claimOwnership([partition('0', 'capture-1', listed?.etag)])).resolves.toEqual([]);
    } finally {
      await dispose();
    }
  });

  it('does not change the ownership object it was given', async () => {
    const { container, dispose } = await freshContainer();
    try {
      const claim = partition('0', 'capture-1');
      const [granted] = await blobCheckpointStore(container).claimOwnership([claim]);
      expect(granted?.etag).toEqual(expect.any(String));
      expect(claim).toEqual(partition('0', 'capture-1'));
    } finally {
      await dispose();
    }
  });

  it('refuses a claim carrying an etag for a partition whose ownership blob is gone', async () => {
    const { container, dispose } = await freshContainer();
    try {
      const store = blobCheckpointStore(container);
      const [granted] = await store.claimOwnership([partition('0', 'capture-1')]);
      await container.getBlockBlobClient(ownershipBlobName(partition('0', ''))).delete();
      await expect(store.claimOwnership([partition('0', 'capture-2', granted?.etag), partition('1', 'capture-2')])).resolves.toEqual([
        expect.objectContaining({ partitionId: '1', ownerId: 'capture-2' }),
      ]);
    } finally {
      await dispose();
    }
  });

  it('fails with a FatalBackendError naming the container when it does not exist', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`missing-${randomUUID()}`);
    const store = blobCheckpointStore(container);
    const claiming = store.claimOwnership([partition('0', 'capture-1')]);
    await expect(claiming).rejects.toThrow(FatalBackendError);
    await expect(store.updateCheckpoint({ ...partition('0', ''), sequenceNumber: 1, offset: '1' })).rejects.toThrow(
      /in the checkpoint store container http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/missing-.*: the container does not exist/,
    );
    expect(store.location).not.toContain('AccountKey');
  });
});

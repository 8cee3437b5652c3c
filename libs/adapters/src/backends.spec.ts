import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { makeTempDir, startAzuriteBlob, startCosmosServer, type AzuriteBlob, type CosmosServer, type TempDir } from '@pipeline/testing';
import { AdlsLake } from './adls.lake';
import { openBus, openCheckpointStore, openLake, openServingStore, sdkAccess } from './backends';
import { CosmosServingStore } from './cosmos.serving-store';
import { EventHubsBlobCheckpointStore } from './eventhubs.checkpoint-store';
import { LocalBus } from './local.bus';
import { LocalLake } from './local.lake';
import { LocalServingStore } from './local.serving-store';

let azurite: AzuriteBlob;
let cosmos: CosmosServer;
let dir: TempDir;
beforeAll(async () => {
  [azurite, cosmos] = await Promise.all([startAzuriteBlob(), startCosmosServer()]);
});
afterAll(async () => {
  await Promise.all([azurite.stop(), cosmos.stop()]);
});
beforeEach(async () => {
  dir = await makeTempDir('backends-');
});
afterEach(async () => {
  await dir.dispose();
});

describe('opening backends from their descriptions', () => {
  it('opens the embedded adapters under their folders, creating the folders', async () => {
    const lake = await openLake({ kind: 'local', root: path.join(dir.path, 'a', 'lake') });
    const bus = await openBus({ kind: 'local', file: path.join(dir.path, 'b', 'bus.sqlite') });
    const store = await openServingStore({ kind: 'local', file: path.join(dir.path, 'c', 'serving.sqlite') });
    try {
      expect(lake).toBeInstanceOf(LocalLake);
      expect(bus).toBeInstanceOf(LocalBus);
      expect(store).toBeInstanceOf(LocalServingStore);
      await lake.write('x/y.txt', 'hello');
      await expect(lake.read('x/y.txt')).resolves.toEqual(Buffer.from('hello'));
    } finally {
      await Promise.all([lake.close(), bus.close(), store.close()]);
    }
  });

  it('creates the lake container on an emulator reached by connection string, and works in it', async () => {
    const container = `lake-${randomUUID()}`;
    const lake = await openLake({ kind: 'azure', storage: { kind: 'connection-string', connectionString: azurite.connectionString }, container, root: 'pipelines/sensors' });
    expect(lake).toBeInstanceOf(AdlsLake);
    await lake.write('raw/a.avro', 'x');
    const names: string[] = [];
    for await (const blob of BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).listBlobsFlat()) names.push(blob.name);
    expect(names).toEqual(['pipelines/sensors/raw/a.avro']);
    expect(lake.location).not.toContain('AccountKey');
  });

  it('opens the Event Hubs checkpoint store in its own blob container', async () => {
    const container = `checkpoints-${randomUUID()}`;
    const store = await openCheckpointStore({ kind: 'azure', storage: { kind: 'connection-string', connectionString: azurite.connectionString }, container });
    expect(store).toBeInstanceOf(EventHubsBlobCheckpointStore);
    const claimed = await store.claimOwnership([
      { fullyQualifiedNamespace: 'ns.servicebus.windows.net', eventHubName: 'events', consumerGroup: '$Default', partitionId: '0', ownerId: 'capture-1' },
    ]);
    expect(claimed.map((o) => o.ownerId)).toEqual(['capture-1']);
    await expect(BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).exists()).resolves.toBe(true);
  });

  it('opens Cosmos DB from an emulator connection string, creating the database and container', async () => {
    const container = `serving-${randomUUID()}`;
    const connectionString = `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};`;
    const store = await openServingStore({ kind: 'azure', access: { kind: 'connection-string', connectionString }, database: 'pipeline', container });
    try {
      expect(store).toBeInstanceOf(CosmosServingStore);
      expect(store.location).toBe(`Cosmos DB container pipeline/${container}`);
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('refuses a Cosmos DB connection string without its key, without echoing it', async () => {
    const connectionString = `AccountEndpoint=${cosmos.endpoint}/;Key=oops;`;
    const failure = await openServingStore({ kind: 'azure', access: { kind: 'connection-string', connectionString }, database: 'pipeline', container: 'x' }).catch(
      (e: unknown) => e as Error,
    );
    expect((failure as Error).message).toMatch(/AZURE_COSMOS_CONNECTION_STRING needs AccountEndpoint=…;AccountKey=…;/);
    expect((failure as Error).message).not.toContain('oops');
  });

  it('gives the Event Hubs and Service Bus SDKs the namespace host, whatever form the setting took', async () => {
    for (const endpoint of ['sensors.servicebus.windows.net', 'sb://sensors.servicebus.windows.net/', 'https://sensors.servicebus.windows.net']) {
      await expect(sdkAccess({ kind: 'entra', endpoint, credential: { kind: 'default' } })).resolves.toMatchObject({ fullyQualifiedNamespace: 'sensors.servicebus.windows.net' });
    }
    await expect(sdkAccess({ kind: 'connection-string', connectionString: 'Endpoint=sb://x/;SharedAccessKey=k' })).resolves.toEqual({
      connectionString: 'Endpoint=sb://x/;SharedAccessKey=k',
    });
  });

  it('loads no Azure SDK until a backend is Azure (the compiled library, in a process of its own)', () => {
    const root = path.resolve(__dirname, '../../..');
    const script = ["require('./bin/register');", "require('@pipeline/adapters');", 'process.stdout.write(JSON.stringify(Object.keys(require.cache)));'].join('');
    const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(result.status).toBe(0);
    const loaded = JSON.parse(result.stdout) as string[];
    expect(loaded.some((file) => file.endsWith(path.join('adapters', 'src', 'local.lake.js')))).toBe(true);
    expect(loaded.filter((file) => /node_modules[\\/]@azure[\\/]/.test(file))).toEqual([]);
  });
});

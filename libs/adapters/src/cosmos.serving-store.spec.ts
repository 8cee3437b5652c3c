import { randomUUID } from 'node:crypto';
import { describeServingStoreContract, startCosmosServer, type CosmosServer } from '@pipeline/testing';
import { isFatalBackendError } from '@pipeline/ports';
import { CosmosServingStore } from './cosmos.serving-store';

let server: CosmosServer;
beforeAll(async () => {
  server = await startCosmosServer();
});
afterAll(async () => {
  await server.stop();
});

/** A fresh container per test, on the Cosmos-compatible server (plain HTTP, no endpoint discovery). */
async function freshStore() {
  const store = await CosmosServingStore.open(
    { endpoint: server.endpoint, key: server.key, connectionPolicy: { enableEndpointDiscovery: false } },
    'pipeline',
    `serving-${randomUUID()}`,
  );
  return { store, dispose: () => store.close() };
}

describeServingStoreContract('cosmos (on @zeit/cosmosdb-server)', freshStore);

describe('cosmos serving store', () => {
  it('names its database and container as location, without the key', async () => {
    const { store, dispose } = await freshStore();
    try {
      expect(store.location).toMatch(/^Cosmos DB container pipeline\/serving-/);
      expect(store.location).not.toContain(server.key);
    } finally {
      await dispose();
    }
  });

  it('uses an existing container without creating one, and stops with a FatalBackendError when it is missing', async () => {
    const options = { endpoint: server.endpoint, key: server.key, connectionPolicy: { enableEndpointDiscovery: false } };
    const name = `serving-${randomUUID()}`;
    const failure = await CosmosServingStore.open(options, 'pipeline', name, { create: false }).catch((error: unknown) => error);
    expect(isFatalBackendError(failure)).toBe(true);
    expect((failure as Error).message).toContain(`pipeline/${name} does not exist`);
    const created = await CosmosServingStore.open(options, 'pipeline', name);
    await created.close();
    const existing = await CosmosServingStore.open(options, 'pipeline', name, { create: false });
    try {
      expect(existing.location).toBe(`Cosmos DB container pipeline/${name}`);
      await expect(existing.ping()).resolves.toBeUndefined();
    } finally {
      await existing.close();
    }
  });

  it('writes a document in one request once it knows it, and still skips older versions and survives other writers', async () => {
    const { store, dispose } = await freshStore();
    const other = await CosmosServingStore.open(
      { endpoint: server.endpoint, key: server.key, connectionPolicy: { enableEndpointDiscovery: false } },
      'pipeline',
      store.location.split('/').pop() as string,
    );
    try {
      const docs = (version: number, count: number) =>
        Array.from({ length: count }, (_, i) => ({
          id: `per_minute|k=${i}|1000`,
          pk: `k=${i}`,
          pipeline: 'p',
          window: 'per_minute',
          windowStart: 1000,
          windowEnd: 61_000,
          key: { k: String(i) },
          aggregates: { readings: version },
          final: false,
          watermark: 0,
          shard: 0,
          version,
        }));
      await store.upsert(docs(0, 1)); // the client's first request also reads the account and container
      const requestsFor = async (run: () => Promise<unknown>) => {
        const before = server.requests();
        await run();
        return server.requests() - before;
      };
      // New documents: one create each; documents this store wrote: one replace each.
      expect(await requestsFor(() => store.upsert(docs(1, 40).slice(1)))).toBe(39);
      expect(await requestsFor(() => store.upsert(docs(2, 40)))).toBe(40);
      // A version it already holds is skipped without a request; an older one too.
      expect(await requestsFor(() => store.upsert(docs(2, 40)))).toBe(0);
      await expect(store.upsert(docs(1, 40))).resolves.toEqual({ written: 0, skipped: 40 });
      // Another writer's newer version: our remembered ETag is stale (412), so we read, and then skip.
      await other.upsert(docs(5, 1));
      await expect(store.upsert(docs(3, 1))).resolves.toEqual({ written: 0, skipped: 1 });
      expect((await store.get('k=0', 'per_minute|k=0|1000'))?.version).toBe(5);
      // A store that knows nothing (a restart) creates, learns of the conflict, reads, then writes: still correct.
      await expect(other.upsert(docs(6, 40))).resolves.toEqual({ written: 40, skipped: 0 });
      expect((await store.get('k=39', 'per_minute|k=39|1000'))?.aggregates['readings']).toBe(6);
    } finally {
      await other.close();
      await dispose();
    }
  });
});

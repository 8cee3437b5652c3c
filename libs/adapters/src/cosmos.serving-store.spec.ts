import { randomUUID } from 'node:crypto';
import { describeServingStoreContract, startCosmosServer, type CosmosServer } from '@pipeline/testing';
import { isFatalBackendError, MAX_TOP_LIMIT, ServingStoreError, windowDocumentId, type WindowDocument } from '@pipeline/ports';
import { CosmosServingStore, type ServingStoreLog } from './cosmos.serving-store';

let server: CosmosServer;
beforeAll(async () => {
  server = await startCosmosServer();
});
afterAll(async () => {
  await server.stop();
});

/** A fresh container per test, on the Cosmos-compatible server (plain HTTP, no endpoint discovery). */
async function freshStore(options: { log?: ServingStoreLog; throttleRetries?: number } = {}) {
  const store = await CosmosServingStore.open(
    { endpoint: server.endpoint, key: server.key, connectionPolicy: { enableEndpointDiscovery: false } },
    'pipeline',
    `serving-${randomUUID()}`,
    options,
  );
  return { store, dispose: () => store.close() };
}

/** A second store on the same container: another writer, or this one after a restart. */
function openAgain(store: CosmosServingStore): Promise<CosmosServingStore> {
  return CosmosServingStore.open(
    { endpoint: server.endpoint, key: server.key, connectionPolicy: { enableEndpointDiscovery: false } },
    'pipeline',
    store.location.split('/').pop() as string,
  );
}

describeServingStoreContract('cosmos, in transactional batches (on @zeit/cosmosdb-server)', () => freshStore());

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

  it('writes the documents of one partition key in one batch request, and still skips older versions and survives other writers', async () => {
    const { store, dispose } = await freshStore();
    const other = await openAgain(store);
    try {
      // 40 documents over 4 keys: 10 windows each.
      const docs = (version: number) => Array.from({ length: 40 }, (_, i) => windowDoc({ key: `k${i % 4}`, start: 1000 + Math.floor(i / 4) * 60_000, version, readings: version }));
      await store.upsert([windowDoc({ key: 'warm-up', start: 1000, version: 0 })]); // the client's first request also reads the account and container
      const requestsFor = async (run: () => Promise<unknown>) => {
        const before = server.requests();
        await run();
        return server.requests() - before;
      };
      // New documents: one batch of creates per key; documents this store wrote: one batch of replaces per key.
      expect(await requestsFor(() => store.upsert(docs(1)))).toBe(4);
      expect(store.writesInBatches).toBe('yes');
      expect(await requestsFor(() => store.upsert(docs(2)))).toBe(4);
      // A version it already holds is skipped without a request; an older one too.
      expect(await requestsFor(() => store.upsert(docs(2)))).toBe(0);
      await expect(store.upsert(docs(1))).resolves.toEqual({ written: 0, skipped: 40 });
      // Another writer's newer version of one document: our batch fails on its stale ETag (412), we
      // read the batch's stored versions in one query, and write the other nine again.
      await other.upsert([windowDoc({ key: 'k0', start: 1000, version: 5, readings: 5 })]);
      const batch = docs(3).filter((d) => d.pk === 'k0');
      const failedBefore = server.batches().filter((b) => b.answered === 207).length;
      await expect(store.upsert(batch)).resolves.toEqual({ written: 9, skipped: 1 });
      // The first attempt failed as a whole (atomic: 412 for that document, 424 for the others).
      expect(server.batches().filter((b) => b.answered === 207).length - failedBefore).toBe(1);
      expect((await store.get('k0', windowDocumentId('per_minute', 'k0', 1000)))?.version).toBe(5);
      // A store that knows nothing (a restart): per key a batch fails on the first create (409), one
      // query (two requests: the client asks for its plan first), one batch of replaces.
      const batchesBefore = server.batches().length;
      expect(await requestsFor(() => other.upsert(docs(6)))).toBe(4 * 4);
      expect(server.batches().length - batchesBefore).toBe(4 * 2);
      expect((await store.get('k3', windowDocumentId('per_minute', 'k3', 1000 + 9 * 60_000)))?.aggregates['readings']).toBe(6);
      expect(server.batches().filter((b) => b.problem !== undefined)).toEqual([]);
    } finally {
      await other.close();
      await dispose();
    }
  });

  it('puts at most 100 operations in a batch, all of one partition key', async () => {
    const { store, dispose } = await freshStore();
    try {
      const before = server.batches().length;
      const docs = Array.from({ length: 250 }, (_, i) => windowDoc({ key: i < 240 ? 'big' : `small${i}`, start: 1000 + i * 60_000, version: 1 }));
      await expect(store.upsert(docs)).resolves.toEqual({ written: 250, skipped: 0 });
      const batches = server.batches().slice(before);
      expect(batches.map((b) => b.operations.length).sort((x, y) => y - x)).toEqual([100, 100, 40, ...Array<number>(10).fill(1)]);
      expect(batches.every((b) => b.problem === undefined && b.operations.every((op) => op.operationType === 'Create'))).toBe(true);
    } finally {
      await dispose();
    }
  });

  it('waits the retry-after of a throttled (429) batch, logs it, and then writes', async () => {
    const log = new CollectingLog();
    const { store, dispose } = await freshStore({ log });
    try {
      await store.upsert([windowDoc({ key: 'warm-up', start: 1000, version: 0 })]);
      const before = server.batches().length;
      server.throttle(2, 30);
      await expect(store.upsert([windowDoc({ key: 'a', start: 1000, version: 1 }), windowDoc({ key: 'a', start: 61_000, version: 1 })])).resolves.toEqual({
        written: 2,
        skipped: 0,
      });
      // Two throttled attempts, then the one that was served.
      expect(
        server
          .batches()
          .slice(before)
          .map((b) => b.operations.length),
      ).toEqual([0, 0, 2]);
      expect(log.warnings.map((w) => w.fields['retryAfterMs'])).toEqual([30, 30]);
      expect(log.warnings[0]?.message).toMatch(/throttled a request \(HTTP 429\)/);
    } finally {
      await dispose();
    }
  });

  it('gives up on throttling after its retries with an error that names the fix', async () => {
    const log = new CollectingLog();
    const { store, dispose } = await freshStore({ log, throttleRetries: 2 });
    try {
      await store.upsert([windowDoc({ key: 'warm-up', start: 1000, version: 0 })]);
      server.throttle(10, 1);
      const failure = await store.upsert([windowDoc({ key: 'a', start: 1000, version: 1 })]).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ServingStoreError);
      expect((failure as Error).message).toMatch(/raise the container's throughput/);
      expect(log.warnings).toHaveLength(3);
    } finally {
      server.throttle(0, 0);
      await dispose();
    }
  });

  it('throttles point requests and queries the same way', async () => {
    const log = new CollectingLog();
    const { store, dispose } = await freshStore({ log });
    try {
      await store.upsert([windowDoc({ key: 'a', start: 1000, version: 1 })]);
      server.throttle(1, 5, 'any');
      await expect(store.get('a', windowDocumentId('per_minute', 'a', 1000))).resolves.toMatchObject({ version: 1 });
      server.throttle(1, 5, 'any');
      await expect(store.queryWindows({ pk: 'a', limit: 5 })).resolves.toMatchObject({ items: [{ version: 1 }] });
      expect(log.warnings.map((w) => w.fields['retryAfterMs'])).toEqual([5, 5]);
    } finally {
      await dispose();
    }
  });

  it('rejects a top limit above MAX_TOP_LIMIT without a request', async () => {
    const { store, dispose } = await freshStore();
    try {
      const before = server.requests();
      await expect(store.top({ window: 'per_minute', windowStart: 1000, by: 'readings', limit: MAX_TOP_LIMIT + 1 })).rejects.toThrow(`at most ${MAX_TOP_LIMIT}`);
      expect(server.requests()).toBe(before);
    } finally {
      await dispose();
    }
  });
});

describe('cosmos serving store on a server without the batch endpoint', () => {
  let refusing: CosmosServer;
  beforeAll(async () => {
    refusing = await startCosmosServer({ refuseBatches: true });
  });
  afterAll(async () => {
    await refusing.stop();
  });

  const open = async (log = new CollectingLog()) => {
    const store = await CosmosServingStore.open(
      { endpoint: refusing.endpoint, key: refusing.key, connectionPolicy: { enableEndpointDiscovery: false } },
      'pipeline',
      `serving-${randomUUID()}`,
      { log },
    );
    return { store, dispose: () => store.close() };
  };

  describeServingStoreContract('cosmos, one request per document (a server without the batch endpoint)', () => open());

  it('learns it on the first upsert, says so once, and writes one request per document from then on', async () => {
    const log = new CollectingLog();
    const { store, dispose } = await open(log);
    try {
      expect(store.writesInBatches).toBe('unknown');
      const docs = Array.from({ length: 5 }, (_, i) => windowDoc({ key: 'a', start: 1000 + i * 60_000, version: 1 }));
      await expect(store.upsert(docs)).resolves.toEqual({ written: 5, skipped: 0 });
      expect(store.writesInBatches).toBe('no');
      const before = refusing.requests();
      await expect(store.upsert(docs.map((d) => ({ ...d, version: 2 })))).resolves.toEqual({ written: 5, skipped: 0 });
      expect(refusing.requests() - before).toBe(5);
      expect(log.infos.filter((i) => /no batch endpoint/.test(i.message))).toHaveLength(1);
    } finally {
      await dispose();
    }
  });
});

/** A log that keeps what it was told. */
class CollectingLog implements ServingStoreLog {
  readonly warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  readonly infos: Array<{ fields: Record<string, unknown>; message: string }> = [];
  warn(fields: Record<string, unknown>, message: string): void {
    this.warnings.push({ fields, message });
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.infos.push({ fields, message });
  }
}

/** A window document of key `{ k: key }` (pk = key), of per_minute. */
function windowDoc({ key, start, version, readings = version }: { key: string; start: number; version: number; readings?: number }): WindowDocument {
  return {
    id: windowDocumentId('per_minute', key, start),
    pk: key,
    pipeline: 'p',
    window: 'per_minute',
    windowStart: start,
    windowEnd: start + 60_000,
    key: { k: key },
    aggregates: { readings },
    final: false,
    watermark: 0,
    shard: 0,
    version,
  };
}

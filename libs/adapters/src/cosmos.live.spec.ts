/**
 * The serving store contract against a live Cosmos DB account (or the Cosmos DB emulator). It runs
 * only when configured (nothing here can start Cosmos DB); otherwise Jest reports it as skipped.
 *
 *   PIPELINE_TEST_COSMOS_CONNECTION_STRING  (AccountEndpoint=…;AccountKey=…;)  or
 *     PIPELINE_TEST_COSMOS_ENDPOINT          (https://<account>.documents.azure.com, signed in through
 *                                            DefaultAzureCredential with a Data Contributor role)
 *   PIPELINE_TEST_COSMOS_DATABASE           an existing database (default `pipeline`)
 *   PIPELINE_TEST_COSMOS_CONTAINER          an existing container partitioned by /pk; the tests share
 *                                           it safely (every test writes under keys of its own)
 */
import { randomUUID } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import type { CosmosClientOptions } from '@azure/cosmos';
import { windowDocumentId, type WindowDocument } from '@pipeline/ports';
import { describeServingStoreContract } from '@pipeline/testing';
import { CosmosServingStore } from './cosmos.serving-store';

const connectionString = process.env['PIPELINE_TEST_COSMOS_CONNECTION_STRING'];
const endpoint = process.env['PIPELINE_TEST_COSMOS_ENDPOINT'];
const database = process.env['PIPELINE_TEST_COSMOS_DATABASE'] || 'pipeline';
const container = process.env['PIPELINE_TEST_COSMOS_CONTAINER'];

function liveOptions(): CosmosClientOptions | undefined {
  if (connectionString) {
    const part = (name: string) => connectionString.match(new RegExp(`${name}=([^;]+)`))?.[1];
    const [accountEndpoint, key] = [part('AccountEndpoint'), part('AccountKey')];
    return accountEndpoint && key ? { endpoint: accountEndpoint, key } : undefined;
  }
  if (endpoint) return { endpoint, aadCredentials: new DefaultAzureCredential() };
  return undefined;
}

const options = liveOptions();
const configured = options !== undefined && Boolean(container);
const SKIP_REASON =
  'skipped: set PIPELINE_TEST_COSMOS_CONNECTION_STRING (or PIPELINE_TEST_COSMOS_ENDPOINT) and PIPELINE_TEST_COSMOS_CONTAINER to run it against an account or the emulator';

async function openStore() {
  if (!options || !container) throw new Error(`The live Cosmos DB tests are not configured: ${SKIP_REASON}.`);
  const store = await CosmosServingStore.open(options, database, container, { create: false });
  return { store, dispose: async () => undefined };
}

if (configured) {
  describeServingStoreContract('cosmos, live account', openStore);
} else {
  // Declared, not run: Jest lists every contract test as skipped, with the reason in the suite name.
  describe.skip(`Serving store contract (cosmos, live account) — ${SKIP_REASON}`, () => describeServingStoreContract('cosmos, live account', openStore));
}

(configured ? describe : describe.skip)(`cosmos serving store against a live account${configured ? '' : ` — ${SKIP_REASON}`}`, () => {
  it('writes through transactional batches, and a second store that knows nothing skips the same versions', async () => {
    const run = randomUUID().slice(0, 8);
    const pk = `live-${run}`;
    const docs: WindowDocument[] = Array.from({ length: 150 }, (_, i) => ({
      id: windowDocumentId('per_minute', pk, 60_000 * i),
      pk,
      pipeline: `live-${run}`,
      window: 'per_minute',
      windowStart: 60_000 * i,
      windowEnd: 60_000 * (i + 1),
      key: { device: pk },
      aggregates: { readings: i },
      final: true,
      watermark: 0,
      shard: 0,
      version: 1,
    }));
    const { store } = await openStore();
    const { store: restarted } = await openStore();
    try {
      await expect(store.upsert(docs)).resolves.toEqual({ written: 150, skipped: 0 });
      expect(store.writesInBatches).toBe('yes');
      await expect(restarted.upsert(docs)).resolves.toEqual({ written: 0, skipped: 150 });
      await expect(restarted.upsert(docs.map((d) => ({ ...d, version: 2 })))).resolves.toEqual({ written: 150, skipped: 0 });
      await expect(store.upsert(docs)).resolves.toEqual({ written: 0, skipped: 150 });
      expect((await store.get(pk, docs[149]?.id as string))?.version).toBe(2);
    } finally {
      await Promise.all([store.close(), restarted.close()]);
    }
  });
});

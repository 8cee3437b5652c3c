import { randomUUID } from 'node:crypto';
import { describeServingStoreContract, startCosmosServer, type CosmosServer } from '@pipeline/testing';
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
});

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
});

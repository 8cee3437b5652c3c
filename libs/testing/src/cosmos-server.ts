/**
 * A Cosmos DB SQL API compatible server (@zeit/cosmosdb-server, plain HTTP, in memory) started
 * inside the test process, for the Cosmos adapter's contract tests. It lacks `patch`, GROUP BY,
 * OFFSET…LIMIT, transactional batches and the change feed; the adapter uses none of them.
 */
import type { AddressInfo } from 'node:net';

export interface CosmosServer {
  readonly endpoint: string;
  /** Any key is accepted; the client needs one. */
  readonly key: string;
  /** HTTP requests served so far: what an adapter's operations cost in round trips. */
  requests(): number;
  stop(): Promise<void>;
}

export async function startCosmosServer(): Promise<CosmosServer> {
  const { createHttpServer } = require('@zeit/cosmosdb-server') as { createHttpServer: () => import('node:http').Server };
  const server = createHttpServer();
  let requests = 0;
  server.on('request', () => requests++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    key: 'dGVzdA==',
    requests: () => requests,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * Azurite's Blob service started inside the test process (in memory, on a free port), for the
 * Azure adapters' contract tests. `require('azurite')` itself does not load; its BlobServer does.
 */
export interface AzuriteBlob {
  /** e.g. http://127.0.0.1:43123/devstoreaccount1 */
  readonly accountUrl: string;
  readonly connectionString: string;
  stop(): Promise<void>;
}

const ACCOUNT = 'devstoreaccount1';
// Azurite's published well-known development key: not a secret.
const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export async function startAzuriteBlob(): Promise<AzuriteBlob> {
  const BlobServer = require('azurite/dist/src/blob/BlobServer').default as new (config: unknown) => {
    start(): Promise<void>;
    close(): Promise<void>;
    getHttpServerAddress(): string;
  };
  const BlobConfiguration = require('azurite/dist/src/blob/BlobConfiguration').default as new (...args: unknown[]) => unknown;
  // host, port (0: any free one), keep-alive, metadata/extent DB paths, persistence, access log,
  // its stream, debug log, its file, loose, skip API version check, cert, key, pwd, oauth,
  // product-style URLs off, in-memory persistence.
  const config = new BlobConfiguration(
    '127.0.0.1',
    0,
    undefined,
    undefined,
    undefined,
    undefined,
    false,
    undefined,
    false,
    undefined,
    true,
    true,
    '',
    '',
    '',
    undefined,
    false,
    true,
  );
  const server = new BlobServer(config);
  await server.start();
  const base = server.getHttpServerAddress();
  return {
    accountUrl: `${base}/${ACCOUNT}`,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${base}/${ACCOUNT};`,
    stop: () => server.close(),
  };
}

import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describeLakeContract, startAzuriteBlob, type AzuriteBlob } from '@pipeline/testing';
import { isFatalBackendError, LakeNotFoundError } from '@pipeline/ports';
import { AdlsLake } from './adls.lake';

let azurite: AzuriteBlob;
beforeAll(async () => {
  azurite = await startAzuriteBlob();
});
afterAll(async () => {
  await azurite.stop();
});

/** A fresh container per test, removed afterwards. */
async function freshLake(root?: string) {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`lake-${randomUUID()}`);
  await container.create();
  return { lake: new AdlsLake({ container, ...(root ? { root } : {}) }), dispose: async () => void (await container.deleteIfExists()) };
}

describeLakeContract('adls (Blob API on in-process Azurite)', () => freshLake());
describeLakeContract('adls under a root folder (Blob API on in-process Azurite)', () => freshLake('pipelines/sensors'));

describe('adls lake', () => {
  it('never puts the account key or a SAS token in its location', async () => {
    const { lake, dispose } = await freshLake();
    try {
      expect(lake.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/lake-/);
      expect(lake.location).not.toContain('AccountKey');
      expect(lake.location).not.toContain('?');
    } finally {
      await dispose();
    }
  });

  it('skips the folder markers hierarchical accounts list as blobs', async () => {
    const { lake, dispose } = await freshLake();
    try {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(lake.location.split('/').pop() as string);
      await container.getBlockBlobClient('raw').upload('', 0, { metadata: { hdi_isfolder: 'true' } });
      await lake.write('raw/a.avro', 'x');
      const paths: string[] = [];
      for await (const entry of lake.list('')) paths.push(entry.path);
      expect(paths).toEqual(['raw/a.avro']);
    } finally {
      await dispose();
    }
  });

  it('stops with a FatalBackendError naming the setting when its container does not exist', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`missing-${randomUUID()}`);
    const lake = new AdlsLake({ container });
    const failure = await lake.write('raw/a.avro', 'x').catch((error: unknown) => error);
    expect(isFatalBackendError(failure)).toBe(true);
    expect((failure as Error).message).toContain('PIPELINE_LAKE_CONTAINER');
    // A missing file in an existing container stays an ordinary not-found.
    const { lake: present, dispose } = await freshLake();
    try {
      await expect(present.read('raw/none.avro')).rejects.toBeInstanceOf(LakeNotFoundError);
    } finally {
      await dispose();
    }
  });
});

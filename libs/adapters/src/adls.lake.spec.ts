import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { collect, describeLakeContract, startAzuriteBlob, startHnsBlobProxy, type AzuriteBlob, type HnsBlobProxy } from '@pipeline/testing';
import { isFatalBackendError, LakeNotFoundError } from '@pipeline/ports';
import { AdlsLake, type LakeNamespace } from './adls.lake';

let azurite: AzuriteBlob;
let hns: HnsBlobProxy;
beforeAll(async () => {
  azurite = await startAzuriteBlob();
  hns = await startHnsBlobProxy(azurite);
});
afterAll(async () => {
  await hns.stop();
  await azurite.stop();
});

/** A fresh container per test, removed afterwards; through the hierarchical-namespace double with `hierarchical`. */
async function freshLake(root?: string, options: { hierarchical?: boolean; namespace?: LakeNamespace } = {}) {
  const service = BlobServiceClient.fromConnectionString(options.hierarchical ? hns.connectionString : azurite.connectionString);
  const container = service.getContainerClient(`lake-${randomUUID()}`);
  await container.create();
  const lake = new AdlsLake({ container, ...(root ? { root } : {}), ...(options.namespace ? { namespace: options.namespace } : {}) });
  return { lake, container, dispose: async () => void (await container.deleteIfExists()) };
}

describeLakeContract('adls (Blob API on in-process Azurite)', () => freshLake());
describeLakeContract('adls under a root folder (Blob API on in-process Azurite)', () => freshLake('pipelines/sensors'));
describeLakeContract('adls on a hierarchical-namespace account (HNS listing double)', () => freshLake(undefined, { hierarchical: true }));
describeLakeContract('adls under a root folder on a hierarchical-namespace account (HNS listing double)', () => freshLake('pipelines/sensors', { hierarchical: true }));
// Walking directories is correct on a flat account too (what the lake does when the account does not say).
describeLakeContract('adls walking directories on a flat account (Azurite)', () => freshLake(undefined, { namespace: 'hierarchical' }));

describe('adls lake on a hierarchical-namespace account', () => {
  const FIXTURE = [
    'a/b',
    'a/x/y',
    'a-c',
    'a.json',
    'b',
    'raw/ns/hub/0/2026/01/01.avro',
    'raw/ns/hub/0/2026/02/01.avro',
    'raw/ns/hub/0/2027/01/01.avro',
    'raw/ns/hub/1/2026/01/01.avro',
    'raw/ns/hubby/0/x.avro',
  ];
  const byteOrder = (paths: string[]) => [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

  async function seeded(options: { namespace?: LakeNamespace } = {}) {
    const subject = await freshLake(undefined, { hierarchical: true, ...options });
    for (const path of FIXTURE) await subject.lake.write(path, 'x');
    return subject;
  }

  it('is listed directory by directory by the double, so the service order is not byte order there', async () => {
    const { container, dispose } = await seeded();
    try {
      const names: string[] = [];
      for await (const item of container.listBlobsFlat({ includeMetadata: true })) if (item.metadata?.['hdi_isfolder'] !== 'true') names.push(item.name);
      expect(names.slice(0, 4)).toEqual(['a/b', 'a/x/y', 'a-c', 'a.json']);
      expect(names).not.toEqual(byteOrder(FIXTURE));
    } finally {
      await dispose();
    }
  });

  it('would list out of byte order if it trusted the service order (told the account is flat)', async () => {
    const { lake, dispose } = await seeded({ namespace: 'flat' });
    try {
      const listed = (await collect(lake.list(''))).map((e) => e.path);
      expect(listed.indexOf('a-c')).toBeGreaterThan(listed.indexOf('a/b'));
    } finally {
      await dispose();
    }
  });

  it('asks the account once how it lists: flat on Azurite, hierarchical on the double', async () => {
    const flat = await freshLake();
    const hierarchical = await freshLake(undefined, { hierarchical: true });
    try {
      await expect(flat.lake.listingNamespace()).resolves.toBe('flat');
      await expect(hierarchical.lake.listingNamespace()).resolves.toBe('hierarchical');
    } finally {
      await Promise.all([flat.dispose(), hierarchical.dispose()]);
    }
  });

  it('lists a directory only when it can hold entries after startAfter, and stops at limit', async () => {
    const { lake, dispose } = await seeded();
    try {
      await lake.listingNamespace();
      let before = hns.listings().length;
      expect((await collect(lake.list('', { startAfter: 'raw/ns/hub/0/2027' }))).map((e) => e.path)).toEqual(byteOrder(FIXTURE).filter((p) => p > 'raw/ns/hub/0/2027'));
      const visited = hns.listings().slice(before);
      expect(visited.every((l) => l.delimited)).toBe(true);
      expect(visited.filter((l) => l.prefix.startsWith('a/') || l.prefix.startsWith('raw/ns/hub/0/2026/'))).toEqual([]);
      before = hns.listings().length;
      expect((await collect(lake.list('', { limit: 1 }))).map((e) => e.path)).toEqual(['a-c']);
      // The root, and nothing below: the first entry is a blob of the root.
      expect(hns.listings().slice(before)).toEqual([{ prefix: '', delimited: true }]);
    } finally {
      await dispose();
    }
  });

  it('lists generated names around the folder separator in byte order, whole and in pages', async () => {
    // Names from characters on both sides of '/' (0x2f): ' ', '-', '.' below it; '0', 'a', '~' above.
    let state = 7;
    const next = (n: number) => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31), state % n);
    // A segment starts and ends with 'a', '0' or '~' (Blob names do not end a segment with '.' or ' ').
    const segment = () => `${'a0~'[next(3)]}${Array.from({ length: next(3) }, () => 'a-.0~ '[next(6)]).join('')}${next(2) ? 'a0~'[next(3)] : ''}`;
    const names = new Set<string>();
    while (names.size < 40) names.add(Array.from({ length: 1 + next(3) }, segment).join('/'));
    // A name that is also a folder of another cannot exist on an HNS account: keep the deeper one.
    const paths = [...names].filter((name) => ![...names].some((other) => other.startsWith(`${name}/`)));
    const { lake, container, dispose } = await freshLake(undefined, { hierarchical: true });
    try {
      for (const path of paths) await lake.write(path, 'x');
      const expected = byteOrder(paths);
      // The names do reorder on an HNS account: the service's own flat listing is not byte order.
      const serviceOrder: string[] = [];
      for await (const item of container.listBlobsFlat({ includeMetadata: true })) if (item.metadata?.['hdi_isfolder'] !== 'true') serviceOrder.push(item.name);
      expect(serviceOrder).not.toEqual(expected);
      expect((await collect(lake.list(''))).map((e) => e.path)).toEqual(expected);
      const paged: string[] = [];
      for (let limit = 1; ; limit = (limit % 4) + 1) {
        const page = (await collect(lake.list('', { limit, ...(paged.length ? { startAfter: paged.at(-1) } : {}) }))).map((e) => e.path);
        if (page.length === 0) break;
        paged.push(...page);
      }
      expect(paged).toEqual(expected);
      for (const prefix of ['a', 'a-', 'a.', 'a/', '0', '~']) {
        expect((await collect(lake.list(prefix))).map((e) => e.path)).toEqual(expected.filter((p) => p.startsWith(prefix)));
      }
    } finally {
      await dispose();
    }
  });

  it('keeps byte order with empty directories left behind by deletes', async () => {
    const { lake, dispose } = await seeded();
    try {
      await lake.delete('a/x/y');
      await lake.delete('a/b');
      expect((await collect(lake.list(''))).map((e) => e.path)).toEqual(byteOrder(FIXTURE.filter((p) => !p.startsWith('a/'))));
      expect((await collect(lake.list('a/'))).map((e) => e.path)).toEqual([]);
    } finally {
      await dispose();
    }
  });
});

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

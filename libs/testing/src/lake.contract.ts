/**
 * The `Lake` contract (libs/ports/src/lake.ts), written once and run against every adapter.
 *
 * Each test gets a fresh, empty lake from the factory and disposes it afterwards. The suite only
 * uses paths that a hierarchical store accepts too (no object is also a folder).
 */
import { LakeNotFoundError, LakePathError, type Lake, type LakeEntry } from '@pipeline/ports';
import type { Readable } from 'node:stream';
import { collect } from './collect';

export interface LakeUnderTest {
  lake: Lake;
  dispose(): Promise<void>;
}

/** Paths every adapter must refuse, with why. */
export const INVALID_LAKE_PATHS: ReadonlyArray<[path: string, why: string]> = [
  ['', 'empty'],
  ['/etc/passwd', 'absolute'],
  ['../outside', 'climbs out with ..'],
  ['a/../../outside', 'climbs out in the middle'],
  ['a/./b', 'has a . segment'],
  ['a\\b', 'has a backslash'],
  ['a//b', 'has an empty segment'],
  ['a/', 'ends with a slash'],
  ['a/b\0c', 'has a NUL character'],
  ['C:/Windows', 'is a drive-letter path'],
];

/**
 * Paths whose byte order differs from naive folder-by-folder ordering. Characters outside the BMP
 * are left out: the Blob service (and Azurite) orders names by UTF-16 code units, where they sort
 * differently from UTF-8 bytes; the pipeline's own paths are ASCII. The local lake's spec checks
 * them on its own.
 */
const LISTING_FIXTURE = [
  'a/b',
  'a/x/y',
  'a-c', // '-' (0x2d) sorts before '/' (0x2f): "a-c" < "a/b"
  'Q', // upper case sorts before lower case
  'b',
  'z',
  'é', // two bytes, 0xc3…: after 'z'
  '\uff5e', // U+FF5E: three bytes in UTF-8, after 'é'
  'raw/ns/hub/0/2026/01/01.avro',
  'raw/ns/hub/0/2026/02/01.avro',
  'raw/ns/hub/0/2027/01/01.avro',
  'raw/ns/hub/1/2026/01/01.avro',
  'raw/ns/hubby/0/x.avro',
];

function byteOrder(paths: readonly string[]): string[] {
  return [...paths].sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
}

async function readAll(stream: Readable): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return chunks;
}

/** Deterministic, incompressible-looking bytes (xorshift32). */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

const paths = (entries: LakeEntry[]): string[] => entries.map((entry) => entry.path);

export function describeLakeContract(adapterName: string, makeLake: () => Promise<LakeUnderTest>): void {
  describe(`Lake contract (${adapterName})`, () => {
    let subject: LakeUnderTest;
    let lake: Lake;

    beforeEach(async () => {
      subject = await makeLake();
      lake = subject.lake;
    });

    afterEach(async () => {
      await lake.close();
      await subject.dispose();
    });

    describe('createIfAbsent', () => {
      it('creates an absent object, with its folders, and reports true', async () => {
        await expect(lake.createIfAbsent('commits/00001.json', '{"v":1}')).resolves.toBe(true);
        await expect(lake.read('commits/00001.json')).resolves.toEqual(Buffer.from('{"v":1}'));
      });

      it('leaves an existing object untouched and reports false', async () => {
        await lake.createIfAbsent('commits/00001.json', 'first');
        await expect(lake.createIfAbsent('commits/00001.json', 'second')).resolves.toBe(false);
        await expect(lake.read('commits/00001.json')).resolves.toEqual(Buffer.from('first'));
      });

      it('lets exactly one of many concurrent creators win, and keeps the winner’s content', async () => {
        const contenders = Array.from({ length: 12 }, (_, i) => `writer-${i}`);
        const outcomes = await Promise.all(contenders.map((content) => lake.createIfAbsent('commits/race.json', content)));
        expect(outcomes.filter(Boolean)).toHaveLength(1);
        const winner = contenders[outcomes.indexOf(true)];
        await expect(lake.read('commits/race.json')).resolves.toEqual(Buffer.from(winner));
      });

      it('stores a string as UTF-8', async () => {
        await lake.createIfAbsent('text.txt', 'héllo ✓ 😀');
        await expect(lake.read('text.txt')).resolves.toEqual(Buffer.from('héllo ✓ 😀', 'utf8'));
      });
    });

    describe('write', () => {
      it('creates an object and its folders', async () => {
        await lake.write('silver/_delta_log/00000.json', 'v0');
        await expect(lake.read('silver/_delta_log/00000.json')).resolves.toEqual(Buffer.from('v0'));
      });

      it('replaces an existing object', async () => {
        await lake.write('state.json', 'old content that is longer');
        await lake.write('state.json', 'new');
        await expect(lake.read('state.json')).resolves.toEqual(Buffer.from('new'));
        expect((await lake.stat('state.json'))?.size).toBe(3);
      });

      it('never lets a concurrent reader see a partly written object', async () => {
        const size = 256 * 1024;
        const versions = 8;
        await lake.write('snapshot.bin', Buffer.alloc(size, 0));
        let writing = true;
        const writer = (async () => {
          try {
            for (let v = 1; v <= versions; v++) await lake.write('snapshot.bin', Buffer.alloc(size, v));
          } finally {
            writing = false;
          }
        })();
        while (writing) {
          const content = await lake.read('snapshot.bin');
          expect(content.length).toBe(size);
          // A whole version is one repeated byte; a torn read mixes two or is short.
          expect(content.every((byte) => byte === content[0])).toBe(true);
        }
        await writer;
        await expect(lake.read('snapshot.bin')).resolves.toEqual(Buffer.alloc(size, versions));
      });
    });

    describe('read, readStream, stat and exists', () => {
      it('round-trips every byte value', async () => {
        const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
        await lake.write('binary.bin', bytes);
        await expect(lake.read('binary.bin')).resolves.toEqual(bytes);
        expect(Buffer.concat(await readAll(await lake.readStream('binary.bin')))).toEqual(bytes);
      });

      it('round-trips an empty object', async () => {
        await lake.createIfAbsent('empty.bin', new Uint8Array(0));
        await expect(lake.read('empty.bin')).resolves.toEqual(Buffer.alloc(0));
        expect((await lake.stat('empty.bin'))?.size).toBe(0);
      });

      it('streams a large object in several chunks without losing a byte', async () => {
        const large = pseudoRandomBytes(5 * 1024 * 1024 + 17, 42);
        await lake.write('raw/large.avro', large);
        const chunks = await readAll(await lake.readStream('raw/large.avro'));
        expect(chunks.length).toBeGreaterThan(1);
        expect(Buffer.concat(chunks).equals(large)).toBe(true);
        expect((await lake.stat('raw/large.avro'))?.size).toBe(large.length);
      });

      it('reports the path, size and modification time of an object', async () => {
        await lake.write('a/b/c.json', '12345');
        const entry = await lake.stat('a/b/c.json');
        expect(entry).toEqual({ path: 'a/b/c.json', size: 5, modifiedAt: expect.any(Number) });
        expect(Number.isInteger(entry?.modifiedAt)).toBe(true);
        // Within a day of this machine's clock: a sanity bound on units, not a timing check.
        expect(Math.abs((entry?.modifiedAt ?? 0) - Date.now())).toBeLessThan(24 * 3600 * 1000);
      });

      it('tells objects from absent paths and from folders', async () => {
        await lake.write('a/b/c.json', '{}');
        await expect(lake.exists('a/b/c.json')).resolves.toBe(true);
        await expect(lake.exists('a/b')).resolves.toBe(false);
        await expect(lake.exists('a/b/missing.json')).resolves.toBe(false);
        await expect(lake.stat('a/b')).resolves.toBeUndefined();
        await expect(lake.stat('nothing/here')).resolves.toBeUndefined();
      });

      it('throws LakeNotFoundError naming the path when reading an absent object', async () => {
        await expect(lake.read('missing/object.json')).rejects.toThrow(LakeNotFoundError);
        await expect(lake.read('missing/object.json')).rejects.toThrow(/missing\/object\.json/);
        await expect(lake.readStream('missing/object.json')).rejects.toThrow(LakeNotFoundError);
      });

      it('treats a folder as absent when reading it', async () => {
        await lake.write('folder/inner.json', '{}');
        await expect(lake.read('folder')).rejects.toThrow(LakeNotFoundError);
        await expect(lake.readStream('folder')).rejects.toThrow(LakeNotFoundError);
      });
    });

    describe('list', () => {
      beforeEach(async () => {
        for (const [i, path] of LISTING_FIXTURE.entries()) await lake.write(path, 'x'.repeat(i + 1));
      });

      it('lists every object recursively in ascending byte order of path', async () => {
        const listed = paths(await collect(lake.list('')));
        expect(listed).toEqual(byteOrder(LISTING_FIXTURE));
        expect(listed.indexOf('a-c')).toBeLessThan(listed.indexOf('a/b'));
        expect(listed.indexOf('z')).toBeLessThan(listed.indexOf('é'));
      });

      it('gives each entry its size and modification time, and lists no folders', async () => {
        const entries = await collect(lake.list(''));
        for (const entry of entries) {
          expect(entry.size).toBe(LISTING_FIXTURE.indexOf(entry.path) + 1);
          expect(Number.isInteger(entry.modifiedAt)).toBe(true);
        }
        expect(paths(entries)).not.toContain('a');
        expect(paths(entries)).not.toContain('raw/ns/hub');
      });

      it('lists only what is under a folder prefix ending with a slash', async () => {
        expect(paths(await collect(lake.list('raw/ns/hub/0/')))).toEqual(['raw/ns/hub/0/2026/01/01.avro', 'raw/ns/hub/0/2026/02/01.avro', 'raw/ns/hub/0/2027/01/01.avro']);
      });

      it('matches a prefix that ends inside a name, in any folder depth', async () => {
        expect(paths(await collect(lake.list('raw/ns/hub')))).toEqual(byteOrder(LISTING_FIXTURE.filter((p) => p.startsWith('raw/ns/hub'))));
        expect(paths(await collect(lake.list('raw/ns/hub/0/2026/0')))).toEqual(['raw/ns/hub/0/2026/01/01.avro', 'raw/ns/hub/0/2026/02/01.avro']);
        expect(paths(await collect(lake.list('a')))).toEqual(['a-c', 'a/b', 'a/x/y']);
      });

      it('lists an object whose full path is the prefix', async () => {
        expect(paths(await collect(lake.list('raw/ns/hubby/0/x.avro')))).toEqual(['raw/ns/hubby/0/x.avro']);
      });

      it('lists nothing for a prefix that matches nothing', async () => {
        await expect(collect(lake.list('nope/deeper/'))).resolves.toEqual([]);
        await expect(collect(lake.list('raw/ns/hub/9'))).resolves.toEqual([]);
      });

      it('skips every path up to and including startAfter', async () => {
        const all = byteOrder(LISTING_FIXTURE);
        const after = 'raw/ns/hub/0/2026/01/01.avro';
        expect(paths(await collect(lake.list('', { startAfter: after })))).toEqual(all.slice(all.indexOf(after) + 1));
        // A startAfter that is not an object still splits the order.
        expect(paths(await collect(lake.list('raw/', { startAfter: 'raw/ns/hub/0/2026/01/' })))).toEqual(all.filter((p) => p.startsWith('raw/')));
        expect(paths(await collect(lake.list('raw/', { startAfter: 'raw/ns/hub/0/2027' })))).toEqual([
          'raw/ns/hub/0/2027/01/01.avro',
          'raw/ns/hub/1/2026/01/01.avro',
          'raw/ns/hubby/0/x.avro',
        ]);
        await expect(collect(lake.list('', { startAfter: '\u{10ffff}' }))).resolves.toEqual([]);
      });

      it('stops after limit entries, and pages through everything with limit and startAfter', async () => {
        const all = byteOrder(LISTING_FIXTURE);
        expect(paths(await collect(lake.list('', { limit: 3 })))).toEqual(all.slice(0, 3));
        await expect(collect(lake.list('', { limit: 0 }))).resolves.toEqual([]);

        const paged: string[] = [];
        for (;;) {
          const page = paths(await collect(lake.list('', { limit: 4, startAfter: paged.at(-1) })));
          if (page.length === 0) break;
          paged.push(...page);
        }
        expect(paged).toEqual(all);
      });

      it('rejects a limit that is not a non-negative integer, naming it', async () => {
        for (const limit of [-1, 1.5, Number.NaN]) await expect(collect(lake.list('', { limit }))).rejects.toThrow('limit must be a non-negative integer');
      });

      it('pages through a folder in byte order when its names sort around the folder separator', async () => {
        // '-' and '.' sort before '/', '0' after it: a folder's place in byte order is between them.
        const names = ['t/p/x', 't/p-1', 't/p.json', 't/p0', 't/p/y/z'];
        for (const name of names) await lake.write(name, 'x');
        const expected = byteOrder(names);
        const paged: string[] = [];
        for (;;) {
          const page = paths(await collect(lake.list('t/', { limit: 2, startAfter: paged.at(-1) })));
          if (page.length === 0) break;
          paged.push(...page);
        }
        expect(paged).toEqual(expected);
        expect(paths(await collect(lake.list('t/p', { startAfter: 't/p.json', limit: 2 })))).toEqual(['t/p/x', 't/p/y/z']);
      });
    });

    describe('delete', () => {
      it('removes an object so that it reads as absent', async () => {
        await lake.write('gone/soon.json', '{}');
        await lake.delete('gone/soon.json');
        await expect(lake.exists('gone/soon.json')).resolves.toBe(false);
        await expect(lake.read('gone/soon.json')).rejects.toThrow(LakeNotFoundError);
        await expect(collect(lake.list('gone/'))).resolves.toEqual([]);
      });

      it('succeeds for an absent path, so it can be retried', async () => {
        await expect(lake.delete('never/was.json')).resolves.toBeUndefined();
        await lake.write('twice.json', '{}');
        await lake.delete('twice.json');
        await expect(lake.delete('twice.json')).resolves.toBeUndefined();
      });

      it('frees the path for a later createIfAbsent', async () => {
        await lake.createIfAbsent('lease.json', 'one');
        await lake.delete('lease.json');
        await expect(lake.createIfAbsent('lease.json', 'two')).resolves.toBe(true);
        await expect(lake.read('lease.json')).resolves.toEqual(Buffer.from('two'));
      });
    });

    describe('path validation', () => {
      const operations: ReadonlyArray<[name: string, run: (lake: Lake, path: string) => Promise<unknown>]> = [
        ['createIfAbsent', (l, p) => l.createIfAbsent(p, 'x')],
        ['write', (l, p) => l.write(p, 'x')],
        ['read', (l, p) => l.read(p)],
        ['readStream', (l, p) => l.readStream(p)],
        ['stat', (l, p) => l.stat(p)],
        ['exists', (l, p) => l.exists(p)],
        ['delete', (l, p) => l.delete(p)],
      ];

      it.each(INVALID_LAKE_PATHS)('refuses the path %j (%s) in every operation with LakePathError', async (path) => {
        for (const [, run] of operations) await expect(run(lake, path)).rejects.toThrow(LakePathError);
        await expect(collect(lake.list(''))).resolves.toEqual([]);
      });

      it.each(INVALID_LAKE_PATHS.filter(([path]) => path !== '' && path !== 'a/'))('refuses the list prefix %j (%s) with LakePathError', async (prefix) => {
        await expect(collect(lake.list(prefix))).rejects.toThrow(LakePathError);
      });

      it('accepts an empty prefix and a prefix ending with a slash', async () => {
        await lake.write('a/b.json', '{}');
        await expect(collect(lake.list(''))).resolves.toHaveLength(1);
        await expect(collect(lake.list('a/'))).resolves.toHaveLength(1);
      });
    });
  });
}

import * as path from 'node:path';
import { LocalBus, LocalLake } from '@pipeline/adapters';
import { manifestPath, ManifestValidationError, parseManifest, type BronzeManifest } from '@pipeline/contracts';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';
import { LakeNotFoundError, type OutgoingMessage } from '@pipeline/ports';
import { fileRef, ManifestConflictError, ManifestLog, readHashing, sha256Hex, sha256HexAside, WHOLE_READ_MAX_BYTES } from './manifest-log';

const bronze = (sequence: number, files = [fileRef('raw/ns/hub/0/2026/01/01/00/00/00.avro', Buffer.from('x'), 1)]): BronzeManifest => ({
  version: 1,
  layer: 'bronze',
  pipeline: 'p',
  session: 'bronze',
  sequence,
  batch: sequence,
  createdAt: 1_700_000_000_000,
  inputs: [],
  files,
});

describe('manifest log', () => {
  let dir: TempDir;
  let lake: LocalLake;
  let log: ManifestLog;
  beforeEach(async () => {
    dir = await makeTempDir('manifest-spec-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
    log = new ManifestLog(lake);
  });
  afterEach(() => dir.dispose());

  it('announces the manifests of several sessions in one send, each in its session, in order, with its trace context', async () => {
    const bus = LocalBus.open({ file: path.join(dir.path, 'bus.sqlite') });
    try {
      await bus.ensureQueue('silver-manifests', { sessions: true, lockDurationMs: 60_000, maxDeliveryCount: 10 });
      const sends: OutgoingMessage[][] = [];
      const send = bus.send.bind(bus);
      bus.send = (queue, messages) => {
        sends.push([...messages]);
        return send(queue, messages);
      };
      const announcing = new ManifestLog(lake, bus, 'silver-manifests');
      const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const pointers = ['shard-000', 'shard-001', 'shard-000'].map((session, i) => ({ layer: 'silver' as const, session, sequence: i, path: manifestPath('silver', session, i) }));
      await announcing.announceAll(pointers.map((pointer, i) => ({ pointer, traceparent: i === 1 ? traceparent : undefined })));
      expect(sends).toHaveLength(1);
      const received = async (sessionId: string) => {
        const session = await bus.acceptSession('silver-manifests', { sessionId, maxWaitMs: 0 });
        if (session === undefined) throw new Error(`session ${sessionId} should be free`);
        const messages = await session.receive({ maxMessages: 10, maxWaitMs: 0 });
        await session.close();
        return messages.map((m) => ({ id: m.messageId, body: m.body, subject: m.subject, properties: m.applicationProperties }));
      };
      expect(await received('shard-000')).toEqual([pointers[0], pointers[2]].map((pointer) => ({ id: pointer?.path, body: pointer, subject: 'silver.batch', properties: {} })));
      expect(await received('shard-001')).toEqual([{ id: pointers[1]?.path, body: pointers[1], subject: 'silver.batch', properties: { traceparent } }]);
      // Nothing to announce sends nothing.
      await announcing.announceAll([]);
      expect(sends).toHaveLength(1);
    } finally {
      await bus.close();
    }
  });

  it('reads a session in sequence order from the lake alone, stopping at a gap', async () => {
    for (const n of [0, 1, 2, 4]) await log.write(bronze(n));
    const read: number[] = [];
    for await (const m of log.after('bronze', 'bronze', -1)) read.push(m.sequence);
    expect(read).toEqual([0, 1, 2]);
    const later: number[] = [];
    for await (const m of log.after('bronze', 'bronze', 1)) later.push(m.sequence);
    expect(later).toEqual([2]);
  });

  it('accepts re-writing the same manifest and refuses a different one for the same sequence', async () => {
    await log.write(bronze(0));
    await expect(log.write(bronze(0))).resolves.toMatchObject({ path: manifestPath('bronze', 'bronze', 0) });
    await expect(log.write(bronze(0, []))).rejects.toBeInstanceOf(ManifestConflictError);
  });

  it('keeps manifests under another root apart from those under the default root', async () => {
    const replay = new ManifestLog(lake, undefined, undefined, 'manifests/replay-1');
    await log.write(bronze(0));
    await expect(replay.write(bronze(0, []))).resolves.toMatchObject({ path: manifestPath('bronze', 'bronze', 0, 'manifests/replay-1') });
    await replay.write(bronze(1, []));
    expect(replay.pathOf('bronze', 'bronze', 1)).toBe('manifests/replay-1/bronze/bronze/00000000000000000001.json');
    expect((await collect(replay.after('bronze', 'bronze', -1))).map((m) => [m.sequence, m.files.length])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect((await collect(log.after('bronze', 'bronze', -1))).map((m) => [m.sequence, m.files.length])).toEqual([[0, 1]]);
    expect(await replay.sessions('bronze')).toEqual(['bronze']);
    expect(await log.read('bronze', 'bronze', 1)).toBeUndefined();
  });

  it('refuses a root that is not a relative lake folder', () => {
    for (const root of ['/abs', 'manifests/../x', 'manifests/', '']) expect(() => new ManifestLog(lake, undefined, undefined, root)).toThrow(RangeError);
  });

  it('rejects a manifest that points outside the lake root', () => {
    const evil = {
      ...bronze(0),
      files: [
        { ...fileRef('x', Buffer.from('x'), 1), path: '../../etc/passwd' },
        { ...fileRef('x', Buffer.from('x'), 1), path: '/abs/file' },
      ],
    };
    expect(() => parseManifest(evil, 'evil.json')).toThrow(ManifestValidationError);
    expect(() => parseManifest(evil, 'evil.json')).toThrow(/files\[0\]\.path "\.\.\/\.\.\/etc\/passwd" has an empty, '\.' or '\.\.' segment/);
    expect(() => parseManifest(evil, 'evil.json')).toThrow(/files\[1\]\.path "\/abs\/file" is absolute/);
  });

  it('names a manifest whose bytes are not JSON, read alone or in a session, and how to put it right', async () => {
    await log.write(bronze(0));
    const where = manifestPath('bronze', 'bronze', 0);
    await lake.write(where, '{"version": 1, "lay');
    for (const reading of [log.read('bronze', 'bronze', 0), collect(log.after('bronze', 'bronze', -1))]) {
      await expect(reading).rejects.toBeInstanceOf(ManifestValidationError);
      await expect(reading).rejects.toThrow(new RegExp(`^Invalid manifest ${where}:\n  - is not JSON \\(19 bytes: .+\\)\n`));
      await expect(reading).rejects.toThrow(
        /put a good copy back \(from a backup, or the storage account's blob versions or soft-deleted blobs\), then start the stage that reads it again\.$/,
      );
    }
  });

  it('lists every problem of a malformed manifest at once', () => {
    let error: ManifestValidationError | undefined;
    try {
      parseManifest({ version: 2, layer: 'gold', session: 'Bad Session', sequence: -1, files: 'none' }, 'm.json');
    } catch (e) {
      error = e as ManifestValidationError;
    }
    expect(error?.problems.length).toBeGreaterThanOrEqual(6);
  });
});

describe('readHashing', () => {
  let dir: TempDir;
  let lake: LocalLake;
  beforeEach(async () => {
    dir = await makeTempDir('read-hashing-spec-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
  });
  afterEach(() => dir.dispose());

  const consumed = async (read: { chunks: AsyncIterable<Uint8Array> }) => Buffer.concat(await collect(read.chunks));

  it('hashes and counts the same bytes whether the file is read whole or streamed', async () => {
    // Bigger than one 64 KiB stream chunk, so the streamed read has several.
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251));
    await lake.write('raw/f.avro', bytes);
    const whole = await readHashing(lake, 'raw/f.avro', bytes.byteLength);
    const streamed = await readHashing(lake, 'raw/f.avro', WHOLE_READ_MAX_BYTES + 1);
    expect(whole.whole).toEqual(bytes);
    expect(streamed.whole).toBeUndefined();
    for (const read of [whole, streamed]) {
      expect(await consumed(read)).toEqual(bytes);
      expect(read.bytes).toBe(bytes.byteLength);
      expect(read.sha256()).toBe(sha256Hex(bytes));
    }
  });

  it('streams a file whose size the listing did not give', async () => {
    await lake.write('raw/f.avro', 'abc');
    const read = await readHashing(lake, 'raw/f.avro', undefined);
    expect(read.whole).toBeUndefined();
    expect((await consumed(read)).toString()).toBe('abc');
  });

  it('reads an empty file as no chunks, 0 bytes and the hash of nothing', async () => {
    await lake.write('raw/empty.avro', Buffer.alloc(0));
    const read = await readHashing(lake, 'raw/empty.avro', 0);
    expect(await collect(read.chunks)).toEqual([]);
    expect(read.bytes).toBe(0);
    expect(read.sha256()).toBe(sha256Hex(Buffer.alloc(0)));
  });

  it('throws LakeNotFoundError for a file deleted since it was listed, read whole or streamed', async () => {
    await expect(readHashing(lake, 'raw/gone.avro', 10)).rejects.toThrow(LakeNotFoundError);
    await expect(readHashing(lake, 'raw/gone.avro', WHOLE_READ_MAX_BYTES + 1)).rejects.toThrow(LakeNotFoundError);
  });
});

describe('sha256HexAside', () => {
  it('gives the digest sha256Hex gives, on either side of the size it hands off from', async () => {
    // A known vector first, so both cannot be wrong together.
    expect(await sha256HexAside(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const length of [0, 1, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024 + 7]) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 7919 + length) % 251));
      expect({ length, sha256: await sha256HexAside(bytes) }).toEqual({ length, sha256: sha256Hex(bytes) });
    }
  });

  it('hashes the bytes as they were when called, and a view only within its bounds', async () => {
    const backing = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 253));
    const view = backing.subarray(1_000, 201_000);
    const expected = sha256Hex(view);
    const pending = sha256HexAside(view);
    view.fill(0);
    expect(await pending).toBe(expected);
  });
});

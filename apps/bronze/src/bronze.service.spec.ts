import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalBus } from '@pipeline/adapters';
import { readCaptureFile } from '@pipeline/capture-format';
import { FingerprintMismatchError, ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { manifestPath, type BronzeManifest, type ManifestFile } from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import type { Bus, Lake } from '@pipeline/ports';
import { collect, FaultyLake, SimulatedCrash } from '@pipeline/testing';
import type { BronzeCommit, BronzeState } from './bronze-checkpoint';
import { BRONZE_MANIFESTS_QUEUE, BRONZE_MANIFESTS_QUEUE_OPTIONS } from './bronze.module';
import { BronzeService, type BronzeServiceOptions } from './bronze.service';
import { FIXTURES, LAYOUT, lakeWorld, RecordingLake, silent, writeCaptureFile, type LakeWorld } from './spec-helpers';

const H = 3_600_000;
const START = Date.UTC(2026, 0, 1, 12, 30);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const options = (over: Partial<BronzeServiceOptions> = {}): BronzeServiceOptions => ({
  layout: LAYOUT,
  partitions: 3,
  pipeline: 'spec',
  checkpointRoot: 'checkpoints/bronze',
  lookbackMs: 2 * H,
  maxBatchFiles: 4,
  maxBatchBytes: 1 << 20,
  maxBatchDelayMs: 2_000,
  pollMs: 1_000,
  ...over,
});

function bronze(lake: Lake, clock: TestClock, over: Partial<BronzeServiceOptions> = {}, bus?: Bus): BronzeService {
  return new BronzeService(lake, new ManifestLog(lake, bus, BRONZE_MANIFESTS_QUEUE), clock, silent, options(over), async (ms) => clock.advance(ms));
}

async function* single(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

const drain = (service: BronzeService) => service.run(new AbortController().signal, true);

interface Written {
  path: string;
  bytes: Buffer;
  partitionId: string;
  records: number;
  firstSequence: number;
}

/** 15 capture files in 3 partitions over two hours, one of them empty (a window without events). */
async function populate(lake: Lake): Promise<Written[]> {
  const written: Written[] = [];
  for (const partitionId of ['0', '1', '2']) {
    let sequence = 0;
    for (let i = 0; i < 5; i++) {
      const records = partitionId === '2' && i === 2 ? 0 : 3 + i;
      const time = Date.UTC(2026, 0, 1, 11, 50) + i * 7 * 60_000 + Number(partitionId) * 1_000;
      const file = await writeCaptureFile(lake, partitionId, time, records, sequence);
      written.push({ ...file, partitionId, records, firstSequence: sequence });
      sequence += records;
    }
  }
  return written;
}

async function manifests(lake: Lake): Promise<BronzeManifest[]> {
  return (await collect(new ManifestLog(lake).after('bronze', 'bronze', -1))) as BronzeManifest[];
}

/** Manifest files by path, as bytes. */
async function manifestBytes(lake: Lake): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const entry of await collect(lake.list('manifests/'))) out.set(entry.path, await lake.read(entry.path));
  return out;
}

/** Every file of every committed batch, with the batch, checking the manifest each commit names. */
async function committedFiles(lake: Lake, root = 'checkpoints/bronze'): Promise<Map<string, number[]>> {
  const checkpoint = new StageCheckpoint<unknown, BronzeCommit>(lake, root);
  const log = new ManifestLog(lake);
  const batches = new Map<string, number[]>();
  for await (const batch of checkpoint.committedBatches()) {
    const commit = (await checkpoint.readCommit(batch)) as BronzeCommit;
    const manifest = (await log.read('bronze', 'bronze', batch)) as BronzeManifest;
    expect(commit.manifest).toBe(manifestPath('bronze', 'bronze', batch));
    expect(commit.records).toBe(manifest.files.reduce((n, f) => n + f.rows, 0));
    for (const file of manifest.files) batches.set(file.path, [...(batches.get(file.path) ?? []), batch]);
  }
  return batches;
}

function expectEachInExactlyOneBatch(batches: Map<string, number[]>, written: Written[]): void {
  expect([...batches.keys()].sort()).toEqual(written.map((w) => w.path).sort());
  for (const [file, inBatches] of batches) expect({ file, batches: inBatches.length }).toEqual({ file, batches: 1 });
}

describe('bronze', () => {
  let w: LakeWorld;
  let clock: TestClock;
  beforeEach(async () => {
    w = await lakeWorld();
    clock = new TestClock(START);
  });
  afterEach(() => w.dir.dispose());

  it('references every capture file in place, once, with its checksum, record count and sequence range', async () => {
    const written = await populate(w.lake);
    const summary = await drain(bronze(w.lake, clock));
    const all = await manifests(w.lake);
    expect(summary).toMatchObject({ batches: 4, files: 15, records: written.reduce((n, f) => n + f.records, 0) });
    expect(all.map((m) => m.sequence)).toEqual([0, 1, 2, 3]);
    expect(all.map((m) => m.files.length)).toEqual([4, 4, 4, 3]);

    const refs = new Map(all.flatMap((m) => m.files.map((f): [string, ManifestFile] => [f.path, f])));
    for (const file of written) {
      const ref = refs.get(file.path) as ManifestFile;
      expect(ref).toEqual({
        path: file.path,
        rows: file.records,
        bytes: file.bytes.byteLength,
        sha256: sha256(file.bytes),
        partitionId: file.partitionId,
        ...(file.records > 0 ? { fromSequenceNumber: file.firstSequence, toSequenceNumber: file.firstSequence + file.records - 1 } : {}),
      });
    }
    for (const m of all) expect(m).toMatchObject({ layer: 'bronze', session: 'bronze', pipeline: 'spec', inputs: [], createdAt: START, batch: m.sequence });
    // Batches follow capture time across partitions.
    const times = all.flatMap((m) => m.files.map((f) => f.path.slice('raw/testns/events/0/'.length)));
    expect(times).toEqual([...times].sort());
    expectEachInExactlyOneBatch(await committedFiles(w.lake), written);

    // Nothing copied, nothing changed: the lake holds the raw files as they were, manifests and the checkpoint.
    const everything = await collect(w.lake.list(''));
    for (const entry of everything) expect(entry.path).toMatch(/^(raw\/|manifests\/bronze\/bronze\/|checkpoints\/bronze\/)/);
    for (const file of written) expect(sha256(await w.lake.read(file.path))).toBe(sha256(file.bytes));
  });

  it('keeps cumulative files and records per partition in its state, for the audit', async () => {
    const written = await populate(w.lake);
    await drain(bronze(w.lake, clock));
    const checkpoint = new StageCheckpoint<unknown, BronzeCommit, BronzeState>(w.lake, 'checkpoints/bronze');
    const state = (await checkpoint.readState(3)) as BronzeState;
    for (const partitionId of ['0', '1', '2']) {
      const mine = written.filter((f) => f.partitionId === partitionId);
      expect(state.partitions[partitionId]).toMatchObject({ files: 5, records: mine.reduce((n, f) => n + f.records, 0), position: mine[4]?.path });
    }
    const commit = (await checkpoint.readCommit(0)) as BronzeCommit;
    expect(Object.values(commit.partitions).reduce((n, c) => n + c.files, 0)).toBe(4);
  });

  it('references an empty capture file with zero rows and no sequence range', async () => {
    const empty = await writeCaptureFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 0), 0);
    await drain(bronze(w.lake, clock));
    const [manifest] = await manifests(w.lake);
    expect(manifest?.files).toEqual([{ path: empty.path, rows: 0, bytes: empty.bytes.byteLength, sha256: sha256(empty.bytes), partitionId: '1' }]);
  });

  it('reads the files Azure Event Hubs Capture wrote, under Azure’s path layout', async () => {
    const layout = { prefix: 'raw', namespace: 'contoso-ns', eventHub: 'telemetry' };
    const usql = fs.readFileSync(path.join(FIXTURES, 'usql-EHC.avro'));
    const bluefrog = fs.readFileSync(path.join(FIXTURES, 'bluefrog-2016-archive.avro'));
    await w.lake.write('raw/contoso-ns/telemetry/0/2018/12/07/10/23/49.avro', usql);
    await w.lake.write('raw/contoso-ns/telemetry/1/2016/11/22/09/15/00.avro', bluefrog);
    await drain(bronze(w.lake, clock, { layout, partitions: 2 }));

    const [manifest, ...rest] = await manifests(w.lake);
    expect(rest).toEqual([]);
    const sequences = async (bytes: Buffer) => (await collect(readCaptureFile(single(bytes), 'fixture'))).map((r) => r.sequenceNumber);
    const usqlSequences = await sequences(usql);
    const bluefrogSequences = await sequences(bluefrog);
    expect(usqlSequences).toHaveLength(677);
    expect(manifest?.files).toEqual([
      {
        path: 'raw/contoso-ns/telemetry/1/2016/11/22/09/15/00.avro',
        rows: 1,
        bytes: bluefrog.byteLength,
        sha256: sha256(bluefrog),
        partitionId: '1',
        fromSequenceNumber: bluefrogSequences[0],
        toSequenceNumber: bluefrogSequences[0],
      },
      {
        path: 'raw/contoso-ns/telemetry/0/2018/12/07/10/23/49.avro',
        rows: 677,
        bytes: usql.byteLength,
        sha256: sha256(usql),
        partitionId: '0',
        fromSequenceNumber: usqlSequences[0],
        toSequenceNumber: usqlSequences[676],
      },
    ]);
  });

  it('cuts a batch before the file that would pass the byte limit', async () => {
    const written = await populate(w.lake);
    const size = Math.max(...written.map((f) => f.bytes.byteLength));
    await drain(bronze(w.lake, clock, { maxBatchFiles: 100, maxBatchBytes: size * 2 + 1 }));
    const all = await manifests(w.lake);
    const bytes = (files: ManifestFile[]) => files.reduce((n, f) => n + f.bytes, 0);
    all.forEach((m, i) => {
      expect(bytes(m.files)).toBeLessThanOrEqual(size * 2 + 1);
      // Each batch was cut because the next file would not fit.
      const next = all[i + 1]?.files[0];
      if (next) expect(bytes(m.files) + next.bytes).toBeGreaterThan(size * 2 + 1);
    });
    expect(all.flatMap((m) => m.files)).toHaveLength(15);
  });

  it('holds a batch below the limits until its oldest file waited the maximum delay', async () => {
    await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 1);
    await writeCaptureFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 1), 1);
    const service = bronze(w.lake, clock, { maxBatchDelayMs: 2_000 });
    expect(await service.step(false)).toBe(0);
    clock.advance(1_999);
    expect(await service.step(false)).toBe(0);
    clock.advance(1);
    expect(await service.step(false)).toBe(1);
    expect((await manifests(w.lake)).map((m) => m.files.length)).toEqual([2]);
  });

  it('takes files that appear later, including late ones in older hour folders, once', async () => {
    const written = await populate(w.lake);
    await drain(bronze(w.lake, clock));
    clock.advance(60_000);
    const service = bronze(w.lake, clock, { maxBatchDelayMs: 0 });
    expect(await service.step(false)).toBe(0);

    // Capture back-fills after a storage outage: older times, in hour folders bronze already listed.
    const late = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 11, 52, 30), 2, 100);
    const fresh = await writeCaptureFile(w.lake, '2', Date.UTC(2026, 0, 1, 12, 31), 2, 100);
    expect(await service.step(false)).toBe(1);
    expect(await service.step(false)).toBe(0);
    // A restart remembers what it consumed in the lookback window.
    expect(await bronze(w.lake, clock, { maxBatchDelayMs: 0 }).step(false)).toBe(0);

    const all = await manifests(w.lake);
    expect(all.at(-1)?.files.map((f) => f.path)).toEqual([late.path, fresh.path]);
    expectEachInExactlyOneBatch(await committedFiles(w.lake), [
      ...written,
      { ...late, partitionId: '0', records: 2, firstSequence: 100 },
      { ...fresh, partitionId: '2', records: 2, firstSequence: 100 },
    ]);
  });

  it('takes the sub-second files of a short capture window in time order, each once, across restarts', async () => {
    const t = Date.UTC(2026, 0, 1, 12, 0, 5);
    const files = [];
    let sequence = 0;
    for (const offsetMs of [0, 250, 500, 750, 1_000, 1_250]) {
      files.push({ ...(await writeCaptureFile(w.lake, '1', t + offsetMs, 2, sequence, LAYOUT, 'millisecond')), partitionId: '1', records: 2, firstSequence: sequence });
      sequence += 2;
      // Each step sees the files so far, as a live bronze does while capture closes them.
      await bronze(w.lake, clock, { maxBatchDelayMs: 0 }).step(false);
    }
    expect(files.map((f) => f.path.slice('raw/testns/events/1/2026/01/01/12/00/'.length))).toEqual([
      '05.avro',
      '05_250.avro',
      '05_500.avro',
      '05_750.avro',
      '06.avro',
      '06_250.avro',
    ]);
    expect(await bronze(w.lake, clock, { maxBatchDelayMs: 0 }).step(false)).toBe(0);
    const all = await manifests(w.lake);
    expect(all.flatMap((m) => m.files.map((f) => f.path))).toEqual(files.map((f) => f.path));
    expect(all.flatMap((m) => m.files.map((f) => f.fromSequenceNumber))).toEqual([0, 2, 4, 6, 8, 10]);
    expectEachInExactlyOneBatch(await committedFiles(w.lake), files);
  });

  it('between whole listings, lists only past each partition’s newest file; a late file waits for the next whole listing', async () => {
    const written = await populate(w.lake);
    const lake = new RecordingLake(w.lake);
    const service = bronze(lake, clock, { maxBatchDelayMs: 0, sweepIntervalMs: 10_000 });
    while ((await service.step(false)) > 0);
    expectEachInExactlyOneBatch(await committedFiles(w.lake), written);

    lake.lists.length = 0;
    const fresh = await writeCaptureFile(w.lake, '2', Date.UTC(2026, 0, 1, 12, 31), 2, 100);
    const late = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 11, 52, 30), 2, 100);
    clock.advance(1_000);
    expect(await service.step(false)).toBe(1);
    // One call per partition, each starting after that partition's newest consumed file.
    expect(lake.lists.map((l) => ({ prefix: l.prefix, after: l.startAfter !== undefined }))).toEqual(
      ['0', '1', '2'].map((p) => ({ prefix: `raw/testns/events/${p}/`, after: true })),
    );
    expect((await manifests(w.lake)).at(-1)?.files.map((f) => f.path)).toEqual([fresh.path]);

    clock.advance(10_000);
    expect(await service.step(false)).toBe(1);
    expect((await manifests(w.lake)).at(-1)?.files.map((f) => f.path)).toEqual([late.path]);
    expect(await service.step(false)).toBe(0);
    expectEachInExactlyOneBatch(await committedFiles(w.lake), [
      ...written,
      { ...fresh, partitionId: '2', records: 2, firstSequence: 100 },
      { ...late, partitionId: '0', records: 2, firstSequence: 100 },
    ]);
  });

  it('writes the same manifests, byte for byte, when killed at any write step and restarted', async () => {
    const reference = await populate(w.lake);
    await drain(bronze(w.lake, clock));
    const expected = await manifestBytes(w.lake);
    expect(expected.size).toBe(4);

    let crashes = 0;
    for (let crashAt = 1; ; crashAt++) {
      const attempt = await lakeWorld('bronze-crash-');
      try {
        const attemptClock = new TestClock(START);
        await populate(attempt.lake);
        let crashed = false;
        try {
          await drain(bronze(new FaultyLake(attempt.lake, crashAt), attemptClock));
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          crashed = true;
          crashes++;
        }
        await drain(bronze(attempt.lake, attemptClock));
        expect({ crashAt, manifests: await manifestBytes(attempt.lake) }).toEqual({ crashAt, manifests: expected });
        expectEachInExactlyOneBatch(await committedFiles(attempt.lake), reference);
        if (!crashed) break;
      } finally {
        await attempt.dir.dispose();
      }
    }
    // Bind, then offsets, manifest, state and commit of each of the 4 batches.
    expect(crashes).toBe(1 + 4 * 4);
  });

  it('re-does an interrupted batch from its offsets, keeping the time they recorded', async () => {
    await populate(w.lake);
    const faulty = new FaultyLake(w.lake, 3);
    await expect(drain(bronze(faulty, clock))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(faulty.journal).toEqual(['createIfAbsent checkpoints/bronze/metadata', `createIfAbsent checkpoints/bronze/offsets/${'0'.repeat(20)}`]);
    clock.advance(H);
    await drain(bronze(w.lake, clock));
    const all = await manifests(w.lake);
    expect(all[0]?.createdAt).toBe(START);
    expect(all.slice(1).map((m) => m.createdAt)).toEqual([START + H, START + H, START + H]);
  });

  it('refuses a checkpoint written for another event hub, saying what changed', async () => {
    await populate(w.lake);
    await drain(bronze(w.lake, clock));
    const other = bronze(w.lake, clock, { layout: { ...LAYOUT, eventHub: 'other' } });
    const attempt = drain(other);
    await expect(attempt).rejects.toBeInstanceOf(FingerprintMismatchError);
    await expect(attempt).rejects.toThrow(/eventHub: "events" → "other"/);
    await expect(attempt).rejects.toThrow(/another --checkpoint name/);
    // Another checkpoint name is the way out.
    await expect(drain(bronze(w.lake, clock, { layout: { ...LAYOUT, eventHub: 'other' }, checkpointRoot: 'checkpoints/bronze-other' }))).resolves.toMatchObject({ batches: 0 });
  });

  it('finishes the batch in progress when stopped, and starts no other', async () => {
    await populate(w.lake);
    const stop = new AbortController();
    const service = new BronzeService(w.lake, new ManifestLog(w.lake), clock, silent, options(), async (ms) => clock.advance(ms));
    const stopping = new StoppingLake(w.lake, 'manifests/', () => stop.abort());
    const stopped = new BronzeService(stopping, new ManifestLog(stopping), clock, silent, options(), async (ms) => clock.advance(ms));
    await expect(stopped.run(stop.signal, true)).resolves.toMatchObject({ batches: 1, lastBatch: 0 });
    expect(await new StageCheckpoint(w.lake, 'checkpoints/bronze').latest()).toMatchObject({ batch: 0, committed: true });
    await expect(service.run(new AbortController().signal, true)).resolves.toMatchObject({ batches: 3 });
  });
});

/** Calls `onWrite` when something is created under `prefix` (to stop a run mid-batch). */
class StoppingLake extends FaultyLake {
  constructor(
    inner: Lake,
    private readonly prefix: string,
    private readonly onWrite: () => void,
  ) {
    super(inner);
  }
  override async createIfAbsent(p: string, data: Uint8Array | string): Promise<boolean> {
    if (p.startsWith(this.prefix)) this.onWrite();
    return super.createIfAbsent(p, data);
  }
}

describe('bronze on the local bus', () => {
  let w: LakeWorld;
  let bus: LocalBus;
  beforeEach(async () => {
    w = await lakeWorld('bronze-bus-');
    bus = LocalBus.open({ file: path.join(w.dir.path, 'bus.sqlite'), clock: new TestClock(START) });
    await bus.ensureQueue(BRONZE_MANIFESTS_QUEUE, BRONZE_MANIFESTS_QUEUE_OPTIONS);
  });
  afterEach(async () => {
    await bus.close();
    await w.dir.dispose();
  });

  it('announces each manifest once on bronze-manifests, in session bronze, with the manifest path as message id', async () => {
    await populate(w.lake);
    await drain(bronze(w.lake, new TestClock(START), {}, bus));
    const session = await bus.acceptSession(BRONZE_MANIFESTS_QUEUE, { sessionId: 'bronze', maxWaitMs: 0 });
    if (!session) throw new Error('expected messages in session bronze of bronze-manifests');
    const messages = await session.receive({ maxMessages: 100, maxWaitMs: 0 });
    for (const message of messages) await session.complete(message);
    expect(await session.receive({ maxMessages: 100, maxWaitMs: 0 })).toEqual([]);
    await session.close();
    expect(await bus.acceptSession(BRONZE_MANIFESTS_QUEUE, { maxWaitMs: 0 })).toBeUndefined();
    const paths = [0, 1, 2, 3].map((n) => manifestPath('bronze', 'bronze', n));
    expect(messages.map((m) => m.messageId)).toEqual(paths);
    expect(messages.map((m) => m.sessionId)).toEqual(['bronze', 'bronze', 'bronze', 'bronze']);
    expect(messages.map((m) => m.subject)).toEqual(['bronze.batch', 'bronze.batch', 'bronze.batch', 'bronze.batch']);
    expect(messages.map((m) => m.body)).toEqual(paths.map((p, sequence) => ({ layer: 'bronze', session: 'bronze', sequence, path: p })));
  });
});

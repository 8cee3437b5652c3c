import * as path from 'node:path';
import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { DuckDBInstance } from '@duckdb/node-api';
import { LocalLake } from '@pipeline/adapters';
import { CaptureFileWriter, deriveSyncMarker, formatEnqueuedTimeUtc, readCaptureFile, type CaptureRecord } from '@pipeline/capture-format';
import { fileRef, FingerprintMismatchError, ManifestLog, sha256Hex, StageCheckpoint } from '@pipeline/checkpoint';
import { describeRejection, parseSpec, RejectedFileLog, rejectionRecordPath, type BronzeManifest, type ManifestFile, type PipelineSpec } from '@pipeline/contracts';
import { DeltaTable, readDeltaRows, readDeltaSnapshot } from '@pipeline/delta';
import { TestClock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { collect, lakeBytes, FaultyLake, makeTempDir, SimulatedCrash, type TempDir } from '@pipeline/testing';
import { compileSilverTransform, quarantineSchema, silverSchema } from '@pipeline/transform';
import { startTelemetry, type Telemetry } from '@pipeline/telemetry';
import { QUARANTINE_TABLE, SILVER_TABLE, silverLogic, silverTables } from './silver.logic';
import type { CaptureTimeRange } from './capture-time-range';
import type { SilverCommit, SilverOffsets, SilverState } from './silver-offsets';
import { SilverService } from './silver.service';
import { eventTimeConfig } from './silver-batch';

const root = path.resolve(__dirname, '..', '..', '..');
const silent = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

interface SourceRow {
  id: string;
  device: string;
  time: string;
  temperature: string;
  /** Body override (bad shapes). */
  body?: Buffer;
  properties?: Record<string, string | number>;
}

function record(seq: number, r: SourceRow): CaptureRecord {
  const body =
    r.body ?? Buffer.from(JSON.stringify({ reading_id: r.id, device_id: r.device, site: 'Kyoto', ts: r.time, temperature: r.temperature, humidity: '40', status: 'ok' }));
  return {
    sequenceNumber: seq,
    offset: String(seq * 100),
    enqueuedTimeUtc: formatEnqueuedTimeUtc(T0 + seq * 1000),
    systemProperties: {},
    properties: { event_id: r.id, source: 'sensors', row: seq + 1, content_type: 'json', ...r.properties },
    body,
  };
}

/** Writes capture files (one per bronze manifest) and their bronze manifests. */
async function seedBronze(lake: Lake, batches: SourceRow[][]): Promise<void> {
  const log = new ManifestLog(lake);
  let seq = 0;
  for (const [n, rows] of batches.entries()) {
    const filePath = `raw/local/events/0/2026/01/01/00/00/${String(n).padStart(2, '0')}.avro`;
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker(filePath) });
    const from = seq;
    for (const r of rows) writer.append(record(seq++, r));
    const bytes = writer.finish();
    await lake.createIfAbsent(filePath, bytes);
    const manifest: BronzeManifest = {
      version: 1,
      layer: 'bronze',
      pipeline: 'sensor-readings',
      session: 'bronze',
      sequence: n,
      batch: n,
      createdAt: T0,
      inputs: [],
      files: [fileRef(filePath, bytes, rows.length, { partitionId: '0', fromSequenceNumber: from, toSequenceNumber: seq - 1 })],
    };
    await log.write(manifest);
  }
}

const good = (i: number, device = `d${i % 3}`, time = `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}Z`): SourceRow => ({
  id: `r${i}`,
  device,
  time,
  temperature: String(20 + i),
});

const BATCHES: SourceRow[][] = [
  [good(0), good(1), good(2), { ...good(3), temperature: 'hot' }, good(4)],
  [good(5), good(1) /* duplicate of r1 */, { ...good(6), time: 'yesterday' }, good(7), { ...good(8), body: Buffer.from('not json') }],
  [good(9), { ...good(10), body: Buffer.from('r10,d1,raw'), properties: { content_type: 'raw', malformed: 'csv_column_count' } }, good(11), good(5) /* duplicate of r5 */],
];

async function loadSpec(): Promise<PipelineSpec> {
  return parseSpec(await readFile(path.join(root, 'examples', 'sensors.spec.yaml'), 'utf8'), 'sensors.spec.yaml');
}

const QUERY_ID = '00000000-0000-4000-8000-000000000001';

/** Binds the checkpoint with a fixed query id, so two lakes produce comparable bytes. */
async function bindFixed(lake: Lake, spec: PipelineSpec): Promise<void> {
  const cp = new StageCheckpoint(lake, 'checkpoints/silver');
  const metadata = await cp.bind('silver', silverLogic(spec, 'json'));
  await lake.write('checkpoints/silver/metadata', JSON.stringify({ ...metadata, queryId: QUERY_ID }, null, 2));
}

async function silver(lake: Lake, spec: PipelineSpec, clock: TestClock, maxManifestsPerBatch = 1): Promise<SilverService> {
  const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, 'checkpoints/silver');
  const metadata = await checkpoint.bind('silver', silverLogic(spec, 'json'));
  const deps = {
    lake,
    spec,
    transform: compileSilverTransform(spec, { arrays: 'json' }),
    silverTable: await DeltaTable.open(lake, SILVER_TABLE, silverSchema(spec)),
    quarantineTable: await DeltaTable.open(lake, QUARANTINE_TABLE, quarantineSchema()),
    manifests: new ManifestLog(lake),
    queryId: metadata.queryId,
    eventTime: eventTimeConfig(spec),
  };
  return new SilverService(deps, checkpoint, new ManifestLog(lake), clock, silent, { maxManifestsPerBatch, maxBatchBytes: 32 * 1024 * 1024, pollIntervalMs: 10 });
}

/** Silver as a replay runs it: its own checkpoint, tables and manifests, over a capture-time range. */
async function replaySilver(lake: Lake, spec: PipelineSpec, clock: TestClock, captureRange: CaptureTimeRange): Promise<SilverService> {
  const options = { captureRange, tablesRoot: 'tables/replay', manifestsRoot: 'manifests/replay' };
  const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, 'checkpoints/replay-silver');
  const metadata = await checkpoint.bind('silver', silverLogic(spec, 'json', options));
  const tables = silverTables(options.tablesRoot);
  const bronzeManifests = new ManifestLog(lake);
  const deps = {
    lake,
    spec,
    transform: compileSilverTransform(spec, { arrays: 'json' }),
    silverTable: await DeltaTable.open(lake, tables.silver, silverSchema(spec)),
    quarantineTable: await DeltaTable.open(lake, tables.quarantine, quarantineSchema()),
    manifests: new ManifestLog(lake, undefined, undefined, options.manifestsRoot),
    bronzeManifests,
    captureRange,
    queryId: metadata.queryId,
    eventTime: eventTimeConfig(spec),
  };
  return new SilverService(deps, checkpoint, bronzeManifests, clock, silent, { maxManifestsPerBatch: 10, maxBatchBytes: 32 * 1024 * 1024, pollIntervalMs: 10 });
}

/** Every file under the outputs silver owns, with its bytes. */
async function outputs(lake: Lake): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const prefix of ['tables/', 'manifests/silver/']) for (const e of await collect(lake.list(prefix))) out.set(e.path, (await lake.read(e.path)).toString('base64'));
  return out;
}

describe('silver', () => {
  let dir: TempDir;
  let spec: PipelineSpec;
  beforeAll(async () => {
    spec = await loadSpec();
  });
  beforeEach(async () => {
    dir = await makeTempDir('silver-spec-');
  });
  afterEach(() => dir.dispose());

  const newLake = (name: string) => new LocalLake(path.join(dir.path, name));

  it('turns bronze batches into typed silver rows, quarantines failures with a reason and counts duplicates', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    const service = await silver(lake, spec, new TestClock(T0));
    expect(await service.catchUp()).toBe(3);
    const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, 'checkpoints/silver');
    const commits = [await checkpoint.readCommit(0), await checkpoint.readCommit(1), await checkpoint.readCommit(2)] as SilverCommit[];
    expect(commits.map((c) => c.counts['0'])).toEqual([
      { records: 5, rows: 4, quarantined: 1, duplicates: 0 },
      { records: 5, rows: 2, quarantined: 2, duplicates: 1 },
      { records: 4, rows: 2, quarantined: 1, duplicates: 1 },
    ]);
    expect(commits.map((c) => c.quarantineReasons)).toEqual([{ cast_error: 1 }, { unparseable_event_time: 1, unknown_shape: 1 }, { csv_column_count: 1 }]);
    // One manifest per shard per batch, whether or not the shard got rows.
    const silverManifests = await collect(lake.list('manifests/silver/'));
    expect(silverManifests).toHaveLength(3 * spec.gold.shards);
  });

  it('gives byte-for-byte the same tables and manifests when killed at any write step and restarted', async () => {
    const reference = newLake('reference');
    await seedBronze(reference, BATCHES);
    await bindFixed(reference, spec);
    await (await silver(reference, spec, new TestClock(T0))).catchUp();
    const expected = await outputs(reference);
    expect(expected.size).toBeGreaterThan(10);

    const crashes = await killAtEveryWrite(
      spec,
      async (name) => {
        const lake = newLake(name);
        await seedBronze(lake, BATCHES);
        await bindFixed(lake, spec);
        return lake;
      },
      async (lake) => expect(await outputs(lake)).toEqual(expected),
    );
    // Offsets, data files, Delta commits, manifests, state and commits of three batches: every step was hit.
    expect(crashes).toBeGreaterThan(15);
  }, 120_000);

  it('fails a batch whose capture files cannot be read with the read error, leaving nothing unhandled, and runs it once they can be', async () => {
    const reference = newLake('reference');
    await seedBronze(reference, BATCHES);
    await bindFixed(reference, spec);
    await (await silver(reference, spec, new TestClock(T0), 3)).catchUp();

    /** A lake whose capture files fail to read (an I/O error, not a missing file) while `failing`. */
    class UnreadableCaptureLake extends LocalLake {
      failing = true;
      override async read(file: string): Promise<Buffer> {
        if (this.failing && file.startsWith('raw/')) throw Object.assign(new Error(`EIO: i/o error, read '${file}'`), { code: 'EIO' });
        return super.read(file);
      }
    }
    const lake = new UnreadableCaptureLake(path.join(dir.path, 'lake'));
    await seedBronze(lake, BATCHES);
    await bindFixed(lake, spec);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // One batch of three manifests: the file after the failing one was already being read ahead.
      await expect((await silver(lake, spec, new TestClock(T0), 3)).catchUp()).rejects.toThrow("EIO: i/o error, read 'raw/local/events/0/2026/01/01/00/00/00.avro'");
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(await collect(lake.list('manifests/silver/'))).toEqual([]);
    // The batch was planned before its read failed: the next run re-runs it to the same bytes.
    lake.failing = false;
    await (await silver(lake, spec, new TestClock(T0), 3)).catchUp();
    const expected = await outputs(reference);
    expect([...expected.keys()].filter((file) => file.startsWith('manifests/silver/'))).toHaveLength(spec.gold.shards);
    expect(await outputs(lake)).toEqual(expected);
  });

  it('drops a duplicate that arrives after a restart, since the dedup state is part of the checkpoint', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES.slice(0, 1));
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    await seedBronze(lake, BATCHES.slice(0, 2));
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const commit = await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver').readCommit(1);
    expect(commit?.counts['0']?.duplicates).toBe(1);
  });

  it('remembers ids for the delay plus the longest window, so a repeat gold could still aggregate is dropped', async () => {
    const lake = newLake('lake');
    // Max event time 00:05:00 in the first batch; a repeat of r0 (00:00:00) is 5 minutes behind:
    // beyond the 30 s delay, but within the 5-minute hopping window gold still holds open.
    await seedBronze(lake, [[good(0, 'd0', '2026-01-01T00:00:00Z'), good(1, 'd0', '2026-01-01T00:05:00Z')], [good(0, 'd0', '2026-01-01T00:00:00Z')]]);
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const commit = await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver').readCommit(1);
    expect(commit?.counts['0']).toEqual({ records: 1, rows: 0, quarantined: 0, duplicates: 1 });
  });

  it('catches up from the lake alone: bronze manifests written while nothing was announced are all processed, in order', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    const service = await silver(lake, spec, new TestClock(T0), 10);
    expect(await service.catchUp()).toBe(1);
    expect(service.bronzePosition).toBe(2);
    expect(await service.catchUp()).toBe(0);
  });

  it('refuses to start on a checkpoint written for another spec, naming what changed', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const changed = { ...spec, gold: { ...spec.gold, shards: spec.gold.shards + 1 } };
    await expect(silver(lake, changed, new TestClock(T0))).rejects.toBeInstanceOf(FingerprintMismatchError);
    await expect(silver(lake, changed, new TestClock(T0))).rejects.toThrow(new RegExp(`shards: ${spec.gold.shards} → ${spec.gold.shards + 1}`));
  });

  it('reads only the capture files in its capture-time range, into its own tables and manifests, counting nothing outside it', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    // The seeded capture files stand for 00:00:00, 00:00:01 and 00:00:02: only the middle one is in range.
    const range = { from: Date.UTC(2026, 0, 1, 0, 0, 1), to: Date.UTC(2026, 0, 1, 0, 0, 2) };
    expect(await (await replaySilver(lake, spec, new TestClock(T0), range)).catchUp()).toBe(1);
    const commit = await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/replay-silver').readCommit(0);
    expect(commit?.captureFiles).toEqual({ inRange: 1, outOfRange: 2 });
    // r1 is no duplicate here: its first copy is in a file out of range.
    expect(commit?.counts).toEqual({ '0': { records: 5, rows: 3, quarantined: 2, duplicates: 0 } });
    expect(commit?.inputs.map((i) => i.path)).toEqual([0, 1, 2].map((n) => `manifests/bronze/bronze/${String(n).padStart(20, '0')}.json`));
    const rows = await collect(readDeltaRows(lake, 'tables/replay/silver'));
    expect(rows.map((r) => r['reading_id']).sort()).toEqual(['r1', 'r5', 'r7']);
    expect(new Set(rows.map((r) => r['capture_file']))).toEqual(new Set(['raw/local/events/0/2026/01/01/00/00/01.avro']));
    expect(await collect(readDeltaRows(lake, 'tables/replay/quarantine'))).toHaveLength(2);
    expect(await collect(lake.list('manifests/replay/silver/'))).toHaveLength(spec.gold.shards);
    // The pipeline's own outputs are not touched.
    expect(await collect(lake.list('tables/silver/'))).toEqual([]);
    expect(await collect(lake.list('manifests/silver/'))).toEqual([]);
  });

  it('binds the capture-time range into the checkpoint: another range refuses it', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    await (await replaySilver(lake, spec, new TestClock(T0), { from: T0, to: T0 + 2000 })).catchUp();
    const attempt = replaySilver(lake, spec, new TestClock(T0), { from: T0, to: null });
    await expect(attempt).rejects.toBeInstanceOf(FingerprintMismatchError);
    await expect(attempt).rejects.toThrow(/captureRange: "\[2026-01-01T00:00:00\.000Z, 2026-01-01T00:00:02\.000Z\)" → "\[2026-01-01T00:00:00\.000Z, …\)"/);
  });

  it('keeps the fingerprint of checkpoints written before ranges and roots existed when they are left at their defaults', () => {
    const defaults = silverLogic(spec, 'json', { captureRange: { from: null, to: null }, tablesRoot: 'tables', manifestsRoot: 'manifests' });
    expect(defaults).toEqual(silverLogic(spec, 'json'));
    expect(Object.keys(defaults)).not.toContain('captureRange');
  });

  it('writes a silver table that DuckDB reads back to the same rows', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, BATCHES);
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const snapshot = await readDeltaSnapshot(lake, SILVER_TABLE);
    const files = snapshot.files.map((f) => path.join(lake.location, SILVER_TABLE, f.path));
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    const result = await connection.runAndReadAll(
      `select reading_id, device_id, temperature, epoch_ms(event_time) as t, event_date::varchar as d from read_parquet([${files.map((f) => `'${f}'`).join(',')}], hive_partitioning = true) order by reading_id`,
    );
    const rows = result.getRowObjects();
    expect(rows.map((r) => r['reading_id'])).toEqual(['r0', 'r1', 'r11', 'r2', 'r4', 'r5', 'r7', 'r9']);
    const r7 = rows.find((r) => r['reading_id'] === 'r7');
    expect(r7).toMatchObject({ device_id: 'd1', temperature: 27, d: '2026-01-01' });
    expect(Number(r7?.['t'])).toBe(Date.UTC(2026, 0, 1, 0, 0, 7));
    connection.closeSync();
  });

  it('re-runs a batch planned before Parquet writers were recorded with the writer of that time, and writes new batches with the current one', async () => {
    // What a build before writer versions left behind: batch 0's offsets without `parquetWriter`,
    // its data files written by hyparquet-writer, a crash before its Delta commit.
    const seed = async (name: string) => {
      const lake = newLake(name);
      await seedBronze(lake, BATCHES);
      await bindFixed(lake, spec);
      await new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, 'checkpoints/silver').writeOffsets(0, { bronze: { from: 0, to: 0 }, batchTime: T0 });
      return lake;
    };
    const probe = new FaultyLake(await seed('probe'));
    await (await silver(probe, spec, new TestClock(T0))).catchUp();
    const firstCommit = probe.journal.findIndex((write) => write.endsWith(`${SILVER_TABLE}/_delta_log/00000000000000000001.json`));
    expect(firstCommit).toBeGreaterThan(0);

    const lake = await seed('lake');
    await expect((await silver(new FaultyLake(lake, firstCommit + 1), spec, new TestClock(T0))).catchUp()).rejects.toThrow(SimulatedCrash);
    const before = await lakeBytes(lake);
    const batch0Files = [...before.keys()].filter((file) => file.endsWith('.parquet'));
    expect(batch0Files.length).toBeGreaterThan(1);
    for (const file of batch0Files) expect((await lake.read(file)).includes('hyparquet-writer')).toBe(true);

    // After the upgrade: the recorded batch is re-run (its files are accepted as they are), then the next ones.
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const after = await lakeBytes(lake);
    for (const [file, bytes] of before) expect({ file, same: after.get(file) === bytes }).toEqual({ file, same: true });
    const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, 'checkpoints/silver');
    expect(await checkpoint.lastCommitted()).toBe(2);
    expect((await checkpoint.readOffsets(0))?.parquetWriter).toBeUndefined();
    expect((await checkpoint.readOffsets(1))?.parquetWriter).toBe(2);
    const newFiles = [...after.keys()].filter((file) => file.endsWith('.parquet') && !before.has(file));
    expect(newFiles.length).toBeGreaterThan(0);
    for (const file of newFiles) expect((await lake.read(file)).includes('parquet-encoder version 2')).toBe(true);

    // The same rows as a run that never saw the old writer: none lost, none twice.
    const ids = async (l: Lake) => (await collect(readDeltaRows(l, SILVER_TABLE))).map((r) => r['reading_id']).sort();
    const reference = newLake('reference');
    await seedBronze(reference, BATCHES);
    await (await silver(reference, spec, new TestClock(T0))).catchUp();
    expect(await ids(lake)).toEqual(await ids(reference));
    expect(new Set(await ids(lake)).size).toBe((await ids(lake)).length);
  });

  it('takes event times in the years 0001 to 0099 into the silver table with their own dates, and goes on', async () => {
    const lake = newLake('lake');
    await seedBronze(lake, [[good(0, 'd0', '0050-06-01T12:00:00Z'), good(1, 'd0', '2026-01-01T00:00:00Z')]]);
    expect(await (await silver(lake, spec, new TestClock(T0))).catchUp()).toBe(1);
    const rows = await collect(readDeltaRows(lake, SILVER_TABLE));
    expect(rows.map((r) => r['event_date']).sort()).toEqual(['0050-06-01', '2026-01-01']);
  });
});

describe('silver and capture files that changed after bronze referenced them', () => {
  let dir: TempDir;
  let spec: PipelineSpec;
  beforeAll(async () => {
    spec = await loadSpec();
  });
  beforeEach(async () => {
    dir = await makeTempDir('silver-rejected-');
  });
  afterEach(() => dir.dispose());

  const CHANGED = 'raw/local/events/0/2026/01/01/00/00/01.avro';

  /** The same records under another sync marker: other bytes than bronze referenced. */
  async function reencode(lake: Lake, file: string): Promise<void> {
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: Buffer.alloc(16, 7) });
    for await (const r of readCaptureFile(await lake.readStream(file), file)) writer.append(r);
    await lake.write(file, writer.finish());
  }

  async function seeded(name: string): Promise<Lake> {
    const lake = new LocalLake(path.join(dir.path, name));
    await seedBronze(lake, BATCHES);
    await reencode(lake, CHANGED);
    return lake;
  }

  it('sets the file aside, counts the records bronze referenced in it as rejected, and goes on with the other batches', async () => {
    const lake = await seeded('lake');
    const referenced = ((await new ManifestLog(lake).read('bronze', 'bronze', 1)) as BronzeManifest).files[0] as ManifestFile;
    const now = await lake.read(CHANGED);
    expect(await (await silver(lake, spec, new TestClock(T0))).catchUp()).toBe(3);

    const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver');
    const commit = (await checkpoint.readCommit(1)) as SilverCommit;
    expect(commit.rejectedFiles).toEqual([{ path: CHANGED, partitionId: '0', bronzeBatch: 1, rows: 5, reason: 'checksum' }]);
    expect(commit.counts['0']).toEqual({ records: 0, rows: 0, quarantined: 0, duplicates: 0 });
    expect((await checkpoint.readCommit(2))?.rejectedFiles).toBeUndefined();
    const rows = await collect(readDeltaRows(lake, SILVER_TABLE));
    expect(rows.filter((r) => r['capture_file'] === CHANGED)).toEqual([]);

    const log = new RejectedFileLog(lake);
    expect(await log.list()).toEqual([expect.objectContaining({ path: CHANGED, bronzeBatch: 1, state: 'set-aside' })]);
    const rejection = await log.read(CHANGED, 1);
    expect(rejection).toEqual({
      version: 1,
      kind: 'rejected',
      path: CHANGED,
      partitionId: '0',
      stage: 'silver',
      bronzeBatch: 1,
      silverBatch: 1,
      reason: 'checksum',
      problem: `its bytes (${now.byteLength} bytes, SHA-256 ${sha256Hex(now)}) differ from those bronze referenced in batch 1 (${referenced.bytes} bytes, SHA-256 ${referenced.sha256}): the raw record changed after bronze referenced it.`,
      found: { bytes: now.byteLength, sha256: sha256Hex(now) },
      referenced: { rows: 5, bytes: referenced.bytes, sha256: referenced.sha256 },
    });
    expect(describeRejection(rejection)).toContain(
      `put back the bytes bronze referenced (${referenced.bytes} bytes, SHA-256 ${referenced.sha256}) or another intact copy of the file at ${CHANGED}, then run \`pipeline rejected restore ${CHANGED}\``,
    );
  });

  it('sets aside a file deleted after bronze referenced it', async () => {
    const lake = new LocalLake(path.join(dir.path, 'lake'));
    await seedBronze(lake, BATCHES);
    await lake.delete(CHANGED);
    expect(await (await silver(lake, spec, new TestClock(T0))).catchUp()).toBe(3);
    expect((await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver').readCommit(1))?.rejectedFiles).toEqual([
      { path: CHANGED, partitionId: '0', bronzeBatch: 1, rows: 5, reason: 'missing' },
    ]);
    expect(await new RejectedFileLog(lake).read(CHANGED, 1)).toMatchObject({ reason: 'missing', found: null });
  });

  it('decides the same when killed at any write and restarted: the same tables, manifests, commits and rejected-file record', async () => {
    const reference = await seeded('reference');
    await bindFixed(reference, spec);
    await (await silver(reference, spec, new TestClock(T0))).catchUp();
    const expected = {
      outputs: await outputs(reference),
      rejected: await lakeBytes(reference, 'rejected/'),
      commits: await lakeBytes(reference, 'checkpoints/silver/commits/'),
    };

    const crashes = await killAtEveryWrite(
      spec,
      async (name) => {
        const lake = await seeded(name);
        await bindFixed(lake, spec);
        return lake;
      },
      async (lake) =>
        expect({ outputs: await outputs(lake), rejected: await lakeBytes(lake, 'rejected/'), commits: await lakeBytes(lake, 'checkpoints/silver/commits/') }).toEqual(expected),
    );
    expect(crashes).toBeGreaterThan(15);
  }, 120_000);

  it('keeps the file set aside when its batch is re-run after a crash, even if the bytes were put back in between', async () => {
    // Where the rejection is written, from a run that does not crash.
    const probe = new FaultyLake(await seeded('probe'));
    await (await silver(probe, spec, new TestClock(T0))).catchUp();
    const rejectionWrite = probe.journal.indexOf(`createIfAbsent ${rejectionRecordPath(CHANGED, 1)}`) + 1;
    expect(rejectionWrite).toBeGreaterThan(0);

    const lake = new LocalLake(path.join(dir.path, 'lake'));
    await seedBronze(lake, BATCHES);
    const original = await lake.read(CHANGED);
    await reencode(lake, CHANGED);
    await expect((await silver(new FaultyLake(lake, rejectionWrite + 1), spec, new TestClock(T0))).catchUp()).rejects.toBeInstanceOf(SimulatedCrash);
    await lake.write(CHANGED, original);
    // The restart re-runs batch 1 from its offsets, then runs batch 2.
    expect(await (await silver(lake, spec, new TestClock(T0))).catchUp()).toBe(1);
    const commit = await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver').readCommit(1);
    expect(commit?.rejectedFiles).toEqual([{ path: CHANGED, partitionId: '0', bronzeBatch: 1, rows: 5, reason: 'checksum' }]);
    expect(commit?.counts['0']?.records).toBe(0);
  });

  it('counts the file as rejected in a replay, and leaves the rejected-file log to the pipeline', async () => {
    const lake = await seeded('lake');
    await (await replaySilver(lake, spec, new TestClock(T0), { from: T0, to: null })).catchUp();
    const commit = await new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/replay-silver').readCommit(0);
    expect(commit?.rejectedFiles).toEqual([{ path: CHANGED, partitionId: '0', bronzeBatch: 1, rows: 5, reason: 'checksum' }]);
    expect(await new RejectedFileLog(lake).list()).toEqual([]);
  });
});

describe('silver with live trace context', () => {
  let dir: TempDir;
  let spec: PipelineSpec;
  let telemetry: Telemetry;
  beforeAll(async () => {
    spec = await loadSpec();
    telemetry = startTelemetry({ serviceName: 'silver-spec', exporter: new InMemorySpanExporter() });
  });
  afterAll(() => telemetry.shutdown());
  beforeEach(async () => {
    dir = await makeTempDir('silver-trace-');
  });
  afterEach(() => dir.dispose());

  it('re-runs a batch killed at any write to identical bytes, manifests included, and carries on by itself', async () => {
    const crashes = await killAtEveryWrite(
      spec,
      async (name) => {
        const lake = new LocalLake(path.join(dir.path, name));
        await seedBronze(lake, BATCHES);
        return lake;
      },
      async (lake) => {
        // Each manifest carries the trace context its batch recorded when it was planned.
        const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit>(lake, 'checkpoints/silver');
        for (const entry of await collect(lake.list('manifests/silver/'))) {
          const manifest = JSON.parse((await lake.read(entry.path)).toString('utf8')) as { batch: number; traceparent?: string };
          const offsets = await checkpoint.readOffsets(manifest.batch);
          expect(manifest.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
          expect(manifest.traceparent).toBe(offsets?.traceparent);
        }
      },
    );
    expect(crashes).toBeGreaterThan(15);
  }, 120_000);
});

/**
 * Silver killed before its n-th lake write, for n = 1, 2, … until a run completes, each time on a
 * fresh lake, then restarted with no manual step: every file the killed run left must keep its
 * bytes, then `check` looks at the lake. Returns how many runs were killed.
 */
async function killAtEveryWrite(spec: PipelineSpec, freshLake: (name: string) => Promise<Lake>, check: (lake: Lake) => Promise<void>): Promise<number> {
  let crashes = 0;
  for (let crashAt = 1; ; crashAt++) {
    const lake = await freshLake(`crash-${crashAt}`);
    let crashed = false;
    try {
      await (await silver(new FaultyLake(lake, crashAt), spec, new TestClock(T0))).catchUp();
    } catch (error) {
      if (!(error instanceof SimulatedCrash)) throw error;
      crashed = true;
      crashes++;
    }
    const written = await lakeBytes(lake);
    await (await silver(lake, spec, new TestClock(T0))).catchUp();
    const after = await lakeBytes(lake);
    for (const [file, bytes] of written) expect({ file, same: after.get(file) === bytes }).toEqual({ file, same: true });
    await check(lake);
    if (!crashed) return crashes;
  }
}

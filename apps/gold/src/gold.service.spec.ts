import * as path from 'node:path';
import pino from 'pino';
import { LocalLake, LocalServingStore } from '@pipeline/adapters';
import { fileRef, FingerprintMismatchError, ManifestLog } from '@pipeline/checkpoint';
import { KEY_FILTER_TAG, parseKeyFilter, parseSpec, shardSession, type PipelineSpec, type SilverManifest, type TableRow } from '@pipeline/contracts';
import { DeltaTable, readDeltaRows, readDeltaSnapshot } from '@pipeline/delta';
import { TestClock } from '@pipeline/engine';
import type { Lake, ServingStore, WindowDocument } from '@pipeline/ports';
import { collect, lakeBytes, FaultyLake, makeTempDir, SimulatedCrash, type TempDir } from '@pipeline/testing';
import { shardOf, silverSchema } from '@pipeline/transform';
import { aggregationConfig, GOLD_TABLE, goldLogic, goldSchema, goldTables, LATE_TABLE, lateSchema } from './gold.logic';
import { GoldService } from './gold.service';

const silent = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 0, 1);
const s = (seconds: number) => T0 + seconds * 1000;

const SPEC = (windowSize = '1m', shards = 2) => `
version: 1
name: sensor-readings
source:
  name: sensors
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double, nullable: true }
eventTime: { column: ts, format: iso8601, timeZone: UTC }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: ${windowSize} }
aggregates:
  - { name: readings, fn: count }
  - { name: avg_temperature, fn: avg, column: temperature }
  - { name: max_temperature, fn: max, column: temperature }
watermark: { delay: 30s }
gold: { shards: ${shards}, outputModes: [append, update] }
`;

let counter = 0;
function silverRow(spec: PipelineSpec, device: string, at: number, temperature: number | null): TableRow {
  const id = `r${counter++}`;
  return {
    reading_id: id,
    device_id: device,
    ts: at,
    temperature,
    event_id: id,
    event_time: at,
    event_date: new Date(at).toISOString().slice(0, 10),
    enqueued_time: at,
    partition_id: '0',
    sequence_number: counter,
    capture_file: 'raw/local/events/0/2026/01/01/00/00/00.avro',
    source_row: counter,
    shard: shardOf([device], spec.gold.shards),
  };
}

/** Writes silver batches (rows of each batch split by shard) as silver files and manifests. */
async function seedSilver(
  lake: Lake,
  spec: PipelineSpec,
  batches: TableRow[][],
  firstBatch = 0,
  roots = { tables: 'tables', manifests: 'manifests' },
  eventTimes: Array<SilverManifest['eventTime']> = [],
): Promise<void> {
  const table = await DeltaTable.open(lake, `${roots.tables}/silver`, silverSchema(spec));
  const log = new ManifestLog(lake, undefined, undefined, roots.manifests);
  for (const [i, rows] of batches.entries()) {
    const batch = firstBatch + i;
    for (let shard = 0; shard < spec.gold.shards; shard++) {
      const mine = rows.filter((r) => r['shard'] === shard);
      const adds = mine.length > 0 ? await table.writeFiles(mine, { filePrefix: `part-${batch}-shard-${shard}`, commitTime: T0 }) : [];
      const files = [];
      for (const add of adds) {
        const p = `${roots.tables}/silver/${add.path}`;
        files.push(fileRef(p, await lake.read(p), mine.length));
      }
      const manifest: SilverManifest = {
        version: 1,
        layer: 'silver',
        pipeline: spec.name,
        session: shardSession(shard),
        sequence: batch,
        batch,
        createdAt: T0,
        inputs: [],
        files,
        shard,
        table: `${roots.tables}/silver`,
        deltaVersion: 0,
        ...(eventTimes[i] === undefined ? {} : { eventTime: eventTimes[i] }),
      };
      await log.write(manifest);
    }
  }
}

async function gold(
  lake: Lake,
  store: ServingStore,
  spec: PipelineSpec,
  replay?: { checkpointName: string; tablesRoot: string; manifestsRoot: string },
  maxManifestsPerBatch = 1,
): Promise<GoldService> {
  const tables = goldTables(replay?.tablesRoot);
  const service = new GoldService(
    {
      lake,
      spec,
      config: aggregationConfig(spec),
      silverSchema: silverSchema(spec),
      goldTable: await DeltaTable.open(lake, tables.gold, goldSchema(spec)),
      lateTable: await DeltaTable.open(lake, tables.late, lateSchema(spec)),
      store,
      manifests: new ManifestLog(lake, undefined, undefined, replay?.manifestsRoot),
      instanceId: 'gold-test',
    },
    new TestClock(T0),
    silent,
    {
      checkpointName: replay?.checkpointName ?? 'gold',
      maxManifestsPerBatch,
      maxBatchRows: 50_000,
      ...(replay ? { logic: { tablesRoot: replay.tablesRoot, manifestsRoot: replay.manifestsRoot } } : {}),
    },
  );
  for (let shard = 0; shard < spec.gold.shards; shard++) await service.actor(shard);
  return service;
}

async function allDocuments(store: ServingStore, devices: string[]): Promise<WindowDocument[]> {
  const docs: WindowDocument[] = [];
  for (const device of devices) docs.push(...(await store.queryWindows({ pk: `device_id=${device}`, limit: 1000 })).items);
  return docs;
}

describe('gold', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('gold-spec-');
    counter = 0;
  });
  afterEach(() => dir.dispose());

  const open = (name: string) => ({ lake: new LocalLake(path.join(dir.path, name)), store: LocalServingStore.open({ file: path.join(dir.path, `${name}.sqlite`) }) });

  function scenario(spec: PipelineSpec): TableRow[][] {
    return [
      // Max event time 70 s: the watermark becomes 40 s at the end of this batch.
      [silverRow(spec, 'd1', s(5), 20), silverRow(spec, 'd1', s(20), 22), silverRow(spec, 'd1', s(70), 30), silverRow(spec, 'd2', s(10), null)],
      // 30 s is still on time (its window ends at 60 s > 40 s); 120 s moves the watermark to 90 s: [0, 60) is final.
      [silverRow(spec, 'd1', s(30), 24), silverRow(spec, 'd1', s(120), 31)],
      // 50 s belongs to [0, 60), whose end is ≤ the 90 s watermark: late.
      [silverRow(spec, 'd1', s(50), 99)],
    ];
  }

  it('appends final windows to the gold table, serves changed windows, and routes late rows to the late table', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      await seedSilver(lake, spec, scenario(spec));
      const service = await gold(lake, store, spec);
      await service.catchUpAll();
      const goldRows = await collect(readDeltaRows(lake, GOLD_TABLE));
      // d1's [0, 60) is final: its shard's watermark reached 90 s.
      const d1 = goldRows.filter((r) => r['device_id'] === 'd1');
      expect(d1).toEqual([expect.objectContaining({ window: 'per_minute', window_start: s(0), window_end: s(60), readings: 3, avg_temperature: 22, max_temperature: 24 })]);
      const late = await collect(readDeltaRows(lake, LATE_TABLE));
      expect(late).toHaveLength(1);
      expect(late[0]).toMatchObject({ device_id: 'd1', event_time: s(50), late_threshold: s(90) });
      expect(JSON.parse(late[0]?.['late_windows'] as string)).toEqual([{ window: 'per_minute', start: '2026-01-01T00:00:00.000Z', end: '2026-01-01T00:01:00.000Z' }]);
      // The late file's key filter, in the log beside it, holds d1 and not the other devices.
      const [lateFile] = (await readDeltaSnapshot(lake, LATE_TABLE)).files;
      const keys = parseKeyFilter(lateFile?.tags?.[KEY_FILTER_TAG]);
      expect(lateFile?.tags?.[KEY_FILTER_TAG]).toMatch(/^bloom1:/);
      expect([keys.mayHold('device_id=d1'), keys.mayHold('device_id=d2'), keys.mayHold('d1')]).toEqual([true, false, false]);
      const docs = await allDocuments(store, ['d1']);
      expect(docs.map((d) => [d.windowStart, d.aggregates['readings'], d.final])).toEqual([
        [s(0), 3, true],
        [s(60), 1, false],
        [s(120), 1, false],
      ]);
    } finally {
      await store.close();
    }
  });

  it('resumes a shard from its committed state in a new process, with the same results as one uninterrupted run', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const batches = scenario(spec);
    const a = open('a');
    const b = open('b');
    try {
      await seedSilver(a.lake, spec, batches);
      await (await gold(a.lake, a.store, spec)).catchUpAll();

      await seedSilver(b.lake, spec, batches.slice(0, 2));
      await (await gold(b.lake, b.store, spec)).catchUpAll();
      await seedSilver(b.lake, spec, batches.slice(2), 2);
      await (await gold(b.lake, b.store, spec)).catchUpAll();

      expect(await collect(readDeltaRows(b.lake, GOLD_TABLE))).toEqual(await collect(readDeltaRows(a.lake, GOLD_TABLE)));
      expect(await collect(readDeltaRows(b.lake, LATE_TABLE))).toEqual(await collect(readDeltaRows(a.lake, LATE_TABLE)));
      expect(await allDocuments(b.store, ['d1', 'd2'])).toEqual(await allDocuments(a.store, ['d1', 'd2']));
    } finally {
      await a.store.close();
      await b.store.close();
    }
  });

  it('changes nothing when killed at any write step and re-run: tables, late rows and documents match an uninterrupted run', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const batches = scenario(spec);
    const reference = open('reference');
    await seedSilver(reference.lake, spec, batches);
    await (await gold(reference.lake, reference.store, spec)).catchUpAll();
    const expectedGold = await collect(readDeltaRows(reference.lake, GOLD_TABLE));
    const expectedLate = await collect(readDeltaRows(reference.lake, LATE_TABLE));
    const expectedDocs = await allDocuments(reference.store, ['d1', 'd2']);
    await reference.store.close();

    let crashes = 0;
    for (let crashAt = 1; ; crashAt++) {
      counter = 0;
      const run = open(`crash-${crashAt}`);
      try {
        await seedSilver(run.lake, spec, scenario(spec));
        let crashed = false;
        try {
          await (await gold(new FaultyLake(run.lake, crashAt), run.store, spec)).catchUpAll();
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          crashed = true;
          crashes++;
        }
        const written = await lakeBytes(run.lake);
        await (await gold(run.lake, run.store, spec)).catchUpAll();
        // The re-run rewrote nothing differently: every file the crashed run left has the same bytes.
        const after = await lakeBytes(run.lake);
        for (const [file, bytes] of written) expect({ file, same: after.get(file) === bytes }).toEqual({ file, same: true });
        expect(await collect(readDeltaRows(run.lake, GOLD_TABLE))).toEqual(expectedGold);
        expect(await collect(readDeltaRows(run.lake, LATE_TABLE))).toEqual(expectedLate);
        expect(await allDocuments(run.store, ['d1', 'd2'])).toEqual(expectedDocs);
        if (!crashed) break;
      } finally {
        await run.store.close();
      }
    }
    expect(crashes).toBeGreaterThan(10);
  }, 120_000);

  it('reads silver manifests under another root into other tables, with the same results as the default folders', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const live = open('live');
    const replay = open('replay');
    const roots = { checkpointName: 'r1-gold', tablesRoot: 'tables/r1', manifestsRoot: 'manifests/r1' };
    try {
      await seedSilver(live.lake, spec, scenario(spec));
      await (await gold(live.lake, live.store, spec)).catchUpAll();
      counter = 0;
      await seedSilver(replay.lake, spec, scenario(spec), 0, { tables: roots.tablesRoot, manifests: roots.manifestsRoot });
      expect(await (await gold(replay.lake, replay.store, spec, roots)).catchUpAll()).toBe(2 * 3);

      expect(await collect(readDeltaRows(replay.lake, 'tables/r1/gold'))).toEqual(await collect(readDeltaRows(live.lake, GOLD_TABLE)));
      expect(await collect(readDeltaRows(replay.lake, 'tables/r1/late'))).toHaveLength(1);
      expect(await allDocuments(replay.store, ['d1', 'd2'])).toEqual(await allDocuments(live.store, ['d1', 'd2']));
      expect(await collect(replay.lake.list('tables/gold/'))).toEqual([]);
      expect((await collect(replay.lake.list('checkpoints/r1-gold/'))).length).toBeGreaterThan(0);
      // The roots are bound into the shard checkpoints: the same checkpoint on other tables refuses.
      await expect(gold(replay.lake, replay.store, spec, { ...roots, tablesRoot: 'tables/r2' })).rejects.toThrow(/tablesRoot: "tables\/r1" → "tables\/r2"/);
    } finally {
      await live.store.close();
      await replay.store.close();
    }
  });

  it('keeps the fingerprint of existing shard checkpoints when the roots are left at their defaults', () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    expect(goldLogic(spec, { tablesRoot: 'tables', manifestsRoot: 'manifests' })).toEqual(goldLogic(spec));
  });

  it('refuses a shard checkpoint written for other windows, naming the change', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      await seedSilver(lake, spec, scenario(spec));
      await (await gold(lake, store, spec)).catchUpAll();
      const changed = parseSpec(SPEC('2m'), 'spec.yaml');
      await expect(gold(lake, store, changed)).rejects.toBeInstanceOf(FingerprintMismatchError);
      await expect(gold(lake, store, changed)).rejects.toThrow(/aggregation\.windows\[0\]\.sizeMs: 60000 → 120000/);
    } finally {
      await store.close();
    }
  });

  it('finds the same late rows and windows whether a gold batch takes one silver manifest or several', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const one = open('one');
    const many = open('many');
    try {
      await seedSilver(one.lake, spec, scenario(spec));
      await (await gold(one.lake, one.store, spec, undefined, 1)).catchUpAll();
      counter = 0;
      await seedSilver(many.lake, spec, scenario(spec));
      await (await gold(many.lake, many.store, spec, undefined, 10)).catchUpAll();
      const late = await collect(readDeltaRows(many.lake, LATE_TABLE));
      expect(late.map((r) => [r['event_time'], r['late_threshold']])).toEqual([[s(50), s(90)]]);
      expect(late.map((r) => r['event_id'])).toEqual((await collect(readDeltaRows(one.lake, LATE_TABLE))).map((r) => r['event_id']));
      const windows = (rows: TableRow[]) => rows.map((r) => [r['device_id'], r['window_start'], r['readings']]);
      expect(windows(await collect(readDeltaRows(many.lake, GOLD_TABLE)))).toEqual(windows(await collect(readDeltaRows(one.lake, GOLD_TABLE))));
      expect((await allDocuments(many.store, ['d1', 'd2'])).map((d) => [d.id, d.aggregates, d.final])).toEqual(
        (await allDocuments(one.store, ['d1', 'd2'])).map((d) => [d.id, d.aggregates, d.final]),
      );
    } finally {
      await one.store.close();
      await many.store.close();
    }
  });

  it('holds the watermark at the partition silver saw furthest behind, even when the shard has rows of one partition only', async () => {
    const spec = parseSpec(SPEC('1m', 1), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      // Silver saw partition 1 only up to 10 s; this shard's rows are all of partition 0, minutes ahead.
      // The watermark silver computed: min(300 s, 10 s) − 30 s delay.
      const progress = (p0: number) => ({
        watermark: s(-20),
        start: s(0),
        partitions: { '0': { maxEventTime: s(p0), captureTime: s(p0) }, '1': { maxEventTime: s(10), captureTime: s(p0) } },
      });
      await seedSilver(lake, spec, [[silverRow(spec, 'd1', s(300), 1)], [silverRow(spec, 'd1', s(20), 2)]], 0, undefined, [progress(300), progress(310)]);
      await (await gold(lake, store, spec)).catchUpAll();
      expect(await collect(readDeltaRows(lake, LATE_TABLE))).toEqual([]);
      const [status] = await store.listShardStatus(spec.name);
      // The instance that committed the batch is the shard's owner in its status.
      expect(status).toMatchObject({ watermark: s(-20), eventTime: { holdingPartition: '1', idlePartitions: [] }, owner: 'gold-test' });
      expect(status?.eventTime?.partitions['0']).toEqual({ maxEventTime: s(310), captureTime: s(310) });
    } finally {
      await store.close();
    }
  });

  it('finishes a drained input once: every open window is emitted, and finishing again changes nothing', async () => {
    const spec = parseSpec(SPEC(), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      await seedSilver(lake, spec, scenario(spec));
      const service = await gold(lake, store, spec);
      expect(await service.catchUpAll(true)).toBe(2 * 3 + 2);
      const goldRows = await collect(readDeltaRows(lake, GOLD_TABLE));
      expect(goldRows.map((r) => [r['device_id'], r['window_start'], r['readings']])).toEqual(
        expect.arrayContaining([
          ['d1', s(0), 3],
          ['d1', s(60), 1],
          ['d1', s(120), 1],
          ['d2', s(0), 1],
        ]),
      );
      expect(goldRows).toHaveLength(4);
      expect(await (await gold(lake, store, spec)).catchUpAll(true)).toBe(0);
      expect(await collect(readDeltaRows(lake, GOLD_TABLE))).toHaveLength(4);
    } finally {
      await store.close();
    }
  });

  it('works every other shard when one fails to drain, then fails naming its damaged manifest', async () => {
    const spec = parseSpec(SPEC('1m', 4), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      const devices = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7', 'd8'];
      await seedSilver(lake, spec, [devices.map((device, i) => silverRow(spec, device, s(10 + i), 20))]);
      const shards = new Set(devices.map((device) => shardOf([device], 4)));
      const damaged = [...shards].sort()[0] as number;
      const where = `manifests/silver/${shardSession(damaged)}/00000000000000000000.json`;
      await lake.write(where, '{"version": 1,');
      await expect((await gold(lake, store, spec)).catchUpAll()).rejects.toThrow(new RegExp(`^Invalid manifest ${where}:\n  - is not JSON`));
      // Every other shard with rows committed its batch and served its devices.
      for (const shard of shards) {
        const commits = await collect(lake.list(`checkpoints/gold/${shardSession(shard)}/commits/`));
        expect([shard, commits.length]).toEqual([shard, shard === damaged ? 0 : 1]);
      }
      const served = await allDocuments(store, devices);
      expect(new Set(served.map((d) => d.pk))).toEqual(new Set(devices.filter((device) => shardOf([device], 4) !== damaged).map((device) => `device_id=${device}`)));
      // Two damaged shards: one error names both.
      const second = [...shards].sort()[1] as number;
      await seedSilver(lake, spec, [[silverRow(spec, 'd1', s(20), 21)]], 1);
      await lake.write(`manifests/silver/${shardSession(second)}/00000000000000000001.json`, '[');
      await expect((await gold(lake, store, spec)).catchUpAll()).rejects.toThrow(`2 gold shards failed (the others caught up):\n${shardSession(damaged)}: Invalid manifest`);
    } finally {
      await store.close();
    }
  });

  it('refuses a silver manifest whose watermark is ahead of the one gold computes, since silver would have forgotten ids gold still counts', async () => {
    const spec = parseSpec(SPEC('1m', 1), 'spec.yaml');
    const { lake, store } = open('lake');
    try {
      await seedSilver(lake, spec, [[silverRow(spec, 'd1', s(100), 1)]], 0, undefined, [
        { watermark: s(95), start: s(100), partitions: { '0': { maxEventTime: s(100), captureTime: s(100) } } },
      ]);
      await expect((await gold(lake, store, spec)).catchUpAll()).rejects.toThrow(/different watermark settings/);
    } finally {
      await store.close();
    }
  });
});

describe('gold with a session window', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('gold-sessions-spec-');
    counter = 0;
  });
  afterEach(() => dir.dispose());

  const spec = parseSpec(SPEC('1m', 1).replace('  - { name: per_minute, type: tumbling, size: 1m }\n', '  - { name: visits, type: session, gap: 30s }\n'), 'spec.yaml');
  const batches = () => [
    // Two sessions of d1, [0, 30) and [40, 70); the watermark becomes 10 s.
    [silverRow(spec, 'd1', s(0), 20), silverRow(spec, 'd1', s(40), 22)],
    // 20 s reaches both (20 + 30 ≥ 40): one session [0, 70) under the first start; the one at 40 s is superseded.
    [silverRow(spec, 'd1', s(20), 24)],
    // 200 s moves the watermark to 170 s: [0, 70) is final.
    [silverRow(spec, 'd1', s(200), 26)],
  ];

  it.each([1, 3])('serves one document per session and retires the superseded one (%i silver manifests per gold batch)', async (maxManifests) => {
    const lake = new LocalLake(path.join(dir.path, 'lake'));
    const store = LocalServingStore.open({ file: path.join(dir.path, 'serving.sqlite') });
    try {
      await seedSilver(lake, spec, batches());
      const service = await gold(lake, store, spec, undefined, maxManifests);
      await service.catchUpAll();
      const docs = await allDocuments(store, ['d1']);
      expect(docs.map((d) => [d.window, d.windowStart, d.windowEnd, d.aggregates['readings'], d.final])).toEqual([
        ['visits', s(0), s(70), 3, true],
        ['visits', s(200), s(230), 1, false],
      ]);
      const goldRows = await collect(readDeltaRows(lake, GOLD_TABLE));
      expect(goldRows).toEqual([expect.objectContaining({ window: 'visits', window_start: s(0), window_end: s(70), readings: 3, avg_temperature: 22 })]);
    } finally {
      await store.close();
    }
  });
});

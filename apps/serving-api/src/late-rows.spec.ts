import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { groupKeyText, KEY_FILTER_TAG, keyFilterOfRows, type TableRow, type TableSchema } from '@pipeline/contracts';
import { DeltaTable, type WrittenDataFile } from '@pipeline/delta';
import { CountingLake, makeTempDir, type TempDir } from '@pipeline/testing';
import { comparePositions, LateTable, type LatePosition, type LateQuery } from './late-rows';

const GROUP_BY = ['device_id', 'zone'];
const ROOT = 'tables/late';
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

/** Shaped like gold's late table: silver's columns (a few), why the row was late, partitioned by event_date. */
const SCHEMA: TableSchema = {
  columns: [
    { name: 'device_id', type: 'string', nullable: true },
    { name: 'zone', type: 'long', nullable: false },
    { name: 'event_time', type: 'timestamp', nullable: false },
    { name: 'event_date', type: 'date', nullable: false },
    { name: 'raw', type: 'binary', nullable: true },
    { name: 'late_threshold', type: 'timestamp', nullable: false },
    { name: 'gold_batch', type: 'long', nullable: false },
  ],
  partitionBy: ['event_date'],
};

/** A seeded generator, so a failure replays. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Entry {
  position: LatePosition;
  row: TableRow;
  key: string;
}

interface Table {
  files: WrittenDataFile[];
  /** Every row with its position: the oracle's input. */
  entries: Entry[];
}

/** The full-scan answer: every row, sorted, filtered, sliced. */
function oracle(table: Table, query: LateQuery): { rows: unknown[]; truncated: boolean; next?: LatePosition } {
  const matching = [...table.entries]
    .sort((a, b) => comparePositions(a.position, b.position))
    .filter((e) => query.from === undefined || e.position.eventTime >= query.from)
    .filter((e) => query.to === undefined || e.position.eventTime < query.to)
    .filter((e) => query.key === undefined || e.key === query.key)
    .filter((e) => query.after === undefined || comparePositions(e.position, query.after) > 0);
  const page = matching.slice(0, query.limit);
  const truncated = matching.length > query.limit;
  return { rows: page.map((e) => json(e.row)), truncated, ...(truncated ? { next: page[page.length - 1]?.position } : {}) };
}

function json(row: TableRow): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v]));
}

const keyOf = (device: string | null, zone: number) => groupKeyText({ device_id: device, zone }, GROUP_BY);

describe('LateTable', () => {
  let temp: TempDir;
  let local: LocalLake;
  let lake: CountingLake;

  beforeEach(async () => {
    temp = await makeTempDir('late-rows-');
    local = new LocalLake(temp.path);
    lake = new CountingLake(local);
  });
  afterEach(async () => {
    await local.close();
    await temp.dispose();
  });

  /**
   * Gold-like batches: each writes late rows of a few devices with event times behind a moving
   * watermark (over two days, so two partitions), whole seconds so rows tie; files of at most 30 rows.
   */
  async function writeTable(batches: number, seed: number, options: { stripStats?: (batch: number) => boolean; into?: LocalLake } = {}): Promise<Table> {
    const next = random(seed);
    const table = await DeltaTable.open(options.into ?? local, ROOT, SCHEMA, { tableName: 'late' });
    const out: Table = { files: [], entries: [] };
    for (let batch = 0; batch < batches; batch++) {
      const watermark = T0 + Math.floor((batch / batches) * 2 * DAY);
      const rows: TableRow[] = [];
      const count = 1 + Math.floor(next() * 60);
      for (let i = 0; i < count; i++) {
        const eventTime = watermark - 1000 * Math.floor(next() * 3600);
        const device = next() < 0.05 ? null : `d${Math.floor(next() * 12)}`;
        rows.push({
          device_id: device,
          zone: Math.floor(next() * 3),
          event_time: eventTime,
          event_date: new Date(eventTime).toISOString().slice(0, 10),
          raw: Buffer.from(`b${batch}r${i}`),
          late_threshold: watermark,
          gold_batch: batch,
        });
      }
      const files = await table.writeDataFiles(rows, {
        filePrefix: `part-${String(batch).padStart(8, '0')}-shard-000`,
        commitTime: T0 + batch,
        maxRowsPerFile: 30,
        fileTags: (chunk) => ({ [KEY_FILTER_TAG]: keyFilterOfRows(chunk, GROUP_BY) }),
      });
      // A file another writer added: no stats, no key filter.
      const adds = files.map((f) => (options.stripStats?.(batch) ? { ...f.add, stats: undefined, tags: undefined } : f.add));
      await table.commit(adds, { txn: { appId: 'gold-0', version: batch }, commitTime: T0 + batch });
      for (const file of files) {
        out.files.push(file);
        file.rows.forEach((row, index) =>
          out.entries.push({
            position: { eventTime: row['event_time'] as number, file: file.add.path, row: index },
            row,
            key: keyOf(row['device_id'] as string | null, row['zone'] as number),
          }),
        );
      }
    }
    return out;
  }

  function randomQuery(table: Table, next: () => number): LateQuery {
    const sorted = [...table.entries].sort((a, b) => comparePositions(a.position, b.position));
    const pick = () => sorted[Math.floor(next() * sorted.length)] as Entry;
    const query: LateQuery = { limit: [1, 2, 3, 7, 20, 200][Math.floor(next() * 6)] as number };
    if (next() < 0.4) query.from = pick().position.eventTime + (next() < 0.5 ? 0 : 1);
    if (next() < 0.4) query.to = Math.max(query.from ?? -Infinity, pick().position.eventTime) + 1 + Math.floor(next() * 3 * 3_600_000);
    if (next() < 0.5) query.key = next() < 0.9 ? pick().key : keyOf('nobody', 1);
    if (next() < 0.3) query.after = pick().position;
    return query;
  }

  it('answers as a full scan would (sort all, filter, slice) for random queries', async () => {
    const table = await writeTable(40, 7);
    const late = new LateTable(lake, GROUP_BY);
    const next = random(99);
    for (let i = 0; i < 300; i++) {
      const query = randomQuery(table, next);
      const answer = await late.read(query);
      expect({ query, rows: answer.rows, truncated: answer.truncated, next: answer.next }).toEqual({ query, ...oracle(table, query), next: oracle(table, query).next });
    }
  });

  it('pages through every matching row with the continuation, each row once, in order', async () => {
    const table = await writeTable(30, 11);
    const late = new LateTable(lake, GROUP_BY);
    const key = table.entries[5]?.key as string;
    for (const base of [{ limit: 7 }, { limit: 3, key }, { limit: 50, from: T0 + DAY - 7_200_000, to: T0 + DAY + 7_200_000 }] as LateQuery[]) {
      const pages: unknown[] = [];
      let after: LatePosition | undefined;
      for (let page = 0; page < 1000; page++) {
        const answer = await late.read({ ...base, after });
        pages.push(...answer.rows);
        if (!answer.truncated) break;
        expect(answer.next).toBeDefined();
        after = answer.next;
      }
      expect(pages).toEqual(oracle(table, { ...base, limit: Number.MAX_SAFE_INTEGER }).rows);
    }
  });

  it('opens one data file for limit=1, whether the table has 10 files or 50 or more', async () => {
    for (const batches of [6, 30]) {
      const own = new LocalLake(path.join(temp.path, `table-of-${batches}`));
      const table = await writeTable(batches, 3 + batches, { into: own });
      const counting = new CountingLake(own);
      const answer = await new LateTable(counting, GROUP_BY).read({ limit: 1 });
      expect(answer.rows).toEqual(oracle(table, { limit: 1 }).rows);
      expect({ moreFilesThanBatches: table.files.length > batches, opened: counting.readsOf(/\.parquet$/).length, filesRead: answer.filesRead }).toEqual({
        moreFilesThanBatches: true,
        opened: 1,
        filesRead: 1,
      });
      await own.close();
    }
  });

  it('opens only the files whose event_time range reaches the answer, and only files that may hold the key', async () => {
    const table = await writeTable(50, 5);
    const late = new LateTable(lake, GROUP_BY);
    const minOf = (f: WrittenDataFile) => Math.min(...f.rows.map((r) => r['event_time'] as number));

    // limit=20: the 21st row bounds which files can matter; at most those with a smaller first event_time are opened.
    lake.reset();
    const all = await late.read({ limit: 20 });
    const twentyFirst = [...table.entries].sort((a, b) => comparePositions(a.position, b.position))[20]?.position.eventTime as number;
    const reaching = table.files.filter((f) => minOf(f) <= twentyFirst).length;
    expect(all.filesRead).toBe(lake.readsOf(/\.parquet$/).length);
    expect(all.filesRead).toBeLessThanOrEqual(reaching);
    expect(reaching).toBeLessThan(table.files.length / 4);

    // A key: only files whose key filter may hold it (no false "absent": the rows equal the oracle's).
    const key = keyOf('d3', 1);
    lake.reset();
    const keyed = await late.read({ limit: 1000, key });
    expect(keyed.rows).toEqual(oracle(table, { limit: 1000, key }).rows);
    const holding = table.files.filter((f) => f.rows.some((r) => r['device_id'] === 'd3' && r['zone'] === 1)).length;
    expect(keyed.filesRead).toBeGreaterThanOrEqual(holding);
    expect(keyed.filesRead).toBeLessThanOrEqual(holding + Math.ceil(table.files.length * 0.05));
    expect(keyed.filesRead).toBeLessThan(table.files.length);

    // A key no file holds, and a time range no file reaches: nothing opened.
    lake.reset();
    expect(await late.read({ limit: 5, key: keyOf('nobody', 0) })).toMatchObject({ rows: [], truncated: false, filesRead: 0 });
    expect(await late.read({ limit: 5, from: T0 + 30 * DAY })).toMatchObject({ rows: [], filesRead: 0 });
    expect(lake.readsOf(/\.parquet$/)).toEqual([]);
  });

  it('reads files without stats or key filter (written by another engine) on every query, and still answers right', async () => {
    const table = await writeTable(20, 13, { stripStats: (batch) => batch % 5 === 2 });
    const late = new LateTable(lake, GROUP_BY);
    const next = random(5);
    for (let i = 0; i < 60; i++) {
      const query = randomQuery(table, next);
      const answer = await late.read(query);
      expect({ query, rows: answer.rows, truncated: answer.truncated }).toEqual({ query, rows: oracle(table, query).rows, truncated: oracle(table, query).truncated });
    }
    const unknown = (await late.read({ limit: 1, from: T0 + 30 * DAY })).filesRead;
    expect(unknown).toBe(
      table.files.filter(
        (f) => f.add.path.includes('part-00000002') || f.add.path.includes('part-00000007') || f.add.path.includes('part-00000012') || f.add.path.includes('part-00000017'),
      ).length,
    );
  });

  it('orders rows tied on event_time by file path, then row, even when the earlier path is the file with the later first row', async () => {
    const table = await DeltaTable.open(local, ROOT, SCHEMA);
    const row = (eventTime: number, batch: number) => ({
      device_id: 'd',
      zone: 0,
      event_time: eventTime,
      event_date: '2026-01-01',
      raw: null,
      late_threshold: T0,
      gold_batch: batch,
    });
    // part-2 starts first (T0 + 10) but part-1's only row ties with part-2's second and third: it ranks before them.
    const second = await table.writeFiles([row(T0 + 10, 2), row(T0 + 11, 2), row(T0 + 11, 2)], { filePrefix: 'part-2', commitTime: T0 });
    const first = await table.writeFiles([row(T0 + 11, 1)], { filePrefix: 'part-1', commitTime: T0 });
    await table.commit([...second, ...first], { txn: { appId: 'gold-0', version: 0 }, commitTime: T0 });
    const answer = await new LateTable(lake, GROUP_BY).read({ limit: 2 });
    expect(answer.rows.map((r) => [r['event_time'], r['gold_batch']])).toEqual([
      [T0 + 10, 2],
      [T0 + 11, 1],
    ]);
    expect(answer.next).toEqual({ eventTime: T0 + 11, file: first[0]?.path, row: 0 });
    expect(answer.filesRead).toBe(2);
  });

  it("replays the log when warmed, so the first request reads no log entry but the next version; a failed warm-up is the next request's error", async () => {
    await writeTable(4, 2);
    const late = new LateTable(lake, GROUP_BY);
    await late.warm();
    lake.reset();
    expect((await late.read({ limit: 1 })).tableVersion).toBe(4);
    expect(lake.readsOf(/_delta_log\//)).toEqual([`${ROOT}/_delta_log/00000000000000000005.json`]);

    const broken = new CountingLake(local);
    broken.read = (path: string) => Promise.reject(new Error(`disk error reading ${path}`));
    const failing = new LateTable(broken, GROUP_BY);
    await expect(failing.warm()).resolves.toBeUndefined();
    await expect(failing.read({ limit: 1 })).rejects.toThrow('disk error reading tables/late/_delta_log/00000000000000000000.json');
  });

  it('answers an empty page while the table does not exist, then sees each new commit reading only the new log entries, listing nothing', async () => {
    const late = new LateTable(lake, GROUP_BY);
    expect(await late.read({ limit: 5 })).toEqual({ rows: [], truncated: false, tableVersion: null, filesRead: 0 });
    await writeTable(3, 1);
    expect((await late.read({ limit: 1 })).tableVersion).toBe(3);

    // Nothing new: one probe of the next version, no listing.
    lake.reset();
    await late.read({ limit: 1 });
    expect(lake.readsOf(/_delta_log\//)).toEqual([`${ROOT}/_delta_log/00000000000000000004.json`]);
    expect(lake.lists).toEqual([]);

    const table = await DeltaTable.open(local, ROOT, SCHEMA);
    const row = { device_id: 'early', zone: 0, event_time: T0 - DAY, event_date: '2025-12-31', raw: null, late_threshold: T0, gold_batch: 9 };
    await table.commit(await table.writeFiles([row], { filePrefix: 'part-9', commitTime: T0 }), { txn: { appId: 'gold-0', version: 9 }, commitTime: T0 });
    lake.reset();
    const answer = await late.read({ limit: 1 });
    expect(answer.rows).toEqual([json(row)]);
    expect(answer.tableVersion).toBe(4);
    expect(lake.readsOf(/_delta_log\//)).toEqual([`${ROOT}/_delta_log/00000000000000000004.json`, `${ROOT}/_delta_log/00000000000000000005.json`]);
    expect(lake.lists).toEqual([]);
  });
});

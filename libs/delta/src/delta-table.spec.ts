import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { TableRow, TableSchema } from '@pipeline/contracts';
import { LocalLake } from '@pipeline/adapters';
import { collect, FaultyLake, makeTempDir, SimulatedCrash, type TempDir } from '@pipeline/testing';
import { DeltaLogGapError, DeltaTable, tableId } from './delta-table';
import { readDeltaRows, readDeltaSnapshot } from './delta-reader';
import { decodeAddPath } from './partition-values';

const COMMIT_TIME = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

const SCHEMA: TableSchema = {
  columns: [
    { name: 'event_id', type: 'string', nullable: false },
    { name: 'device', type: 'string', nullable: true },
    { name: 'reading', type: 'double', nullable: true },
    { name: 'count', type: 'long', nullable: true },
    { name: 'small', type: 'integer', nullable: true },
    { name: 'ok', type: 'boolean', nullable: true },
    { name: 'event_time', type: 'timestamp', nullable: true },
    { name: 'payload', type: 'binary', nullable: true },
    { name: 'event_date', type: 'date', nullable: true },
  ],
  partitionBy: ['event_date', 'device'],
};

function rows(): TableRow[] {
  return [
    {
      event_id: 'e1',
      device: 'a/b=c%d',
      reading: 1.5,
      count: 9007199254740991,
      small: -5,
      ok: true,
      event_time: Date.UTC(2026, 0, 1, 0, 0, 0, 123),
      payload: Buffer.from([0, 1, 255]),
      event_date: '2026-01-01',
    },
    { event_id: 'e2', device: 'a/b=c%d', reading: null, count: null, small: null, ok: null, event_time: null, payload: null, event_date: '2026-01-01' },
    {
      event_id: 'e3',
      device: null,
      reading: -0.25,
      count: -42,
      small: 2147483647,
      ok: false,
      event_time: Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      payload: Buffer.alloc(0),
      event_date: '2026-01-02',
    },
    { event_id: 'e4', device: 'plain', reading: 3, count: 0, small: 0, ok: true, event_time: Date.UTC(2026, 0, 2), payload: Buffer.from('x'), event_date: null },
    {
      event_id: 'é😈 long string that is longer than thirty-two code points',
      device: 'plain',
      reading: 7.25,
      count: 5,
      small: 1,
      ok: false,
      event_time: Date.UTC(2026, 0, 3),
      payload: Buffer.from('y'),
      event_date: null,
    },
  ];
}

/** Every file under `dir` with its bytes, by path relative to `dir`. */
async function snapshotFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full);
    if (relative.startsWith('.tmp')) continue;
    out[relative] = (await fs.readFile(full)).toString('base64');
  }
  return out;
}

const byId = (a: TableRow, b: TableRow): number => String(a['event_id']).localeCompare(String(b['event_id']));

describe('DeltaTable', () => {
  let temp: TempDir;
  let lake: LocalLake;

  beforeEach(async () => {
    temp = await makeTempDir('delta-table-');
    lake = new LocalLake(temp.path);
  });
  afterEach(async () => {
    await lake.close();
    await temp.dispose();
  });

  it('creates version 0 with protocol, metadata and the Spark schema string', async () => {
    const table = await DeltaTable.open(lake, 'tables/silver', SCHEMA, { tableName: 'silver', createdTime: 1000 });
    expect(table.version).toBe(0);
    const lines = (await lake.read('tables/silver/_delta_log/00000000000000000000.json'))
      .toString()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
    expect(lines[1].metaData).toMatchObject({
      id: tableId('tables/silver'),
      name: 'silver',
      format: { provider: 'parquet', options: {} },
      partitionColumns: ['event_date', 'device'],
      configuration: {},
      createdTime: 1000,
    });
    expect(JSON.parse(lines[1].metaData.schemaString).fields[0]).toEqual({ name: 'event_id', type: 'string', nullable: false, metadata: {} });
    expect(tableId('tables/silver')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('reads back every column type, nulls and escaped partition values as written', async () => {
    const table = await DeltaTable.open(lake, 'tables/silver', SCHEMA);
    const adds = await table.writeFiles(rows(), { filePrefix: 'part-00000001-shard-000', commitTime: COMMIT_TIME });
    await table.commit(adds, { txn: { appId: 'silver', version: 1 }, commitTime: COMMIT_TIME });

    const back = await collect(readDeltaRows(lake, 'tables/silver'));
    expect(back.sort(byId)).toEqual(rows().sort(byId));
    const paths = adds.map((add) => add.path);
    expect(paths).toContain('event_date=2026-01-01/device=a%252Fb%253Dc%2525d/part-00000001-shard-000.c000.snappy.parquet');
    expect(paths).toContain('event_date=2026-01-02/device=__HIVE_DEFAULT_PARTITION__/part-00000001-shard-000.c000.snappy.parquet');
    expect(await lake.exists(`tables/silver/${decodeAddPath(paths[0])}`)).toBe(true);
    expect(adds.find((add) => add.path.includes('__HIVE_DEFAULT_PARTITION__/'))?.partitionValues).toEqual({ event_date: '2026-01-02', device: null });
    expect(await lake.exists('tables/silver/event_date=2026-01-01/device=a%2Fb%3Dc%25d/part-00000001-shard-000.c000.snappy.parquet')).toBe(true);
  });

  it("writes each file's tags into its add action, after the stats and names in byte order, and reads the rows back unchanged", async () => {
    const table = await DeltaTable.open(lake, 'tables/tagged', SCHEMA);
    const adds = await table.writeFiles(rows(), {
      filePrefix: 'part-1',
      commitTime: COMMIT_TIME,
      fileTags: (chunk) => ({ 'z.count': String(chunk.length), 'a.first': String(chunk[0]?.['event_id']) }),
    });
    await table.commit(adds, { txn: { appId: 'gold-0', version: 1 }, commitTime: COMMIT_TIME });
    const log = await lake.read('tables/tagged/_delta_log/00000000000000000001.json');
    const added = log
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
      .filter((action) => action.add);
    expect(added.map((action) => Object.keys(action.add))).toEqual(added.map(() => ['path', 'partitionValues', 'size', 'modificationTime', 'dataChange', 'stats', 'tags']));
    expect(added.map((action) => Object.keys(action.add.tags))).toEqual(added.map(() => ['a.first', 'z.count']));
    expect((await readDeltaSnapshot(lake, 'tables/tagged')).files.find((f) => f.partitionValues['device'] === null)?.tags).toEqual({ 'a.first': 'e3', 'z.count': '1' });
    expect((await collect(readDeltaRows(lake, 'tables/tagged'))).sort(byId)).toEqual(rows().sort(byId));
    await expect(table.writeFiles(rows(), { filePrefix: 'part-2', commitTime: COMMIT_TIME, fileTags: () => ({ n: 1 as unknown as string }) })).rejects.toThrow(
      'File tag "n" must be a string, got number.',
    );
  });

  it('records per-file stats in the Delta format, leaving partition columns out', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    const adds = await table.writeFiles(rows(), { filePrefix: 'b1', commitTime: COMMIT_TIME });
    const escaped = adds.find((add) => add.partitionValues['device'] === 'a/b=c%d');
    expect(JSON.parse(escaped?.stats ?? '')).toEqual({
      numRecords: 2,
      minValues: { event_id: 'e1', reading: 1.5, count: 9007199254740991, small: -5, event_time: '2026-01-01T00:00:00.123Z' },
      maxValues: { event_id: 'e2', reading: 1.5, count: 9007199254740991, small: -5, event_time: '2026-01-01T00:00:00.123Z' },
      nullCount: { event_id: 0, reading: 1, count: 1, small: 1, ok: 1, event_time: 1, payload: 1 },
    });
    const nullDate = JSON.parse(adds.find((add) => add.partitionValues['event_date'] === null)?.stats ?? '');
    expect(nullDate.minValues.event_id).toBe('e4');
    expect(nullDate.maxValues.event_id).toBe(
      `${Array.from(rows()[4]['event_id'] as string)
        .slice(0, 32)
        .join('')}\u{10FFFF}`,
    );
    expect(nullDate.minValues.event_time).toBe('2026-01-02T00:00:00.000Z');
    expect(nullDate.maxValues.event_time).toBe('2026-01-03T00:00:00.000Z');
    expect(adds.every((add) => add.modificationTime === COMMIT_TIME && add.dataChange)).toBe(true);
  });

  it('splits a partition into files of at most maxRowsPerFile rows', async () => {
    const table = await DeltaTable.open(lake, 't', { columns: [{ name: 'n', type: 'long', nullable: false }], partitionBy: [] }, { maxRowsPerFile: 2 });
    const adds = await table.writeFiles(
      [0, 1, 2, 3, 4].map((n) => ({ n })),
      { filePrefix: 'p', commitTime: COMMIT_TIME },
    );
    expect(adds.map((add) => [add.path, JSON.parse(add.stats ?? '').numRecords])).toEqual([
      ['p.c000.snappy.parquet', 2],
      ['p.c001.snappy.parquet', 2],
      ['p.c002.snappy.parquet', 1],
    ]);
  });

  it('commits a consecutive writer’s batch only while the log holds the one before it, so a lost log entry’s version stays free', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    const consecutive = (version: number) => ({ txn: { appId: 'silver', version }, commitTime: COMMIT_TIME, consecutive: true });
    for (const batch of [0, 1, 2]) expect(await table.commit([], consecutive(batch))).toEqual({ version: batch + 1, alreadyCommitted: false });
    // The newest entry (batch 2) is lost, as a deleted file would be.
    await lake.delete('t/_delta_log/00000000000000000003.json');
    const reopened = await DeltaTable.open(lake, 't', SCHEMA);
    const attempt = reopened.commit([], consecutive(3));
    await expect(attempt).rejects.toBeInstanceOf(DeltaLogGapError);
    await expect(attempt).rejects.toThrow(
      /has no commit of batch 2 of silver \(its newest there is batch 1, in version 2\), though batch 3 comes after it: a log entry of t\/_delta_log is missing \(the log ends at version 2, so the entries after it are the first to look for\)\. Nothing was committed/,
    );
    expect((await readDeltaSnapshot(lake, 't')).version).toBe(2);
    // A stage that recorded version 3 for its last batch is told before it commits at all.
    await expect(reopened.assertHoldsVersion(2, 'batch 1 of the stage')).resolves.toBeUndefined();
    await expect(reopened.assertHoldsVersion(3, 'batch 2 of the stage')).rejects.toThrow(
      /ends at version 2, but batch 2 of the stage says it committed version 3: the entry t\/_delta_log\/00000000000000000003\.json is missing\. Nothing was committed/,
    );
    await expect(reopened.assertHoldsVersion(5, 'batch 4 of the stage')).rejects.toThrow(/the entries 3–5 of t\/_delta_log are missing/);
    // A writer that is not consecutive, or its first batch, commits as before.
    expect(await reopened.commit([], { txn: { appId: 'silver', version: 3 }, commitTime: COMMIT_TIME })).toEqual({ version: 3, alreadyCommitted: false });
    expect(await reopened.commit([], { ...consecutive(0), txn: { appId: 'other', version: 0 } })).toEqual({ version: 4, alreadyCommitted: false });
    // A consecutive writer whose batch N − 1 another instance committed after this one read the log goes on.
    const behind = await DeltaTable.open(lake, 't', SCHEMA);
    await reopened.commit([], consecutive(4));
    expect((await behind.commit([], consecutive(5))).alreadyCommitted).toBe(false);
    // A version another writer committed after this instance read the log is found by reading it again.
    const stale = await DeltaTable.open(lake, 't', SCHEMA);
    await reopened.commit([], { txn: { appId: 'another', version: 0 }, commitTime: COMMIT_TIME });
    await expect(stale.assertHoldsVersion(7, 'batch 0 of another')).resolves.toBeUndefined();
  });

  it('writes nothing the second time the same txn is committed', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    const adds = await table.writeFiles(rows(), { filePrefix: 'b1', commitTime: COMMIT_TIME });
    expect(await table.commit(adds, { txn: { appId: 'silver', version: 1 }, commitTime: COMMIT_TIME })).toEqual({ version: 1, alreadyCommitted: false });
    expect(await table.commit(adds, { txn: { appId: 'silver', version: 1 }, commitTime: COMMIT_TIME })).toEqual({ version: 1, alreadyCommitted: true });
    const reopened = await DeltaTable.open(lake, 't', SCHEMA);
    expect(await reopened.commit(adds, { txn: { appId: 'silver', version: 0 }, commitTime: COMMIT_TIME })).toEqual({ version: 1, alreadyCommitted: true });
    expect(await reopened.commit([], { txn: { appId: 'other', version: 0 }, commitTime: COMMIT_TIME })).toEqual({ version: 2, alreadyCommitted: false });
    expect((await readDeltaSnapshot(lake, 't')).version).toBe(2);
    expect(await collect(readDeltaRows(lake, 't'))).toHaveLength(rows().length);
  });

  it('re-runs a batch that crashed between its data files and its commit into the same bytes and one commit', async () => {
    const first = await DeltaTable.open(lake, 't', SCHEMA);
    await first.writeFiles(rows(), { filePrefix: 'part-7', commitTime: COMMIT_TIME }); // crash: no commit
    const before = await snapshotFiles(temp.path);

    const rerun = await DeltaTable.open(lake, 't', SCHEMA);
    const adds = await rerun.writeFiles(rows(), { filePrefix: 'part-7', commitTime: COMMIT_TIME });
    const afterWrite = await snapshotFiles(temp.path);
    expect(afterWrite).toEqual(before);
    expect(await rerun.commit(adds, { txn: { appId: 'silver', version: 7 }, commitTime: COMMIT_TIME })).toEqual({ version: 1, alreadyCommitted: false });
    const log = Object.keys(await snapshotFiles(temp.path)).filter((file) => file.includes('_delta_log'));
    expect(log.sort()).toEqual(['t/_delta_log/00000000000000000000.json', 't/_delta_log/00000000000000000001.json']);
  });

  it('re-runs a batch with the Parquet writer it recorded: files of writer 1 are accepted by writer 1 and refused by writer 2, with the same stats', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    const old = await table.writeDataFiles(rows(), { filePrefix: 'part-7', commitTime: COMMIT_TIME, parquetWriter: 1 });
    const before = await snapshotFiles(temp.path);
    const again = await table.writeDataFiles(rows(), { filePrefix: 'part-7', commitTime: COMMIT_TIME, parquetWriter: 1 });
    expect(await snapshotFiles(temp.path)).toEqual(before);
    expect(again.map((f) => f.add)).toEqual(old.map((f) => f.add));
    await expect(table.writeDataFiles(rows(), { filePrefix: 'part-7', commitTime: COMMIT_TIME, parquetWriter: 2 })).rejects.toThrow(/already exists with other content/);
    const current = await table.writeDataFiles(rows(), { filePrefix: 'part-8', commitTime: COMMIT_TIME });
    expect(current.map((f) => f.add.stats)).toEqual(old.map((f) => f.add.stats));
    expect(current.map((f) => f.sha256)).not.toEqual(old.map((f) => f.sha256));
    await expect(table.writeDataFiles(rows(), { filePrefix: 'part-9', commitTime: COMMIT_TIME, parquetWriter: 3 as 2 })).rejects.toThrow(
      /Parquet writer version 3, which this build does not have/,
    );
  });

  it('refuses to accept an existing data file whose bytes differ', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    await table.writeFiles(rows().slice(0, 1), { filePrefix: 'same', commitTime: COMMIT_TIME });
    await expect(table.writeFiles([{ ...rows()[0], reading: 99 }], { filePrefix: 'same', commitTime: COMMIT_TIME })).rejects.toThrow(
      /already exists with other content.*Nothing was overwritten\. Most often a stage runs again from batch 0 over the tables of an earlier run.*two different batches used the same filePrefix/,
    );
  });

  it('gives the same data files and log entry bytes for the same input', async () => {
    const other = await makeTempDir('delta-table-twin-');
    const twin = new LocalLake(other.path);
    try {
      for (const target of [lake, twin]) {
        const table = await DeltaTable.open(target, 'tables/silver', SCHEMA, { tableName: 'silver' });
        const adds = await table.writeFiles(rows(), { filePrefix: 'part-1', commitTime: COMMIT_TIME });
        await table.commit(adds, { txn: { appId: 'silver', version: 1 }, commitTime: COMMIT_TIME, operationParameters: { mode: 'Append', batch: 1 } });
      }
      const mine = await snapshotFiles(temp.path);
      expect(Object.keys(mine).length).toBeGreaterThan(4);
      expect(await snapshotFiles(other.path)).toEqual(mine);
    } finally {
      await twin.close();
      await other.dispose();
    }
  });

  it('lets concurrent committers on one table both succeed on different versions', async () => {
    const [a, b] = await Promise.all([DeltaTable.open(lake, 't', SCHEMA), DeltaTable.open(lake, 't', SCHEMA)]);
    const addsA = await a.writeFiles(rows().slice(0, 2), { filePrefix: 'writer-a', commitTime: COMMIT_TIME });
    const addsB = await b.writeFiles(rows().slice(2), { filePrefix: 'writer-b', commitTime: COMMIT_TIME });
    const [resultA, resultB] = await Promise.all([
      a.commit(addsA, { txn: { appId: 'shard-a', version: 1 }, commitTime: COMMIT_TIME }),
      b.commit(addsB, { txn: { appId: 'shard-b', version: 1 }, commitTime: COMMIT_TIME }),
    ]);
    expect([resultA.version, resultB.version].sort()).toEqual([1, 2]);
    expect(resultA.alreadyCommitted || resultB.alreadyCommitted).toBe(false);
    // The writer that lost the race learned the other's txn while retrying.
    const loser = resultA.version === 2 ? a : b;
    expect(loser.lastTxnVersion(resultA.version === 2 ? 'shard-b' : 'shard-a')).toBe(1);
    expect((await collect(readDeltaRows(lake, 't'))).sort(byId)).toEqual(rows().sort(byId));
  });

  it('skips a batch another writer committed after this one last looked', async () => {
    const [a, b] = await Promise.all([DeltaTable.open(lake, 't', SCHEMA), DeltaTable.open(lake, 't', SCHEMA)]);
    const adds = await a.writeFiles(rows(), { filePrefix: 'batch-3', commitTime: COMMIT_TIME });
    await a.commit(adds, { txn: { appId: 'silver', version: 3 }, commitTime: COMMIT_TIME });
    expect(await b.commit(adds, { txn: { appId: 'silver', version: 3 }, commitTime: COMMIT_TIME })).toEqual({ version: 1, alreadyCommitted: true });
    expect((await readDeltaSnapshot(lake, 't')).files).toHaveLength(adds.length);
  });

  it('refuses a table whose schema differs, naming each difference', async () => {
    await DeltaTable.open(lake, 't', SCHEMA);
    const changed: TableSchema = {
      columns: [
        ...SCHEMA.columns.filter((c) => c.name !== 'payload').map((c) => (c.name === 'count' ? { ...c, type: 'double' as const } : c)),
        { name: 'extra', type: 'string', nullable: true },
      ],
      partitionBy: ['event_date'],
    };
    await expect(DeltaTable.open(lake, 't', changed)).rejects.toThrow(
      'does not match the expected schema: column "count" is long in the table but double in the schema; column "extra" (string) is missing from the table; ' +
        'the table has column "payload" (binary) that the schema does not; the table is partitioned by [event_date, device] but the schema by [event_date]. ' +
        'Write to a new table path, or migrate the table and update the schema together.',
    );
  });

  it('rejects a row whose value does not fit its column, naming the row and column', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    await expect(table.writeFiles([{ ...rows()[0], count: 1.5 }], { filePrefix: 'bad', commitTime: COMMIT_TIME })).rejects.toThrow(
      'Row 0: column "count" is long but the value is number 1.5. Expected a safe integer number.',
    );
    await expect(table.writeFiles([{ ...rows()[0], event_date: '2026-02-30' }], { filePrefix: 'bad', commitTime: COMMIT_TIME })).rejects.toThrow(
      /Row 0: Partition column "event_date" of type "date" cannot hold the string "2026-02-30"/,
    );
    await expect(table.writeFiles([{ ...rows()[0], unknown: 1 }], { filePrefix: 'bad', commitTime: COMMIT_TIME })).rejects.toThrow(/Row 0 has column "unknown"/);
    // Also among columns in schema order, and out of it.
    const { event_id, device, ...rest } = rows()[0] as TableRow;
    for (const row of [
      { event_id, unknown: 1, device, ...rest },
      { device, event_id, ...rest, unknown: 1 },
    ]) {
      await expect(table.writeFiles([rows()[1] as TableRow, row], { filePrefix: 'bad', commitTime: COMMIT_TIME })).rejects.toThrow(/Row 1 has column "unknown"/);
    }
  });

  it('has stored every file it started to store when a later file fails to encode', async () => {
    const table = await DeltaTable.open(lake, 't', SCHEMA);
    const [good, bad] = [rows()[3] as TableRow, { ...(rows()[3] as TableRow), event_id: 'e5', count: 1.5 }];
    await expect(table.writeFiles([good, bad], { filePrefix: 'part-1', commitTime: COMMIT_TIME, maxRowsPerFile: 1 })).rejects.toThrow(
      /column "count" is long but the value is number 1.5/,
    );
    const stored = Object.keys(await snapshotFiles(temp.path)).filter((file) => file.endsWith('.parquet'));
    expect(stored).toEqual([path.join('t', 'event_date=__HIVE_DEFAULT_PARTITION__', 'device=plain', 'part-1.c000.snappy.parquet')]);
  });

  it('fails with the store that failed once the stores in flight beside it have settled, and a re-run stores the rest', async () => {
    const faulty = new FaultyLake(lake, 2);
    const table = await DeltaTable.open(faulty, 't', SCHEMA);
    const three = [0, 1, 2].map((i) => ({ ...(rows()[3] as TableRow), event_id: `e${i}` }));
    const options = { filePrefix: 'part-1', commitTime: COMMIT_TIME, maxRowsPerFile: 1 };
    await expect(table.writeFiles(three, options)).rejects.toBeInstanceOf(SimulatedCrash);
    // The first file's store crashed; the two stored beside it are whole (nothing is left half-written).
    const parquet = async () => Object.keys(await snapshotFiles(temp.path)).filter((file) => file.endsWith('.parquet'));
    const folder = path.join('t', 'event_date=__HIVE_DEFAULT_PARTITION__', 'device=plain');
    expect(await parquet()).toEqual([path.join(folder, 'part-1.c001.snappy.parquet'), path.join(folder, 'part-1.c002.snappy.parquet')]);
    // The re-run writes the same bytes at the same paths: it accepts the files there and stores the missing one.
    const again = await (await DeltaTable.open(lake, 't', SCHEMA)).writeFiles(three, options);
    expect(again.map((add) => add.path)).toEqual(['c000', 'c001', 'c002'].map((c) => `event_date=__HIVE_DEFAULT_PARTITION__/device=plain/part-1.${c}.snappy.parquet`));
    expect(await parquet()).toEqual(['c000', 'c001', 'c002'].map((c) => path.join(folder, `part-1.${c}.snappy.parquet`)));
  });

  it('stops storing once it finds a store failed: the rest of the batch is not stored', async () => {
    const faulty = new FaultyLake(lake, 2);
    const table = await DeltaTable.open(faulty, 't', SCHEMA);
    const many = Array.from({ length: 12 }, (_, i) => ({ ...(rows()[3] as TableRow), event_id: `e${i}` }));
    await expect(table.writeFiles(many, { filePrefix: 'part-1', commitTime: COMMIT_TIME, maxRowsPerFile: 1 })).rejects.toBeInstanceOf(SimulatedCrash);
    // At most the stores already in flight when the failure was seen: never the whole batch.
    const stored = faulty.journal.filter((entry) => entry.includes('.parquet'));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(11);
  });
});

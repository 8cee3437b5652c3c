import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TableRow, TableSchema } from '@pipeline/contracts';
import { LocalLake } from '@pipeline/adapters';
import { ReadOnlyFolderLake } from './read-only-folder.lake';
import { collect, makeTempDir } from '@pipeline/testing';
import { DeltaTable } from './delta-table';
import { decodeSnapshotFile, DeltaSnapshotFollower, readDeltaRows, readDeltaSnapshot, readTableFile, toTableValue } from './delta-reader';
import { decodeAddPath } from './partition-values';
import { decodeParquet } from './parquet-file';

const DAT = path.resolve(__dirname, '../../../../shared/fixtures/delta-dat');
const CASES = ['basic_append', 'basic_partitioned', 'multi_partitioned', 'with_schema_change'];

/** One comparable string per row: Buffers as hex, keys in schema order. */
function canonical(rows: TableRow[], columns: string[]): string[] {
  return rows.map((row) => JSON.stringify(columns.map((name) => (Buffer.isBuffer(row[name]) ? `hex:${(row[name] as Buffer).toString('hex')}` : row[name])))).sort();
}

describe('readDeltaRows on the Delta Acceptance Testing (dat) tables', () => {
  const versions = CASES.flatMap((name) =>
    fs
      .readdirSync(path.join(DAT, name, 'expected'))
      .sort()
      .map((dir) => ({ name, dir })),
  );

  it.each(versions)('returns the expected rows of $name at $dir', async ({ name, dir }) => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, name));
    const expectedMeta = JSON.parse(fs.readFileSync(path.join(DAT, name, 'expected', dir, 'table_version_metadata.json'), 'utf8')) as { version: number };
    const version = dir === 'latest' ? undefined : Number(dir.slice(1));

    const snapshot = await readDeltaSnapshot(lake, 'delta', { version });
    expect(snapshot.version).toBe(expectedMeta.version);

    const actual = await collect(readDeltaRows(lake, 'delta', { version }));
    const columns = snapshot.schema.fields.map((field) => field.name);
    const expectedRecords = await decodeParquet(fs.readFileSync(path.join(DAT, name, 'expected', dir, 'table_content.parquet')));
    const expected = expectedRecords.map((record) =>
      Object.fromEntries(snapshot.schema.fields.map((field) => [field.name, toTableValue(field.type, record[field.name], field.name, 'expected')])),
    );
    expect(actual).toHaveLength(expected.length);
    expect(canonical(actual, columns)).toEqual(canonical(expected, columns));
  });

  it('types partition values by the schema and decodes escaped folder names', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'multi_partitioned'));
    const rows = await collect(readDeltaRows(lake, 'delta'));
    const escaped = rows.find((row) => row['number'] === 6);
    expect(escaped).toEqual({ letter: '/%20%f', date: '1970-01-01', data: Buffer.from('hello'), number: 6 });
    const atV1 = await collect(readDeltaRows(lake, 'delta', { version: 1 }));
    expect(atV1.find((row) => row['number'] === 5)).toEqual({ letter: null, date: null, data: null, number: 5 });
  });

  it('reads files written before a schema change with the new schema, dropping gone columns', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'with_schema_change'));
    const v0 = await readDeltaSnapshot(lake, 'delta', { version: 0 });
    expect(v0.schema.fields.map((f) => f.name)).toEqual(['letter', 'number']);
    const latest = await readDeltaSnapshot(lake, 'delta');
    expect(latest.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['num1:long', 'num2:long']);
    expect(latest.files).toHaveLength(1);
  });

  it('names the latest version when asked for one that does not exist', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'basic_append'));
    await expect(readDeltaSnapshot(lake, 'delta', { version: 7 })).rejects.toThrow(/has no version 7; its latest version is 1/);
  });

  it('says there is no table where the log is empty', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'basic_append'));
    await expect(readDeltaSnapshot(lake, 'expected')).rejects.toThrow(/No Delta table at .*expected: expected\/_delta_log\/ has no log entries/);
  });
});

describe('timestamps read from a table written with microseconds', () => {
  const schema: TableSchema = {
    columns: [
      { name: 'id', type: 'string', nullable: false },
      { name: 'event_time', type: 'timestamp', nullable: true },
    ],
    partitionBy: [],
  };
  const rows: TableRow[] = [
    { id: 'a', event_time: 1_767_225_610_123_456n },
    { id: 'b', event_time: Date.UTC(2026, 0, 1) },
    { id: 'c', event_time: -62_135_596_799_999_999n },
    { id: 'd', event_time: null },
  ];

  it('are epoch ms rounded down by default, for gold, and the exact lake timestamps when asked', async () => {
    const temp = await makeTempDir('delta-reader-');
    const lake = new LocalLake(temp.path);
    try {
      const table = await DeltaTable.open(lake, 'tables/t', schema);
      const adds = await table.writeFiles(rows, { filePrefix: 'part-1', commitTime: 1 });
      await table.commit(adds, { txn: { appId: 't', version: 1 }, commitTime: 1 });
      const path = `tables/t/${adds[0]?.path ?? ''}`;
      const millis = [{ id: 'a', event_time: Date.UTC(2026, 0, 1, 0, 0, 10, 123) }, rows[1], { id: 'c', event_time: -62_135_596_800_000 }, rows[3]];
      expect(await readTableFile(lake, path, schema)).toEqual(millis);
      expect(await collect(readDeltaRows(lake, 'tables/t'))).toEqual(millis);
      expect(await readTableFile(lake, path, schema, { timestamps: 'micros' })).toEqual(rows);
      expect(await collect(readDeltaRows(lake, 'tables/t', { timestamps: 'micros' }))).toEqual(rows);
      // Only the columns asked for, in the schema's order; a name the schema lacks is ignored.
      expect(await readTableFile(lake, path, schema, { columns: ['event_time', 'absent'] })).toEqual(millis.map((r) => ({ event_time: r['event_time'] })));
    } finally {
      await lake.close();
      await temp.dispose();
    }
  });
});

describe('ReadOnlyFolderLake', () => {
  it('refuses writes so the fixtures are never touched', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'basic_append'));
    await expect(lake.createIfAbsent('x.json')).rejects.toThrow(/is read-only; cannot write "x.json"/);
    expect(fs.existsSync(path.join(DAT, 'basic_append', '.tmp'))).toBe(false);
  });
});

describe('DeltaSnapshotFollower and decodeSnapshotFile', () => {
  it.each(CASES)('give the snapshot and rows readDeltaSnapshot and readDeltaRows give, on the dat table %s', async (name) => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, name));
    const expected = await readDeltaSnapshot(lake, 'delta');
    const snapshot = await new DeltaSnapshotFollower(lake, 'delta').latest();
    expect(snapshot).toEqual(expected);
    const rows: TableRow[] = [];
    for (const file of expected.files) {
      const filePath = `delta/${decodeAddPath(file.path)}`;
      const bytes = await lake.read(filePath);
      const all = await decodeSnapshotFile(expected, file, bytes, filePath);
      rows.push(...all);
      // Some rows, some columns: the same values as the whole decode, in the order asked.
      const picked = [all.length - 1, 0].filter((i) => i >= 0);
      const columns = expected.schema.fields.slice(0, 2).map((f) => f.name);
      const some = await decodeSnapshotFile(expected, file, bytes, filePath, { rows: picked, columns });
      expect(some).toEqual(picked.map((i) => Object.fromEntries(columns.map((c) => [c, all[i]?.[c]]))));
    }
    expect(rows).toEqual(await collect(readDeltaRows(lake, 'delta')));
  });

  it('follows new commits by reading the next versions only, one catch-up for concurrent callers', async () => {
    const temp = await makeTempDir('delta-follow-');
    const lake = new LocalLake(temp.path);
    try {
      const follower = new DeltaSnapshotFollower(lake, 'tables/t');
      await expect(follower.latest()).resolves.toBeUndefined();
      const schema: TableSchema = { columns: [{ name: 'id', type: 'long', nullable: false }], partitionBy: [] };
      const table = await DeltaTable.open(lake, 'tables/t', schema);
      for (let version = 1; version <= 5; version++) {
        await table.commit(await table.writeFiles([{ id: version }], { filePrefix: `part-${version}`, commitTime: version }), {
          txn: { appId: 'a', version },
          commitTime: version,
        });
        if (version % 2 === 1) {
          const [one, two] = await Promise.all([follower.latest(), follower.latest()]);
          expect(one).toBe(two);
          expect(one).toEqual(await readDeltaSnapshot(lake, 'tables/t'));
        }
      }
      expect((await follower.latest())?.files.map((f) => f.path)).toEqual([1, 2, 3, 4, 5].map((v) => `part-${v}.c000.snappy.parquet`));
    } finally {
      await lake.close();
      await temp.dispose();
    }
  });
});

describe('readTableFile rows', () => {
  const schema: TableSchema = {
    columns: [
      { name: 'id', type: 'string', nullable: false },
      { name: 'n', type: 'long', nullable: true },
      { name: 'x', type: 'double', nullable: true },
      { name: 'ok', type: 'boolean', nullable: true },
      { name: 't', type: 'timestamp', nullable: true },
      { name: 'd', type: 'date', nullable: true },
      { name: 'b', type: 'binary', nullable: true },
    ],
    partitionBy: [],
  };
  const rows: TableRow[] = [
    { id: 'a', n: 9_007_199_254_740_991, x: 1.5, ok: true, t: Date.UTC(2026, 0, 1), d: '2026-01-01', b: Buffer.from('hi') },
    { id: 'b', n: null, x: null, ok: null, t: null, d: null, b: null },
    { id: 'c', n: -3, x: -0.25, ok: false, t: -62_135_596_800_000, d: '0001-01-01', b: Buffer.alloc(0) },
  ];

  /** Each decoded value converted by toTableValue into a new row with the wanted columns in schema order (absent ones null). */
  async function converted(bytes: Buffer, fileSchema: TableSchema, wanted: readonly string[]): Promise<TableRow[]> {
    const inFile = new Set(fileSchema.columns.map((c) => c.name));
    const columns = schema.columns.filter((c) => wanted.includes(c.name));
    const records = await decodeParquet(
      bytes,
      columns.filter((c) => inFile.has(c.name)).map((c) => c.name),
    );
    return records.map((record) => Object.fromEntries(columns.map((c) => [c.name, inFile.has(c.name) ? toTableValue(c.type, record[c.name], c.name, 'f') : null])));
  }

  it('equal the decoded values converted one by one, with their fields in schema order, whatever the file holds and in whatever order', async () => {
    const temp = await makeTempDir('delta-reader-rows-');
    const lake = new LocalLake(temp.path);
    try {
      const reversed: TableSchema = { columns: [...schema.columns].reverse(), partitionBy: [] };
      const fewer: TableSchema = { columns: schema.columns.filter((c) => c.name !== 'x'), partitionBy: [] };
      for (const [name, fileSchema] of [
        ['same', schema],
        ['reversed', reversed],
        ['fewer', fewer],
      ] as const) {
        const table = await DeltaTable.open(lake, `tables/${name}`, fileSchema);
        const fileRows = rows.map((r) => Object.fromEntries(fileSchema.columns.map((c) => [c.name, r[c.name] ?? null])));
        const [add] = await table.writeFiles(fileRows, { filePrefix: 'part-1', commitTime: 1 });
        const path = `tables/${name}/${add?.path ?? ''}`;
        const bytes = await lake.read(path);
        for (const wanted of [schema.columns.map((c) => c.name), ['t', 'id', 'n'], ['x', 'b']]) {
          const read = await readTableFile(lake, path, schema, { columns: wanted });
          const expected = await converted(bytes, fileSchema, wanted);
          expect(read).toEqual(expected);
          for (const row of read) expect(Object.keys(row)).toEqual(schema.columns.map((c) => c.name).filter((c) => wanted.includes(c)));
          // Strings and numbers need no conversion; binary comes as a Buffer, a bigint long as a number.
          if (wanted.includes('b')) expect(Buffer.isBuffer(read[0]?.['b'])).toBe(true);
        }
      }
    } finally {
      await lake.close();
      await temp.dispose();
    }
  });
});

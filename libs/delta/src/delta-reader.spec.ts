import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TableRow } from '@pipeline/contracts';
import { ReadOnlyFolderLake } from './read-only-folder.lake';
import { collect } from '@pipeline/testing';
import { readDeltaRows, readDeltaSnapshot, toTableValue } from './delta-reader';
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

describe('ReadOnlyFolderLake', () => {
  it('refuses writes so the fixtures are never touched', async () => {
    const lake = new ReadOnlyFolderLake(path.join(DAT, 'basic_append'));
    await expect(lake.createIfAbsent('x.json')).rejects.toThrow(/is read-only; cannot write "x.json"/);
    expect(fs.existsSync(path.join(DAT, 'basic_append', '.tmp'))).toBe(false);
  });
});

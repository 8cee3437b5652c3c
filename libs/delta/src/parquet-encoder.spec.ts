import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { lakeTimestampOfMicros, type TableColumn, type TableColumnType, type TableRow, type TableValue } from '@pipeline/contracts';
import { parquetMetadata } from 'hyparquet';
import { computeFileStats, fileStatsOf } from './file-stats';
import { encodeParquetFile } from './parquet-encoder';
import { decodeParquet, DeltaDataError, encodeParquet } from './parquet-file';

const TYPES: TableColumnType[] = ['string', 'long', 'integer', 'double', 'boolean', 'timestamp', 'date', 'binary'];
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/** A column's values: few distinct or many, per type, with the edge cases each type has. */
function valuesOf(type: TableColumnType): fc.Arbitrary<TableValue> {
  switch (type) {
    case 'string':
      return fc.oneof(fc.constantFrom('', 'a', 'é', '日本', 'ok', '🙂 emoji', 'x'.repeat(40)), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 12 }));
    case 'long':
      return fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, -(2 ** 32)));
    case 'integer':
      return fc.oneof(fc.integer(), fc.constantFrom(0, -1, -2147483648, 2147483647));
    case 'double':
      return fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1.5, Number.MIN_VALUE, -Number.MAX_VALUE));
    case 'boolean':
      return fc.boolean();
    case 'timestamp':
      return fc.oneof(
        fc.maxSafeInteger(),
        fc.integer({ min: -62135596800000, max: 253402300799999 }),
        fc.bigInt({ min: MIN_INT64, max: MAX_INT64 }),
        fc.constantFrom<TableValue>(MIN_INT64, MAX_INT64, 0, -1, 1_767_225_600_000_123n, -1n, 999n),
      );
    case 'date':
      return fc.date({ min: new Date(Date.UTC(1, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }).map((date) => date.toISOString().slice(0, 10));
    case 'binary':
      return fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes));
  }
}

interface Table {
  columns: TableColumn[];
  rows: TableRow[];
}

/** A flat schema of 1–6 columns and up to `maxRows` rows, nulls only in nullable columns. */
function tables(maxRows: number): fc.Arbitrary<Table> {
  const column = fc.record({ type: fc.constantFrom(...TYPES), nullable: fc.boolean(), nullShare: fc.constantFrom(0, 0.1, 0.5, 1), fewDistinct: fc.boolean() });
  return fc.array(column, { minLength: 1, maxLength: 6 }).chain((specs) => {
    const columns = specs.map((s, i): TableColumn => ({ name: `c${i}_${s.type}`, type: s.type, nullable: s.nullable }));
    // A few-distinct column draws from one small set per table, so its chunks repeat values.
    const sources = specs.map((s) =>
      s.fewDistinct ? fc.array(valuesOf(s.type), { minLength: 1, maxLength: 3 }).map((few) => fc.constantFrom(...few)) : fc.constant(valuesOf(s.type)),
    );
    return fc.tuple(...sources).chain((valueSources) => {
      const cells = specs.map((s, i) => {
        const value = valueSources[i] as fc.Arbitrary<TableValue>;
        return s.nullable ? fc.tuple(fc.integer({ min: 0, max: 99 }), value).map(([p, v]) => (p < s.nullShare * 100 ? null : v)) : value;
      });
      const row = fc.tuple(...cells).map((values) => Object.fromEntries(columns.map((c, i) => [c.name, values[i] as TableValue])) as TableRow);
      return fc
        .oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 2, max: maxRows }))
        .chain((n) => fc.array(row, { minLength: n, maxLength: n }).map((rows) => ({ columns, rows })));
    });
  });
}

/** What `decodeParquet(…, 'micros')` gives for a written value. */
function expectedValue(column: TableColumn, value: TableValue | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (column.type === 'timestamp') return typeof value === 'bigint' ? lakeTimestampOfMicros(value) : value;
  if (column.type === 'long') return BigInt(value as number);
  return value;
}

function normalize(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Uint8Array ? Buffer.from(v) : (v ?? null)])));
}

function outcome<T>(run: () => T): { value: T } | { error: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('encodeParquetFile (Parquet writer version 2)', () => {
  it('writes what hyparquet reads back as written, as the previous writer does, the same bytes every time, with the Delta statistics of computeFileStats', async () => {
    await fc.assert(
      fc.asyncProperty(tables(300), async ({ columns, rows }) => {
        const { bytes, summaries } = encodeParquetFile(columns, rows);
        const decoded = normalize(await decodeParquet(bytes, undefined, 'micros'));
        expect(decoded).toEqual(rows.map((row) => Object.fromEntries(columns.map((c) => [c.name, expectedValue(c, row[c.name])]))));
        expect(decoded).toEqual(normalize(await decodeParquet(encodeParquet(columns, rows), undefined, 'micros')));
        expect(encodeParquetFile(columns, rows).bytes.equals(bytes)).toBe(true);
        expect(outcome(() => fileStatsOf(columns, rows.length, summaries))).toEqual(outcome(() => computeFileStats(columns, rows)));
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('writes chunks of many distinct values (no dictionary) that hyparquet reads back as the previous writer does, with the statistics of computeFileStats', async () => {
    const columns: TableColumn[] = TYPES.map((type) => ({ name: type, type, nullable: true }));
    const row = fc
      .tuple(fc.integer({ min: 0, max: 99 }), ...TYPES.map(valuesOf))
      .map(([p, ...values]) => Object.fromEntries(TYPES.map((type, i) => [type, p < 10 ? null : (values[i] as TableValue)])));
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 2100, maxLength: 2500 }), async (generated) => {
        const rows = generated.map((r, i): TableRow => ({ ...r, string: r['string'] === null ? null : `${r['string'] as string}${i}` }));
        const { bytes, summaries } = encodeParquetFile(columns, rows);
        const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
        expect(metadata.row_groups[0]?.columns[0]?.meta_data?.encodings).not.toContain('RLE_DICTIONARY');
        const decoded = normalize(await decodeParquet(bytes, undefined, 'micros'));
        expect(decoded).toEqual(rows.map((r) => Object.fromEntries(columns.map((c) => [c.name, expectedValue(c, r[c.name])]))));
        expect(decoded).toEqual(normalize(await decodeParquet(encodeParquet(columns, rows), undefined, 'micros')));
        expect(outcome(() => fileStatsOf(columns, rows.length, summaries))).toEqual(outcome(() => computeFileStats(columns, rows)));
      }),
      { numRuns: 5 },
    );
  }, 60_000);

  describe('read by DuckDB', () => {
    let dir: string;
    let connection: DuckDBConnection;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'parquet-encoder-'));
      connection = await (await DuckDBInstance.create(':memory:')).connect();
    });
    afterAll(async () => {
      connection.closeSync();
      await rm(dir, { recursive: true, force: true });
    });

    async function duckdb(file: string, bytes: Buffer): Promise<{ types: unknown[]; rows: unknown[] }> {
      const at = path.join(dir, file);
      await writeFile(at, bytes);
      const types = (await connection.runAndReadAll(`describe select * from read_parquet('${at}')`)).getRowObjectsJson().map((r) => [r['column_name'], r['column_type']]);
      const rows = (await connection.runAndReadAll(`select * from read_parquet('${at}')`)).getRowObjectsJson();
      return { types, rows };
    }

    it('gives the same values and types as the previous writer’s file of the same rows', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(tables(200), async ({ columns, rows }) => {
          run++;
          const ours = await duckdb(`new-${run}.parquet`, encodeParquetFile(columns, rows).bytes);
          expect(ours).toEqual(await duckdb(`old-${run}.parquet`, encodeParquet(columns, rows)));
        }),
        { numRuns: 25 },
      );
    }, 120_000);

    it('reads a dictionary chunk one of whose pages holds only nulls', async () => {
      const columns: TableColumn[] = [
        { name: 's', type: 'string', nullable: true },
        { name: 'n', type: 'integer', nullable: true },
      ];
      const rows: TableRow[] = Array.from({ length: 45_000 }, (_, i) => (i >= 20_000 && i < 40_000 ? { s: null, n: null } : { s: i % 2 ? 'a' : 'b', n: i % 3 }));
      const { bytes } = encodeParquetFile(columns, rows);
      expect(await decodeParquet(bytes)).toEqual(rows);
      const at = path.join(dir, 'null-page.parquet');
      await writeFile(at, bytes);
      const [summary] = (
        await connection.runAndReadAll(`select count(s)::int as s, count(n)::int as n, sum(n)::int as total, min(s) as min_s from read_parquet('${at}')`)
      ).getRowObjectsJson();
      expect(summary).toEqual({ s: 25_000, n: 25_000, total: rows.reduce((t, r) => t + ((r['n'] as number | null) ?? 0), 0), min_s: 'a' });
    });

    it('reads a file of several row groups and pages (dictionary and plain strings, nulls) to its values, and filters on its statistics correctly', async () => {
      const columns: TableColumn[] = [
        { name: 'id', type: 'string', nullable: false },
        { name: 'device', type: 'string', nullable: true },
        { name: 'n', type: 'long', nullable: true },
        { name: 'x', type: 'double', nullable: false },
        { name: 't', type: 'timestamp', nullable: false },
      ];
      const T0 = Date.UTC(2026, 0, 1);
      const rows: TableRow[] = Array.from({ length: 230_001 }, (_, i) => ({
        id: `e-${i}`,
        device: i % 7 === 0 ? null : `dev-${i % 300}`,
        n: i % 5 === 0 ? null : i * 3 - 100_000,
        x: i / 4,
        t: i % 2 === 0 ? T0 + i : BigInt(T0 + i) * 1000n + 7n,
      }));
      const { bytes } = encodeParquetFile(columns, rows);
      const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
      expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([100_000, 100_000, 30_001]);
      // A low-cardinality string column gets a dictionary, a unique one does not.
      expect(metadata.row_groups[0]?.columns[1]?.meta_data?.encodings).toContain('RLE_DICTIONARY');
      expect(metadata.row_groups[0]?.columns[0]?.meta_data?.encodings).not.toContain('RLE_DICTIONARY');

      const decoded = await decodeParquet(bytes, undefined, 'micros', { rowStart: 99_990, rowEnd: 140_010 });
      expect(decoded).toEqual(rows.slice(99_990, 140_010).map((row) => Object.fromEntries(columns.map((c) => [c.name, expectedValue(c, row[c.name])]))));

      const at = path.join(dir, 'big.parquet');
      await writeFile(at, bytes);
      const [summary] = (
        await connection.runAndReadAll(
          `select count(*)::int as rows, count(device)::int as devices, count(distinct device)::int as distinct_devices, sum(n)::varchar as sum_n, max(id) as max_id,
                  count(*) filter (where n > 600000)::int as big_n, (select count(*)::int from read_parquet('${at}') where id = 'e-123456') as found
           from read_parquet('${at}')`,
        )
      ).getRowObjectsJson();
      const ns = rows.map((r) => r['n']).filter((n): n is number => typeof n === 'number');
      expect(summary).toEqual({
        rows: 230_001,
        devices: rows.filter((r) => r['device'] !== null).length,
        distinct_devices: 300,
        sum_n: String(ns.reduce((a, b) => a + b, 0)),
        max_id: 'e-99999',
        big_n: ns.filter((n) => n > 600_000).length,
        found: 1,
      });
    }, 60_000);
  });

  it('refuses a bad value with the previous writer’s message, the first in column order', () => {
    const cases: Array<[TableColumnType, unknown]> = [
      ['string', 5],
      ['long', 1.5],
      ['long', 2 ** 53],
      ['long', 5n],
      ['integer', 2 ** 31],
      ['integer', 0.5],
      ['double', '1'],
      ['boolean', 1],
      ['timestamp', 1.5],
      ['timestamp', 2n ** 63n],
      ['timestamp', '2026-01-01'],
      ['date', '2026-02-30'],
      ['date', 20260101],
      ['binary', 'bytes'],
      ['binary', new Uint8Array(2)],
    ];
    for (const [type, bad] of cases) {
      for (const nullable of [false, true]) {
        const columns: TableColumn[] = [{ name: 'v', type, nullable }];
        const rows = [{ v: null }, { v: bad }].slice(nullable ? 0 : 1) as TableRow[];
        const previous = outcome(() => encodeParquet(columns, rows));
        expect(previous).toMatchObject({ error: expect.stringContaining(`column "v" is ${type} but the value is`) });
        expect(() => encodeParquetFile(columns, rows)).toThrow(new DeltaDataError((previous as { error: string }).error));
      }
    }
    // A null in a column that is not nullable, and two bad values: the first column's is reported, as before.
    const columns: TableColumn[] = [
      { name: 'a', type: 'string', nullable: false },
      { name: 'b', type: 'long', nullable: false },
    ];
    for (const rows of [
      [
        { a: 'x', b: 1 },
        { a: null, b: 1 },
      ],
      [
        { a: 'x', b: 'one' },
        { a: 7, b: 1 },
      ],
      [{ b: 1 }],
    ] as TableRow[][]) {
      const previous = outcome(() => encodeParquet(columns, rows)) as { error: string };
      expect(previous.error).toMatch(/^Row \d: column "a"/);
      expect(() => encodeParquetFile(columns, rows)).toThrow(new DeltaDataError(previous.error));
    }
  });
});

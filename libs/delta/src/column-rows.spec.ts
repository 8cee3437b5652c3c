import fc from 'fast-check';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { TableColumn, TableColumnType, TableRow, TableSchema, TableValue } from '@pipeline/contracts';
import { LocalLake } from '@pipeline/adapters';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { canBuildRows, rowsOfColumns } from './column-rows';
import { readTableFile, readTableFileRows } from './delta-reader';
import { DeltaTable } from './delta-table';

describe('rowsOfColumns', () => {
  it('builds rows with the fields in the given order, null where a field has no column', () => {
    const rows = rowsOfColumns(['b', 'a', 'gone', 'x"y'], [new Float64Array([1.5, -0]), ['p', null], null, [true, false]], 2);
    expect(rows).toStrictEqual([
      { b: 1.5, a: 'p', gone: null, 'x"y': true },
      { b: -0, a: null, gone: null, 'x"y': false },
    ]);
    expect(rows.map((row) => Object.keys(row))).toEqual([
      ['b', 'a', 'gone', 'x"y'],
      ['b', 'a', 'gone', 'x"y'],
    ]);
  });

  it('keeps field names as names, whatever they hold', () => {
    const names = ['}; throw new Error("code"); ({', '\\', '\u2028', 'constructor', 'toString', ''];
    const [row] = rowsOfColumns(
      names,
      names.map((_, c) => [c]),
      1,
    );
    expect(Object.entries(row ?? {})).toEqual(names.map((name, c) => [name, c]));
  });

  it('refuses a __proto__ field, which a literal would take for the prototype', () => {
    expect(canBuildRows(['a', '__proto__'])).toBe(false);
    expect(() => rowsOfColumns(['__proto__'], [[1]], 1)).toThrow(/cannot build rows with a "__proto__" field/);
  });

  it('refuses columns that do not match the fields one to one', () => {
    expect(() => rowsOfColumns(['a', 'b'], [[1]], 1)).toThrow(/one column \(or null\) per field: 2 fields, 1 columns/);
  });
});

/** The column types gold and the other readers read, with values the writer accepts. */
const TYPES: TableColumnType[] = ['string', 'long', 'integer', 'double', 'boolean', 'timestamp', 'date', 'binary'];

function valueOf(type: TableColumnType, few: boolean): fc.Arbitrary<TableValue> {
  // `few`: values from a small pool, so the writer uses a dictionary.
  switch (type) {
    case 'string':
      return few ? fc.constantFrom('', 'a', 'é', 'A|B', '😀', 'x'.repeat(40)) : fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'long':
      return few ? fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER) : fc.maxSafeInteger();
    case 'integer':
      return few ? fc.constantFrom(0, 7, -2_147_483_648, 2_147_483_647) : fc.integer();
    case 'double':
      return few ? fc.constantFrom(0.5, -0, 0, 1e300) : fc.double();
    case 'boolean':
      return fc.boolean();
    case 'timestamp':
      return few
        ? fc.constantFrom(Date.UTC(2026, 0, 1), -62_135_596_800_000, 1_767_225_610_123_456n)
        : fc.oneof(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), fc.bigInt({ min: -62_135_596_800_000_000n, max: 253_402_300_799_999_999n }));
    case 'date':
      return (few ? fc.constantFrom(0, 1, 20_454) : fc.integer({ min: -719_162, max: 2_932_896 })).map((days) => new Date(days * 86_400_000).toISOString().slice(0, 10));
    case 'binary':
      return (few ? fc.constantFrom('', 'hi') : fc.string({ maxLength: 6 })).map((text) => Buffer.from(text, 'utf8'));
    default:
      throw new Error(`no values for ${String(type)}`);
  }
}

interface RandomTable {
  columns: TableColumn[];
  rows: TableRow[];
  /** The file's column order (a permutation of `columns`). */
  fileOrder: number[];
  /** The columns read: names in the read schema, some perhaps absent from the file. */
  wanted: string[];
  timestamps: 'millis' | 'micros';
}

const randomTable: fc.Arbitrary<RandomTable> = fc
  .uniqueArray(fc.record({ type: fc.constantFrom(...TYPES), nullable: fc.boolean(), few: fc.boolean(), nulls: fc.boolean() }), {
    minLength: 1,
    maxLength: 6,
    selector: () => Math.random(),
  })
  .chain((specs) => {
    const columns = specs.map((s, c): TableColumn => ({ name: `c${c}_${s.type}`, type: s.type, nullable: s.nullable }));
    const cell = specs.map((s) => (s.nullable && s.nulls ? fc.option(valueOf(s.type, s.few), { nil: null, freq: 3 }) : valueOf(s.type, s.few)));
    const row = fc.tuple(...cell).map((values) => Object.fromEntries(columns.map((c, i) => [c.name, values[i]])) as TableRow);
    return fc.record({
      columns: fc.constant(columns),
      rows: fc.array(row, { minLength: 1, maxLength: 120 }),
      fileOrder: fc.shuffledSubarray(
        columns.map((_, c) => c),
        { minLength: columns.length, maxLength: columns.length },
      ),
      wanted: fc.subarray([...columns.map((c) => c.name), 'not_in_file']),
      timestamps: fc.constantFrom('millis' as const, 'micros' as const),
    });
  });

describe('readTableFile reading whole columns', () => {
  let dir: TempDir;
  let lake: LocalLake;
  let tables = 0;
  beforeAll(async () => {
    dir = await makeTempDir('column-rows-');
    lake = new LocalLake(dir.path);
  });
  afterAll(async () => {
    await lake.close();
    await dir.dispose();
  });

  /** Writes `rows` as one file with the columns in `fileOrder`; the rows both reads give for `wanted`. */
  async function bothReads(table: RandomTable): Promise<{ fast: TableRow[]; rows: TableRow[] }> {
    const fileSchema: TableSchema = { columns: table.fileOrder.map((c) => table.columns[c]), partitionBy: [] };
    const readSchema: TableSchema = { columns: [...table.columns, { name: 'not_in_file', type: 'long', nullable: true }], partitionBy: [] };
    const root = `tables/t${tables++}`;
    const delta = await DeltaTable.open(lake, root, fileSchema);
    const [add] = await delta.writeFiles(table.rows, { filePrefix: 'part-1', commitTime: 1 });
    if (add === undefined) throw new Error('the table file was not written');
    const path = `${root}/${add.path}`;
    const fast = await readTableFile(lake, path, readSchema, { columns: table.wanted, timestamps: table.timestamps });
    const wanted = readSchema.columns.filter((c) => table.wanted.includes(c.name));
    const rows = await readTableFileRows(await lake.read(path), path, wanted, table.timestamps);
    return { fast, rows };
  }

  function expectSameRows(fast: TableRow[], rows: TableRow[]): void {
    // Strict: -0 and NaN as decoded, Buffers as Buffers, no undefined fields; then the field order.
    expect(fast).toStrictEqual(rows);
    expect(fast.map((row) => Object.keys(row))).toEqual(rows.map((row) => Object.keys(row)));
  }

  it('gives exactly the rows of the row-wise read, for random tables of every column type, with nulls and dictionaries', async () => {
    await fc.assert(
      fc.asyncProperty(randomTable, async (table) => {
        const { fast, rows } = await bothReads(table);
        expectSameRows(fast, rows);
      }),
      { numRuns: 60 },
    );
  });

  it('gives exactly the rows of the row-wise read over several pages and row groups', async () => {
    const columns: TableColumn[] = [
      { name: 'event_time', type: 'timestamp', nullable: false },
      { name: 'origin', type: 'string', nullable: false },
      { name: 'delay', type: 'long', nullable: true },
      { name: 'id', type: 'string', nullable: false },
      { name: 'km', type: 'double', nullable: true },
    ];
    // 100,000 rows a row group, 20,000 a page: 130,001 rows make two groups and eight pages; the
    // strings change from a dictionary to PLAIN past the first 4,096 distinct ids.
    const rows = Array.from(
      { length: 130_001 },
      (_, i): TableRow => ({
        event_time: Date.UTC(2026, 0, 1) + i * 997,
        origin: `A${i % 230}`,
        delay: i % 11 === 0 ? null : (i * 7919) % 600,
        id: `id-${i}`,
        km: i % 13 === 0 ? null : i / 7,
      }),
    );
    const { fast, rows: rowWise } = await bothReads({
      columns,
      rows,
      fileOrder: [4, 0, 1, 2, 3],
      wanted: ['origin', 'event_time', 'delay', 'km', 'not_in_file'],
      timestamps: 'millis',
    });
    expect(fast).toHaveLength(rows.length);
    expectSameRows(fast, rowWise);
  });

  it('names the column and file of a long beyond the safe integers, as the row-wise read does, and reads the ones at the bounds', async () => {
    const columns: TableColumn[] = [{ name: 'n', type: 'long', nullable: false }];
    const schema: TableSchema = { columns, partitionBy: [] };
    const write = async (name: string, values: bigint[]) => {
      const bytes = Buffer.from(parquetWriteBuffer({ columnData: [{ name: 'n', data: values, type: 'INT64', nullable: false }], codec: 'SNAPPY' }));
      await lake.createIfAbsent(`tables/longs/${name}`, bytes);
      return bytes;
    };
    const safe = [2n ** 53n - 1n, -(2n ** 53n) + 1n, 0n];
    const safeBytes = await write('safe.parquet', safe);
    expect(await readTableFile(lake, 'tables/longs/safe.parquet', schema)).toStrictEqual(safe.map((n) => ({ n: Number(n) })));
    expect(await readTableFileRows(safeBytes, 'tables/longs/safe.parquet', columns, 'millis')).toStrictEqual(safe.map((n) => ({ n: Number(n) })));
    for (const [name, beyond] of [
      ['above.parquet', 2n ** 53n],
      ['below.parquet', -(2n ** 53n)],
      ['far.parquet', 2n ** 63n - 1n],
    ] as const) {
      const bytes = await write(name, [1n, beyond]);
      const message = new RegExp(`Column "n" in tables/longs/${name.replace('.', '\\.')} holds ${beyond}, beyond the safe integer range`);
      await expect(readTableFile(lake, `tables/longs/${name}`, schema)).rejects.toThrow(message);
      await expect(readTableFileRows(bytes, `tables/longs/${name}`, columns, 'millis')).rejects.toThrow(message);
    }
  });
});

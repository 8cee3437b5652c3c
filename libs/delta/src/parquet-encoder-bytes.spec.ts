/**
 * Writer version 2's bytes are part of what a batch consumes (`parquet-writers.ts`): a re-run of a
 * batch must give the same files, so a faster encoder must give exactly the bytes the released one
 * gives. These tables cover every type, nullable or not, few distinct values (a dictionary) or many
 * (PLAIN, after the dictionary is abandoned), bigint timestamps, several pages and row groups; the
 * SHA-256 of each file is the released encoder's. A change that alters a byte fails here.
 */
import { createHash } from 'node:crypto';
import type { TableColumn, TableColumnType, TableRow, TableValue } from '@pipeline/contracts';
import { computeFileStats, fileStatsOf } from './file-stats';
import { encodeParquetFile } from './parquet-encoder';
import { DeltaDataError } from './parquet-values';

/** A deterministic pseudo-random source (no library whose sequence could change). */
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** A value of `type`, from few distinct values or many. */
function valueOf(type: TableColumnType, next: () => number, many: boolean, i: number): TableValue {
  const pick = many ? Math.floor(next() * 1e9) : Math.floor(next() * 5);
  switch (type) {
    case 'string':
      return many ? `id-${i}-${pick}${pick % 7 === 0 ? '-é日🙂' : ''}` : (['', 'a', 'é', '日本', '🙂 emoji'][pick] as string);
    case 'long':
      return many ? (pick - 5e8) * 9_007_199 + (i % 3) : ([0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32][pick] as number);
    case 'integer':
      return many ? (pick % 4294967296) - 2147483648 : ([0, -1, -2147483648, 2147483647, 7][pick] as number);
    case 'double':
      return many ? (pick - 5e8) / 7 : ([0, -0, NaN, Infinity, -1.5][pick] as number);
    case 'boolean':
      return pick % 2 === 0;
    case 'timestamp':
      if (many && pick % 11 === 0) return BigInt(pick) * 1_000_003n - 2n ** 40n;
      return many ? 1_767_225_600_000 + pick : ([0, -1, 1_767_225_600_000, -62135596800000, 253402300799999][pick] as number);
    case 'date':
      return new Date(Date.UTC(1970, 0, 1) + (many ? pick % 2_900_000 : pick * 400) * 86_400_000).toISOString().slice(0, 10);
    case 'binary':
      return Buffer.from([pick & 0xff, (pick >> 8) & 0xff, i & 0xff]);
  }
}

const TYPES: TableColumnType[] = ['string', 'long', 'integer', 'double', 'boolean', 'timestamp', 'date', 'binary'];

/** Every type four ways (nullable or not, few or many distinct), nulls in a tenth of the nullable cells; a column of only nulls. */
function table(rowCount: number, seed: number, bigints: boolean): { columns: TableColumn[]; rows: TableRow[] } {
  const next = random(seed);
  const columns: TableColumn[] = [];
  for (const type of bigints ? TYPES : [...TYPES.filter((t) => t !== 'timestamp'), 'timestamp' as TableColumnType])
    for (const nullable of [false, true]) for (const many of [false, true]) columns.push({ name: `${type}_${nullable ? 'null' : 'req'}_${many ? 'many' : 'few'}`, type, nullable });
  columns.push({ name: 'only_nulls', type: 'string', nullable: true });
  const rows = Array.from({ length: rowCount }, (_, i) => {
    const row: TableRow = {};
    for (const column of columns) {
      const many = column.name.endsWith('many');
      if (column.name === 'only_nulls' || (column.nullable && next() < 0.1)) row[column.name] = null;
      else {
        const value = valueOf(column.type, next, many, i);
        row[column.name] = column.type === 'timestamp' && !bigints && typeof value === 'bigint' ? Number(value % 1_000_000_000n) : value;
      }
    }
    return row;
  });
  return { columns, rows };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('encodeParquetFile bytes (writer version 2 never changes)', () => {
  it.each([
    ['one row', 1, 1, true, 'b2f647e8fe82fd5587c13ee37fd000134bd37b50fa43e54c4456dd63f3c04efb'],
    ['300 rows', 300, 2, true, 'd07a6c957b331933fce7b7b4b9832c58c6561dda5f89d49483e1937fe7afafe3'],
    ['45,000 rows (several pages), millisecond timestamps only', 45_000, 3, false, '8302c09ab98e4c5ed229358ad53cc47f8c2c3e5739d7d458d3525be7d6076303'],
    ['101,000 rows (two row groups), bigint timestamps', 101_000, 4, true, '9bc726619259a431bb8c6ce3252271e5c54960646874184a2ffcefd195285ce0'],
  ])('gives the released bytes for %s', (_name, rowCount, seed, bigints, expected) => {
    const { columns, rows } = table(rowCount, seed, bigints);
    expect(sha256(encodeParquetFile(columns, rows).bytes)).toBe(expected);
  });

  it('gives the released bytes for a file with no rows', () => {
    const { columns } = table(0, 5, true);
    expect(sha256(encodeParquetFile(columns, []).bytes)).toBe('c20ff31d0e71924bde32e90a45fd56a2cd7d171d8408f233b837518f62ff7b25');
  });

  it('still refuses a bad value after good ones, and a null in a required column, naming the row', () => {
    const { columns, rows } = table(30_000, 6, true);
    const bad = rows.map((row) => ({ ...row }));
    (bad[25_000] as TableRow)['long_req_many'] = 1.5;
    expect(() => encodeParquetFile(columns, bad)).toThrow(DeltaDataError);
    expect(() => encodeParquetFile(columns, bad)).toThrow(/^Row 25000: column "long_req_many"/);
    (bad[21_000] as TableRow)['long_req_many'] = null;
    expect(() => encodeParquetFile(columns, bad)).toThrow(/^Row 21000: column "long_req_many"/);
  });

  it('reports the first bad value in column order even when a later column is bad in an earlier row group', () => {
    const columns: TableColumn[] = [
      { name: 'a', type: 'long', nullable: false },
      { name: 'b', type: 'string', nullable: true },
    ];
    const rows: TableRow[] = Array.from({ length: 100_600 }, (_, i) => ({ a: i, b: `b${i % 3}` }));
    (rows[100_500] as TableRow)['a'] = 'late';
    (rows[3] as TableRow)['b'] = 7;
    expect(() => encodeParquetFile(columns, rows)).toThrow(/^Row 100500: column "a" is long but the value is/);
    (rows[100_500] as TableRow)['a'] = null;
    expect(() => encodeParquetFile(columns, rows)).toThrow(/^Row 100500: column "a" is not nullable/);
  });

  it.each([
    ['300 rows', 300, 'e81b120167d787cbf0483741e997df4b5bc3ee7b7e140d9564b1c2e8e79bf86f'],
    ['45,000 rows (several pages)', 45_000, '94b4f3ccb33ca3201d43d4b5e92b4df638d92f6f2401394e9ed6d1ef445d37f8'],
  ])('gives the released bytes for %s whose columns repeat others (an id and a time written twice), or nearly', (_name, rowCount, expected) => {
    const columns: TableColumn[] = [
      { name: 'id', type: 'string', nullable: false },
      { name: 'time', type: 'timestamp', nullable: false },
      { name: 'reading', type: 'double', nullable: true },
      { name: 'label', type: 'string', nullable: true },
      { name: 'event_id', type: 'string', nullable: false },
      { name: 'event_time', type: 'timestamp', nullable: false },
      // The same numbers but for -0 where `reading` has 0.
      { name: 'reading_signed', type: 'double', nullable: true },
      // The same numbers, NaN among them, twice.
      { name: 'ratio', type: 'double', nullable: false },
      { name: 'ratio_again', type: 'double', nullable: false },
      // The same text in every row but the last.
      { name: 'label_last', type: 'string', nullable: true },
      // The same values, but not nullable: other definition levels.
      { name: 'label_required', type: 'string', nullable: false },
      // The same text as `id`, as another type.
      { name: 'id_binary', type: 'binary', nullable: false },
    ];
    const next = random(7);
    const rows: TableRow[] = Array.from({ length: rowCount }, (_, i) => {
      const id = `r-${i}-${Math.floor(next() * 1e6)}`;
      const time = i % 5 === 0 ? BigInt(1_767_225_600_000 + i) * 1000n + 7n : 1_767_225_600_000 + Math.floor(next() * 1e6);
      const reading = i % 7 === 0 ? null : i % 11 === 0 ? 0 : Math.floor(next() * 1e4) / 8;
      const ratio = i % 13 === 0 ? NaN : next();
      const label = ['a', 'b', 'é', `l${i % 50}`][i % 4] as string;
      return {
        id,
        time,
        reading,
        label,
        // Copies made anew, equal in value.
        event_id: `${id} `.slice(0, -1),
        event_time: typeof time === 'bigint' ? BigInt(time.toString()) : time,
        reading_signed: reading === 0 ? -0 : reading,
        ratio,
        ratio_again: ratio,
        label_last: i === rowCount - 1 ? `${label}!` : label,
        label_required: label,
        id_binary: Buffer.from(id),
      };
    });
    const { bytes, summaries } = encodeParquetFile(columns, rows);
    expect(sha256(bytes)).toBe(expected);
    // Each column's Delta statistics are its own, as computed from the rows alone.
    expect(fileStatsOf(columns, rows.length, summaries)).toEqual(computeFileStats(columns, rows));
  });
});

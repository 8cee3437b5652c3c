/**
 * Parquet data files: rows of a `TableSchema` to Parquet bytes with hyparquet-writer (Parquet writer
 * version 1, kept for batches recorded with it: see `parquet-writers.ts`), and any table's Parquet
 * files back to rows or whole columns (hyparquet).
 *
 * Invariants:
 * - Deterministic: the same columns and rows give byte-identical files (no clock, no random, a
 *   fixed `created_by`), so a re-run batch rewrites exactly the bytes it wrote before.
 * - Types as Spark writes them: string → BYTE_ARRAY UTF8, long → INT64, integer → INT32, double,
 *   boolean, timestamp → INT64 TIMESTAMP(MICROS, UTC), date → INT32 DATE, binary → BYTE_ARRAY;
 *   nullable columns are OPTIONAL, others REQUIRED. SNAPPY compression.
 * - Values read back as written: a double column holding both 0 and -0 is written without a
 *   dictionary, whose keys (SameValueZero) would give every zero the sign of the first one.
 * - Timestamps are written as the exact microseconds of the row value: epoch ms numbers times 1000,
 *   epoch µs bigints as they are (see `TableValue`).
 * - Reading gives pipeline values: longs as numbers (refusing unsafe integers), dates as
 *   `YYYY-MM-DD`, binary as Buffer, and timestamps (INT96, millis, micros or nanos) as epoch ms
 *   rounded down (towards the past), the default, which gold and the event-time engine work on,
 *   or with `timestamps: 'micros'` as lake timestamps: epoch ms numbers for whole milliseconds,
 *   epoch µs bigints otherwise (nanoseconds rounded down to the microsecond, as Spark reads them).
 */
import { lakeTimestampOfMicros, type TableColumn, type TableRow, type TableValue } from '@pipeline/contracts';
import { parquetMetadata, parquetRead, parquetReadObjects, type FileMetaData, type ParquetParsers, type SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { dateOfDays, daysOfDate } from './partition-values';
import { DeltaDataError, invalidValue, missingValue } from './parquet-values';

const ROW_GROUP_ROWS = 100_000;
const MICROS_PER_MS = 1000n;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const CREATED_BY = 'pipeline-delta (hyparquet-writer)';

export { DeltaDataError };

/** Parquet bytes for `rows`, holding the `columns` (partition columns already left out). */
export function encodeParquet(columns: readonly TableColumn[], rows: readonly TableRow[]): Buffer {
  const schema: SchemaElement[] = [{ name: 'spark_schema', num_children: columns.length }, ...columns.map(schemaElement)];
  const columnData = columns.map((column) => {
    const data = columnValues(column, rows);
    return column.type === 'double' && holdsBothZeros(data) ? { name: column.name, data, encoding: 'PLAIN' as const } : { name: column.name, data };
  });
  const bytes = parquetWriteBuffer({ columnData, schema, codec: 'SNAPPY', rowGroupSize: ROW_GROUP_ROWS, createdBy: CREATED_BY });
  return Buffer.from(bytes);
}

function holdsBothZeros(values: readonly unknown[]): boolean {
  let positive = false;
  let negative = false;
  for (const value of values) {
    if (value !== 0) continue;
    if (Object.is(value, -0)) negative = true;
    else positive = true;
    if (positive && negative) return true;
  }
  return false;
}

function schemaElement(column: TableColumn): SchemaElement {
  const repetition_type = column.nullable ? 'OPTIONAL' : 'REQUIRED';
  const name = column.name;
  switch (column.type) {
    case 'string':
      return { name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'long':
      return { name, repetition_type, type: 'INT64' };
    case 'integer':
      return { name, repetition_type, type: 'INT32' };
    case 'double':
      return { name, repetition_type, type: 'DOUBLE' };
    case 'boolean':
      return { name, repetition_type, type: 'BOOLEAN' };
    case 'timestamp':
      return { name, repetition_type, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
    case 'date':
      return { name, repetition_type, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'binary':
      return { name, repetition_type, type: 'BYTE_ARRAY' };
  }
}

/** One column's values in the writer's primitive form, checking each value against the column type. */
function columnValues(column: TableColumn, rows: readonly TableRow[]): unknown[] {
  const out = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i][column.name];
    if (value === null || value === undefined) {
      if (!column.nullable) missingValue(column, value, i);
      out[i] = null;
      continue;
    }
    out[i] = primitive(column, value, i);
  }
  return out;
}

function primitive(column: TableColumn, value: TableValue, row: number): unknown {
  switch (column.type) {
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'long':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
      break;
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647) return value;
      break;
    case 'double':
      if (typeof value === 'number') return value;
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'timestamp':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value) * MICROS_PER_MS;
      if (typeof value === 'bigint' && value >= MIN_INT64 && value <= MAX_INT64) return value;
      break;
    case 'date':
      if (typeof value === 'string') {
        const days = daysOfDate(value);
        if (days !== undefined) return days;
      }
      break;
    case 'binary':
      if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer, value.byteOffset, value.length);
      break;
  }
  return invalidValue(column, value, row);
}

/** How reads give timestamps: epoch ms rounded down, or lake timestamps keeping the microseconds. */
export type TimestampPrecision = 'millis' | 'micros';

function floorDiv(value: bigint, divisor: bigint): bigint {
  const quotient = value / divisor;
  return value % divisor < 0n ? quotient - 1n : quotient;
}

/** Timestamps become epoch ms numbers and dates `YYYY-MM-DD`, so rows need no further conversion. */
const MILLIS_PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis: bigint) => Number(millis),
  timestampFromMicroseconds: (micros: bigint) => Number(floorDiv(micros, MICROS_PER_MS)),
  timestampFromNanoseconds: (nanos: bigint) => Number(floorDiv(nanos, 1_000_000n)),
  dateFromDays: (days: number) => dateOfDays(days),
};

/** As `MILLIS_PARSERS`, but timestamps keep their microseconds (see `lakeTimestampOfMicros`). */
const MICROS_PARSERS: Partial<ParquetParsers> = {
  ...MILLIS_PARSERS,
  timestampFromMicroseconds: (micros: bigint) => lakeTimestampOfMicros(micros),
  timestampFromNanoseconds: (nanos: bigint) => lakeTimestampOfMicros(floorDiv(nanos, 1000n)),
};

/** The top-level column names and the row count of a Parquet file. */
export function parquetShape(bytes: Buffer): { columns: string[]; numRows: number } {
  const metadata = parquetMetadata(toArrayBuffer(bytes));
  return { columns: topLevelColumns(metadata), numRows: Number(metadata.num_rows) };
}

/** The names of the schema root's direct children (the flattened schema tree walked once). */
function topLevelColumns(metadata: FileMetaData): string[] {
  const names: string[] = [];
  let index = 1;
  const skip = (): void => {
    const element = metadata.schema[index++];
    for (let child = 0; child < (element.num_children ?? 0); child++) skip();
  };
  for (let child = 0; child < (metadata.schema[0].num_children ?? 0); child++) {
    names.push(metadata.schema[index].name);
    skip();
  }
  return names;
}

/** Rows of a Parquet file as hyparquet decodes them with the pipeline's parsers (binary stays bytes). */
export async function decodeParquet(
  bytes: Buffer,
  columns?: string[],
  timestamps: TimestampPrecision = 'millis',
  rows: { rowStart?: number; rowEnd?: number } = {},
): Promise<Record<string, unknown>[]> {
  const parsers = timestamps === 'micros' ? MICROS_PARSERS : MILLIS_PARSERS;
  return (await parquetReadObjects({ file: toArrayBuffer(bytes), columns, utf8: false, parsers, ...rows })) as Record<string, unknown>[];
}

/** Whole columns of a Parquet file: what `decodeParquet` decodes, before hyparquet turns it into rows. */
export interface DecodedColumns {
  numRows: number;
  /** Per column asked for, its value of each row (a typed array for some physical types), or null when the file lacks the column. */
  values: Array<ArrayLike<unknown> | null>;
}

/**
 * The values `decodeParquet(bytes, present, timestamps)` gives each row, for the `columns` the file
 * holds (`present`: those of `columns` among its top-level columns), column by column, or
 * `undefined` when the chunks hyparquet reports do not cover every row of a column exactly once
 * (the caller then decodes rows). The footer is parsed once.
 */
export async function decodeParquetColumns(bytes: Buffer, columns: readonly string[], timestamps: TimestampPrecision = 'millis'): Promise<DecodedColumns | undefined> {
  const file = toArrayBuffer(bytes);
  const metadata = parquetMetadata(file);
  const numRows = Number(metadata.num_rows);
  const inFile = new Set(topLevelColumns(metadata));
  const present = columns.filter((name) => inFile.has(name));
  const chunks = new Map(present.map((name) => [name, [] as Array<{ rowStart: number; data: ArrayLike<unknown> }>]));
  if (present.length > 0) {
    await parquetRead({
      file,
      metadata,
      columns: present,
      utf8: false,
      parsers: timestamps === 'micros' ? MICROS_PARSERS : MILLIS_PARSERS,
      onChunk: ({ columnName, columnData, rowStart }) => chunks.get(columnName)?.push({ rowStart, data: columnData }),
    });
  }
  const values: Array<ArrayLike<unknown> | null> = [];
  for (const name of columns) {
    const pieces = chunks.get(name);
    if (pieces === undefined) {
      values.push(null);
      continue;
    }
    const column = joinChunks(pieces, numRows);
    if (column === undefined) return undefined;
    values.push(column);
  }
  return { numRows, values };
}

/** One column's chunks as one array of `numRows` values, or `undefined` unless they cover the rows exactly once. */
function joinChunks(pieces: Array<{ rowStart: number; data: ArrayLike<unknown> }>, numRows: number): ArrayLike<unknown> | undefined {
  if (pieces.length === 1 && pieces[0].rowStart === 0 && pieces[0].data.length === numRows) return pieces[0].data;
  pieces.sort((a, b) => a.rowStart - b.rowStart);
  const out = new Array<unknown>(numRows);
  let next = 0;
  for (const { rowStart, data } of pieces) {
    if (rowStart !== next || rowStart + data.length > numRows) return undefined;
    for (let i = 0; i < data.length; i++) out[rowStart + i] = data[i];
    next += data.length;
  }
  return next === numRows ? out : undefined;
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

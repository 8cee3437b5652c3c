/**
 * The Parquet writer of the Delta tables (writer version 2): rows of a flat `TableSchema` to
 * Parquet bytes, in one pass per column chunk that checks each value, writes it and gathers both
 * the Parquet statistics and the Delta statistics (see `file-stats.ts`), so rows are walked once.
 *
 * Format choices, and why:
 * - Types as Spark writes them (as `parquet-file.ts` says): string → BYTE_ARRAY UTF8 (STRING),
 *   long → INT64, integer → INT32, double, boolean, timestamp → INT64 TIMESTAMP(MICROS, UTC),
 *   date → INT32 DATE, binary → BYTE_ARRAY; nullable columns OPTIONAL, others REQUIRED.
 * - Row groups of 100,000 rows, data pages of 20,000 rows (DATA_PAGE_V2, so definition levels
 *   stay outside the compressed part and REQUIRED columns have none), SNAPPY-compressed.
 * - String, long, integer, date and timestamp chunks are dictionary-encoded (PLAIN dictionary
 *   page, RLE_DICTIONARY pages of bit-packed indices) unless the dictionary stops paying: once it
 *   holds more entries than an eighth of the chunk's rows, or (after 4,096 entries) more than 7/8
 *   of the values seen (a column of ids), or 1 MiB of text, the chunk is written PLAIN. The rule
 *   is decided value by value, so abandoning costs at most the values seen. A dictionary spares
 *   the compressor most of the bytes, and strings are encoded to UTF-8 once per distinct value.
 *   A timestamp chunk holding microsecond (bigint) values is PLAIN. Doubles, booleans and binary
 *   are PLAIN, so a double keeps its sign of zero and its NaN as written. Numbers are written
 *   straight into the page buffer (a long as its two 32-bit halves, no BigInt).
 * - Column chunk statistics: null count always; min/max for numbers, dates, timestamps, booleans
 *   and strings (whole, in byte order), none for binary; NaN is left out of a double's bounds, a
 *   zero min is written -0 and a zero max +0 (the Parquet spec's rule); the footer declares
 *   type-defined column orders so readers may use them.
 * - Definition levels are one RLE run when a page has no nulls (or only nulls), bit-packed
 *   otherwise.
 *
 * Invariants:
 * - Deterministic: every choice above depends on the rows alone, and the footer holds no clock or
 *   random value (a fixed `created_by`), so the same rows give the same bytes.
 * - Bad values fail with the `DeltaDataError` messages of the previous writer, the first bad
 *   value in column order then row order, as before.
 * - The Delta statistics (`ColumnSummary`) are those `computeFileStats` gathers for the same rows.
 *
 * A row group's rows are read once, row by row, into one array per column (`cellReaderOf`); every
 * chunk then takes its values from its array the same way (`gatherChunk`: pages, nulls, definition
 * levels) and loops over them with no call per value; what it does with a value is its type's. Integers, longs and dates share one of those (`fixedWidth`);
 * doubles, timestamps (milliseconds or microseconds, in halves), booleans, strings and binary each
 * have their own, as their checks, bounds and encodings differ.
 */
import { timestampMillis, timestampSubMillisMicros, type TableColumn, type TableRow } from '@pipeline/contracts';
import { ByteSink } from './byte-sink';
import { compareCodePoints, emptyColumnSummary, type ColumnSummary } from './file-stats';
import { daysOfDate } from './partition-values';
import { DeltaDataError, invalidValue, missingValue } from './parquet-values';
import { snappyCompress } from './snappy';
import { ThriftType, ThriftWriter } from './thrift-compact';

const ROW_GROUP_ROWS = 100_000;
const PAGE_ROWS = 20_000;
const CREATED_BY = 'pipeline-delta parquet-encoder version 2';
const DICTIONARY_SHARE_OF_ROWS = 8;
const DICTIONARY_UNIQUE_CHECK = 4096;
const DICTIONARY_MAX_CHARS = 1 << 20;
const TWO_32 = 4294967296;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

// Parquet's enums (parquet.thrift).
const BOOLEAN = 0;
const INT32 = 1;
const INT64 = 2;
const DOUBLE = 5;
const BYTE_ARRAY = 6;
const PLAIN = 0;
const RLE = 3;
const RLE_DICTIONARY = 8;
const SNAPPY = 1;
const DICTIONARY_PAGE = 2;
const DATA_PAGE_V2 = 3;

/** The bytes of a Parquet file and, per column, what its Delta statistics are made of. */
export interface EncodedParquet {
  bytes: Buffer;
  summaries: ColumnSummary[];
}

/** One column chunk: its pages (dictionary page first), ready to place in the file. */
interface EncodedChunk {
  pages: Buffer;
  dictionaryBytes: number;
  uncompressedBytes: number;
  encodings: number[];
  nulls: number;
  min: Uint8Array | undefined;
  max: Uint8Array | undefined;
}

/** A chunk's values before paging: `marks[2p]` is where page p starts in `values` (bytes, or values for indices/booleans), `marks[2p+1]` the non-null values before it. */
interface ChunkValues {
  kind: 'plain' | 'boolean' | 'dictionary';
  marks: number[];
  nulls: number;
  dictionary?: { entries: number; bytes: Buffer };
  min: Uint8Array | undefined;
  max: Uint8Array | undefined;
}

// Scratch reused by every call (encoding is synchronous): values before paging, one page body, its compressed form.
const values = new ByteSink(1 << 20);
const body = new ByteSink(1 << 16);
const compressed = new ByteSink(1 << 16);
const levels = new ByteSink(1 << 12);
const defs = new Uint8Array(ROW_GROUP_ROWS);
const indices = new Int32Array(ROW_GROUP_ROWS);

/** Parquet bytes for `rows` holding `columns` (partition columns already left out), and their Delta statistics. */
export function encodeParquetFile(columns: readonly TableColumn[], rows: readonly TableRow[]): EncodedParquet {
  const groups: Array<[number, number]> = [];
  for (let start = 0; start < rows.length; start += ROW_GROUP_ROWS) groups.push([start, Math.min(rows.length, start + ROW_GROUP_ROWS)]);
  const summaries = columns.map(() => emptyColumnSummary());
  const chunks: EncodedChunk[][] = columns.map(() => []);
  const read = cellReaderOf(columns.map((column) => column.name));
  try {
    // Row group by row group, each read from the rows once (row by row, all columns), then column by column.
    for (const [start, end] of groups) {
      read(rows, start, end, cellsFor(columns.length));
      columns.forEach((column, c) => {
        // A column that repeats an earlier one in a one-group file (silver writes its event id and
        // time again as event_id and event_time) has that column's chunk and statistics.
        const twin = groups.length === 1 ? twinColumn(columns, c, end - start) : -1;
        if (twin >= 0) {
          (chunks[c] as EncodedChunk[]).push((chunks[twin] as EncodedChunk[])[0] as EncodedChunk);
          Object.assign(summaries[c] as ColumnSummary, summaries[twin]);
        } else (chunks[c] as EncodedChunk[]).push(encodeChunk(column, cells[c] as unknown[], start, end, summaries[c] as ColumnSummary));
      });
    }
  } catch (error) {
    // The previous writer reported the first bad value in column order, then row order: find that one.
    if (error instanceof DeltaDataError) throwFirstBadValue(columns, rows, groups, read);
    throw error;
  } finally {
    clearCells(columns.length, Math.min(rows.length, ROW_GROUP_ROWS));
  }
  return { bytes: assembleFile(columns, rows.length, groups, chunks), summaries };
}

/**
 * The first column before `c` of the same type and nullability whose `count` cells hold the same
 * values as column c's, or −1. Its chunk is then byte for byte column c's: the encoding depends on
 * nothing else. Numbers must be the same double (`===`, but 0 and -0 differ: a NaN never matches);
 * binary values the same object.
 */
function twinColumn(columns: readonly TableColumn[], c: number, count: number): number {
  const column = columns[c] as TableColumn;
  const mine = cells[c] as unknown[];
  for (let t = 0; t < c; t++) {
    const other = columns[t] as TableColumn;
    if (other.type !== column.type || other.nullable !== column.nullable) continue;
    const theirs = cells[t] as unknown[];
    let i = 0;
    for (; i < count; i++) {
      const value = mine[i];
      if (value !== theirs[i] || (value === 0 && 1 / value !== 1 / (theirs[i] as number))) break;
    }
    if (i === count) return t;
  }
  return -1;
}

/** Reads `rows[start, end)` into `cells`: `cells[c][i - start]` is row i's value of column c. */
type CellReader = (rows: readonly TableRow[], start: number, end: number, cells: unknown[][]) => void;

/** The compiled readers by column names (a process writes few distinct tables). */
const cellReaders = new Map<string, CellReader>();
const MAX_CELL_READERS = 256;

/**
 * A reader compiled for these column names: each row is visited once and each column read by a
 * fixed name, so rows of one shape are read at the cost of a field load (a computed name per value
 * costs a lookup, and a column-by-column walk visits every row once per column). The names enter the
 * source only as JSON string literals, never as code (as in `column-rows.ts`).
 */
function cellReaderOf(names: readonly string[]): CellReader {
  const key = JSON.stringify(names);
  let reader = cellReaders.get(key);
  if (reader === undefined) {
    const reads = names.map((name, c) => `cells[${c}][i - start] = row[${JSON.stringify(name)}];`).join('\n');
    reader = new Function('rows', 'start', 'end', 'cells', `for (let i = start; i < end; i++) {\nconst row = rows[i];\n${reads}\n}`) as CellReader;
    if (cellReaders.size >= MAX_CELL_READERS) cellReaders.clear();
    cellReaders.set(key, reader);
  }
  return reader;
}

/** Scratch of the row group at hand, one array per column (encoding is synchronous). */
const cells: unknown[][] = [];

function cellsFor(columnCount: number): unknown[][] {
  while (cells.length < columnCount) cells.push([]);
  return cells;
}

/** Lets go of the rows' values once the file is encoded (the first `used` of each array), keeping the arrays' room. */
function clearCells(columnCount: number, used: number): void {
  for (let c = 0; c < columnCount && c < cells.length; c++) (cells[c] as unknown[]).fill(undefined, 0, used);
  (present as unknown[]).fill(undefined, 0, Math.min(used, present.length));
}

/** Encodes column by column over the whole file, so the bad value that throws is the first in column order, then row order. */
function throwFirstBadValue(columns: readonly TableColumn[], rows: readonly TableRow[], groups: ReadonlyArray<[number, number]>, read: CellReader): void {
  columns.forEach((column, c) => {
    for (const [start, end] of groups) {
      read(rows, start, end, cellsFor(columns.length));
      chunkValues(column, cells[c] as unknown[], start, end, emptyColumnSummary());
    }
  });
}

function encodeChunk(column: TableColumn, columnCells: readonly unknown[], start: number, end: number, summary: ColumnSummary): EncodedChunk {
  const chunk = chunkValues(column, columnCells, start, end, summary);
  const out = new ByteSink(values.pos + 1024);
  let uncompressedBytes = 0;
  let dictionaryBytes = 0;
  if (chunk.dictionary) {
    compressed.pos = 0;
    snappyCompress(chunk.dictionary.bytes, 0, chunk.dictionary.bytes.length, compressed);
    const headerStart = out.pos;
    const header = new ThriftWriter(out);
    header.i32(1, DICTIONARY_PAGE);
    header.i32(2, chunk.dictionary.bytes.length);
    header.i32(3, compressed.pos);
    header.beginStruct(7);
    header.i32(1, chunk.dictionary.entries);
    header.i32(2, PLAIN);
    header.endStruct();
    header.endStruct();
    uncompressedBytes += out.pos - headerStart + chunk.dictionary.bytes.length;
    out.bytes(compressed.buf.subarray(0, compressed.pos));
    dictionaryBytes = out.pos;
  }
  const bitWidth = chunk.dictionary ? Math.max(1, 32 - Math.clz32(chunk.dictionary.entries - 1)) : 0;
  const encoding = chunk.kind === 'dictionary' ? RLE_DICTIONARY : PLAIN;
  for (let page = 0, first = start; first < end; page++, first += PAGE_ROWS) {
    const rowCount = Math.min(end, first + PAGE_ROWS) - first;
    const [from, before, to, after] = chunk.marks.slice(page * 2, page * 2 + 4) as [number, number, number, number];
    const nonNull = after - before;
    levels.pos = 0;
    if (column.nullable) writeLevels(first - start, rowCount, nonNull);
    let source: Uint8Array = values.buf;
    let sourceStart = from;
    let sourceEnd = to;
    if (chunk.kind !== 'plain') {
      body.pos = 0;
      if (chunk.kind === 'dictionary') {
        body.byte(bitWidth);
        bitPack(indices, from, to, bitWidth);
      } else packBooleans(values.buf, from, to);
      [source, sourceStart, sourceEnd] = [body.buf, 0, body.pos];
    }
    compressed.pos = 0;
    snappyCompress(source, sourceStart, sourceEnd, compressed);
    const headerStart = out.pos;
    const header = new ThriftWriter(out);
    header.i32(1, DATA_PAGE_V2);
    header.i32(2, levels.pos + sourceEnd - sourceStart);
    header.i32(3, levels.pos + compressed.pos);
    header.beginStruct(8);
    header.i32(1, rowCount);
    header.i32(2, rowCount - nonNull);
    header.i32(3, rowCount);
    header.i32(4, encoding);
    header.i32(5, levels.pos);
    header.i32(6, 0);
    header.endStruct();
    header.endStruct();
    uncompressedBytes += out.pos - headerStart + levels.pos + sourceEnd - sourceStart;
    out.bytes(levels.buf.subarray(0, levels.pos));
    out.bytes(compressed.buf.subarray(0, compressed.pos));
  }
  const encodings = [PLAIN, ...(column.nullable ? [RLE] : []), ...(chunk.kind === 'dictionary' ? [RLE_DICTIONARY] : [])];
  // `out` is this chunk's own (not scratch): its bytes need no copy before the file is assembled.
  return { pages: out.buf.subarray(0, out.pos), dictionaryBytes, uncompressedBytes, encodings, nulls: chunk.nulls, min: chunk.min, max: chunk.max };
}

/** Definition levels (bit width 1) of a page's rows: one RLE run when they are all equal, else bit-packed. */
function writeLevels(first: number, count: number, nonNull: number): void {
  if (nonNull === count || nonNull === 0) {
    levels.varint(count * 2);
    levels.byte(nonNull === 0 ? 0 : 1);
    return;
  }
  const groups = Math.ceil(count / 8);
  levels.varint(groups * 2 + 1);
  levels.ensure(groups);
  const buf = levels.buf;
  let pos = levels.pos;
  for (let g = 0; g < groups; g++) {
    let byte = 0;
    const base = first + g * 8;
    const n = Math.min(8, count - g * 8);
    for (let k = 0; k < n; k++) byte |= defs[base + k] << k;
    buf[pos++] = byte;
  }
  levels.pos = pos;
}

/** `ids[from, to)` as one bit-packed run of `width`-bit values (the RLE/bit-packed hybrid), into `body`. */
function bitPack(ids: Int32Array, from: number, to: number, width: number): void {
  const count = to - from;
  if (count === 0) return;
  const groups = Math.ceil(count / 8);
  body.varint(groups * 2 + 1);
  body.ensure(groups * width);
  const buf = body.buf;
  let pos = body.pos;
  const endPos = pos + groups * width;
  let acc = 0;
  let bits = 0;
  for (let i = from; i < to; i++) {
    acc |= ids[i] << bits;
    bits += width;
    while (bits >= 8) {
      buf[pos++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) buf[pos++] = acc;
  while (pos < endPos) buf[pos++] = 0;
  body.pos = pos;
}

/** PLAIN booleans: one bit each, first value in the lowest bit. */
function packBooleans(bools: Uint8Array, from: number, to: number): void {
  const bytes = Math.ceil((to - from) / 8);
  body.ensure(bytes);
  const buf = body.buf;
  let pos = body.pos;
  for (let i = from; i < to; i += 8) {
    let byte = 0;
    const n = Math.min(8, to - i);
    for (let k = 0; k < n; k++) byte |= bools[i + k] << k;
    buf[pos++] = byte;
  }
  body.pos = pos;
}

/** `columnCells[i - start]` is row i's value of `column`. */
function chunkValues(column: TableColumn, columnCells: readonly unknown[], start: number, end: number, summary: ColumnSummary): ChunkValues {
  values.pos = 0;
  const chunk = gatherChunk(column, columnCells, start, end);
  let result: ChunkValues;
  switch (column.type) {
    case 'string':
      result = stringDictionary(column, chunk, summary) ?? plainStrings(column, chunk, summary);
      break;
    case 'long':
      result = fixedWidth(column, chunk, summary, LONG);
      break;
    case 'integer':
      result = fixedWidth(column, chunk, summary, INTEGER);
      break;
    case 'double':
      result = doubles(column, chunk, summary);
      break;
    case 'boolean':
      result = booleans(column, chunk, summary);
      break;
    case 'timestamp':
      result = timestamps(column, chunk, summary);
      break;
    case 'date':
      result = fixedWidth(column, chunk, summary, DATE);
      break;
    case 'binary':
      result = binaries(column, chunk, summary);
      break;
  }
  // Every value before a missing one was checked above, so a bad one there was reported first.
  if (chunk.missingRow >= 0) missingValue(column, columnCells[chunk.missingRow - start] as null | undefined, chunk.missingRow);
  return result;
}

/** A row value that is not null. */
type PresentValue = NonNullable<TableRow[string]>;

/**
 * A chunk's non-null values, read from the rows once (`present[0, count)`, in row order), so each
 * type's loop runs over a plain array with no call per value. `pages[p]` is how many values come
 * before page p (PAGE_ROWS rows each), and `pages[pages.length - 1]` is `count`.
 */
interface GatheredChunk {
  start: number;
  /** The chunk's rows, nulls included (the dictionary rule counts them). */
  rows: number;
  nullable: boolean;
  count: number;
  nulls: number;
  pages: number[];
  /** The first row whose value is null in a column that is not nullable (gathering stops there), or -1. */
  missingRow: number;
}

/** Scratch of `gatherChunk` (encoding is synchronous): the non-null values of the chunk at hand. */
const present: PresentValue[] = [];

/** Reads a chunk's values into `present` and their definition levels into `defs` (nullable columns only). */
function gatherChunk(column: TableColumn, columnCells: readonly unknown[], start: number, end: number): GatheredChunk {
  const { nullable } = column;
  const pages: number[] = [];
  let count = 0;
  let missingRow = -1;
  for (let first = start; first < end && missingRow < 0; first += PAGE_ROWS) {
    pages.push(count);
    const last = Math.min(end, first + PAGE_ROWS);
    if (!nullable) {
      for (let i = first; i < last; i++) {
        const value = columnCells[i - start];
        if (value === null || value === undefined) {
          missingRow = i;
          break;
        }
        present[count++] = value as PresentValue;
      }
      continue;
    }
    for (let i = first; i < last; i++) {
      const value = columnCells[i - start];
      if (value === null || value === undefined) defs[i - start] = 0;
      else {
        defs[i - start] = 1;
        present[count++] = value as PresentValue;
      }
    }
  }
  pages.push(count);
  const rowsSeen = missingRow >= 0 ? missingRow - start : end - start;
  return { start, rows: end - start, nullable, count, nulls: rowsSeen - count, pages, missingRow };
}

/** The row of `present[k]` (for an error message). */
function rowOf(chunk: GatheredChunk, k: number): number {
  if (!chunk.nullable) return chunk.start + k;
  for (let i = 0, seen = 0; ; i++) if (defs[i] === 1 && seen++ === k) return chunk.start + i;
}

/** Marks of a chunk whose values take `width` bytes (or one index each, width 1) in `values`: page starts as (position, values before). */
function marksOfWidth(chunk: GatheredChunk, width: number): number[] {
  const marks: number[] = [];
  for (const count of chunk.pages) marks.push(count * width, count);
  return marks;
}

/** How a column type of whole numbers of one width is checked, written and bounded. */
interface FixedWidthType {
  /** Bytes per value. */
  width: 4 | 8;
  /** The number written for a row value, or `undefined` when the column type does not take it. */
  number(value: unknown): number | undefined;
  write(view: DataView, at: number, value: number): void;
  /** Parquet's bound bytes of a number. */
  bytes(value: number): Uint8Array;
  /** Adds the chunk's bounds to the Delta statistics: the numbers, or the row values they came from. */
  merge(summary: ColumnSummary, min: number, max: number, minValue: unknown, maxValue: unknown): void;
}

const setInt32 = (view: DataView, at: number, value: number): void => view.setInt32(at, value, true);

const INTEGER: FixedWidthType = {
  width: 4,
  number: (value) => (typeof value === 'number' && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647 ? value : undefined),
  write: setInt32,
  bytes: (value) => int32Bytes(value),
  merge: (summary, min, max) => mergeNumbers(summary, min, max),
};

const LONG: FixedWidthType = {
  width: 8,
  number: (value) => (typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined),
  write: (view, at, value) => setInt64(view, at, value),
  bytes: (value) => int64Bytes(value),
  merge: (summary, min, max) => mergeNumbers(summary, min, max),
};

/** 'YYYY-MM-DD' of a real date sorts as its day number does, so the day bounds name the Delta (text) bounds. */
const DATE: FixedWidthType = {
  width: 4,
  number: (value) => (typeof value === 'string' ? daysOfDate(value) : undefined),
  write: setInt32,
  bytes: (value) => int32Bytes(value),
  merge: (summary, _min, _max, minValue, maxValue) => mergeStrings(summary, minValue as string, maxValue as string),
};

/** A chunk of integers, longs or dates: dictionary-encoded while that pays, else PLAIN. */
function fixedWidth(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary, type: FixedWidthType): ChunkValues {
  const { width } = type;
  const { count } = chunk;
  const dictionary = new NumberDictionary(chunk.rows);
  values.ensure(count * width);
  const view = values.view;
  let min = 0;
  let max = 0;
  let minValue: unknown;
  let maxValue: unknown;
  for (let k = 0, pos = 0; k < count; k++, pos += width) {
    const value = present[k];
    const number = type.number(value);
    if (number === undefined) invalidValue(column, value, rowOf(chunk, k));
    // Plain assignments: a destructured array literal here costs an array per value in a sorted column.
    if (k === 0) {
      min = max = number;
      minValue = maxValue = value;
    } else if (number < min) {
      min = number;
      minValue = value;
    } else if (number > max) {
      max = number;
      maxValue = value;
    }
    if (dictionary.open) dictionary.add(number, k);
    if (width === 8) setInt64(view, pos, number);
    else view.setInt32(pos, number, true);
  }
  values.pos = count * width;
  if (count > 0) type.merge(summary, min, max, minValue, maxValue);
  summary.nulls += chunk.nulls;
  const bounds = { min: count > 0 ? type.bytes(min) : undefined, max: count > 0 ? type.bytes(max) : undefined };
  return dictionary.chunk(marksOfWidth(chunk, width), chunk.nulls, bounds, width, type.write);
}

/** A safe integer as a little-endian INT64, in two 32-bit halves (no BigInt). */
function setInt64(view: DataView, at: number, value: number): void {
  const high = Math.floor(value / TWO_32);
  view.setUint32(at, value - high * TWO_32, true);
  view.setInt32(at + 4, high, true);
}

/** Epoch milliseconds (a safe integer) as INT64 microseconds: value × 1000 exactly, in halves (the low half of the millis times 1000 stays below 2^42). */
function setMicrosOfMillis(view: DataView, at: number, millis: number): void {
  const highMs = Math.floor(millis / TWO_32);
  const lowMicros = (millis - highMs * TWO_32) * 1000;
  const carry = Math.floor(lowMicros / TWO_32);
  view.setUint32(at, lowMicros - carry * TWO_32, true);
  view.setInt32(at + 4, highMs * 1000 + carry, true);
}

function doubles(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues {
  const { count } = chunk;
  values.ensure(count * 8);
  const view = values.view;
  let min = NaN;
  let max = NaN;
  let hasNaN = false;
  for (let k = 0; k < count; k++) {
    const value = present[k];
    if (typeof value !== 'number') invalidValue(column, value, rowOf(chunk, k));
    view.setFloat64(k * 8, value, true);
    if (value !== value) hasNaN = true;
    else if (min !== min) min = max = value;
    else if (value < min) min = value;
    else if (value > max) max = value;
  }
  values.pos = count * 8;
  if (hasNaN) summary.hasNaN = true;
  if (min === min) mergeNumbers(summary, min, max);
  summary.nulls += chunk.nulls;
  // Parquet's rule for zero bounds: a zero min is -0 and a zero max +0, whichever zeros the chunk holds.
  const bounds = min === min ? { min: float64Bytes(min === 0 ? -0 : min), max: float64Bytes(max === 0 ? 0 : max) } : { min: undefined, max: undefined };
  return { kind: 'plain', marks: marksOfWidth(chunk, 8), nulls: chunk.nulls, ...bounds };
}

function booleans(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues {
  const { count } = chunk;
  values.ensure(count);
  const buf = values.buf;
  let seen = 0; // bit 0: false seen, bit 1: true seen
  for (let k = 0; k < count; k++) {
    const value = present[k];
    if (typeof value !== 'boolean') invalidValue(column, value, rowOf(chunk, k));
    buf[k] = value ? 1 : 0;
    seen |= value ? 2 : 1;
  }
  values.pos = count;
  summary.nulls += chunk.nulls;
  return {
    kind: 'boolean',
    marks: marksOfWidth(chunk, 1),
    nulls: chunk.nulls,
    min: seen === 0 ? undefined : Uint8Array.of(seen & 1 ? 0 : 1),
    max: seen === 0 ? undefined : Uint8Array.of(seen & 2 ? 1 : 0),
  };
}

function timestamps(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues {
  const { count } = chunk;
  // Keyed by epoch ms: a chunk holding a bigint (microseconds) is written without a dictionary.
  const dictionary = new NumberDictionary(chunk.rows);
  values.ensure(count * 8);
  const view = values.view;
  // Parquet bounds in microseconds as (signed high, unsigned low) halves; Delta bounds in milliseconds as `computeFileStats` takes them.
  let minHigh = 0;
  let minLow = 0;
  let maxHigh = 0;
  let maxLow = 0;
  let minMs = 0;
  let maxMs = 0;
  let roundedUp = false;
  for (let k = 0; k < count; k++) {
    const value = present[k];
    let high: number;
    let low: number;
    let floor: number;
    let ceil: number;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) invalidValue(column, value, rowOf(chunk, k));
      // value × 1000 exactly, in halves: the low half of the millis times 1000 stays below 2^42.
      const highMs = Math.floor(value / TWO_32);
      const lowMicros = (value - highMs * TWO_32) * 1000;
      const carry = Math.floor(lowMicros / TWO_32);
      low = lowMicros - carry * TWO_32;
      high = highMs * 1000 + carry;
      floor = ceil = value;
      if (dictionary.open) dictionary.add(value, k);
    } else if (typeof value === 'bigint') {
      dictionary.open = false;
      if (value < MIN_INT64 || value > MAX_INT64) invalidValue(column, value, rowOf(chunk, k));
      const bits = BigInt.asUintN(64, value);
      low = Number(bits & 0xffffffffn);
      high = Number(BigInt.asIntN(32, bits >> 32n));
      floor = timestampMillis(value);
      ceil = timestampSubMillisMicros(value) === 0 ? floor : floor + 1;
    } else invalidValue(column, value, rowOf(chunk, k));
    // Plain assignments: a destructured array literal here costs an array per value in a sorted column.
    if (k === 0) {
      minHigh = maxHigh = high;
      minLow = maxLow = low;
      minMs = floor;
      maxMs = ceil;
      roundedUp = ceil !== floor;
    } else {
      if (high < minHigh || (high === minHigh && low < minLow)) {
        minHigh = high;
        minLow = low;
      }
      if (high > maxHigh || (high === maxHigh && low > maxLow)) {
        maxHigh = high;
        maxLow = low;
      }
      if (floor < minMs) minMs = floor;
      if (ceil > maxMs) {
        maxMs = ceil;
        roundedUp = ceil !== floor;
      }
    }
    view.setUint32(k * 8, low, true);
    view.setInt32(k * 8 + 4, high, true);
  }
  values.pos = count * 8;
  if (count > 0) {
    if (summary.min === undefined || minMs < (summary.min as number)) summary.min = minMs;
    if (summary.max === undefined || maxMs > (summary.max as number)) [summary.max, summary.maxRoundedUp] = [maxMs, roundedUp];
  }
  summary.nulls += chunk.nulls;
  const bounds = { min: count > 0 ? int64BytesOfHalves(minHigh, minLow) : undefined, max: count > 0 ? int64BytesOfHalves(maxHigh, maxLow) : undefined };
  return dictionary.chunk(marksOfWidth(chunk, 8), chunk.nulls, bounds, 8, setMicrosOfMillis);
}

function binaries(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues {
  const marks: number[] = [];
  const { pages } = chunk;
  for (let p = 0; p + 1 < pages.length; p++) {
    const [from, to] = [pages[p] as number, pages[p + 1] as number];
    marks.push(values.pos, from);
    for (let k = from; k < to; k++) {
      const value = present[k];
      if (!Buffer.isBuffer(value)) invalidValue(column, value, rowOf(chunk, k));
      values.int32(value.length);
      values.bytes(value);
    }
  }
  marks.push(values.pos, chunk.count);
  summary.nulls += chunk.nulls;
  return { kind: 'plain', marks, nulls: chunk.nulls, min: undefined, max: undefined };
}

function plainStrings(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues {
  const marks: number[] = [];
  const { pages, count } = chunk;
  let min = '';
  let max = '';
  values.pos = 0;
  for (let p = 0; p + 1 < pages.length; p++) {
    const [from, to] = [pages[p] as number, pages[p + 1] as number];
    marks.push(values.pos, from);
    for (let k = from; k < to; k++) {
      const value = present[k];
      if (typeof value !== 'string') invalidValue(column, value, rowOf(chunk, k));
      if (k === 0) min = max = value;
      else if (compareCodePoints(value, min) < 0) min = value;
      else if (compareCodePoints(value, max) > 0) max = value;
      const lengthAt = values.pos;
      values.ensure(4 + value.length * 3);
      values.pos += 4;
      values.view.setInt32(lengthAt, values.utf8(value), true);
    }
  }
  marks.push(values.pos, count);
  if (count > 0) mergeStrings(summary, min, max);
  summary.nulls += chunk.nulls;
  return { kind: 'plain', marks, nulls: chunk.nulls, min: count > 0 ? Buffer.from(min, 'utf8') : undefined, max: count > 0 ? Buffer.from(max, 'utf8') : undefined };
}

/** A string chunk as dictionary indices, or `undefined` (nothing recorded) when the dictionary stops paying. */
function stringDictionary(column: TableColumn, chunk: GatheredChunk, summary: ColumnSummary): ChunkValues | undefined {
  const ids = new Map<string, number>();
  const entries: string[] = [];
  const { count } = chunk;
  let chars = 0;
  for (let k = 0; k < count; k++) {
    const value = present[k];
    if (typeof value !== 'string') invalidValue(column, value, rowOf(chunk, k));
    let id = ids.get(value);
    if (id === undefined) {
      id = entries.length;
      chars += value.length;
      if (dictionaryStopsPaying(id, k, chunk.rows) || chars > DICTIONARY_MAX_CHARS) return undefined;
      ids.set(value, id);
      entries.push(value);
    }
    indices[k] = id;
  }
  summary.nulls += chunk.nulls;
  const marks = marksOfWidth(chunk, 1);
  if (count === 0) return { kind: 'plain', marks: marks.map(() => 0), nulls: chunk.nulls, min: undefined, max: undefined };
  let min = entries[0] as string;
  let max = min;
  const dictionary = new ByteSink(chars * 3 + entries.length * 4);
  for (const entry of entries) {
    if (compareCodePoints(entry, min) < 0) min = entry;
    else if (compareCodePoints(entry, max) > 0) max = entry;
    const lengthAt = dictionary.pos;
    dictionary.pos += 4;
    dictionary.view.setInt32(lengthAt, dictionary.utf8(entry), true);
  }
  mergeStrings(summary, min, max);
  return {
    kind: 'dictionary',
    marks,
    nulls: chunk.nulls,
    dictionary: { entries: entries.length, bytes: dictionary.copy() },
    min: Buffer.from(min, 'utf8'),
    max: Buffer.from(max, 'utf8'),
  };
}

/** Whether a dictionary about to take its entry number `entries` after `seen` values stops paying (the header's rule). */
function dictionaryStopsPaying(entries: number, seen: number, chunkRows: number): boolean {
  return entries * DICTIONARY_SHARE_OF_ROWS >= chunkRows || (entries >= DICTIONARY_UNIQUE_CHECK && entries * 8 > seen * 7);
}

/**
 * Dictionary ids of a number column chunk's values, gathered beside its PLAIN values while the
 * dictionary pays (the rule of the header); `chunk` then gives the dictionary form, or the plain one.
 */
class NumberDictionary {
  private readonly ids = new Map<number, number>();
  open = true;

  constructor(private readonly chunkRows: number) {}

  /** Records the id of the `count`-th non-null value in `indices`. */
  add(value: number, count: number): void {
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.ids.size;
      if (dictionaryStopsPaying(id, count, this.chunkRows)) {
        this.open = false;
        return;
      }
      this.ids.set(value, id);
    }
    indices[count] = id;
  }

  /** The chunk as dictionary indices when the dictionary held, else as the PLAIN values written. */
  chunk(marks: number[], nulls: number, bounds: Pick<ChunkValues, 'min' | 'max'>, width: number, write: (view: DataView, at: number, value: number) => void): ChunkValues {
    if (!this.open || this.ids.size === 0) return { kind: 'plain', marks, nulls, ...bounds };
    const bytes = Buffer.alloc(this.ids.size * width);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    let at = 0;
    for (const value of this.ids.keys()) {
      write(view, at, value);
      at += width;
    }
    // Pages start at value counts (the odd marks), not at byte offsets.
    const counts = marks.map((mark, k) => (k % 2 === 0 ? (marks[k + 1] as number) : mark));
    return { kind: 'dictionary', marks: counts, nulls, dictionary: { entries: this.ids.size, bytes }, ...bounds };
  }
}

function mergeNumbers(summary: ColumnSummary, min: number, max: number): void {
  if (summary.min === undefined || min < (summary.min as number)) summary.min = min;
  if (summary.max === undefined || max > (summary.max as number)) [summary.max, summary.maxRoundedUp] = [max, false];
}

function mergeStrings(summary: ColumnSummary, min: string, max: string): void {
  if (summary.min === undefined || compareCodePoints(min, summary.min as string) < 0) summary.min = min;
  if (summary.max === undefined || compareCodePoints(max, summary.max as string) > 0) summary.max = max;
}

function int32Bytes(value: number): Uint8Array {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32LE(value);
  return bytes;
}

function int64Bytes(value: number): Uint8Array {
  const bytes = Buffer.alloc(8);
  setInt64(new DataView(bytes.buffer, bytes.byteOffset, 8), 0, value);
  return bytes;
}

function int64BytesOfHalves(high: number, low: number): Uint8Array {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt32LE(low, 0);
  bytes.writeInt32LE(high, 4);
  return bytes;
}

function float64Bytes(value: number): Uint8Array {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return bytes;
}

/** 'PAR1', the column chunks row group by row group, the footer (FileMetaData), its length, 'PAR1'. */
function assembleFile(columns: readonly TableColumn[], numRows: number, groups: ReadonlyArray<[number, number]>, chunks: EncodedChunk[][]): Buffer {
  let size = 8;
  for (const column of chunks) for (const chunk of column) size += chunk.pages.length;
  const out = new ByteSink(size + 256 + 128 * columns.length * Math.max(1, groups.length));
  out.bytes(MAGIC);
  const offsets = groups.map((_, g) =>
    chunks.map((column) => {
      const at = out.pos;
      out.bytes((column[g] as EncodedChunk).pages);
      return at;
    }),
  );
  const footerStart = out.pos;
  const footer = new ThriftWriter(out);
  footer.i32(1, 2);
  footer.beginList(2, ThriftType.STRUCT, columns.length + 1);
  footer.beginListStruct();
  footer.string(4, 'spark_schema');
  footer.i32(5, columns.length);
  footer.endStruct();
  for (const column of columns) schemaElement(footer, column);
  footer.i64(3, numRows);
  footer.beginList(4, ThriftType.STRUCT, groups.length);
  groups.forEach(([start, end], g) => {
    footer.beginListStruct();
    footer.beginList(1, ThriftType.STRUCT, columns.length);
    let uncompressed = 0;
    let compressedTotal = 0;
    columns.forEach((column, c) => {
      const chunk = (chunks[c] as EncodedChunk[])[g] as EncodedChunk;
      const at = (offsets[g] as number[])[c] as number;
      uncompressed += chunk.uncompressedBytes;
      compressedTotal += chunk.pages.length;
      columnChunk(footer, column, chunk, at, end - start);
    });
    footer.i64(2, uncompressed);
    footer.i64(3, end - start);
    footer.i64(5, (offsets[g] as number[])[0] as number);
    footer.i64(6, compressedTotal);
    footer.endStruct();
  });
  footer.string(6, CREATED_BY);
  // Every column's min/max follow its type's order (ColumnOrder.TYPE_ORDER).
  footer.beginList(7, ThriftType.STRUCT, columns.length);
  for (let c = 0; c < columns.length; c++) {
    footer.beginListStruct();
    footer.beginStruct(1);
    footer.endStruct();
    footer.endStruct();
  }
  footer.endStruct();
  out.int32(out.pos - footerStart);
  out.bytes(MAGIC);
  return out.buf.subarray(0, out.pos);
}

const MAGIC = Buffer.from('PAR1', 'latin1');

function schemaElement(footer: ThriftWriter, column: TableColumn): void {
  footer.beginListStruct();
  footer.i32(1, physicalType(column));
  footer.i32(3, column.nullable ? 1 : 0);
  footer.string(4, column.name);
  switch (column.type) {
    case 'string':
      footer.i32(6, 0); // UTF8
      footer.beginStruct(10);
      footer.beginStruct(1); // STRING
      footer.endStruct();
      footer.endStruct();
      break;
    case 'timestamp':
      footer.i32(6, 10); // TIMESTAMP_MICROS
      footer.beginStruct(10);
      footer.beginStruct(8); // TIMESTAMP
      footer.bool(1, true); // isAdjustedToUTC
      footer.beginStruct(2); // unit
      footer.beginStruct(2); // MICROS
      footer.endStruct();
      footer.endStruct();
      footer.endStruct();
      footer.endStruct();
      break;
    case 'date':
      footer.i32(6, 6); // DATE
      footer.beginStruct(10);
      footer.beginStruct(6); // DATE
      footer.endStruct();
      footer.endStruct();
      break;
    case 'long':
    case 'integer':
    case 'double':
    case 'boolean':
    case 'binary':
      break;
  }
  footer.endStruct();
}

function columnChunk(footer: ThriftWriter, column: TableColumn, chunk: EncodedChunk, at: number, numValues: number): void {
  footer.beginListStruct();
  footer.i64(2, at);
  footer.beginStruct(3);
  footer.i32(1, physicalType(column));
  footer.beginList(2, ThriftType.I32, chunk.encodings.length);
  for (const encoding of chunk.encodings) footer.listI32(encoding);
  footer.beginList(3, ThriftType.BINARY, 1);
  footer.listString(column.name);
  footer.i32(4, SNAPPY);
  footer.i64(5, numValues);
  footer.i64(6, chunk.uncompressedBytes);
  footer.i64(7, chunk.pages.length);
  footer.i64(9, at + chunk.dictionaryBytes);
  if (chunk.dictionaryBytes > 0) footer.i64(11, at);
  footer.beginStruct(12);
  footer.i64(3, chunk.nulls);
  if (chunk.max && chunk.min) {
    footer.binary(5, chunk.max);
    footer.binary(6, chunk.min);
  }
  footer.endStruct();
  footer.endStruct();
  footer.endStruct();
}

function physicalType(column: TableColumn): number {
  switch (column.type) {
    case 'string':
    case 'binary':
      return BYTE_ARRAY;
    case 'long':
    case 'timestamp':
      return INT64;
    case 'integer':
    case 'date':
      return INT32;
    case 'double':
      return DOUBLE;
    case 'boolean':
      return BOOLEAN;
  }
}

/**
 * Per-file column statistics in Delta's `add.stats` format:
 * `{"numRecords":n,"minValues":{..},"maxValues":{..},"nullCount":{..}}`.
 *
 * Invariants (matching what Delta on Spark writes, so data skipping stays correct):
 * - Partition columns are left out (their value is in `partitionValues`).
 * - `nullCount` is given for every column; min/max only for string, long, integer, double, date
 *   and timestamp columns that hold a non-null value (never for boolean or binary).
 * - Strings are compared by code point (= UTF-8 byte order, Spark's order) and cut to 32 code
 *   points: the min as a prefix, the max as a prefix followed by U+10FFFF so it stays an upper bound.
 * - A double column holding NaN gets no min/max (JSON cannot hold NaN, and a bound without it would lie).
 * - Timestamps are ISO-8601 UTC with milliseconds (`2026-01-01T00:00:00.000Z`); dates `YYYY-MM-DD`.
 *   Values keep microseconds (see `TableValue`) but the protocol's stats hold milliseconds, so the
 *   min is rounded down and the max rounded UP to the millisecond: each stays a bound of every
 *   value. (Spark truncates the max down too, which the protocol's footnote allows, and readers
 *   such as delta-kernel widen it by 999 µs when they skip; a reader that takes the max as written
 *   would skip a file holding a match. A max rounded up is right for both.) A max that rounding up
 *   would carry past 9999-12-31T23:59:59.999Z, which has no four-digit ISO year, is left out with
 *   its min, as a bound it cannot state.
 */
import { timestampMillis, timestampSubMillisMicros, type TableColumn, type TableRow } from '@pipeline/contracts';

const STRING_PREFIX_LENGTH = 32;
const MAX_CODE_POINT = String.fromCodePoint(0x10ffff);
/** 10000-01-01T00:00:00.000Z: the first instant without a four-digit ISO year. */
const YEAR_10000_MS = 253_402_300_800_000;

export interface FileStats {
  numRecords: number;
  minValues: Record<string, string | number>;
  maxValues: Record<string, string | number>;
  nullCount: Record<string, number>;
}

/** What a column's statistics are made of, gathered value by value (`computeFileStats`) or by a writer's own pass. */
export interface ColumnSummary {
  nulls: number;
  /** Least and greatest value as compared here: numbers (timestamps in epoch ms, the min rounded down, the max up), or strings. */
  min: string | number | undefined;
  max: string | number | undefined;
  hasNaN: boolean;
  /** The max is a timestamp rounded up to the millisecond. */
  maxRoundedUp: boolean;
}

export function emptyColumnSummary(): ColumnSummary {
  return { nulls: 0, min: undefined, max: undefined, hasNaN: false, maxRoundedUp: false };
}

/** Statistics of `rows` over `columns` (pass the data columns only, not the partition columns). */
export function computeFileStats(columns: readonly TableColumn[], rows: readonly TableRow[]): FileStats {
  return fileStatsOf(
    columns,
    rows.length,
    columns.map((column) => summarizeColumn(column, rows)),
  );
}

function summarizeColumn(column: TableColumn, rows: readonly TableRow[]): ColumnSummary {
  const summary = emptyColumnSummary();
  const ordered = hasMinMax(column);
  for (const row of rows) {
    const value = row[column.name];
    if (value === null || value === undefined) {
      summary.nulls++;
      continue;
    }
    if (!ordered) continue;
    if (typeof value === 'bigint') {
      // Epoch microseconds (a timestamp): the millisecond below for the min, above for the max.
      const floor = timestampMillis(value);
      const ceil = timestampSubMillisMicros(value) === 0 ? floor : floor + 1;
      if (summary.min === undefined || floor < (summary.min as number)) summary.min = floor;
      if (summary.max === undefined || ceil > (summary.max as number)) {
        summary.max = ceil;
        summary.maxRoundedUp = ceil !== floor;
      }
    } else if (typeof value === 'number') {
      if (Number.isNaN(value)) {
        summary.hasNaN = true;
        continue;
      }
      if (summary.min === undefined || value < (summary.min as number)) summary.min = value;
      if (summary.max === undefined || value > (summary.max as number)) {
        summary.max = value;
        summary.maxRoundedUp = false;
      }
    } else if (typeof value === 'string') {
      if (summary.min === undefined || compareCodePoints(value, summary.min as string) < 0) summary.min = value;
      if (summary.max === undefined || compareCodePoints(value, summary.max as string) > 0) summary.max = value;
    }
  }
  return summary;
}

/** The `FileStats` of `numRecords` rows from each column's summary (in `columns` order). */
export function fileStatsOf(columns: readonly TableColumn[], numRecords: number, summaries: readonly ColumnSummary[]): FileStats {
  const stats: FileStats = { numRecords, minValues: {}, maxValues: {}, nullCount: {} };
  columns.forEach((column, c) => {
    const { nulls, min, max, hasNaN, maxRoundedUp } = summaries[c] as ColumnSummary;
    const unstatable = maxRoundedUp && (max as number) >= YEAR_10000_MS;
    if (min !== undefined && max !== undefined && !hasNaN && !unstatable) {
      stats.minValues[column.name] = statsValue(column, min, 'min');
      stats.maxValues[column.name] = statsValue(column, max, 'max');
    }
    stats.nullCount[column.name] = nulls;
  });
  dropNonFiniteBounds(stats);
  return stats;
}

function hasMinMax(column: TableColumn): boolean {
  switch (column.type) {
    case 'string':
    case 'long':
    case 'integer':
    case 'double':
    case 'date':
    case 'timestamp':
      return true;
    case 'boolean':
    case 'binary':
      return false;
  }
}

function statsValue(column: TableColumn, value: string | number, bound: 'min' | 'max'): string | number {
  if (column.type === 'timestamp') return new Date(value as number).toISOString();
  if (column.type === 'string') return truncate(value as string, bound);
  return value;
}

function truncate(value: string, bound: 'min' | 'max'): string {
  const codePoints = Array.from(value);
  if (codePoints.length <= STRING_PREFIX_LENGTH) return value;
  const prefix = codePoints.slice(0, STRING_PREFIX_LENGTH).join('');
  return bound === 'min' ? prefix : prefix + MAX_CODE_POINT;
}

/** ±Infinity has no JSON form: such a column keeps only its null count. */
function dropNonFiniteBounds(stats: FileStats): void {
  for (const name of Object.keys(stats.minValues)) {
    const min = stats.minValues[name];
    const max = stats.maxValues[name];
    if ((typeof min === 'number' && !Number.isFinite(min)) || (typeof max === 'number' && !Number.isFinite(max))) {
      delete stats.minValues[name];
      delete stats.maxValues[name];
    }
  }
}

/** Compare strings by Unicode code point, which is the byte order of their UTF-8 forms. */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (code points above U+FFFF) sort after every BMP character in code-point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** The `stats` string of an add action (fixed key order, so equal stats give equal bytes). */
export function serializeFileStats(stats: FileStats): string {
  return JSON.stringify({ numRecords: stats.numRecords, minValues: stats.minValues, maxValues: stats.maxValues, nullCount: stats.nullCount });
}

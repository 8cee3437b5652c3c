/**
 * Partition values and Hive-style partition folders, as Delta and Spark write them.
 *
 * Invariants:
 * - A partition value in the log (`add.partitionValues`) is the protocol's string form of the
 *   value, or `null`; an empty string is stored as `null`, as Spark does.
 * - A folder segment is `column=value` with the value escaped by Spark's `escapePathName` rules
 *   (`%XX` for control characters, quotes, `#`, `%`, `*`, the slash, `:`, `=`, `?`, the backslash,
 *   `{`, `[`, `]` and `^`), `null` as `__HIVE_DEFAULT_PARTITION__`.
 * - `add.path` is a URI (RFC 2396): the folder path with `%` and other characters a URI may not
 *   hold percent-encoded; readers decode it back to the stored path with `decodeAddPath`.
 */
import { daysFromCivil, daysInMonth, wallClockMs, type TableValue } from '@pipeline/contracts';
import type { SparkDataType } from './spark-schema';

export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Characters Spark escapes in partition folder names (`ExternalCatalogUtils.charToEscape`), plus NUL. */
function needsEscape(code: number): boolean {
  if (code <= 0x1f || code === 0x7f) return true;
  return '"#%\'*/:=?\\{[]^'.includes(String.fromCharCode(code));
}

/** Spark's `escapePathName`: the value as it appears in a partition folder name. */
export function escapePartitionPathValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    out += needsEscape(code) ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : value[i];
  }
  return out;
}

/** The folder for one partition: `a=1/b=__HIVE_DEFAULT_PARTITION__` (empty for an unpartitioned table). */
export function partitionFolder(partitionColumns: readonly string[], values: Readonly<Record<string, string | null>>): string {
  return partitionColumns
    .map((column) => {
      const value = values[column];
      return `${escapePartitionPathValue(column)}=${value === null || value === undefined ? HIVE_DEFAULT_PARTITION : escapePartitionPathValue(value)}`;
    })
    .join('/');
}

/** Characters a URI path segment may hold unencoded (RFC 2396 `pchar`); non-ASCII is kept, as Java's `URI` does. */
const URI_SAFE = /[A-Za-z0-9\-_.!~*'():@&=+$,;]/;

/** The `add.path` URI for a stored relative path. */
export function encodeAddPath(storedPath: string): string {
  return storedPath
    .split('/')
    .map((segment) => {
      let out = '';
      for (const char of segment) {
        const code = char.codePointAt(0) ?? 0;
        if (code > 0x7f || URI_SAFE.test(char)) out += char;
        else out += `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
      }
      return out;
    })
    .join('/');
}

/** The stored relative path of an `add.path`/`remove.path` URI. */
export function decodeAddPath(uriPath: string): string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uriPath) || uriPath.startsWith('/')) {
    throw new Error(`Delta file path ${JSON.stringify(uriPath)} is absolute; only paths relative to the table root are supported.`);
  }
  return uriPath
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw new Error(`Delta file path ${JSON.stringify(uriPath)} is not a valid URI: segment ${JSON.stringify(segment)} has a bad %-escape.`);
      }
    })
    .join('/');
}

/** The protocol's string form of a partition value (`null` for null and for ''). */
export function serializePartitionValue(type: SparkDataType, value: TableValue, column: string): string | null {
  if (value === null || value === '') return null;
  switch (type) {
    case 'string':
      if (typeof value !== 'string') break;
      return value;
    case 'date':
      if (typeof value !== 'string' || daysOfDate(value) === undefined) break;
      return value;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'double':
    case 'float':
      if (typeof value !== 'number') break;
      return String(value);
    case 'boolean':
      if (typeof value !== 'boolean') break;
      return value ? 'true' : 'false';
    case 'timestamp':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) break;
      return formatPartitionTimestamp(value);
    case 'binary':
      if (!Buffer.isBuffer(value)) break;
      return value.toString('utf8');
    default:
      break;
  }
  throw new Error(`Partition column "${column}" of type ${JSON.stringify(type)} cannot hold ${describeValue(value)}.`);
}

/** Parse a partition value from the log into a row value typed by the column's Spark type. */
export function parsePartitionValue(type: SparkDataType, raw: string | null | undefined, column: string): TableValue {
  if (raw === null || raw === undefined || raw === HIVE_DEFAULT_PARTITION) return null;
  switch (type) {
    case 'string':
      return raw;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'double':
    case 'float': {
      if (raw === '') return null;
      const number = Number(raw);
      if (Number.isNaN(number) && raw !== 'NaN') break;
      return number;
    }
    case 'boolean':
      if (raw === 'true' || raw === 'false') return raw === 'true';
      break;
    case 'date':
      if (DATE.test(raw)) return raw;
      break;
    case 'timestamp':
    case 'timestamp_ntz': {
      const ms = parsePartitionTimestamp(raw);
      if (ms !== undefined) return ms;
      break;
    }
    case 'binary':
      return Buffer.from(raw, 'utf8');
    default:
      if (typeof type === 'string' && type.startsWith('decimal(')) {
        const number = Number(raw);
        if (!Number.isNaN(number)) return number;
      }
      break;
  }
  throw new Error(`Partition value ${JSON.stringify(raw)} of column "${column}" is not a valid ${typeof type === 'string' ? type : type.type}.`);
}

/** `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, the protocol's timestamp partition form. */
export function formatPartitionTimestamp(epochMs: number): string {
  const iso = new Date(epochMs).toISOString(); // 2026-01-01T00:00:00.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}

function parsePartitionTimestamp(raw: string): number | undefined {
  const match = TIMESTAMP.exec(raw);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone] = match;
  // Calendar arithmetic, not Date.UTC, which reads the years 0–99 as 1900–1999.
  let ms = wallClockMs(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), Number(fraction.padEnd(3, '0').slice(0, 3)));
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return ms;
}

/** Days since the epoch of a `YYYY-MM-DD` date, or `undefined` when it is not one. */
export function daysOfDate(date: string): number | undefined {
  const match = DATE.exec(date);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // Reject dates such as 2026-02-30 (calendar arithmetic, not Date.UTC, which reads the years 0–99 as 1900–1999).
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day);
}

/** `YYYY-MM-DD` of a day number. */
export function dateOfDays(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

export function describeValue(value: unknown): string {
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}`;
  if (typeof value === 'object' && value !== null) return `a ${value.constructor?.name ?? 'object'}`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Casting a raw body value (a CSV string, or a JSON string/number/boolean/null/object/array) to a
 * spec column's type. A caster never throws: it returns the lake value or a `CastFailure`.
 *
 * Rules (documented for users; changing one changes which rows are quarantined):
 * - Missing: absent, JSON null, or an empty string (for non-string types also a blank one) is
 *   missing: null in a nullable column, `missing_value` otherwise. A string column keeps blanks.
 * - long: a whole number, as a JSON number or decimal digits with an optional sign (`"42"`, `42`,
 *   `"-7"`), within ±(2^53 − 1). `"4.2"`, `"1e3"`, `4.2` and `"abc"` are cast errors.
 * - double: a JSON number, or decimal text (`"1.5"`, `"-.5"`, `"1e3"`). `NaN`, `Infinity`, hex and
 *   values that overflow to infinity are rejected: lake aggregates would be poisoned by them.
 * - boolean: JSON true/false, the numbers 1/0, or the text `true`/`false`/`1`/`0` in any case.
 * - timestamp: ISO 8601 (the event-time reader's grammar; without an offset, the spec's event-time
 *   zone) or epoch milliseconds (a whole JSON number or digits), within the years 0001 to 9999.
 *   ISO fractions are kept to the microsecond (digits past the sixth are cut, as Spark does): the
 *   value is a lake timestamp (see lake-timestamp.ts), a bigint of epoch µs when it has digits
 *   below the millisecond. The event-time column itself is read with the spec's event-time format
 *   instead.
 * - string: text as is; JSON numbers and booleans as their JSON text; objects and arrays as JSON
 *   (however deeply nested: the body's sender picks the depth, so it is written without recursion).
 *   Text holding half of a UTF-16 surrogate pair (a JSON escape like `"\ud800"` without its
 *   partner) is a cast error: it is no Unicode text, so UTF-8, and the lake, cannot hold it as sent.
 * Numeric, boolean and timestamp text may have surrounding whitespace.
 */
import {
  compileEventTimeParser,
  compileTimestampParser,
  isEventTimeError,
  timestampMillis,
  type ColumnSpec,
  type ColumnType,
  type EventTimeParser,
  type LakeTimestamp,
  type TableValue,
  type TimestampParser,
} from '@pipeline/contracts';
import { isLakeTimestamp } from './utc-date';

export class CastFailure {
  constructor(
    readonly reason: 'missing_value' | 'cast_error',
    readonly message: string,
  ) {}
}

export type ColumnCaster = (raw: unknown) => TableValue | CastFailure;

const PREVIEW_CHARS = 60;
const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** In Unicode mode a surrogate pair is one code point, so only a lone surrogate is in category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

const EXPECTED: Readonly<Record<ColumnType, string>> = {
  string: 'Unicode text (half of a surrogate pair, like the JSON escape "\\ud800" alone, is not a character)',
  long: 'a long (a whole number like 42 or -7, within ±9007199254740991)',
  double: 'a double (a decimal number like 21.5 or 1e3; NaN and Infinity are not accepted)',
  boolean: 'a boolean (true, false, 1 or 0)',
  timestamp:
    'a timestamp (ISO 8601 like "2026-01-01T00:00:10Z" or "2026-01-01T00:00:10.123456Z", kept to the microsecond, or epoch milliseconds like 1767225610000, within the years 0001 to 9999)',
};

/** A short JSON rendering of a raw value for messages: strings quoted, long values cut. */
export function previewValue(raw: unknown): string {
  const text = typeof raw === 'string' ? raw : jsonText(raw);
  let end = PREVIEW_CHARS - 3;
  // Never between the halves of a surrogate pair: the message is stored as UTF-8.
  if (isHighSurrogate(text.charCodeAt(end - 1))) end--;
  const cut = text.length > PREVIEW_CHARS ? `${text.slice(0, end)}...` : text;
  return typeof raw === 'string' ? JSON.stringify(cut) : cut;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** The text of a JSON scalar (or the JSON text of an object/array); `undefined` for absent and null. */
export function scalarText(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return jsonText(raw);
}

type JsonFrame = { items: readonly unknown[]; next: number } | { object: Readonly<Record<string, unknown>>; keys: string[]; next: number; written: number };

/**
 * `JSON.stringify` of a parsed JSON value, with an explicit stack instead of recursion: a body
 * nested a few thousand levels deep (a few kilobytes) overflows the call stack of the built-in.
 */
export function jsonText(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  let out = '';
  const stack: JsonFrame[] = [];
  const open = (container: object): void => {
    if (Array.isArray(container)) {
      out += '[';
      stack.push({ items: container, next: 0 });
    } else {
      out += '{';
      stack.push({ object: container as Record<string, unknown>, keys: Object.keys(container), next: 0, written: 0 });
    }
  };
  open(value);
  for (let frame = stack[0]; frame !== undefined; frame = stack[stack.length - 1]) {
    let item: unknown;
    if ('items' in frame) {
      if (frame.next === frame.items.length) {
        out += ']';
        stack.pop();
        continue;
      }
      if (frame.next > 0) out += ',';
      item = frame.items[frame.next++];
      if (item === undefined) item = null; // as JSON.stringify writes a hole
    } else {
      if (frame.next === frame.keys.length) {
        out += '}';
        stack.pop();
        continue;
      }
      const key = frame.keys[frame.next++] as string;
      item = frame.object[key];
      if (item === undefined) continue; // as JSON.stringify leaves the key out
      out += `${frame.written++ > 0 ? ',' : ''}${JSON.stringify(key)}:`;
    }
    if (item !== null && typeof item === 'object') open(item);
    else out += JSON.stringify(item) ?? 'null';
  }
  return out;
}

function isMissing(raw: unknown, type: ColumnType): boolean {
  if (raw === undefined || raw === null) return true;
  if (typeof raw !== 'string') return false;
  return type === 'string' ? raw.length === 0 : raw.trim().length === 0;
}

function missingMessage(column: string, raw: unknown): string {
  const what = raw === undefined ? 'is absent from the body' : raw === null ? 'is null' : 'is empty';
  return `column "${column}" ${what} but is not nullable`;
}

/**
 * The caster for one spec column.
 * @param timeZone zone for ISO 8601 timestamps without an offset (the spec's event-time zone).
 */
export function columnCaster(column: ColumnSpec, timeZone: string): ColumnCaster {
  const convert = converter(column.type, timeZone);
  const name = column.name;
  const failure = (raw: unknown): CastFailure => new CastFailure('cast_error', `column "${name}": ${previewValue(raw)} is not ${EXPECTED[column.type]}`);
  return (raw) => {
    if (isMissing(raw, column.type)) return column.nullable ? null : new CastFailure('missing_value', missingMessage(name, raw));
    const value = convert(raw);
    return value === undefined ? failure(raw) : value;
  };
}

/** Converts a present value, or `undefined` when it does not fit the type. */
function converter(type: ColumnType, timeZone: string): (raw: unknown) => TableValue | undefined {
  switch (type) {
    case 'string':
      return toText;
    case 'long':
      return toLong;
    case 'double':
      return toDouble;
    case 'boolean':
      return toBoolean;
    case 'timestamp':
      return timestampConverter(timeZone);
  }
}

function toText(raw: unknown): string | undefined {
  const text = scalarText(raw);
  return text === undefined || (hasSurrogate(text) && LONE_SURROGATE.test(text)) ? undefined : text;
}

/** Whether any UTF-16 unit is half of a surrogate pair (most text has none, and needs no regex). */
function hasSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdfff) return true;
  }
  return false;
}

function toLong(raw: unknown): number | undefined {
  let value: number;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'string') {
    const text = raw.trim();
    const short = shortIntegerValue(text);
    if (short !== undefined) return short;
    if (!INTEGER_TEXT.test(text)) return undefined;
    value = Number(text);
  } else return undefined;
  if (!Number.isSafeInteger(value)) return undefined;
  return value === 0 ? 0 : value; // no -0
}

/**
 * The value of a sign and 1 to 15 ASCII digits (exact as summed; `-0` read as 0), as `INTEGER_TEXT`
 * and `Number` read it; `undefined` for any other text, which takes that path.
 */
function shortIntegerValue(text: string): number | undefined {
  const n = text.length;
  const first = text.charCodeAt(0);
  const start = first === 0x2d || first === 0x2b ? 1 : 0;
  if (n === start || n - start > 15) return undefined;
  let value = 0;
  for (let i = start; i < n; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return first === 0x2d && value !== 0 ? -value : value;
}

/** Digits with at most one `.` among them and an optional sign, at least one digit: text `DECIMAL_TEXT` takes, checked without a regex. */
function isPlainDecimal(text: string): boolean {
  const first = text.charCodeAt(0);
  let digits = 0;
  let points = 0;
  for (let i = first === 0x2d || first === 0x2b ? 1 : 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x30 && code <= 0x39) digits++;
    else if (code === 0x2e && points === 0) points++;
    else return false;
  }
  return digits > 0;
}

function toDouble(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (!isPlainDecimal(text) && !DECIMAL_TEXT.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function toBoolean(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') return raw === 1 ? true : raw === 0 ? false : undefined;
  if (typeof raw !== 'string') return undefined;
  switch (raw.trim().toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      return undefined;
  }
}

function timestampConverter(timeZone: string): (raw: unknown) => LakeTimestamp | undefined {
  const iso: TimestampParser = compileTimestampParser({ format: 'iso8601', timeZone });
  const epochMillis: EventTimeParser = compileEventTimeParser({ format: 'epoch_millis', timeZone: 'UTC' });
  return (raw) => {
    let value: LakeTimestamp;
    if (typeof raw === 'number') {
      if (!Number.isSafeInteger(raw)) return undefined;
      value = raw;
    } else if (typeof raw === 'string') {
      const text = raw.trim();
      const parsed = INTEGER_TEXT.test(text) ? epochMillis(text) : iso(text);
      if (isEventTimeError(parsed)) return undefined;
      value = parsed;
    } else return undefined;
    // The years are checked on the millisecond: the range's ends are whole milliseconds.
    if (!isLakeTimestamp(timestampMillis(value))) return undefined;
    return value === 0 ? 0 : value; // no -0
  };
}

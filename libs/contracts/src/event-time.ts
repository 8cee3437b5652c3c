/**
 * Reading event time from a CSV field, on the hot path: a compiled parser returns a time or an
 * `EventTimeError` value, and never throws. Two parsers share one grammar:
 * - `compileEventTimeParser` gives epoch milliseconds, rounded down (towards the past, also before
 *   1970): the millisecond event-time windows see, since windows are whole milliseconds;
 * - `compileTimestampParser` gives the lake timestamp value (see lake-timestamp.ts), keeping the
 *   microseconds the value states: epoch ms as a number for a whole millisecond, else epoch µs as
 *   a bigint. Its milliseconds, rounded down, are exactly what `compileEventTimeParser` gives.
 *
 * Formats (the spec's `eventTime.format`):
 * - `iso8601`: `yyyy-MM-dd`, optionally `T` (or a space) `HH:mm`, `:ss`, `.fraction` (1–9 digits,
 *   `.` or `,`), then optionally `Z` or an offset `±HH`, `±HHMM`, `±HH:MM`. Without an offset the
 *   value is local time in `timeZone`. Fraction digits past the sixth (below the microsecond) are
 *   cut, as Spark does when it reads a timestamp.
 * - `epoch_millis`: an integer; `epoch_seconds`: an integer or decimal number of seconds (digits
 *   past the sixth decimal cut, like ISO fractions).
 * - a pattern of the tokens `yyyy MM dd HH mm ss SSS` and literal characters (letters in single
 *   quotes, `''` for a quote), e.g. `dd/MM/yyyy HH:mm` or `yyyyMMdd'T'HHmmss`, read in `timeZone`.
 *   `yyyy`, `MM` and `dd` are required; missing time fields are zero.
 *
 * Local times are resolved like java.time (see `TimeZoneRules`): in an overlap the earlier offset
 * wins; a time in a gap is shifted forward by the gap. Surrounding whitespace is ignored; an empty
 * value is `missing`.
 */
import { MAX_EPOCH_MS } from '@pipeline/engine';
import { daysInMonth, TimeZoneRules, wallClockMs } from './time-zone';
import { lakeTimestamp, type LakeTimestamp } from './lake-timestamp';
import type { EventTimeSpec } from './spec.types';

export interface EventTimeError {
  reason: 'missing' | 'unparseable';
  message: string;
}

/** Epoch milliseconds (rounded down), or why the value is not a time. */
export type EventTimeParser = (raw: string | null | undefined) => number | EventTimeError;

/** The lake timestamp value (microseconds kept), or why the value is not a time. */
export type TimestampParser = (raw: string | null | undefined) => LakeTimestamp | EventTimeError;

/** Where a parser leaves the microseconds below the millisecond (0–999) of the value it read. */
interface SubMillis {
  micros: number;
}

/** Epoch milliseconds rounded down, with the rest in `sub.micros` (set on every successful read). */
type CoreParser = (raw: string | null | undefined, sub: SubMillis) => number | EventTimeError;

export const EVENT_TIME_FORMATS = ['iso8601', 'epoch_millis', 'epoch_seconds'] as const;

export { MAX_EPOCH_MS };
const MAX_OFFSET_MINUTES = 18 * 60;

const DIGIT_0 = 48;
const DIGIT_9 = 57;

function isDigit(code: number): boolean {
  return code >= DIGIT_0 && code <= DIGIT_9;
}

/** The integer in `text[start, start + width)`, or -1 when any character is not a digit. */
function readDigits(text: string, start: number, width: number): number {
  let value = 0;
  for (let i = start; i < start + width; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    value = value * 10 + (code - DIGIT_0);
  }
  return value;
}

function validFields(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  return (
    year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59
  );
}

function quoteValue(raw: string): string {
  return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw);
}

// ---------------------------------------------------------------- patterns

type PatternToken = 'yyyy' | 'MM' | 'dd' | 'HH' | 'mm' | 'ss' | 'SSS';
const PATTERN_TOKENS: readonly PatternToken[] = ['yyyy', 'SSS', 'MM', 'dd', 'HH', 'mm', 'ss'];
const REQUIRED_TOKENS: readonly PatternToken[] = ['yyyy', 'MM', 'dd'];

interface CompiledPattern {
  length: number;
  literals: { offset: number; code: number }[];
  fields: { offset: number; token: PatternToken }[];
}

/** A compiled pattern, or a message that says what is wrong with it. */
function compilePattern(pattern: string): CompiledPattern | string {
  const literals: CompiledPattern['literals'] = [];
  const fields: CompiledPattern['fields'] = [];
  const seen = new Set<PatternToken>();
  let offset = 0;
  let i = 0;
  while (i < pattern.length) {
    const char = pattern[i];
    if (char === "'") {
      if (pattern[i + 1] === "'") {
        literals.push({ offset: offset++, code: 39 });
        i += 2;
        continue;
      }
      const close = pattern.indexOf("'", i + 1);
      if (close < 0) return `an unclosed quote at position ${i + 1}`;
      for (let j = i + 1; j < close; j++) literals.push({ offset: offset++, code: pattern.charCodeAt(j) });
      i = close + 1;
      continue;
    }
    const token = PATTERN_TOKENS.find((t) => pattern.startsWith(t, i));
    if (token !== undefined) {
      if (seen.has(token)) return `"${token}" twice`;
      seen.add(token);
      fields.push({ offset, token });
      offset += token.length;
      i += token.length;
      continue;
    }
    if (/[A-Za-z]/.test(char)) {
      let end = i;
      while (end < pattern.length && pattern[end] === char) end++;
      return `the unknown pattern letters "${pattern.slice(i, end)}" at position ${i + 1} (use yyyy MM dd HH mm ss SSS; quote literal letters like 'T')`;
    }
    literals.push({ offset: offset++, code: pattern.charCodeAt(i) });
    i++;
  }
  const missing = REQUIRED_TOKENS.filter((t) => !seen.has(t));
  if (missing.length > 0) return `no ${missing.join(', ')} (a pattern needs yyyy, MM and dd)`;
  return { length: offset, literals, fields };
}

/**
 * `undefined` when `format` is usable, otherwise why not (for spec validation messages).
 */
export function checkEventTimeFormat(format: string): string | undefined {
  if ((EVENT_TIME_FORMATS as readonly string[]).includes(format)) return undefined;
  const compiled = compilePattern(format);
  return typeof compiled === 'string' ? compiled : undefined;
}

/** Whether a format is a pattern (read in the time zone) rather than one of the named formats. */
export function isEventTimePattern(format: string): boolean {
  return !(EVENT_TIME_FORMATS as readonly string[]).includes(format);
}

function patternParser(pattern: string, compiled: CompiledPattern, zone: TimeZoneRules): CoreParser {
  const expected = `a time like the pattern "${pattern}"`;
  return (raw, sub) => {
    if (raw === null || raw === undefined) return missing();
    const text = raw.trim();
    if (text.length === 0) return missing();
    if (text.length !== compiled.length) return unparseable(raw, `${expected} (${compiled.length} characters)`);
    for (const literal of compiled.literals) {
      if (text.charCodeAt(literal.offset) !== literal.code) return unparseable(raw, expected);
    }
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let millis = 0;
    for (const field of compiled.fields) {
      const value = readDigits(text, field.offset, field.token.length);
      if (value < 0) return unparseable(raw, expected);
      switch (field.token) {
        case 'yyyy':
          year = value;
          break;
        case 'MM':
          month = value;
          break;
        case 'dd':
          day = value;
          break;
        case 'HH':
          hour = value;
          break;
        case 'mm':
          minute = value;
          break;
        case 'ss':
          second = value;
          break;
        case 'SSS':
          millis = value;
          break;
      }
    }
    if (!validFields(year, month, day, hour, minute, second)) return unparseable(raw, `${expected} with a real date and time`);
    sub.micros = 0;
    return zone.localToEpochMs(wallClockMs(year, month, day, hour, minute, second, millis));
  };
}

// ---------------------------------------------------------------- ISO 8601

const ISO_EXPECTED = 'an ISO 8601 time like "2026-01-01T00:00:10Z" or "2026-01-01T01:00:10.123456+01:00" (fractions to the microsecond)';
/** Fraction digits read; later ones (below the microsecond) are cut. */
const FRACTION_DIGITS = 6;
const FRACTION_SCALE = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];

function iso8601Parser(zone: TimeZoneRules): CoreParser {
  return (raw, sub) => {
    if (raw === null || raw === undefined) return missing();
    const text = raw.trim();
    const n = text.length;
    if (n === 0) return missing();
    if (n < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return unparseable(raw, ISO_EXPECTED);
    const year = readDigits(text, 0, 4);
    const month = readDigits(text, 5, 2);
    const day = readDigits(text, 8, 2);
    if (year < 0 || month < 0 || day < 0) return unparseable(raw, ISO_EXPECTED);
    let hour = 0;
    let minute = 0;
    let second = 0;
    let micros = 0;
    let i = 10;
    if (i < n) {
      const separator = text[i];
      if (separator !== 'T' && separator !== 't' && separator !== ' ') return unparseable(raw, ISO_EXPECTED);
      if (i + 6 > n || text.charCodeAt(i + 3) !== 58) return unparseable(raw, ISO_EXPECTED);
      hour = readDigits(text, i + 1, 2);
      minute = readDigits(text, i + 4, 2);
      if (hour < 0 || minute < 0) return unparseable(raw, ISO_EXPECTED);
      i += 6;
      if (i < n && text.charCodeAt(i) === 58) {
        second = i + 3 <= n ? readDigits(text, i + 1, 2) : -1;
        if (second < 0) return unparseable(raw, ISO_EXPECTED);
        i += 3;
        if (i < n && (text[i] === '.' || text[i] === ',')) {
          let digits = 0;
          let fraction = 0;
          i++;
          while (i < n && isDigit(text.charCodeAt(i))) {
            if (digits < FRACTION_DIGITS) fraction = fraction * 10 + (text.charCodeAt(i) - DIGIT_0);
            digits++;
            i++;
          }
          if (digits === 0 || digits > 9) return unparseable(raw, ISO_EXPECTED);
          micros = fraction * FRACTION_SCALE[Math.min(digits, FRACTION_DIGITS)];
        }
      }
    }
    if (!validFields(year, month, day, hour, minute, second)) return unparseable(raw, `${ISO_EXPECTED} with a real date and time`);
    // Offsets are whole minutes (zone rules whole milliseconds): the microseconds below stay as read.
    const subMicros = micros % 1000;
    const local = wallClockMs(year, month, day, hour, minute, second, (micros - subMicros) / 1000);
    sub.micros = subMicros;
    if (i === n) return zone.localToEpochMs(local);
    const designator = text[i];
    if ((designator === 'Z' || designator === 'z') && i + 1 === n) return local;
    if (designator !== '+' && designator !== '-') return unparseable(raw, ISO_EXPECTED);
    const offsetText = text.slice(i + 1);
    let offsetHours: number;
    let offsetMinutes = 0;
    if (offsetText.length === 2) offsetHours = readDigits(offsetText, 0, 2);
    else if (offsetText.length === 4) {
      offsetHours = readDigits(offsetText, 0, 2);
      offsetMinutes = readDigits(offsetText, 2, 2);
    } else if (offsetText.length === 5 && offsetText[2] === ':') {
      offsetHours = readDigits(offsetText, 0, 2);
      offsetMinutes = readDigits(offsetText, 3, 2);
    } else return unparseable(raw, ISO_EXPECTED);
    const offset = offsetHours * 60 + offsetMinutes;
    if (offsetHours < 0 || offsetMinutes < 0 || offsetMinutes > 59 || offset > MAX_OFFSET_MINUTES) return unparseable(raw, `${ISO_EXPECTED} with an offset within ±18:00`);
    return local - (designator === '-' ? -offset : offset) * 60_000;
  };
}

// ---------------------------------------------------------------- epochs

const EPOCH_MILLIS_EXPECTED = 'epoch milliseconds, an integer like 1767225610000';
const EPOCH_SECONDS_EXPECTED = 'epoch seconds, a number like 1767225610 or 1767225610.123456 (decimals to the microsecond)';

function epochMillisParser(): CoreParser {
  return (raw, sub) => {
    if (raw === null || raw === undefined) return missing();
    const text = raw.trim();
    if (text.length === 0) return missing();
    if (!/^[+-]?\d{1,16}$/.test(text)) return unparseable(raw, EPOCH_MILLIS_EXPECTED);
    const value = Number(text);
    if (Math.abs(value) > MAX_EPOCH_MS) return unparseable(raw, `${EPOCH_MILLIS_EXPECTED} within ±${MAX_EPOCH_MS}`);
    sub.micros = 0;
    return value === 0 ? 0 : value; // no -0
  };
}

const EPOCH_SECONDS = /^([+-]?)(\d{1,13})(?:\.(\d+))?$/;

function epochSecondsParser(): CoreParser {
  return (raw, sub) => {
    if (raw === null || raw === undefined) return missing();
    const text = raw.trim();
    if (text.length === 0) return missing();
    const match = EPOCH_SECONDS.exec(text);
    if (match === null) return unparseable(raw, EPOCH_SECONDS_EXPECTED);
    const fraction = match[3] === undefined ? 0 : Number(match[3].slice(0, FRACTION_DIGITS).padEnd(FRACTION_DIGITS, '0'));
    const subMicros = fraction % 1000;
    const magnitude = Number(match[2]) * 1000 + (fraction - subMicros) / 1000;
    if (magnitude > MAX_EPOCH_MS || (magnitude === MAX_EPOCH_MS && subMicros > 0)) return unparseable(raw, `${EPOCH_SECONDS_EXPECTED} within ±${MAX_EPOCH_MS / 1000}`);
    if (match[1] !== '-') {
      sub.micros = subMicros;
      return magnitude;
    }
    // Before the epoch the millisecond is rounded down too: -0.0005 s is 500 µs into millisecond -1.
    sub.micros = subMicros === 0 ? 0 : 1000 - subMicros;
    return subMicros === 0 ? (magnitude === 0 ? 0 : -magnitude) : -magnitude - 1;
  };
}

// ---------------------------------------------------------------- errors

function missing(): EventTimeError {
  return { reason: 'missing', message: 'the event time is empty' };
}

function unparseable(raw: string, expected: string): EventTimeError {
  return { reason: 'unparseable', message: `the event time ${quoteValue(raw)} is not ${expected}` };
}

export function isEventTimeError(value: LakeTimestamp | EventTimeError): value is EventTimeError {
  return typeof value === 'object';
}

/**
 * A parser for one spec's event time, giving epoch milliseconds rounded down. Compile once per spec
 * and reuse: it caches zone offsets.
 * @throws RangeError for an unknown format or time zone (parseSpec reports these first).
 */
export function compileEventTimeParser(spec: Pick<EventTimeSpec, 'format' | 'timeZone'>): EventTimeParser {
  const core = compileCoreParser(spec);
  const sub: SubMillis = { micros: 0 };
  return (raw) => core(raw, sub);
}

/**
 * A parser for one spec's event time (or a timestamp column), giving the lake timestamp value with
 * the microseconds the text states. Compile once per spec and reuse.
 * @throws RangeError for an unknown format or time zone (parseSpec reports these first).
 */
export function compileTimestampParser(spec: Pick<EventTimeSpec, 'format' | 'timeZone'>): TimestampParser {
  const core = compileCoreParser(spec);
  const sub: SubMillis = { micros: 0 };
  return (raw) => {
    const ms = core(raw, sub);
    return typeof ms === 'number' && sub.micros !== 0 ? lakeTimestamp(ms, sub.micros) : ms;
  };
}

function compileCoreParser(spec: Pick<EventTimeSpec, 'format' | 'timeZone'>): CoreParser {
  switch (spec.format) {
    case 'epoch_millis':
      return epochMillisParser();
    case 'epoch_seconds':
      return epochSecondsParser();
    case 'iso8601':
      return iso8601Parser(new TimeZoneRules(spec.timeZone));
    default: {
      const compiled = compilePattern(spec.format);
      if (typeof compiled === 'string') throw new RangeError(`event time format "${spec.format}" has ${compiled}`);
      return patternParser(spec.format, compiled, new TimeZoneRules(spec.timeZone));
    }
  }
}

import fc from 'fast-check';
import {
  checkEventTimeFormat,
  compileEventTimeParser,
  compileTimestampParser,
  isEventTimeError,
  type EventTimeError,
  type EventTimeParser,
  type TimestampParser,
} from './event-time';
import { timestampMicros, timestampMillis, type LakeTimestamp } from './lake-timestamp';
import { isKnownTimeZone, TimeZoneRules } from './time-zone';

const utc = (iso: string): number => Date.parse(iso);

function parser(format: string, timeZone = 'UTC'): EventTimeParser {
  return compileEventTimeParser({ format, timeZone });
}

function timestampParser(format: string, timeZone = 'UTC'): TimestampParser {
  return compileTimestampParser({ format, timeZone });
}

function errorOf(result: LakeTimestamp | EventTimeError): EventTimeError {
  if (!isEventTimeError(result)) throw new Error(`expected an error, got ${String(result)}`);
  return result;
}

/** Epoch microseconds of an ISO time with a fraction of up to 6 digits (Date.parse stops at ms). */
function utcMicros(iso: string): bigint {
  const match = /^(.*?)(?:\.(\d{1,6}))?Z$/.exec(iso) as RegExpExecArray;
  const micros = Number((match[2] ?? '').padEnd(6, '0'));
  return BigInt(Date.parse(`${match[1]}Z`)) * 1000n + BigInt(micros);
}

describe('iso8601 event times', () => {
  const iso = parser('iso8601');

  it('reads UTC times with and without fractional seconds', () => {
    expect(iso('2026-01-01T00:00:10Z')).toBe(utc('2026-01-01T00:00:10Z'));
    expect(iso('2026-01-01T00:00:10.5Z')).toBe(utc('2026-01-01T00:00:10.500Z'));
    expect(iso('2026-01-01T00:00:10,25Z')).toBe(utc('2026-01-01T00:00:10.250Z'));
    expect(iso('2026-01-01T00:00:10.123456789Z')).toBe(utc('2026-01-01T00:00:10.123Z'));
    expect(iso('2026-01-01t00:00:10z')).toBe(utc('2026-01-01T00:00:10Z'));
  });

  it('applies explicit offsets in every accepted form, ignoring the time zone', () => {
    const paris = parser('iso8601', 'Europe/Paris');
    expect(paris('2026-01-01T01:00:10+01:00')).toBe(utc('2026-01-01T00:00:10Z'));
    expect(paris('2025-12-31T18:30:10-0530')).toBe(utc('2026-01-01T00:00:10Z'));
    expect(paris('2026-01-01T05:00:10+05')).toBe(utc('2026-01-01T00:00:10Z'));
    expect(paris('2026-01-01T00:00:10-00:00')).toBe(utc('2026-01-01T00:00:10Z'));
  });

  it('reads a value without an offset in the configured time zone', () => {
    expect(iso('2026-07-01T12:00:00')).toBe(utc('2026-07-01T12:00:00Z'));
    expect(parser('iso8601', 'Europe/Paris')('2026-07-01T12:00:00')).toBe(utc('2026-07-01T10:00:00Z'));
    expect(parser('iso8601', 'Europe/Paris')('2026-01-15 12:00')).toBe(utc('2026-01-15T11:00:00Z'));
    expect(parser('iso8601', 'Asia/Tokyo')('2026-01-01')).toBe(utc('2025-12-31T15:00:00Z'));
    expect(parser('iso8601', 'Asia/Kolkata')('2026-01-01T05:30:00')).toBe(utc('2026-01-01T00:00:00Z'));
  });

  it('ignores surrounding whitespace', () => {
    expect(iso('  2026-01-01T00:00:10Z \t')).toBe(utc('2026-01-01T00:00:10Z'));
  });

  it('reports empty values as missing, not unparseable', () => {
    for (const raw of ['', '   ', undefined, null]) expect(errorOf(iso(raw)).reason).toBe('missing');
  });

  it('reports malformed or impossible times as unparseable, naming the value and the expected form', () => {
    const error = errorOf(iso('5 minutes ago'));
    expect(error.reason).toBe('unparseable');
    expect(error.message).toBe(
      'the event time "5 minutes ago" is not an ISO 8601 time like "2026-01-01T00:00:10Z" or "2026-01-01T01:00:10.123456+01:00" (fractions to the microsecond)',
    );
    for (const raw of [
      '2026-13-01T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:60:00Z',
      '2026-01-01T10:00:60Z',
      '2026/01/01T00:00:00Z',
      '2026-01-01T00:00:00.Z',
      '2026-01-01T00:00:00+25:00',
      '2026-01-01T00:00:00+01:0',
      '2026-01-01T00Z',
      '2026-01-01X00:00:00',
      '2026-01-01T00:00:00Zjunk',
      '1767225610000',
    ]) {
      expect([raw, errorOf(iso(raw)).reason]).toEqual([raw, 'unparseable']);
    }
  });

  it('accepts February 29 in a leap year', () => {
    expect(iso('2028-02-29T12:00:00Z')).toBe(utc('2028-02-29T12:00:00Z'));
  });
});

describe('iso8601 timestamps to the microsecond', () => {
  const exact = timestampParser('iso8601');
  const millis = parser('iso8601');

  it('keeps the microseconds of a fraction of up to 6 digits, as a bigint of epoch microseconds', () => {
    expect(exact('2026-01-01T00:00:10.123456Z')).toBe(utcMicros('2026-01-01T00:00:10.123456Z'));
    expect(exact('2026-01-01T00:00:10.123456Z')).toBe(1_767_225_610_123_456n);
    expect(exact('2026-01-01T00:00:10.0000001Z')).toBe(1_767_225_610_000); // below the microsecond: cut
    expect(exact('2026-01-01T00:00:10.00001Z')).toBe(1_767_225_610_000_010n);
    expect(exact('2026-01-01T00:00:10,5000009Z')).toBe(1_767_225_610_500); // the comma, and a 7th digit cut
  });

  it('gives a whole millisecond as a number of epoch milliseconds, as before', () => {
    for (const raw of ['2026-01-01T00:00:10Z', '2026-01-01T00:00:10.5Z', '2026-01-01T00:00:10.123000Z', '2026-01-01T00:00:10.123000999Z']) {
      const value = exact(raw);
      expect([raw, typeof value]).toEqual([raw, 'number']);
      expect(value).toBe(millis(raw));
    }
  });

  it('cuts fraction digits past the sixth, as Spark does', () => {
    expect(exact('2026-01-01T00:00:10.123456789Z')).toBe(1_767_225_610_123_456n);
    expect(exact('2026-01-01T00:00:10.999999999Z')).toBe(1_767_225_610_999_999n);
    expect(errorOf(exact('2026-01-01T00:00:10.1234567890Z')).reason).toBe('unparseable');
  });

  it('applies offsets and time zones without touching the microseconds', () => {
    expect(exact('2026-01-01T01:00:10.123456+01:00')).toBe(1_767_225_610_123_456n);
    expect(exact('2025-12-31T18:30:10.000001-0530')).toBe(1_767_225_610_000_001n);
    expect(timestampParser('iso8601', 'Europe/Paris')('2026-07-01T12:00:00.000999')).toBe(utcMicros('2026-07-01T10:00:00.000999Z'));
  });

  it('holds the years 0001 and 9999 exactly, beyond the integers a number holds', () => {
    const first = exact('0001-01-01T00:00:00.000001Z');
    const last = exact('9999-12-31T23:59:59.999999Z');
    expect(first).toBe(-62_135_596_799_999_999n);
    expect(last).toBe(253_402_300_799_999_999n);
    expect(Number.isSafeInteger(Number(first))).toBe(false);
    expect(timestampMillis(first as bigint)).toBe(utc('0001-01-01T00:00:00Z'));
    expect(timestampMillis(last as bigint)).toBe(utc('9999-12-31T23:59:59.999Z'));
  });

  it('rounds down to the millisecond for event-time windows, also before 1970', () => {
    expect(millis('2026-01-01T00:00:10.123456Z')).toBe(utc('2026-01-01T00:00:10.123Z'));
    expect(millis('2026-01-01T00:00:10.123999Z')).toBe(utc('2026-01-01T00:00:10.123Z'));
    // 1969-12-31T23:59:59.999999Z is 1 µs before the epoch: millisecond -1, not 0.
    expect(millis('1969-12-31T23:59:59.999999Z')).toBe(-1);
    expect(exact('1969-12-31T23:59:59.999999Z')).toBe(-1n);
    expect(millis('1969-12-31T23:59:59.000001Z')).toBe(-1000);
  });

  it('always agrees with the millisecond reader on the millisecond, and keeps what the text states', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -62_135_596_800, max: 253_402_300_799 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom('UTC', 'Europe/Paris', 'America/St_Johns'),
        (epochSeconds, nanos, digits, zone) => {
          const fraction = String(nanos).padStart(9, '0').slice(0, digits);
          const date = new Date(epochSeconds * 1000).toISOString().slice(0, 19);
          const text = `${date}.${fraction}${zone === 'UTC' ? 'Z' : '+00:00'}`;
          const value = timestampParser('iso8601', zone)(text);
          const ms = parser('iso8601', zone)(text);
          if (isEventTimeError(value) || isEventTimeError(ms)) return false;
          const micros = BigInt(epochSeconds) * 1_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 6));
          return timestampMicros(value) === micros && timestampMillis(value) === ms && (typeof value === 'number') === (micros % 1000n === 0n);
        },
      ),
      { numRuns: 2_000, seed: 20260102 },
    );
  });
});

describe('local times across daylight saving transitions (java.time rules)', () => {
  it('reads a time in a spring-forward gap with the offset before the gap (shifted forward)', () => {
    // Paris 2026-03-29: 02:00 CET → 03:00 CEST; 02:30 does not exist and reads as 03:30 CEST.
    expect(parser('iso8601', 'Europe/Paris')('2026-03-29T02:30:00')).toBe(utc('2026-03-29T01:30:00Z'));
    expect(parser('iso8601', 'America/New_York')('2026-03-08T02:30:00')).toBe(utc('2026-03-08T07:30:00Z'));
  });

  it('reads an ambiguous time in a fall-back overlap with the earlier offset', () => {
    // Paris 2026-10-25: 03:00 CEST → 02:00 CET; 02:30 happens twice, the first time at 00:30Z.
    expect(parser('iso8601', 'Europe/Paris')('2026-10-25T02:30:00')).toBe(utc('2026-10-25T00:30:00Z'));
    expect(parser('iso8601', 'America/New_York')('2026-11-01T01:30:00')).toBe(utc('2026-11-01T05:30:00Z'));
  });

  it('handles half-hour transitions', () => {
    // Lord Howe Island moves between +10:30 and +11:00.
    const lordHowe = parser('iso8601', 'Australia/Lord_Howe');
    expect(lordHowe('2026-04-05T01:45:00')).toBe(utc('2026-04-04T14:45:00Z')); // overlap: +11:00
    expect(lordHowe('2026-10-04T02:15:00')).toBe(utc('2026-10-03T15:45:00Z')); // gap: +10:30
  });

  it('reads times just around a transition with the offset in force', () => {
    const paris = parser('yyyy-MM-dd HH:mm:ss', 'Europe/Paris');
    expect(paris('2026-03-29 01:59:59')).toBe(utc('2026-03-29T00:59:59Z'));
    expect(paris('2026-03-29 03:00:00')).toBe(utc('2026-03-29T01:00:00Z'));
    expect(paris('2026-10-25 01:59:59')).toBe(utc('2026-10-24T23:59:59Z'));
    expect(paris('2026-10-25 03:00:00')).toBe(utc('2026-10-25T02:00:00Z'));
  });

  it('round-trips any wall-clock time, choosing the earlier instant when a local time repeats', () => {
    const zones = ['Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'America/Sao_Paulo', 'Asia/Kolkata', 'Pacific/Apia'];
    const parsers = new Map(zones.map((zone) => [zone, parser('yyyy-MM-dd HH:mm:ss', zone)]));
    const formats = new Map(
      zones.map((zone) => [
        zone,
        new Intl.DateTimeFormat('en-CA', {
          timeZone: zone,
          hourCycle: 'h23',
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        }),
      ]),
    );
    const wallClock = (zone: string, epochMs: number): string => {
      const parts = Object.fromEntries((formats.get(zone) as Intl.DateTimeFormat).formatToParts(epochMs).map((p) => [p.type, p.value]));
      return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
    };
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: 0, max: 4_102_444_800 }), (zone, epochSeconds) => {
        const instant = epochSeconds * 1000;
        const local = wallClock(zone, instant);
        const read = (parsers.get(zone) as EventTimeParser)(local);
        if (isEventTimeError(read)) return false;
        // Same wall clock, and never later than the original (the earlier of two repeats).
        return wallClock(zone, read) === local && read <= instant && instant - read <= 3 * 3_600_000;
      }),
      { numRuns: 2_000, seed: 20260101 },
    );
  });
});

describe('pattern event times', () => {
  it('reads day-first and compact patterns with quoted literals', () => {
    expect(parser('dd/MM/yyyy HH:mm:ss', 'Europe/Paris')('01/07/2026 12:00:00')).toBe(utc('2026-07-01T10:00:00Z'));
    expect(parser("yyyyMMdd'T'HHmmssSSS")('20260101T000010250')).toBe(utc('2026-01-01T00:00:10.250Z'));
    expect(parser('yyyy-MM-dd')('2026-01-02')).toBe(utc('2026-01-02T00:00:00Z'));
    expect(parser("HH'h'mm dd.MM.yyyy")('09h05 02.01.2026')).toBe(utc('2026-01-02T09:05:00Z'));
    expect(parser("yyyy-MM-dd''HH")("2026-01-02'07")).toBe(utc('2026-01-02T07:00:00Z'));
  });

  it('rejects values that do not follow the pattern or are not real times', () => {
    const p = parser('dd/MM/yyyy HH:mm');
    for (const raw of ['01-07-2026 12:00', '1/07/2026 12:00', '01/07/2026 12:00:00', '31/02/2026 12:00', '01/07/2026 25:00', 'ab/07/2026 12:00']) {
      expect([raw, errorOf(p(raw)).reason]).toEqual([raw, 'unparseable']);
    }
    expect(errorOf(p('01-07-2026 12:00')).message).toBe('the event time "01-07-2026 12:00" is not a time like the pattern "dd/MM/yyyy HH:mm"');
    expect(errorOf(p('')).reason).toBe('missing');
  });
});

describe('epoch event times', () => {
  it('reads epoch milliseconds as integers only', () => {
    const millis = parser('epoch_millis');
    expect(millis('1767225610000')).toBe(1_767_225_610_000);
    expect(millis(' -1000 ')).toBe(-1000);
    expect(millis('-0')).toBe(0);
    expect(Object.is(millis('-0'), -0)).toBe(false);
    for (const raw of ['1767225610000.5', '1.7e12', '0x10', 'now', '99999999999999999']) expect([raw, errorOf(millis(raw)).reason]).toEqual([raw, 'unparseable']);
    expect(errorOf(millis('')).reason).toBe('missing');
  });

  it('reads epoch seconds with a fraction, rounding down to the millisecond', () => {
    const seconds = parser('epoch_seconds');
    expect(seconds('1767225610')).toBe(1_767_225_610_000);
    expect(seconds('1767225610.25')).toBe(1_767_225_610_250);
    expect(seconds('1767225610.123999')).toBe(1_767_225_610_123);
    expect(seconds('-1.5')).toBe(-1500);
    expect(seconds('-1.2345')).toBe(-1235); // towards the past, like every other reading
    expect(seconds('-0.0005')).toBe(-1);
    for (const raw of ['1767225610.', '.5', '1e9', 'soon', '99999999999999']) expect([raw, errorOf(seconds(raw)).reason]).toEqual([raw, 'unparseable']);
    expect(errorOf(seconds('  ')).reason).toBe('missing');
  });

  it('keeps the microseconds of epoch seconds, cutting digits past the sixth decimal', () => {
    const seconds = timestampParser('epoch_seconds');
    expect(seconds('1767225610.123456')).toBe(1_767_225_610_123_456n);
    expect(seconds('1767225610.1234567')).toBe(1_767_225_610_123_456n);
    expect(seconds('1767225610.123')).toBe(1_767_225_610_123);
    expect(seconds('-1.2345')).toBe(-1_234_500n);
    expect(seconds('-0.000001')).toBe(-1n);
    expect(seconds('-0.0000001')).toBe(0);
    expect(timestampParser('epoch_millis')('1767225610123')).toBe(1_767_225_610_123);
    expect(timestampParser('yyyy-MM-dd HH:mm:ss.SSS')('2026-01-01 00:00:10.123')).toBe(1_767_225_610_123);
  });
});

describe('event time formats and zones', () => {
  it('accepts the named formats and well-formed patterns', () => {
    for (const format of ['iso8601', 'epoch_millis', 'epoch_seconds', 'yyyy-MM-dd HH:mm:ss.SSS', "yyyy-MM-dd'T'HH:mm"]) expect(checkEventTimeFormat(format)).toBeUndefined();
  });

  it('explains what is wrong with a bad pattern', () => {
    expect(checkEventTimeFormat('yyyy-MM-dd hh:mm')).toContain('"hh" at position 12');
    expect(checkEventTimeFormat('yy-MM-dd')).toContain('"yy"');
    expect(checkEventTimeFormat('yyyy-MM-dd a')).toContain('"a"');
    expect(checkEventTimeFormat('HH:mm')).toBe('no yyyy, MM, dd (a pattern needs yyyy, MM and dd)');
    expect(checkEventTimeFormat('yyyy-MM-dd-dd')).toBe('"dd" twice');
    expect(checkEventTimeFormat("yyyy-MM-dd'T")).toBe('an unclosed quote at position 11');
    expect(checkEventTimeFormat('iso')).toContain('unknown pattern letters');
  });

  it('refuses to compile an unknown format or time zone', () => {
    expect(() => compileEventTimeParser({ format: 'yyyy-MM-dd hh', timeZone: 'UTC' })).toThrow(RangeError);
    expect(() => compileEventTimeParser({ format: 'iso8601', timeZone: 'Mars/Olympus' })).toThrow(RangeError);
  });

  it('knows IANA zones and rejects made-up ones', () => {
    expect(isKnownTimeZone('Europe/Paris')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Europe/Pariss')).toBe(false);
    expect(isKnownTimeZone('')).toBe(false);
  });

  it('reports zone offsets including historical local mean time to the second', () => {
    const paris = new TimeZoneRules('Europe/Paris');
    expect(paris.offsetAt(utc('2026-01-15T00:00:00Z'))).toBe(3_600_000);
    expect(paris.offsetAt(utc('2026-07-15T00:00:00Z'))).toBe(7_200_000);
    expect(paris.offsetAt(utc('1890-01-01T00:00:00Z'))).toBe((9 * 60 + 21) * 1000);
    expect(new TimeZoneRules('Etc/UTC').offsetAt(utc('2026-07-15T00:00:00Z'))).toBe(0);
  });
});

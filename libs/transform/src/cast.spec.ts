import * as fc from 'fast-check';
import type { ColumnSpec, ColumnType } from '@pipeline/contracts';
import { CastFailure, columnCaster, jsonText, previewValue, scalarText } from './cast';

function cast(type: ColumnType, raw: unknown, nullable = false, timeZone = 'UTC'): unknown {
  const column: ColumnSpec = { name: 'c', type, nullable };
  return columnCaster(column, timeZone)(raw);
}

function failure(type: ColumnType, raw: unknown, nullable = false): CastFailure {
  const result = cast(type, raw, nullable);
  if (!(result instanceof CastFailure)) throw new Error(`expected ${JSON.stringify(raw)} to fail as ${type}, got ${JSON.stringify(result)}`);
  return result;
}

describe('columnCaster', () => {
  describe('missing values', () => {
    it.each<ColumnType>(['string', 'long', 'double', 'boolean', 'timestamp'])('stores null for an absent, null or empty %s value in a nullable column', (type) => {
      for (const raw of [undefined, null, '']) expect(cast(type, raw, true)).toBeNull();
    });

    it.each<ColumnType>(['string', 'long', 'double', 'boolean', 'timestamp'])(
      'reports missing_value for an absent, null or empty %s value in a column that is not nullable',
      (type) => {
        expect(failure(type, undefined).message).toBe('column "c" is absent from the body but is not nullable');
        expect(failure(type, null).message).toBe('column "c" is null but is not nullable');
        expect(failure(type, '').reason).toBe('missing_value');
      },
    );

    it('treats a blank value as missing for typed columns but keeps it in a string column', () => {
      expect(failure('double', '   ').reason).toBe('missing_value');
      expect(cast('long', ' \t', true)).toBeNull();
      expect(cast('string', '   ')).toBe('   ');
    });
  });

  describe('long', () => {
    it('accepts whole numbers as text or JSON numbers, with a sign and surrounding spaces', () => {
      expect(cast('long', '42')).toBe(42);
      expect(cast('long', 42)).toBe(42);
      expect(cast('long', '-7')).toBe(-7);
      expect(cast('long', '+7')).toBe(7);
      expect(cast('long', ' 007 ')).toBe(7);
      expect(Object.is(cast('long', '-0'), 0)).toBe(true);
      expect(cast('long', '9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
      expect(cast('long', -9007199254740991)).toBe(Number.MIN_SAFE_INTEGER);
    });

    it.each([['4.2'], [4.2], ['1e3'], ['abc'], ['9007199254740992'], [9007199254740992], ['0x10'], [true], [[1]], [{ a: 1 }], ['1 000']])('rejects %p', (raw) => {
      expect(failure('long', raw).reason).toBe('cast_error');
    });

    it('rejects a JSON number beyond ±(2^53 − 1), which JSON.parse has already rounded, instead of keeping the rounded value', () => {
      // 9007199254740993 is read as 9007199254740992 (2^53): not a safe integer, so never stored.
      for (const json of ['9007199254740993', '9007199254740992', '-9007199254740993', '18014398509481985', '9007199254740991.5', '1e16']) {
        const parsed = (JSON.parse(`{"c":${json}}`) as { c: unknown }).c;
        expect([json, Number.isSafeInteger(parsed)]).toEqual([json, false]);
        expect([json, failure('long', parsed).message]).toEqual([json, `column "c": ${String(parsed)} is not a long (a whole number like 42 or -7, within ±9007199254740991)`]);
      }
      expect(cast('long', (JSON.parse('{"c":9007199254740991}') as { c: unknown }).c)).toBe(9007199254740991);
      expect(cast('long', (JSON.parse('{"c":-9007199254740991}') as { c: unknown }).c)).toBe(-9007199254740991);
    });
  });

  describe('numeric text', () => {
    // The documented grammars, written out here: a long is a sign and digits, a double decimal text.
    const LONG = /^[+-]?\d+$/;
    const DOUBLE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
    const numericText = fc.stringMatching(/^[ ]?[-+]?[0-9.eE+-]{0,20}[ ]?$/);

    it('reads a long exactly as its grammar and Number do, whatever the text', () => {
      fc.assert(
        fc.property(numericText, (text) => {
          const trimmed = text.trim();
          const value = Number(trimmed);
          const expected = trimmed === '' ? 'missing_value' : LONG.test(trimmed) && Number.isSafeInteger(value) ? (value === 0 ? 0 : value) : 'cast_error';
          const got = cast('long', text);
          expect(got instanceof CastFailure ? got.reason : got).toBe(expected);
        }),
        { numRuns: 3000 },
      );
    });

    it('reads a double exactly as its grammar and Number do, whatever the text', () => {
      fc.assert(
        fc.property(numericText, (text) => {
          const trimmed = text.trim();
          const value = Number(trimmed);
          const expected = trimmed === '' ? 'missing_value' : DOUBLE.test(trimmed) && Number.isFinite(value) ? value : 'cast_error';
          const got = cast('double', text);
          expect(got instanceof CastFailure ? got.reason : got).toBe(expected);
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe('double', () => {
    it('accepts decimal text and JSON numbers', () => {
      expect(cast('double', '1.5')).toBe(1.5);
      expect(cast('double', '1e3')).toBe(1000);
      expect(cast('double', '-.5')).toBe(-0.5);
      expect(cast('double', '5.')).toBe(5);
      expect(cast('double', '2.5E-3')).toBe(0.0025);
      expect(cast('double', 1.5)).toBe(1.5);
      expect(cast('double', ' 21.50 ')).toBe(21.5);
      expect(cast('double', '1.7976931348623157e308')).toBe(Number.MAX_VALUE);
    });

    it.each([['abc'], ['NaN'], ['Infinity'], ['-Infinity'], ['1e400'], ['0x10'], ['1,5'], ['.'], ['e3'], [false], [[1.5]]])('rejects %p', (raw) => {
      expect(failure('double', raw).reason).toBe('cast_error');
    });

    it('names the column, the value and the expected type in the message', () => {
      expect(failure('double', 'abc').message).toBe('column "c": "abc" is not a double (a decimal number like 21.5 or 1e3; NaN and Infinity are not accepted)');
    });
  });

  describe('boolean', () => {
    it('accepts true/false/1/0 in any case, JSON booleans and the numbers 1 and 0', () => {
      for (const raw of ['true', 'TRUE', ' True ', '1', true, 1]) expect(cast('boolean', raw)).toBe(true);
      for (const raw of ['false', 'False', '0', false, 0]) expect(cast('boolean', raw)).toBe(false);
    });

    it.each([['yes'], ['no'], ['t'], [2], ['10'], [{}]])('rejects %p', (raw) => {
      expect(failure('boolean', raw).reason).toBe('cast_error');
    });
  });

  describe('timestamp', () => {
    it('accepts ISO 8601 with an offset, or without one in the given time zone', () => {
      expect(cast('timestamp', '2026-01-01T00:00:10.250Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 10, 250));
      expect(cast('timestamp', '2026-01-01T01:00:00+01:00')).toBe(Date.UTC(2026, 0, 1));
      expect(cast('timestamp', '2026-07-01 12:00', false, 'Europe/Paris')).toBe(Date.UTC(2026, 6, 1, 10));
      expect(cast('timestamp', '2026-01-01')).toBe(Date.UTC(2026, 0, 1));
    });

    it('accepts epoch milliseconds as a whole JSON number or digits', () => {
      expect(cast('timestamp', 1767225610000)).toBe(1767225610000);
      expect(cast('timestamp', '1767225610000')).toBe(1767225610000);
      expect(cast('timestamp', '-1000')).toBe(-1000);
    });

    it('accepts the first and last millisecond of the years 0001 to 9999', () => {
      expect(cast('timestamp', '0001-01-01T00:00:00Z')).toBe(-62135596800000);
      expect(cast('timestamp', '9999-12-31T23:59:59.999Z')).toBe(253402300799999);
    });

    it('keeps the microseconds of an ISO fraction as a bigint of epoch microseconds', () => {
      expect(cast('timestamp', '2026-01-01T00:00:10.123456Z')).toBe(1_767_225_610_123_456n);
      expect(cast('timestamp', ' 2026-01-01T01:00:10.000001+01:00 ')).toBe(1_767_225_610_000_001n);
      expect(cast('timestamp', '2026-07-01 12:00:00.5000015', false, 'Europe/Paris')).toBe(BigInt(Date.UTC(2026, 6, 1, 10)) * 1000n + 500_001n);
      expect(cast('timestamp', '2026-07-01 12:00:00.5000005', false, 'Europe/Paris')).toBe(Date.UTC(2026, 6, 1, 10, 0, 0, 500));
      expect(cast('timestamp', '2026-01-01T00:00:10.123000Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 10, 123));
    });

    it('accepts the first and last microsecond of the years 0001 to 9999, and nothing beyond', () => {
      expect(cast('timestamp', '0001-01-01T00:00:00.000001Z')).toBe(-62_135_596_799_999_999n);
      expect(cast('timestamp', '9999-12-31T23:59:59.999999Z')).toBe(253_402_300_799_999_999n);
      expect(cast('timestamp', '9999-12-31T23:59:59.9999999Z')).toBe(253_402_300_799_999_999n);
      expect(failure('timestamp', '0000-12-31T23:59:59.999999Z').reason).toBe('cast_error');
    });

    it('describes the accepted forms, microseconds included, when it rejects a value', () => {
      expect(failure('timestamp', 'yesterday').message).toBe(
        'column "c": "yesterday" is not a timestamp (ISO 8601 like "2026-01-01T00:00:10Z" or "2026-01-01T00:00:10.123456Z", kept to the microsecond, or epoch milliseconds like 1767225610000, within the years 0001 to 9999)',
      );
    });

    it.each([
      ['yesterday'],
      ['2026-13-01T00:00:00Z'],
      ['0000-12-31T23:59:59Z'],
      [1.5],
      ['300000000000000'],
      [253402300800000],
      [true],
      ['01/02/2026'],
      ['2026-01-01T00:00:10.1234567890Z'],
      [JSON.parse('9007199254740993') as number], // read as 2^53
    ])('rejects %p', (raw) => {
      expect(failure('timestamp', raw).reason).toBe('cast_error');
    });
  });

  describe('string', () => {
    it('keeps text as is and writes JSON numbers, booleans, objects and arrays as JSON text', () => {
      expect(cast('string', ' São Paulo ')).toBe(' São Paulo ');
      expect(cast('string', 1.5)).toBe('1.5');
      expect(cast('string', 1e21)).toBe('1e+21');
      expect(cast('string', false)).toBe('false');
      expect(cast('string', { a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
      expect(cast('string', [])).toBe('[]');
    });

    it('rejects text holding half of a surrogate pair, which UTF-8 cannot hold, and keeps whole pairs', () => {
      for (const raw of ['\ud800', 'a\udfffb', '\ud83d\ude00\ud83d']) {
        expect(failure('string', raw).message).toBe(
          `column "c": ${JSON.stringify(raw)} is not Unicode text (half of a surrogate pair, like the JSON escape "\\ud800" alone, is not a character)`,
        );
      }
      expect(cast('string', JSON.parse('"\\ud83d\\ude00"'))).toBe('😀');
      expect(cast('string', { '\ud800': '\udc00x' })).toBe('{"\\ud800":"\\udc00x"}');
    });

    it('writes a value nested deeper than JSON.stringify can recurse as its JSON text', () => {
      const depth = 20_000;
      const text = '{"k":'.repeat(depth) + '[]' + '}'.repeat(depth);
      expect(cast('string', JSON.parse(text))).toBe(text);
      expect(scalarText(JSON.parse('['.repeat(depth) + ']'.repeat(depth)))).toHaveLength(2 * depth);
    });
  });

  it('writes the JSON text JSON.stringify writes, for any parsed JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const parsed: unknown = JSON.parse(JSON.stringify(value));
        expect(jsonText(parsed)).toBe(JSON.stringify(parsed));
      }),
    );
    expect(jsonText({ a: undefined, b: [undefined, 1], c: -0 })).toBe(JSON.stringify({ a: undefined, b: [undefined, 1], c: -0 }));
  });

  it('reports a deeply nested value that does not fit the type as a cast error', () => {
    const deep: unknown = JSON.parse('['.repeat(20_000) + ']'.repeat(20_000));
    expect(failure('long', deep).message).toBe(`column "c": ${'['.repeat(57)}... is not a long (a whole number like 42 or -7, within ±9007199254740991)`);
  });

  it('cuts long values in messages to 60 characters', () => {
    const message = failure('long', 'x'.repeat(500)).message;
    expect(message).toBe(`column "c": "${'x'.repeat(57)}..." is not a long (a whole number like 42 or -7, within ±9007199254740991)`);
    expect(previewValue({ list: Array.from({ length: 100 }, (_, i) => i) })).toHaveLength(60);
  });

  it('never cuts a message preview between the halves of a surrogate pair', () => {
    expect(previewValue({ k: `${'x'.repeat(50)}😀😀` })).toBe(`{"k":"${'x'.repeat(50)}...`);
    expect(previewValue({ k: `${'x'.repeat(49)}😀😀` })).toBe(`{"k":"${'x'.repeat(49)}😀...`);
  });
});

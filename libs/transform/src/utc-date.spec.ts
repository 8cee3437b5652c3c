import fc from 'fast-check';
import { TIMESTAMP_MAX_MS, TIMESTAMP_MIN_MS, utcDate } from './utc-date';

describe('utcDate', () => {
  it('gives the UTC calendar date of an instant', () => {
    expect(utcDate(0)).toBe('1970-01-01');
    expect(utcDate(-1)).toBe('1969-12-31');
    expect(utcDate(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe('2024-02-29');
    expect(utcDate(TIMESTAMP_MIN_MS)).toBe('0001-01-01');
    expect(utcDate(TIMESTAMP_MAX_MS - 1)).toBe('9999-12-31');
  });

  it('agrees with Date for every instant in the lake range', () => {
    fc.assert(
      fc.property(fc.integer({ min: TIMESTAMP_MIN_MS, max: TIMESTAMP_MAX_MS - 1 }), (ms) => {
        expect(utcDate(ms)).toBe(new Date(ms).toISOString().slice(0, 10));
      }),
    );
  });

  it('writes years outside 0000 to 9999 with a sign', () => {
    expect(utcDate(TIMESTAMP_MAX_MS)).toBe('+010000-01-01');
  });
});

import { timestampMicros, type TableColumn, type TableRow } from '@pipeline/contracts';
import { computeFileStats, serializeFileStats } from './file-stats';

const columns: TableColumn[] = [{ name: 't', type: 'timestamp', nullable: true }];

function statsOf(values: TableRow['t'][]) {
  return computeFileStats(
    columns,
    values.map((t) => ({ t })),
  );
}

/** Epoch µs of a stats bound (ISO with milliseconds). */
function boundMicros(iso: string | number | undefined): bigint {
  return BigInt(Date.parse(String(iso))) * 1000n;
}

describe('timestamp statistics', () => {
  it('are the min and max in ISO milliseconds when every value is a whole millisecond, as before', () => {
    const stats = statsOf([Date.UTC(2026, 0, 1, 0, 0, 10, 123), null, -62135596800000, 253402300799999]);
    expect(serializeFileStats(stats)).toBe('{"numRecords":4,"minValues":{"t":"0001-01-01T00:00:00.000Z"},"maxValues":{"t":"9999-12-31T23:59:59.999Z"},"nullCount":{"t":1}}');
  });

  it('round the min down and the max up to the millisecond, so each stays a bound of every microsecond', () => {
    const stats = statsOf([1_767_225_610_123_456n, 1_767_225_610_125_001n, 1_767_225_610_124]);
    expect(stats.minValues['t']).toBe('2026-01-01T00:00:10.123Z');
    expect(stats.maxValues['t']).toBe('2026-01-01T00:00:10.126Z');
  });

  it('keep a whole-millisecond max as it is, even next to a larger value in the same millisecond', () => {
    expect(statsOf([1_767_225_610_125, 1_767_225_610_124_999n]).maxValues['t']).toBe('2026-01-01T00:00:10.125Z');
    expect(statsOf([1_767_225_610_125, 1_767_225_610_125_001n]).maxValues['t']).toBe('2026-01-01T00:00:10.126Z');
  });

  it('round towards the past and the future before 1970 too', () => {
    const stats = statsOf([-1n, -1_999n]);
    expect(stats.minValues['t']).toBe('1969-12-31T23:59:59.998Z');
    expect(stats.maxValues['t']).toBe('1970-01-01T00:00:00.000Z');
  });

  it('bound every value of random files of microseconds', () => {
    let seed = 20260101n;
    const next = (): bigint => {
      seed = (seed * 1103515245n + 12345n) % 2147483648n;
      return seed * 123_456_789n - 100_000_000_000_000_000n;
    };
    for (let file = 0; file < 200; file++) {
      const values = Array.from({ length: 1 + (file % 7) }, next);
      const stats = statsOf(values);
      const min = boundMicros(stats.minValues['t']);
      const max = boundMicros(stats.maxValues['t']);
      for (const value of values) {
        expect(min <= timestampMicros(value)).toBe(true);
        expect(max >= timestampMicros(value)).toBe(true);
      }
      expect(max - min).toBeLessThan(values.reduce((a, b) => (b > a ? b : a)) - values.reduce((a, b) => (b < a ? b : a)) + 2000n);
    }
  });

  it('leave out the bounds when the max rounded up has no four-digit year, and keep the null count', () => {
    const stats = statsOf([253_402_300_799_999_999n, Date.UTC(2026, 0, 1), null]);
    expect(stats.minValues).toEqual({});
    expect(stats.maxValues).toEqual({});
    expect(stats.nullCount).toEqual({ t: 1 });
    expect(statsOf([253_402_300_799_999_000n]).maxValues['t']).toBe('9999-12-31T23:59:59.999Z');
  });
});

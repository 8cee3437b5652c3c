import { lakeTimestamp, lakeTimestampOfMicros, timestampMicros, timestampMillis, timestampSubMillisMicros } from './lake-timestamp';

describe('lake timestamps', () => {
  it('are numbers of epoch ms for whole milliseconds and bigints of epoch µs otherwise', () => {
    expect(lakeTimestamp(1_767_225_610_123, 0)).toBe(1_767_225_610_123);
    expect(lakeTimestamp(1_767_225_610_123, 456)).toBe(1_767_225_610_123_456n);
    expect(Object.is(lakeTimestamp(-0, 0), 0)).toBe(true);
    expect(lakeTimestampOfMicros(1_767_225_610_123_000n)).toBe(1_767_225_610_123);
    expect(lakeTimestampOfMicros(-1_000n)).toBe(-1);
    expect(lakeTimestampOfMicros(-1n)).toBe(-1n);
  });

  it('round down to the millisecond, towards the past also before 1970', () => {
    expect(timestampMillis(1_767_225_610_123_999n)).toBe(1_767_225_610_123);
    expect(timestampMillis(-1n)).toBe(-1);
    expect(timestampMillis(-1_000n)).toBe(-1);
    expect(timestampMillis(-1_001n)).toBe(-2);
    expect(timestampMillis(-62_135_596_799_999_999n)).toBe(-62_135_596_800_000);
    expect(timestampSubMillisMicros(-1n)).toBe(999);
    expect(timestampSubMillisMicros(-1_001n)).toBe(999);
    expect(timestampSubMillisMicros(1_767_225_610_123_456n)).toBe(456);
    expect(timestampSubMillisMicros(1_767_225_610_123)).toBe(0);
  });

  it('give the exact microseconds of either form', () => {
    expect(timestampMicros(1_767_225_610_123)).toBe(1_767_225_610_123_000n);
    expect(timestampMicros(253_402_300_799_999_999n)).toBe(253_402_300_799_999_999n);
    for (const micros of [-62_135_596_799_999_999n, -1n, 0n, 1n, 999n, 1000n, 253_402_300_799_999_999n]) {
      const value = lakeTimestampOfMicros(micros);
      expect(timestampMicros(value)).toBe(micros);
      expect(lakeTimestamp(timestampMillis(value), timestampSubMillisMicros(value))).toBe(value);
    }
  });
});

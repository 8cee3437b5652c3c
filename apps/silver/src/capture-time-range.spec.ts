import { captureTimeOfPath } from '@pipeline/contracts';
import { describeCaptureTimeRange, EVERY_CAPTURE_FILE, inCaptureTimeRange } from './capture-time-range';

const file = (time: string) => `raw/local/events/3/${time}.avro`;

describe('capture-time range', () => {
  it('reads the UTC time in a capture file path', () => {
    expect(captureTimeOfPath(file('2026/01/31/23/59/58'))).toBe(Date.UTC(2026, 0, 31, 23, 59, 58));
  });

  it('finds no time in a path outside the capture layout or with an impossible date', () => {
    for (const path of ['raw/local/events/3/2026/01/31/23/59.avro', file('2026/02/30/00/00/00'), file('2026/01/01/24/00/00'), 'tables/silver/part-0.parquet']) {
      expect(captureTimeOfPath(path)).toBeUndefined();
    }
  });

  it('takes a file at the start of the range and leaves one at its end', () => {
    const range = { from: Date.UTC(2026, 0, 1, 0, 0, 0), to: Date.UTC(2026, 0, 1, 1, 0, 0) };
    expect(inCaptureTimeRange(range, file('2026/01/01/00/00/00'))).toBe(true);
    expect(inCaptureTimeRange(range, file('2026/01/01/00/59/59'))).toBe(true);
    expect(inCaptureTimeRange(range, file('2026/01/01/01/00/00'))).toBe(false);
    expect(inCaptureTimeRange(range, file('2025/12/31/23/59/59'))).toBe(false);
  });

  it('treats an open end as unbounded on that side', () => {
    expect(inCaptureTimeRange({ from: null, to: Date.UTC(2026, 0, 1) }, file('1999/01/01/00/00/00'))).toBe(true);
    expect(inCaptureTimeRange({ from: Date.UTC(2026, 0, 1), to: null }, file('2099/01/01/00/00/00'))).toBe(true);
  });

  it('takes every file, whatever its path, when both ends are open', () => {
    expect(inCaptureTimeRange(EVERY_CAPTURE_FILE, 'anything/at/all.avro')).toBe(true);
  });

  it('refuses to guess about a path without a capture time when the range is bounded', () => {
    expect(() => inCaptureTimeRange({ from: 0, to: null }, 'raw/odd.avro')).toThrow(/raw\/odd\.avro does not end in the capture layout .* \[1970-01-01T00:00:00\.000Z, …\)/);
  });

  it('describes a range as a half-open interval', () => {
    expect(describeCaptureTimeRange({ from: Date.UTC(2026, 0, 1), to: null })).toBe('[2026-01-01T00:00:00.000Z, …)');
  });
});

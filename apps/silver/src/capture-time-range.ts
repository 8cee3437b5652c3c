/**
 * The capture-time range a silver run reads: a capture file's time is the time in its path
 * (`…/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro`, UTC, Event Hubs Capture's layout), and a file is in
 * range when `from ≤ time < to`. An open end takes everything on that side; the default range
 * (both ends open) takes every file without looking at its path.
 *
 * Files out of range are skipped before they are read: their records are in no silver count, so a
 * run over a range reconciles on its own (records in = rows + quarantined + duplicates).
 */
import { captureTimeOfPath } from '@pipeline/contracts';

export interface CaptureTimeRange {
  /** Epoch ms, inclusive; `null`: from the beginning. */
  from: number | null;
  /** Epoch ms, exclusive; `null`: to the end. */
  to: number | null;
}

export const EVERY_CAPTURE_FILE: CaptureTimeRange = { from: null, to: null };

export function isEveryCaptureFile(range: CaptureTimeRange): boolean {
  return range.from === null && range.to === null;
}

/**
 * Whether a capture file is in the range.
 * @throws Error when the range is bounded and the path carries no capture time (bronze only
 *   references capture files, so this means the lake holds something unexpected).
 */
export function inCaptureTimeRange(range: CaptureTimeRange, path: string): boolean {
  if (isEveryCaptureFile(range)) return true;
  const time = captureTimeOfPath(path);
  if (time === undefined) {
    throw new Error(
      `${path} does not end in the capture layout {YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro, so silver cannot tell whether it is in the capture-time range ${describeCaptureTimeRange(range)}.`,
    );
  }
  return (range.from === null || time >= range.from) && (range.to === null || time < range.to);
}

/** `[2026-01-01T00:00:00.000Z, 2026-02-01T00:00:00.000Z)`; open ends as `…`. */
export function describeCaptureTimeRange(range: CaptureTimeRange): string {
  const iso = (ms: number | null) => (ms === null ? '…' : new Date(ms).toISOString());
  return `[${iso(range.from)}, ${iso(range.to)})`;
}

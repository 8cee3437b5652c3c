/**
 * Event-time windows: half-open intervals [start, end). A window definition of size S, slide L
 * (0 < L ≤ S; tumbling is L = S) and offset O (0 ≤ O < L, Spark's `startTime`; 0 aligns windows to
 * the epoch) holds, for every integer k, the window [k·L + O, k·L + O + S). A time t lies in every
 * such window with start ≤ t < end: ⌈S / L⌉ or ⌊S / L⌋ of them when L does not divide S (which one
 * depends on t), exactly S / L when it does. The last one starts at the greatest k·L + O not above
 * t, so a time on a boundary belongs to the window it starts.
 */

/** The range `Date` can represent (±100,000,000 days around the epoch): every event time and window bound is within it. */
export const MAX_EPOCH_MS = 8.64e15;

export interface WindowDefinition {
  /** Window length in milliseconds (a positive integer). */
  sizeMs: number;
  /** Distance between window starts in milliseconds; equal to `sizeMs` for tumbling windows. */
  slideMs: number;
  /** Where window starts fall within a slide, in milliseconds (0 ≤ offset < slide); absent: 0. */
  offsetMs?: number;
}

export interface WindowBounds {
  start: number;
  end: number;
}

/** Problems with a window size, slide and offset, in words; empty when they are valid. */
export function windowDefinitionProblems(window: WindowDefinition): string[] {
  const problems: string[] = [];
  const { sizeMs, slideMs, offsetMs } = window;
  const sizeOk = Number.isSafeInteger(sizeMs) && sizeMs > 0;
  const slideOk = Number.isSafeInteger(slideMs) && slideMs > 0;
  if (!sizeOk) problems.push(`sizeMs must be a positive whole number of milliseconds, got ${String(sizeMs)}`);
  if (!slideOk) problems.push(`slideMs must be a positive whole number of milliseconds (equal to sizeMs for a tumbling window), got ${String(slideMs)}`);
  // Spark's rule too: a slide longer than the size would leave times in no window.
  if (sizeOk && slideOk && slideMs > sizeMs) problems.push(`slideMs ${slideMs} is longer than sizeMs ${sizeMs}: windows would leave gaps; use a slide no longer than the size`);
  if (offsetMs !== undefined) {
    if (!Number.isSafeInteger(offsetMs) || offsetMs < 0)
      problems.push(`offsetMs must be a whole number of milliseconds ≥ 0 (0 or absent aligns windows to the epoch), got ${String(offsetMs)}`);
    else if (slideOk && offsetMs >= slideMs)
      problems.push(`offsetMs ${offsetMs} is not shorter than slideMs ${slideMs}; an offset of ${offsetMs % slideMs} gives the same windows`);
  }
  return problems;
}

/**
 * Start of the last window of slide `slideMs` and offset `offsetMs` containing `eventTime`: the
 * greatest k·slide + offset not above it. The remainder keeps this exact for any safe integer (no
 * division rounding).
 */
export function lastWindowStart(eventTime: number, slideMs: number, offsetMs = 0): number {
  const shifted = eventTime - offsetMs;
  const remainder = shifted % slideMs;
  return (remainder < 0 ? shifted - remainder - slideMs : shifted - remainder) + offsetMs;
}

/** Whether `start` is the start of a window of `window` (some k·slide + offset). */
export function isWindowStart(start: number, window: WindowDefinition): boolean {
  return Number.isFinite(start) && lastWindowStart(start, window.slideMs, window.offsetMs) === start;
}

/** The windows of a definition that contain `eventTime`, earliest start first. */
export function windowsOf(eventTime: number, window: WindowDefinition): WindowBounds[] {
  const problems = windowDefinitionProblems(window);
  if (problems.length > 0) throw new RangeError(`windowsOf: ${problems.join('; ')}.`);
  if (!Number.isFinite(eventTime)) throw new RangeError(`windowsOf: eventTime must be a finite number of epoch milliseconds, got ${String(eventTime)}.`);
  const { sizeMs, slideMs } = window;
  const last = lastWindowStart(eventTime, slideMs, window.offsetMs);
  const windows: WindowBounds[] = [];
  for (let start = firstWindowStart(eventTime, last, window); start <= last; start += slideMs) windows.push({ start, end: start + sizeMs });
  return windows;
}

/**
 * The start of the earliest window containing `eventTime`, given `last`, the start of the latest
 * one: the earliest start on the slide grid whose window still ends after the time.
 */
export function firstWindowStart(eventTime: number, last: number, window: WindowDefinition): number {
  // Windows starting at or before eventTime − size end at or before eventTime: step past them.
  return last - Math.floor((last - eventTime + window.sizeMs - 1) / window.slideMs) * window.slideMs;
}

/**
 * The end of the last window of a definition that contains `eventTime`: once the watermark reaches
 * it, a row at `eventTime` is late for every window of that definition.
 */
export function lastWindowEnd(eventTime: number, window: WindowDefinition): number {
  return lastWindowStart(eventTime, window.slideMs, window.offsetMs) + window.sizeMs;
}

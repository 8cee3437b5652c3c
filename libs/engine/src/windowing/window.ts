/**
 * Event-time windows: half-open intervals [start, end) aligned to the epoch. A window definition of
 * size S and slide L (L divides S; tumbling is L = S) holds, for every integer k, the window
 * [k·L, k·L + S). A time t therefore lies in exactly S / L windows, the last one starting at the
 * greatest multiple of L not above t, so a time on a boundary belongs to the window it starts.
 */

export interface WindowDefinition {
  /** Window length in milliseconds (a positive integer). */
  sizeMs: number;
  /** Distance between window starts in milliseconds; equal to `sizeMs` for tumbling windows. */
  slideMs: number;
}

export interface WindowBounds {
  start: number;
  end: number;
}

/** Problems with a window size and slide, in words; empty when they are valid. */
export function windowDefinitionProblems(window: WindowDefinition): string[] {
  const problems: string[] = [];
  const { sizeMs, slideMs } = window;
  const sizeOk = Number.isSafeInteger(sizeMs) && sizeMs > 0;
  const slideOk = Number.isSafeInteger(slideMs) && slideMs > 0;
  if (!sizeOk) problems.push(`sizeMs must be a positive whole number of milliseconds, got ${String(sizeMs)}`);
  if (!slideOk) problems.push(`slideMs must be a positive whole number of milliseconds (equal to sizeMs for a tumbling window), got ${String(slideMs)}`);
  if (sizeOk && slideOk) {
    if (slideMs > sizeMs) problems.push(`slideMs ${slideMs} is longer than sizeMs ${sizeMs}: windows would leave gaps; use a slide no longer than the size`);
    else if (sizeMs % slideMs !== 0) problems.push(`slideMs ${slideMs} does not divide sizeMs ${sizeMs}; pick a slide that divides the size evenly`);
  }
  return problems;
}

/**
 * Start of the last window of slide `slideMs` containing `eventTime`: the greatest multiple of the
 * slide not above it. The remainder keeps this exact for any safe integer (no division rounding).
 */
export function lastWindowStart(eventTime: number, slideMs: number): number {
  const remainder = eventTime % slideMs;
  return remainder < 0 ? eventTime - remainder - slideMs : eventTime - remainder;
}

/** The windows of a definition that contain `eventTime`, earliest start first. */
export function windowsOf(eventTime: number, window: WindowDefinition): WindowBounds[] {
  const problems = windowDefinitionProblems(window);
  if (problems.length > 0) throw new RangeError(`windowsOf: ${problems.join('; ')}.`);
  if (!Number.isFinite(eventTime)) throw new RangeError(`windowsOf: eventTime must be a finite number of epoch milliseconds, got ${String(eventTime)}.`);
  const { sizeMs, slideMs } = window;
  const last = lastWindowStart(eventTime, slideMs);
  const windows: WindowBounds[] = [];
  for (let start = last - sizeMs + slideMs; start <= last; start += slideMs) windows.push({ start, end: start + sizeMs });
  return windows;
}

/**
 * The end of the last window of a definition that contains `eventTime`: once the watermark reaches
 * it, a row at `eventTime` is late for every window of that definition.
 */
export function lastWindowEnd(eventTime: number, window: WindowDefinition): number {
  return lastWindowStart(eventTime, window.slideMs) + window.sizeMs;
}

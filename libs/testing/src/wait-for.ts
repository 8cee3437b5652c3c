export interface WaitForOptions {
  /** Give up after this long, in ms. */
  timeoutMs: number;
  /** Pause between probes, in ms (default 25). */
  intervalMs?: number;
  /** What is awaited, for the timeout message ("the consumer to see 30 events"). */
  description: string;
}

/**
 * Poll `probe` until it returns something other than `undefined`, and return that.
 * A probe that throws ends the wait with its error; running out of time throws a message naming
 * `description`.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, options: WaitForOptions): Promise<T> {
  const { timeoutMs, intervalMs = 25, description } = options;
  if (!(timeoutMs >= 0) || !(intervalMs > 0)) {
    throw new Error(`waitFor needs timeoutMs ≥ 0 and intervalMs > 0, got ${timeoutMs} and ${intervalMs} (waiting for ${description}).`);
  }
  const started = Date.now();
  let attempts = 0;
  for (;;) {
    const value = await probe();
    attempts += 1;
    if (value !== undefined) return value;
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new Error(`Timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${description}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, timeoutMs - elapsed)));
  }
}

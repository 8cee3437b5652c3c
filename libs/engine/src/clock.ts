/**
 * Time is injected (DESIGN invariant 6): nothing in the engine reads the wall clock.
 * Apps pass `systemClock`; tests drive a `TestClock`.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class TestClock implements Clock {
  constructor(private current = 0) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`TestClock cannot go back (advance by ${ms} ms)`);
    this.current += ms;
  }
  set(epochMs: number): void {
    this.current = epochMs;
  }
}

/**
 * Drops events whose id was already seen, within a watermark horizon (like Spark's
 * `dropDuplicatesWithinWatermark`).
 *
 * Semantics (the property test's reference model states the same):
 * - The watermark is (max event time observed) − `horizonMs`; it starts at −∞ and never goes back.
 * - An id is remembered with the latest event time it was observed at; it is forgotten once that
 *   time falls below the watermark. An event whose time is already below the watermark is answered
 *   but not remembered.
 * - So `observe(id, t)` is `duplicate` exactly when an earlier observation of `id` had an event
 *   time ≥ (max event time of the earlier observations) − horizon. Dedup is exact within the
 *   horizon and best effort beyond it: copies further apart than the horizon both count as new.
 * - Memory is bounded by the ids observed within the horizon: eviction is by time, through a
 *   min-heap (stale heap entries of refreshed ids are skipped when they surface).
 * - `snapshot()` is plain JSON in a deterministic order (time, then id), and `restore` of it
 *   answers every later observation exactly as the original would.
 */
import { TimeHeap } from './time-heap';

export type DedupVerdict = 'new' | 'duplicate';

export interface DedupState {
  version: 1;
  horizonMs: number;
  /** The max event time observed, or null before the first observation. */
  maxEventTime: number | null;
  /** Remembered ids with their latest event time, ordered by time then id. */
  entries: Array<[id: string, eventTime: number]>;
}

export interface DeduplicatorOptions {
  /** How far behind the max event time an id is still remembered, in ms (usually the watermark delay). */
  horizonMs: number;
}

export class Deduplicator {
  private readonly horizonMs: number;
  private readonly latest = new Map<string, number>();
  private readonly queue = new TimeHeap();
  private maxEventTime = Number.NEGATIVE_INFINITY;

  constructor(options: DeduplicatorOptions) {
    const horizon = options.horizonMs;
    if (!Number.isFinite(horizon) || horizon < 0) {
      throw new RangeError(`Deduplicator horizonMs must be a finite number of milliseconds ≥ 0, got ${String(horizon)}`);
    }
    this.horizonMs = horizon;
  }

  /** Events with an event time below this are no longer checked against earlier ids. */
  get watermark(): number {
    return this.maxEventTime - this.horizonMs;
  }

  /** The number of remembered ids. */
  get size(): number {
    return this.latest.size;
  }

  observe(eventId: string, eventTime: number): DedupVerdict {
    if (!Number.isFinite(eventTime)) throw new RangeError(`Deduplicator.observe: event time of "${eventId}" must be finite epoch milliseconds, got ${String(eventTime)}`);
    const remembered = this.latest.get(eventId);
    const verdict: DedupVerdict = remembered === undefined ? 'new' : 'duplicate';
    if (eventTime >= this.watermark && (remembered === undefined || eventTime > remembered)) {
      this.latest.set(eventId, eventTime);
      this.queue.push(eventTime, eventId);
    }
    if (eventTime > this.maxEventTime) {
      this.maxEventTime = eventTime;
      this.evict();
    }
    return verdict;
  }

  snapshot(): DedupState {
    const entries = [...this.latest].sort(compareEntries);
    return {
      version: 1,
      horizonMs: this.horizonMs,
      maxEventTime: Number.isFinite(this.maxEventTime) ? this.maxEventTime : null,
      entries,
    };
  }

  /** @throws TypeError when `state` is not a snapshot this version wrote. */
  static restore(state: DedupState): Deduplicator {
    checkState(state);
    const dedup = new Deduplicator({ horizonMs: state.horizonMs });
    dedup.maxEventTime = state.maxEventTime ?? Number.NEGATIVE_INFINITY;
    for (const [id, time] of state.entries) {
      dedup.latest.set(id, time);
      dedup.queue.push(time, id);
    }
    dedup.evict();
    return dedup;
  }

  private evict(): void {
    const watermark = this.watermark;
    for (let time = this.queue.peekTime(); time !== undefined && time < watermark; time = this.queue.peekTime()) {
      const id = this.queue.popId();
      // A refreshed id has a newer entry further down the heap; only its latest one evicts it.
      if (this.latest.get(id) === time) this.latest.delete(id);
    }
  }
}

function compareEntries(a: [string, number], b: [string, number]): number {
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function checkState(state: DedupState): void {
  const fail = (what: string): never => {
    throw new TypeError(`Deduplicator.restore: not a dedup snapshot of version 1: ${what}`);
  };
  if (state === null || typeof state !== 'object') fail('expected an object');
  if (state.version !== 1) fail(`version is ${JSON.stringify(state.version)}`);
  if (typeof state.horizonMs !== 'number' || !Number.isFinite(state.horizonMs) || state.horizonMs < 0) fail(`horizonMs is ${JSON.stringify(state.horizonMs)}`);
  if (state.maxEventTime !== null && (typeof state.maxEventTime !== 'number' || !Number.isFinite(state.maxEventTime)))
    fail(`maxEventTime is ${JSON.stringify(state.maxEventTime)}`);
  if (!Array.isArray(state.entries)) fail('entries is not an array');
  const seen = new Set<string>();
  for (const entry of state.entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
      fail(`entry ${JSON.stringify(entry)} is not [id, eventTime]`);
    }
    if (seen.has(entry[0])) fail(`id ${JSON.stringify(entry[0])} appears twice`);
    seen.add(entry[0]);
  }
}

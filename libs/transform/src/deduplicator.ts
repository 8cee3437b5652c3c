/**
 * Drops events whose id was already seen, for as long as gold could still aggregate the event
 * (DESIGN invariant 11; Spark's `dropDuplicatesWithinWatermark` with gold's watermark).
 *
 * Invariants:
 * - Each remembered id carries an expiry: the end of the last window (of any window definition)
 *   that contains the event. Once the watermark reaches it, the event is late for every window, so
 *   gold can no longer aggregate a copy of it.
 * - `expire(watermark)` forgets exactly the ids whose expiry ≤ watermark; the caller passes the
 *   watermark gold will apply from the next batch on (never a later one), so **a duplicate that silver
 *   has forgotten is always late for gold**, and within everything gold still counts,
 *   de-duplication is exact.
 * - `observe` remembers every new id (even one already late) until the next `expire`, so copies
 *   within one batch are always caught. A copy with a later expiry extends it.
 * - Memory is bounded by the ids whose windows are still open. Ids are kept in buckets by expiry
 *   (most ids share one: the end of their window), and eviction takes whole buckets off a min-heap
 *   of the distinct expiries; an extended id is also in its older bucket, skipped when that surfaces.
 *   A bucket counts its extended ids, so one with none is evicted without looking any id up.
 * - `snapshot()` is plain JSON in a deterministic order (expiry, then id), and `restore` of it
 *   answers every later observation exactly as the original would. A bucket keeps its sorted
 *   entries until it changes, so a snapshot sorts and builds only what changed since the last one.
 */
import { NumberHeap } from './number-heap';

export type DedupVerdict = 'new' | 'duplicate';

export interface DedupState {
  version: 2;
  /** Remembered ids with their expiry (epoch ms), ordered by expiry then id. */
  entries: Array<[id: string, expiry: number]>;
}

export class Deduplicator {
  private readonly expiries = new Map<string, number>();
  /** Ids by the expiry they were remembered with (an extended id also stays in its older bucket). */
  private readonly buckets = new Map<number, Bucket>();
  /** The distinct expiries that have a bucket. */
  private readonly queue = new NumberHeap();
  /** The bucket observed last: consecutive events mostly share their expiry. */
  private last: Bucket | undefined;

  /** The number of remembered ids. */
  get size(): number {
    return this.expiries.size;
  }

  /** `duplicate` when `eventId` is remembered; the id is remembered until the watermark reaches `expiry`. */
  observe(eventId: string, expiry: number): DedupVerdict {
    if (!Number.isFinite(expiry)) throw new RangeError(`Deduplicator.observe: the expiry of "${eventId}" must be finite epoch milliseconds, got ${String(expiry)}`);
    const remembered = this.expiries.get(eventId);
    if (remembered === undefined || expiry > remembered) {
      this.expiries.set(eventId, expiry);
      const bucket = this.last !== undefined && this.last.expiry === expiry ? this.last : (this.last = this.bucket(expiry));
      bucket.ids.push(eventId);
      bucket.pairs = undefined;
      if (remembered !== undefined) this.extended(remembered);
    }
    return remembered === undefined ? 'new' : 'duplicate';
  }

  /** Forgets every id whose expiry ≤ `watermark`; returns how many. */
  expire(watermark: number): number {
    let forgotten = 0;
    for (let time = this.queue.peek(); time !== undefined && time <= watermark; time = this.queue.peek()) {
      this.queue.pop();
      const bucket = this.buckets.get(time) as Bucket;
      this.buckets.delete(time);
      if (this.last === bucket) this.last = undefined;
      if (bucket.stale === 0) {
        // No id here was extended: every one is remembered with this expiry.
        for (const id of bucket.ids) this.expiries.delete(id);
        forgotten += bucket.ids.length;
        continue;
      }
      for (const id of bucket.ids) {
        // An extended id has a later bucket too; only its latest one evicts it.
        if (this.expiries.get(id) === time) {
          this.expiries.delete(id);
          forgotten++;
        }
      }
    }
    return forgotten;
  }

  /** The snapshot's entries are shared with later snapshots while their bucket is unchanged: read them, do not change them. */
  snapshot(): DedupState {
    const entries: Array<[string, number]> = [];
    for (const time of [...this.buckets.keys()].sort((a, b) => a - b)) {
      const bucket = this.buckets.get(time) as Bucket;
      if (bucket.pairs === undefined) {
        const { ids } = bucket;
        // Extended ids leave their older buckets for good; the rest sort in place, so a bucket that
        // only grew since the last snapshot is one sorted run and a short tail (cheap to sort again).
        if (bucket.stale > 0) {
          let kept = 0;
          for (const id of ids) if (this.expiries.get(id) === time) ids[kept++] = id;
          ids.length = kept;
          bucket.stale = 0;
        }
        ids.sort();
        bucket.pairs = ids.map((id): [string, number] => [id, time]);
      }
      for (const pair of bucket.pairs) entries.push(pair);
    }
    return { version: 2, entries };
  }

  /** @throws TypeError when `state` is not a snapshot this version wrote. */
  static restore(state: DedupState): Deduplicator {
    checkState(state);
    const dedup = new Deduplicator();
    for (const [id, expiry] of state.entries) {
      dedup.expiries.set(id, expiry);
      dedup.bucket(expiry).ids.push(id);
    }
    return dedup;
  }

  /** An id remembered with `expiry` now has a later one: its entry in that bucket is stale. */
  private extended(expiry: number): void {
    const bucket = this.buckets.get(expiry) as Bucket;
    bucket.stale++;
    bucket.pairs = undefined;
  }

  private bucket(expiry: number): Bucket {
    let bucket = this.buckets.get(expiry);
    if (bucket === undefined) {
      bucket = { expiry, ids: [], stale: 0, pairs: undefined };
      this.buckets.set(expiry, bucket);
      this.queue.push(expiry);
    }
    return bucket;
  }
}

/** The ids remembered with one expiry. */
interface Bucket {
  expiry: number;
  ids: string[];
  /** How many of `ids` were extended since (remembered with a later expiry now). */
  stale: number;
  /** `ids` sorted as snapshot entries, while the bucket is unchanged since the last snapshot. */
  pairs: Array<[string, number]> | undefined;
}

function checkState(state: DedupState): void {
  const fail = (what: string): never => {
    throw new TypeError(`Deduplicator.restore: not a dedup snapshot of version 2: ${what}`);
  };
  if (state === null || typeof state !== 'object') fail('expected an object');
  if (state.version !== 2) fail(`version is ${JSON.stringify(state.version)}`);
  if (!Array.isArray(state.entries)) fail('entries is not an array');
  const seen = new Set<string>();
  for (const entry of state.entries) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'number' || !Number.isFinite(entry[1])) {
      fail(`entry ${JSON.stringify(entry)} is not [id, expiry]`);
    }
    if (seen.has(entry[0])) fail(`id ${JSON.stringify(entry[0])} appears twice`);
    seen.add(entry[0]);
  }
}

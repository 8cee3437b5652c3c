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
 *   answers every later observation exactly as the original would. It lists the ids by expiry
 *   (version 3), so each expiry is written once and not once per id: the snapshot of every batch
 *   costs a copy of the ids, not a pair per id. A bucket keeps its sorted copy until it changes, so
 *   a snapshot sorts and copies only what changed since the last one. `restore` also reads the
 *   version 2 snapshot (one `[id, expiry]` pair per id) that checkpoints written before hold.
 */
import { NumberHeap } from './number-heap';

export type DedupVerdict = 'new' | 'duplicate';

export interface DedupState {
  version: 3;
  /** Remembered ids by their expiry (epoch ms): ascending expiries, each with its ids sorted; no id in two. */
  buckets: Array<[expiry: number, ids: string[]]>;
}

/** The snapshot checkpoints written before version 3 hold: one pair per id, ordered by expiry then id. */
export interface DedupStateV2 {
  version: 2;
  entries: Array<[id: string, expiry: number]>;
}

export class Deduplicator {
  /**
   * Each remembered id's bucket, whose `expiry` is the id's: a reference to one of a few objects
   * instead of a number per id (an expiry is no small integer, so each would be a boxed number).
   */
  private expiries = new Map<string, Bucket>();
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
    if (remembered === undefined || expiry > remembered.expiry) {
      const bucket = this.last !== undefined && this.last.expiry === expiry ? this.last : (this.last = this.bucket(expiry));
      this.expiries.set(eventId, bucket);
      bucket.ids.push(eventId);
      bucket.sorted = undefined;
      if (remembered !== undefined) {
        // Remembered with a later expiry now: its entry in the older bucket is stale.
        remembered.stale++;
        remembered.sorted = undefined;
      }
    }
    return remembered === undefined ? 'new' : 'duplicate';
  }

  /**
   * Forgets every id whose expiry ≤ `watermark`; returns how many. When the ids due are the most
   * (as after a batch, whose windows mostly close at once), the ids kept are copied into a new map
   * instead of the others being deleted one by one: the work is that of the smaller part.
   */
  expire(watermark: number): number {
    const due: Bucket[] = [];
    let dueIds = 0;
    for (let time = this.queue.peek(); time !== undefined && time <= watermark; time = this.queue.peek()) {
      this.queue.pop();
      const bucket = this.buckets.get(time) as Bucket;
      this.buckets.delete(time);
      if (this.last === bucket) this.last = undefined;
      due.push(bucket);
      dueIds += bucket.ids.length - bucket.stale;
    }
    if (due.length === 0) return 0;
    const before = this.expiries.size;
    if (dueIds * 2 > before) {
      // An id is kept with its latest bucket; an extended id's older entry is skipped (its older
      // bucket is due first, so an id whose latest bucket is due is in no bucket kept).
      const kept = new Map<string, Bucket>();
      for (const bucket of this.buckets.values()) {
        for (const id of bucket.ids) if (bucket.stale === 0 || this.expiries.get(id) === bucket) kept.set(id, bucket);
      }
      this.expiries = kept;
      return before - kept.size;
    }
    let forgotten = 0;
    for (const bucket of due) {
      if (bucket.stale === 0) {
        // No id here was extended: every one is remembered with this expiry.
        for (const id of bucket.ids) this.expiries.delete(id);
        forgotten += bucket.ids.length;
        continue;
      }
      for (const id of bucket.ids) {
        // An extended id has a later bucket too; only its latest one evicts it.
        if (this.expiries.get(id) === bucket) {
          this.expiries.delete(id);
          forgotten++;
        }
      }
    }
    return forgotten;
  }

  /** The snapshot's id lists are shared with later snapshots while their bucket is unchanged: read them, do not change them. */
  snapshot(): DedupState {
    const buckets: Array<[number, string[]]> = [];
    for (const time of [...this.buckets.keys()].sort((a, b) => a - b)) {
      const bucket = this.buckets.get(time) as Bucket;
      if (bucket.sorted === undefined) {
        const { ids } = bucket;
        // Extended ids leave their older buckets for good; the rest sort in place, so a bucket that
        // only grew since the last snapshot is one sorted run and a short tail (cheap to sort again).
        if (bucket.stale > 0) {
          let kept = 0;
          for (const id of ids) if (this.expiries.get(id) === bucket) ids[kept++] = id;
          ids.length = kept;
          bucket.stale = 0;
        }
        ids.sort();
        // A copy: the bucket's own list goes on growing.
        bucket.sorted = ids.slice();
      }
      if (bucket.sorted.length > 0) buckets.push([time, bucket.sorted]);
    }
    return { version: 3, buckets };
  }

  /** @throws TypeError when `state` is not a snapshot of version 3 or 2. */
  static restore(state: DedupState | DedupStateV2): Deduplicator {
    const dedup = new Deduplicator();
    const remember = (id: unknown, expiry: unknown, what: () => string): void => {
      if (typeof id !== 'string' || typeof expiry !== 'number' || !Number.isFinite(expiry)) invalid(state, `${what()} is not an id with a finite expiry`);
      if (dedup.expiries.has(id)) invalid(state, `id ${JSON.stringify(id)} appears twice`);
      const bucket = dedup.bucket(expiry);
      dedup.expiries.set(id, bucket);
      bucket.ids.push(id);
    };
    if (state === null || typeof state !== 'object') invalid(state, 'expected an object');
    if (state.version === 3) {
      if (!Array.isArray(state.buckets)) invalid(state, 'buckets is not an array');
      for (const bucket of state.buckets) {
        if (!Array.isArray(bucket) || bucket.length !== 2 || !Array.isArray(bucket[1])) invalid(state, `bucket ${JSON.stringify(bucket)?.slice(0, 80)} is not [expiry, ids]`);
        const [expiry, ids] = bucket;
        if (dedup.buckets.has(expiry)) invalid(state, `expiry ${JSON.stringify(expiry)} appears twice`);
        for (const id of ids) remember(id, expiry, () => `bucket ${JSON.stringify(expiry)} entry ${JSON.stringify(id)}`);
      }
    } else if (state.version === 2) {
      if (!Array.isArray(state.entries)) invalid(state, 'entries is not an array');
      for (const entry of state.entries) {
        if (!Array.isArray(entry) || entry.length !== 2) invalid(state, `entry ${JSON.stringify(entry)} is not [id, expiry]`);
        remember(entry[0], entry[1], () => `entry ${JSON.stringify(entry)}`);
      }
    } else invalid(state, `version is ${JSON.stringify((state as { version?: unknown }).version)}`);
    return dedup;
  }

  private bucket(expiry: number): Bucket {
    let bucket = this.buckets.get(expiry);
    if (bucket === undefined) {
      bucket = { expiry, ids: [], stale: 0, sorted: undefined };
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
  /** A sorted copy of `ids` (without stale ones), while the bucket is unchanged since the last snapshot. */
  sorted: string[] | undefined;
}

function invalid(state: unknown, what: string): never {
  const version = state !== null && typeof state === 'object' ? (state as { version?: unknown }).version : undefined;
  throw new TypeError(`Deduplicator.restore: not a dedup snapshot of version 3 or 2${version === 2 || version === 3 ? ` (version ${version})` : ''}: ${what}`);
}

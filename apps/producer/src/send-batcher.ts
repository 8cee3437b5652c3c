/**
 * Groups events into hub batches per partition (a batch goes to one partition), bounded by count and
 * bytes, and bounds everything pending so memory stays flat whatever the key spread. Events of one
 * partition are sent in row order, since a partition's batches are flushed in order: a partition's
 * events reach the hub in the order of the file, whatever the keys (DESIGN invariant 11 counts on
 * it: event time within a partition is as ordered as the source).
 *
 * Batches go out together: when one partition's batch is full, every other partition's batch that
 * is at least half full (`HALF_FULL` of the event or byte limit) is handed out with it, and
 * `sendGroups` puts them in one hub call (one commit on the embedded hub, concurrent sends on Event
 * Hubs). A call costs a commit or a round trip, a batch little more than its events, so the rule
 * makes the calls as few as the busiest partition allows: each partition then restarts with the
 * busiest, and one whose keys bring up to twice fewer events still goes in every call. Keys are
 * never spread quite evenly (a 90% rule missed most calls on real files, whose partitions got
 * 22–27% and 19–34% of the rows: 345 calls per million rows instead of 136); a partition with far
 * fewer events keeps filling instead of going out small, and no batch handed out early is less
 * than half full, so there are at most twice as many batches as full ones would make.
 */
import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';

export interface PendingBatch {
  /** The partition the batch goes to; null: events without a key, placed by the hub. */
  partitionId: string | null;
  events: EventToSend[];
  rows: number[];
  bytes: number;
}

/** A batch this full (of its event or byte limit) goes out with another partition's full batch. */
export const HALF_FULL = 0.5;

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  /** Across all partitions; reaching it flushes every pending batch. */
  maxPendingEvents: number;
  /**
   * Whether half-full batches go out with a full one (default: yes). Only worth it, and only
   * asked for, when the hub takes several batches in one call (`sendBatches`).
   */
  together?: boolean;
}

export class SendBatcher {
  private readonly pending = new Map<string | null, PendingBatch>();
  private pendingEvents = 0;
  private readonly halfFullEvents: number;
  private readonly halfFullBytes: number;

  constructor(private readonly limits: BatchLimits) {
    this.halfFullEvents = Math.ceil(limits.maxEvents * HALF_FULL);
    this.halfFullBytes = limits.maxBytes * HALF_FULL;
  }

  /**
   * Adds an event (`size`: its `eventSizeInBytes`, when the caller has it already); returns batches
   * that are now ready to send (possibly none): a full batch first, then the other partitions'
   * half full ones; a partition's batches in the order of their rows.
   */
  add(event: EventToSend, partitionId: string | null, row: number, size: number = eventSizeInBytes(event)): PendingBatch[] {
    const ready: PendingBatch[] = [];
    let batch = this.pending.get(partitionId);
    if (batch && (batch.events.length >= this.limits.maxEvents || batch.bytes + size > this.limits.maxBytes)) {
      ready.push(this.take(partitionId));
      if (this.limits.together !== false) this.takeHalfFull(ready);
      batch = undefined;
    }
    if (!batch) {
      batch = { partitionId, events: [], rows: [], bytes: 0 };
      this.pending.set(partitionId, batch);
    }
    batch.events.push(event);
    batch.rows.push(row);
    batch.bytes += size;
    this.pendingEvents++;
    if (this.pendingEvents >= this.limits.maxPendingEvents) ready.push(...this.drain());
    return ready;
  }

  /** Every pending batch, emptying the batcher. */
  drain(): PendingBatch[] {
    const all = [...this.pending.keys()].map((key) => this.take(key));
    return all;
  }

  get size(): number {
    return this.pendingEvents;
  }

  /** Smallest row number not yet handed out for sending (for the resume hint). */
  oldestPendingRow(): number | undefined {
    let oldest: number | undefined;
    for (const batch of this.pending.values()) {
      const first = batch.rows[0];
      if (first !== undefined && (oldest === undefined || first < oldest)) oldest = first;
    }
    return oldest;
  }

  /** Moves the keyed batches that are at least half full into `ready` (a keyless batch goes alone anyway). */
  private takeHalfFull(ready: PendingBatch[]): void {
    for (const [key, batch] of this.pending) {
      if (key !== null && (batch.events.length >= this.halfFullEvents || batch.bytes >= this.halfFullBytes)) ready.push(this.take(key));
    }
  }

  private take(key: string | null): PendingBatch {
    const batch = this.pending.get(key) as PendingBatch;
    this.pending.delete(key);
    this.pendingEvents -= batch.events.length;
    return batch;
  }
}

/**
 * Splits batches, in order, into hub calls: consecutive batches of distinct partitions share a call;
 * a partition's second batch starts a new call, so a call never holds two batches of one partition
 * and each partition's batches go in order; a keyless batch (placed by the hub) is a call alone,
 * so where it lands relative to the keyed batches stays as it was.
 */
export function sendGroups(batches: readonly PendingBatch[]): PendingBatch[][] {
  const groups: PendingBatch[][] = [];
  let group: PendingBatch[] = [];
  const partitions = new Set<string>();
  const close = (): void => {
    if (group.length > 0) groups.push(group);
    group = [];
    partitions.clear();
  };
  for (const batch of batches) {
    if (batch.partitionId === null) {
      close();
      groups.push([batch]);
      continue;
    }
    if (partitions.has(batch.partitionId)) close();
    group.push(batch);
    partitions.add(batch.partitionId);
  }
  close();
  return groups;
}

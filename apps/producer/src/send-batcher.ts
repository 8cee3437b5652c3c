/**
 * Groups events into hub batches per partition (a batch goes to one partition), bounded by count and
 * bytes, and bounds everything pending so memory stays flat whatever the key spread. Events of one
 * partition are sent in row order, since a partition's batches are flushed in order: a partition's
 * events reach the hub in the order of the file, whatever the keys (DESIGN invariant 11 counts on
 * it: event time within a partition is as ordered as the source).
 *
 * Batches that fill together go together: when one partition's batch is full, every other
 * partition's batch that is nearly full (`NEARLY_FULL` of the event or byte limit) is handed out
 * with it, and `sendGroups` puts them in one hub call (one commit on the embedded hub, concurrent
 * sends on Event Hubs). With keys spread evenly, partitions fill within a few rows of each other
 * (for 4 × 2,000 rows the spread is about 40 rows, 2%), so nearly every call carries every
 * partition; a partition far behind (skewed keys) keeps filling rather than going out small, and
 * a batch sent early is at least 90% full, so at most 11% more batches than full ones would make.
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
export const NEARLY_FULL = 0.9;

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  /** Across all partitions; reaching it flushes every pending batch. */
  maxPendingEvents: number;
}

export class SendBatcher {
  private readonly pending = new Map<string | null, PendingBatch>();
  private pendingEvents = 0;
  private readonly nearlyFullEvents: number;
  private readonly nearlyFullBytes: number;

  constructor(private readonly limits: BatchLimits) {
    this.nearlyFullEvents = Math.ceil(limits.maxEvents * NEARLY_FULL);
    this.nearlyFullBytes = limits.maxBytes * NEARLY_FULL;
  }

  /**
   * Adds an event (`size`: its `eventSizeInBytes`, when the caller has it already); returns batches
   * that are now ready to send (possibly none): a full batch first, then the other partitions'
   * nearly full ones; a partition's batches in the order of their rows.
   */
  add(event: EventToSend, partitionId: string | null, row: number, size: number = eventSizeInBytes(event)): PendingBatch[] {
    const ready: PendingBatch[] = [];
    let batch = this.pending.get(partitionId);
    if (batch && (batch.events.length >= this.limits.maxEvents || batch.bytes + size > this.limits.maxBytes)) {
      ready.push(this.take(partitionId));
      this.takeNearlyFull(ready);
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

  /** Moves the keyed batches that are nearly full into `ready` (a keyless batch goes alone anyway). */
  private takeNearlyFull(ready: PendingBatch[]): void {
    for (const [key, batch] of this.pending) {
      if (key !== null && (batch.events.length >= this.nearlyFullEvents || batch.bytes >= this.nearlyFullBytes)) ready.push(this.take(key));
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

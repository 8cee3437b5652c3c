/**
 * Groups events into hub batches per partition (a batch goes to one partition), bounded by count and
 * bytes, and bounds everything pending so memory stays flat whatever the key spread. Events of one
 * partition are sent in row order, since a partition's batches are flushed in order: a partition's
 * events reach the hub in the order of the file, whatever the keys (DESIGN invariant 11 counts on
 * it: event time within a partition is as ordered as the source).
 */
import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';

export interface PendingBatch {
  /** The partition the batch goes to; null: events without a key, placed by the hub. */
  partitionId: string | null;
  events: EventToSend[];
  rows: number[];
  bytes: number;
}

export interface BatchLimits {
  maxEvents: number;
  maxBytes: number;
  /** Across all partitions; reaching it flushes every pending batch. */
  maxPendingEvents: number;
}

export class SendBatcher {
  private readonly pending = new Map<string | null, PendingBatch>();
  private pendingEvents = 0;

  constructor(private readonly limits: BatchLimits) {}

  /**
   * Adds an event (`size`: its `eventSizeInBytes`, when the caller has it already); returns batches
   * that are now ready to send (possibly none), oldest first.
   */
  add(event: EventToSend, partitionId: string | null, row: number, size: number = eventSizeInBytes(event)): PendingBatch[] {
    const ready: PendingBatch[] = [];
    let batch = this.pending.get(partitionId);
    if (batch && (batch.events.length >= this.limits.maxEvents || batch.bytes + size > this.limits.maxBytes)) {
      ready.push(this.take(partitionId));
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

  private take(key: string | null): PendingBatch {
    const batch = this.pending.get(key) as PendingBatch;
    this.pending.delete(key);
    this.pendingEvents -= batch.events.length;
    return batch;
  }
}

/**
 * Silver's event time: every source partition's progress, tracked by the same rule gold applies
 * (PartitionWatermarks from @pipeline/engine), and de-duplication tied to it.
 *
 * Invariants (DESIGN invariant 11):
 * - Silver sees every row of every partition, so its progress is the progress of the partitions;
 *   it hands it to gold in each silver manifest, and gold merges it before moving its watermark.
 *   After silver batch N, gold's watermark is therefore exactly `watermark` here (when both run
 *   the same spec), and gold applies it to the rows of batch N + 1.
 * - An event id is remembered until that watermark reaches the end of the last window containing
 *   the event: a duplicate silver has forgotten is always late for gold, never aggregated twice.
 *   For a session window that end is the event's own session end, event time + gap (gold drops a
 *   row exactly when that has passed), the gap read from the row when it comes from a column.
 * - Rows move progress whether or not they are duplicates (a copy is data of its partition);
 *   quarantined records do not (they carry no trustworthy event time).
 */
import { lastWindowEnd, PartitionWatermarks, sessionEndOf, type EventTimeProgress, type WatermarkSnapshot, type WindowDefinition } from '@pipeline/engine';
import { Deduplicator, type DedupState, type DedupStateV2, type DedupVerdict } from './deduplicator';

export interface EventTimeDedupConfig {
  delayMs: number;
  /** null: partitions never go idle. */
  idleTimeoutMs: number | null;
  /** Every window definition gold aggregates: an id is kept until the last of them has closed. */
  windows: readonly WindowDefinition[];
  /** Gold's session windows (absent when none): a fixed gap in ms, or the row column holding it. */
  sessions?: ReadonlyArray<{ gapMs?: number; gapColumn?: string }>;
}

export interface EventTimeDedupState {
  eventTime: WatermarkSnapshot;
  /** Version 3 as written now; version 2 in checkpoints written before. */
  dedup: DedupState | DedupStateV2;
}

/** What silver tells gold about event time after a batch. */
export interface BatchEventTime extends EventTimeProgress {
  /** The watermark after the batch: gold's late threshold for the next one. */
  watermark: number;
}

export class EventTimeDedup {
  private readonly watermarks: PartitionWatermarks;
  private readonly dedup: Deduplicator;
  private readonly windows: readonly WindowDefinition[];
  private readonly sessions: ReadonlyArray<{ gapMs?: number; gapColumn?: string }>;

  private constructor(config: EventTimeDedupConfig, state: EventTimeDedupState | undefined) {
    this.sessions = config.sessions ?? [];
    if (config.windows.length === 0 && this.sessions.length === 0) throw new RangeError('EventTimeDedup needs the window definitions gold aggregates.');
    this.windows = config.windows.map((w) => ({ sizeMs: w.sizeMs, slideMs: w.slideMs, offsetMs: w.offsetMs }));
    this.watermarks = new PartitionWatermarks(config.delayMs, config.idleTimeoutMs);
    if (state !== undefined) this.watermarks.restore(state.eventTime);
    this.dedup = state === undefined ? new Deduplicator() : Deduplicator.restore(state.dedup);
  }

  /** Fresh, or resumed from a `snapshot()` taken with the same configuration. */
  static build(config: EventTimeDedupConfig, state?: EventTimeDedupState): EventTimeDedup {
    return new EventTimeDedup(config, state);
  }

  /** The watermark gold applies to the current batch's rows. */
  get watermark(): number {
    return this.watermarks.watermark;
  }

  /** Remembered event ids. */
  get remembered(): number {
    return this.dedup.size;
  }

  /** The source partitions that exist, rows or not: each holds the watermark until it has rows or is idle. */
  declarePartitions(partitions: Iterable<string>): void {
    this.watermarks.declare(partitions);
  }

  /**
   * A typed row of `partition`: moves the partition's progress; `duplicate` when its id is
   * remembered. `row` gives the session gap columns' values, when session gaps come from columns.
   */
  admit(eventId: string, partition: string, eventTime: number, captureTime: number, row?: Readonly<Record<string, unknown>>): DedupVerdict {
    this.watermarks.observe(partition, eventTime, captureTime);
    return this.dedup.observe(eventId, this.expiryOf(eventTime, row));
  }

  /** The end of a batch: the watermark moves, ids whose windows have all closed are forgotten. */
  endBatch(): BatchEventTime {
    const watermark = this.watermarks.advance();
    this.dedup.expire(watermark);
    return { watermark, ...this.watermarks.progress() };
  }

  snapshot(): EventTimeDedupState {
    return { eventTime: this.watermarks.snapshot(), dedup: this.dedup.snapshot() };
  }

  /** The end of the last window of any definition containing `eventTime`. */
  private expiryOf(eventTime: number, row: Readonly<Record<string, unknown>> | undefined): number {
    let expiry = Number.NEGATIVE_INFINITY;
    for (const window of this.windows) {
      const end = lastWindowEnd(eventTime, window);
      if (end > expiry) expiry = end;
    }
    for (const session of this.sessions) {
      // A row without a session (no usable gap) is late for gold whenever it comes: nothing to keep.
      const end = sessionEndOf(session, row, eventTime);
      if (end !== null && end > expiry) expiry = end;
    }
    return expiry;
  }
}

/**
 * The records each stage keeps in its checkpoint (libs/checkpoint: offsets/N, state/N, commits/N),
 * in one place: the stages write them, and the status, audit and replay read them with these types.
 * A record's shape is part of the checkpoint format: a field is only ever added, optional.
 */
import type { ManifestInput } from './manifest';
import type { RejectingStage, RejectionReason } from './rejected-file';

// Capture: one log per partition, {checkpoint}/partitions/{p}; no state (its position is the last intent).

export interface CaptureIntent {
  version: number;
  batch: number;
  partitionId: string;
  /** First sequence number in the file; for an empty file, one past the previous file's last. */
  fromSequenceNumber: number;
  /** Last sequence number in the file; `fromSequenceNumber - 1` for an empty file. */
  toSequenceNumber: number;
  eventCount: number;
  path: string;
  codec: 'null' | 'deflate';
  /** Largest uncompressed block size used when writing, so a redo writes the same bytes. */
  blockTargetBytes: number;
  /** Offset of the last event (for the hub checkpoint), `null` for an empty file. */
  lastOffset: string | null;
}

/** commits/N: the file written. */
export interface CaptureCommit {
  batch: number;
  path: string;
  bytes: number;
  /** The capture instance (CAPTURE_INSTANCE_ID) that committed the file: the partition's owner then. */
  owner?: string;
}

// Bronze: checkpoints/bronze.

export interface BronzeOffsetFile {
  path: string;
  partitionId: string;
  /** Size when listed, for the batch size limit; the manifest has the size read. */
  bytes: number;
  /** Taken because `pipeline rejected restore` put it back: the rejection (its bronze batch) and who set it aside. */
  restore?: FileRestore;
}

export interface FileRestore {
  rejection: number;
  stage: RejectingStage;
}

export interface BronzeOffsets {
  /** The batch's time: the manifest's `createdAt`, so a re-done batch writes the same bytes. */
  createdAt: number;
  /** Trace context of the batch span that planned it: the manifest carries it, re-done or not. */
  traceparent?: string;
  /** Every partition bronze reads, files or not: the manifest names them, so silver knows which partitions hold event time. */
  partitions?: string[];
  files: BronzeOffsetFile[];
}

export interface PartitionCursorState {
  position: string;
  horizon: number;
  /** Times of the consumed files on whole seconds, in epoch seconds, ascending: the first absolute, then differences. */
  consumed: number[];
  /**
   * Times of the consumed sub-second files (`{ss}_{SSS}.avro`), in epoch ms, written the same way;
   * absent when there are none, so a state of second files alone keeps its bytes.
   */
  consumedMs?: number[];
  /** Cumulative files and records consumed, for the audit. */
  files: number;
  records: number;
}

export interface BronzeState {
  partitions: Record<string, PartitionCursorState>;
}

export interface BronzePartitionCounts {
  files: number;
  records: number;
}

export interface BronzeCommit {
  batch: number;
  manifest: string;
  files: number;
  records: number;
  bytes: number;
  /** This batch's counts per partition. */
  partitions: Record<string, BronzePartitionCounts>;
  /** Files set aside by this batch (in the rejected-file log under this batch's number), when any. */
  rejected?: string[];
  /** Restored files this batch took back (referenced, or set aside again), when any. */
  restored?: string[];
}

// Silver: checkpoints/silver.

export interface SilverOffsets {
  /** Bronze manifests of session `bronze`, inclusive range. */
  bronze: { from: number; to: number };
  /** The batch's time: commit times and manifest times derive from it, so a re-run writes the same bytes. */
  batchTime: number;
  /** Trace context of the span that planned the batch: its manifests carry it, re-run or not. */
  traceparent?: string;
  /** The Parquet writer version of the batch's data files (libs/delta `parquet-writers.ts`); absent: 1, the writer before it was recorded. */
  parquetWriter?: number;
}

/** Rows of one source partition, by outcome. Every captured record lands in exactly one. */
export interface SilverPartitionCounts {
  records: number;
  rows: number;
  quarantined: number;
  duplicates: number;
}

/** `EventTime`: the de-duplication snapshot (libs/transform `EventTimeDedupState`), opaque to other readers. */
export interface SilverState<EventTime = unknown> {
  /** Each source partition's progress, the watermark handed to gold, and the event ids remembered until it passes their windows. */
  eventTime: EventTime;
  /** Cumulative counts per source partition, for the audit. */
  totals: Record<string, SilverPartitionCounts>;
}

export interface SilverCommit {
  batch: number;
  bronze: { from: number; to: number };
  inputs: ManifestInput[];
  /** Capture files of the batch's bronze manifests in the capture-time range (read) and outside it (skipped, counted nowhere else). */
  captureFiles: { inRange: number; outOfRange: number };
  /** This batch's counts per source partition (files in range only). */
  counts: Record<string, SilverPartitionCounts>;
  /**
   * The counts per source partition of every batch up to this one, as the state after it holds them:
   * what the status shows, read without the state's event-time part (absent in older records).
   */
  totals?: Record<string, SilverPartitionCounts>;
  /** Rows per reason in this batch. */
  quarantineReasons: Record<string, number>;
  silverVersion: number;
  quarantineVersion: number;
  /** Capture files set aside (their bytes are not those bronze referenced), when any: their records are in no other count. */
  rejectedFiles?: SilverRejectedFile[];
}

/** A capture file a silver batch set aside, and bronze's record count for it. */
export interface SilverRejectedFile {
  path: string;
  partitionId: string;
  /** The bronze batch whose manifest references it. */
  bronzeBatch: number;
  rows: number;
  reason: RejectionReason;
}

export function emptySilverCounts(): SilverPartitionCounts {
  return { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
}

// Gold: checkpoints/gold/shard-NNN, one checkpoint per shard.

export interface GoldOffsets {
  /** Silver manifests of this shard's session, inclusive (empty, from = to + 1, for an end-of-input batch alone). */
  silver: { from: number; to: number };
  batchTime: number;
  /** The input is complete: after the batch the watermark passes every open window (Flink's end-of-input watermark). */
  endOfInput?: true;
  /** The Parquet writer version of the batch's data files (libs/delta `parquet-writers.ts`); absent: 1, the writer before it was recorded. */
  parquetWriter?: number;
}

export interface GoldTotals {
  rows: number;
  lateRows: number;
  windowsEmitted: number;
  /** Spark's metric: (window, key) aggregate rows dropped as late (absent in states written before it was counted). */
  numRowsDroppedByWatermark?: number;
}

export interface GoldState {
  /** `WindowedAggregation.snapshot()` */
  engine: unknown;
  totals: GoldTotals;
}

export interface GoldCommit {
  batch: number;
  silver: { from: number; to: number };
  rows: number;
  lateRows: number;
  /** Input rows late for at least one window. */
  rowsDroppedByWatermark: number;
  /** Spark's `numRowsDroppedByWatermark`: (window, key) aggregate rows dropped as late. */
  numRowsDroppedByWatermark: number;
  windowsEmitted: number;
  documentsWritten: number;
  watermark: number;
  /** The partition holding the watermark back after the batch, and the idle ones. */
  holdingPartition: string | null;
  idlePartitions: string[];
  endOfInput?: true;
  goldVersion: number;
  lateVersion: number;
}

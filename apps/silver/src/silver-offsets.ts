/** What a silver batch consumes (offsets/N), its state after (state/N), and its commit (commits/N). */
import type { ManifestInput, RejectionReason } from '@pipeline/contracts';
import type { EventTimeDedupState } from '@pipeline/transform';

export interface SilverOffsets {
  /** Bronze manifests of session `bronze`, inclusive range. */
  bronze: { from: number; to: number };
  /** The batch's time: commit times and manifest times derive from it, so a re-run writes the same bytes. */
  batchTime: number;
  /** Trace context of the span that planned the batch: its manifests carry it, re-run or not. */
  traceparent?: string;
}

/** Rows of one source partition, by outcome. Every captured record lands in exactly one. */
export interface PartitionCounts {
  records: number;
  rows: number;
  quarantined: number;
  duplicates: number;
}

export interface SilverState {
  /** Each source partition's progress, the watermark handed to gold, and the event ids remembered until it passes their windows. */
  eventTime: EventTimeDedupState;
  /** Cumulative counts per source partition, for the audit. */
  totals: Record<string, PartitionCounts>;
}

export interface SilverCommit {
  batch: number;
  bronze: { from: number; to: number };
  inputs: ManifestInput[];
  /** Capture files of the batch's bronze manifests in the capture-time range (read) and outside it (skipped, counted nowhere else). */
  captureFiles: { inRange: number; outOfRange: number };
  /** This batch's counts per source partition (files in range only). */
  counts: Record<string, PartitionCounts>;
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

export function emptyCounts(): PartitionCounts {
  return { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
}

/**
 * What bronze keeps in its stage checkpoint (`checkpoints/bronze` by default):
 *   offsets/N   the exact files of batch N, its time and trace context — written before anything else
 *   state/N     every partition's cursor after batch N, with cumulative counts for the audit
 *   commits/N   batch N's manifest and its per-partition counts — written last
 * Files a batch sets aside are in the rejected-file log (`rejected/…`, see libs/contracts
 * rejected-file.ts) under the batch's number, written before its manifest.
 * The checkpoint is bound to what decides which files bronze reads: namespace, hub, raw prefix and
 * the layout version. A checkpoint written for another hub refuses to start.
 */
import type { RejectingStage } from '@pipeline/contracts';
import { CAPTURE_LAYOUT, CAPTURE_LAYOUT_VERSION, type CaptureLayout } from './capture-layout';
import type { PartitionCursorState } from './partition-cursor';

export const BRONZE_STAGE = 'bronze';
/** Bumped when bronze's batch logic changes in a way that would change its manifests. */
export const BRONZE_LOGIC_VERSION = 1;

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

export interface BronzeState {
  partitions: Record<string, PartitionCursorState>;
}

export interface PartitionCounts {
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
  partitions: Record<string, PartitionCounts>;
  /** Files set aside by this batch (in the rejected-file log under this batch's number), when any. */
  rejected?: string[];
  /** Restored files this batch took back (referenced, or set aside again), when any. */
  restored?: string[];
}

/** What the checkpoint's fingerprint is computed from. */
export function bronzeLogic(layout: CaptureLayout): Record<string, unknown> {
  return {
    logicVersion: BRONZE_LOGIC_VERSION,
    namespace: layout.namespace,
    eventHub: layout.eventHub,
    prefix: layout.prefix,
    layout: CAPTURE_LAYOUT,
    layoutVersion: CAPTURE_LAYOUT_VERSION,
  };
}

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
import { CAPTURE_LAYOUT, CAPTURE_LAYOUT_VERSION, type CaptureLayout } from '@pipeline/contracts';

// The records live in libs/contracts (stage-records.ts), where the status and the audit read them.
export type { BronzeCommit, BronzeOffsetFile, BronzeOffsets, BronzePartitionCounts as PartitionCounts, BronzeState, FileRestore } from '@pipeline/contracts';

export const BRONZE_STAGE = 'bronze';
/** Bumped when bronze's batch logic changes in a way that would change its manifests. */
export const BRONZE_LOGIC_VERSION = 1;

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

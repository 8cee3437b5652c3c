/**
 * What a silver batch consumes (offsets/N), its state after (state/N), and its commit (commits/N):
 * the records of libs/contracts (stage-records.ts), with the de-duplication snapshot typed.
 */
import type { SilverState as SilverStateRecord } from '@pipeline/contracts';
import type { EventTimeDedupState } from '@pipeline/transform';

export type { SilverCommit, SilverOffsets, SilverPartitionCounts as PartitionCounts, SilverRejectedFile } from '@pipeline/contracts';
export { emptySilverCounts as emptyCounts } from '@pipeline/contracts';

export type SilverState = SilverStateRecord<EventTimeDedupState>;

/** A gold shard's checkpoint entries: the records of libs/contracts (stage-records.ts). */
export type { GoldCommit, GoldOffsets, GoldState, GoldTotals } from '@pipeline/contracts';

/** A gold shard's checkpoint entries: what batch N consumes, its state after, its commit. */
export interface GoldOffsets {
  /** Silver manifests of this shard's session, inclusive. */
  silver: { from: number; to: number };
  batchTime: number;
}

export interface GoldTotals {
  rows: number;
  lateRows: number;
  windowsEmitted: number;
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
  rowsDroppedByWatermark: number;
  windowsEmitted: number;
  documentsWritten: number;
  watermark: number;
  goldVersion: number;
  lateVersion: number;
}

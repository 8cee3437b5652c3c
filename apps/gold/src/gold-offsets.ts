/** A gold shard's checkpoint entries: what batch N consumes, its state after, its commit. */
export interface GoldOffsets {
  /** Silver manifests of this shard's session, inclusive (empty, from = to + 1, for an end-of-input batch alone). */
  silver: { from: number; to: number };
  batchTime: number;
  /** The input is complete: after the batch the watermark passes every open window (Flink's end-of-input watermark). */
  endOfInput?: true;
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

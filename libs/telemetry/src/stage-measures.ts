/**
 * Each stage's batch metrics, read off its commit record (libs/contracts stage-records.ts): the
 * counts `/v1/status`, the audit and the terminal view add up, so a metric and the status never
 * disagree about what a batch did. Pure: the stage runtime records what these return.
 */
import type { BronzeCommit, CaptureIntent, GoldCommit, SilverCommit } from '@pipeline/contracts';
import type { BatchMeasure, PartitionProgress, RecordCounts } from './pipeline-metrics';

/** Capture: the events of the file written, from its intent (in = out: capture writes what it read). */
export function captureMeasure(intent: CaptureIntent): BatchMeasure {
  return { records: { [intent.partitionId]: { in: intent.eventCount, out: intent.eventCount } }, size: intent.eventCount };
}

/** Bronze: the records of the capture files it referenced, per hub partition (it references them in place: in = out). */
export function bronzeMeasure(commit: BronzeCommit): BatchMeasure {
  const records: Record<string, RecordCounts> = {};
  for (const [partition, counts] of Object.entries(commit.partitions)) records[partition] = { in: counts.records, out: counts.records };
  return { records, size: commit.records };
}

export interface SilverEventTime {
  watermark: number;
  partitions: Record<string, { maxEventTime: number | null }>;
  /** Event ids remembered for de-duplication. */
  remembered: number;
}

/** Silver: records read, rows written, quarantined and duplicates per source partition; its watermark and remembered ids. */
export function silverMeasure(commit: SilverCommit, eventTime: SilverEventTime): BatchMeasure {
  const records: Record<string, RecordCounts> = {};
  let size = 0;
  for (const [partition, c] of Object.entries(commit.counts)) {
    records[partition] = { in: c.records, out: c.rows, quarantined: c.quarantined, duplicates: c.duplicates };
    size += c.records;
  }
  const partitions: Record<string, PartitionProgress> = {};
  for (const [partition, p] of Object.entries(eventTime.partitions)) partitions[partition] = { maxEventTime: p.maxEventTime };
  return { records, size, eventTime: { watermark: eventTime.watermark, maxEventTime: newest(partitions), partitions }, state: { rows: eventTime.remembered } };
}

export interface GoldShardState {
  partitions: Record<string, { maxEventTime: number | null }>;
  openWindows: number;
  stateRows: number;
}

/** Gold, per shard: rows taken and rows late (its commit does not split them by partition), windows emitted, event time per partition, state. */
export function goldMeasure(commit: GoldCommit, shard: GoldShardState): BatchMeasure {
  const idle = new Set(commit.idlePartitions);
  const partitions: Record<string, PartitionProgress> = {};
  for (const [partition, p] of Object.entries(shard.partitions)) partitions[partition] = { maxEventTime: p.maxEventTime, idle: idle.has(partition) };
  return {
    records: { '': { in: commit.rows, late: commit.lateRows } },
    size: commit.rows,
    windowsEmitted: commit.windowsEmitted,
    eventTime: { watermark: commit.watermark, maxEventTime: newest(partitions), partitions },
    state: { rows: shard.stateRows, windows: shard.openWindows },
  };
}

function newest(partitions: Record<string, PartitionProgress>): number | null {
  let max: number | null = null;
  for (const p of Object.values(partitions)) if (p.maxEventTime !== null && (max === null || p.maxEventTime > max)) max = p.maxEventTime;
  return max;
}

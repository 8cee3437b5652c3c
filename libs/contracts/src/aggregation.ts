import type { AggregationConfig } from '@pipeline/engine';
import type { OutputMode, PipelineSpec } from './spec.types';

/** Where rows carry their source partition and capture time: silver's lineage columns by default. */
export interface EventTimeColumns {
  partitionColumn: string;
  captureTimeColumn: string;
}

export const SILVER_EVENT_TIME_COLUMNS: EventTimeColumns = { partitionColumn: 'partition_id', captureTimeColumn: 'enqueued_time' };

/**
 * The event-time engine's configuration for a spec: its windows, grouping keys, aggregates, delay
 * and idle timeout, with event time tracked per source partition.
 */
export function aggregationConfigOf(
  spec: PipelineSpec,
  outputModes: readonly OutputMode[] = spec.gold.outputModes,
  columns: EventTimeColumns = SILVER_EVENT_TIME_COLUMNS,
): AggregationConfig {
  return {
    windows: spec.windows.map((w) => ({ name: w.name, sizeMs: w.sizeMs, slideMs: w.kind === 'hopping' ? w.slideMs : w.sizeMs })),
    groupBy: [...spec.groupBy],
    aggregates: spec.aggregates.map((a) => (a.column === undefined ? { name: a.name, fn: a.fn } : { name: a.name, fn: a.fn, column: a.column })),
    watermarkDelayMs: spec.watermark.delayMs,
    watermarkIdleTimeoutMs: spec.watermark.idleTimeoutMs,
    partitionColumn: columns.partitionColumn,
    captureTimeColumn: columns.captureTimeColumn,
    outputModes: [...outputModes],
  };
}

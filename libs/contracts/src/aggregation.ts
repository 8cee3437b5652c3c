import type { AggregationConfig, WindowDefinition } from '@pipeline/engine';
import type { OutputMode, PipelineSpec, WindowSpec } from './spec.types';

/** The engine's definition of a spec window: a tumbling window slides by its size; the offset only when set. */
export function windowDefinitionOf(window: WindowSpec): WindowDefinition {
  const slideMs = window.kind === 'hopping' ? window.slideMs : window.sizeMs;
  return window.offsetMs === undefined ? { sizeMs: window.sizeMs, slideMs } : { sizeMs: window.sizeMs, slideMs, offsetMs: window.offsetMs };
}

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
    windows: spec.windows.map((w) => ({ name: w.name, ...windowDefinitionOf(w) })),
    groupBy: [...spec.groupBy],
    aggregates: spec.aggregates.map((a) => (a.column === undefined ? { name: a.name, fn: a.fn } : { name: a.name, fn: a.fn, column: a.column })),
    watermarkDelayMs: spec.watermark.delayMs,
    watermarkIdleTimeoutMs: spec.watermark.idleTimeoutMs,
    partitionColumn: columns.partitionColumn,
    captureTimeColumn: columns.captureTimeColumn,
    outputModes: [...outputModes],
  };
}

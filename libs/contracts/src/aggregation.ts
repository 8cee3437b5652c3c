import type { AggregationConfig, WindowDefinition } from '@pipeline/engine';
import type { OutputMode, PipelineSpec, SessionWindowSpec, WindowSpec } from './spec.types';

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
    windows: fixedWindowsOf(spec).map((w) => ({ name: w.name, ...windowDefinitionOf(w) })),
    ...sessionConfigOf(spec),
    groupBy: [...spec.groupBy],
    aggregates: spec.aggregates.map((a) => (a.column === undefined ? { name: a.name, fn: a.fn } : { name: a.name, fn: a.fn, column: a.column })),
    watermarkDelayMs: spec.watermark.delayMs,
    watermarkIdleTimeoutMs: spec.watermark.idleTimeoutMs,
    partitionColumn: columns.partitionColumn,
    captureTimeColumn: columns.captureTimeColumn,
    outputModes: [...outputModes],
  };
}

/** The spec's tumbling and hopping windows. */
export function fixedWindowsOf(spec: Pick<PipelineSpec, 'windows'>): WindowSpec[] {
  return spec.windows.filter((w): w is WindowSpec => w.kind !== 'session');
}

/** The spec's session windows. */
export function sessionWindowsOf(spec: Pick<PipelineSpec, 'windows'>): SessionWindowSpec[] {
  return spec.windows.filter((w): w is SessionWindowSpec => w.kind === 'session');
}

/** The engine's `sessions` for a spec; absent without session windows, so other specs' configurations read as before. */
function sessionConfigOf(spec: PipelineSpec): Pick<AggregationConfig, 'sessions'> {
  const sessions = sessionWindowsOf(spec);
  if (sessions.length === 0) return {};
  return { sessions: sessions.map((w) => ('gapColumn' in w ? { name: w.name, gapColumn: w.gapColumn } : { name: w.name, gapMs: w.gapMs })) };
}

import type { AggregationConfig } from '@pipeline/engine';
import type { OutputMode, PipelineSpec } from './spec.types';

/** The event-time engine's configuration for a spec: its windows, grouping keys, aggregates and delay. */
export function aggregationConfigOf(spec: PipelineSpec, outputModes: readonly OutputMode[] = spec.gold.outputModes): AggregationConfig {
  return {
    windows: spec.windows.map((w) => ({ name: w.name, sizeMs: w.sizeMs, slideMs: w.kind === 'hopping' ? w.slideMs : w.sizeMs })),
    groupBy: [...spec.groupBy],
    aggregates: spec.aggregates.map((a) => (a.column === undefined ? { name: a.name, fn: a.fn } : { name: a.name, fn: a.fn, column: a.column })),
    watermarkDelayMs: spec.watermark.delayMs,
    outputModes: [...outputModes],
  };
}

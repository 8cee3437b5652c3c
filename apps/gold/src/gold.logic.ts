/**
 * What gold computes, derived from the spec: the engine's configuration, the gold and late table
 * schemas, and the fingerprint inputs of a shard's checkpoint.
 */
import { aggregationConfigOf, type ColumnType, type PipelineSpec, type TableColumn, type TableSchema } from '@pipeline/contracts';
import type { AggregationConfig } from '@pipeline/engine';
import { silverSchema } from '@pipeline/transform';

/** Bumped whenever gold's output for the same input changes; part of the checkpoint fingerprint. */
export const GOLD_LOGIC_VERSION = 1;

export const GOLD_TABLE = 'tables/gold';
export const LATE_TABLE = 'tables/late';
export const SILVER_QUEUE = 'silver-manifests';

export function aggregationConfig(spec: PipelineSpec): AggregationConfig {
  return aggregationConfigOf(spec);
}

/** The parts of the spec a gold shard's output depends on. */
export function goldLogic(spec: PipelineSpec): Record<string, unknown> {
  return {
    logicVersion: GOLD_LOGIC_VERSION,
    aggregation: aggregationConfig(spec),
    outputModes: spec.gold.outputModes,
    shards: spec.gold.shards,
    columns: spec.source.columns,
  };
}

function columnType(spec: PipelineSpec, name: string): ColumnType {
  return spec.source.columns.find((c) => c.name === name)?.type ?? 'string';
}

/** Final windows: window, bounds, grouping keys, aggregates, lineage; partitioned by the window's date. */
export function goldSchema(spec: PipelineSpec): TableSchema {
  const columns: TableColumn[] = [
    { name: 'window', type: 'string', nullable: false },
    { name: 'window_start', type: 'timestamp', nullable: false },
    { name: 'window_end', type: 'timestamp', nullable: false },
    ...spec.groupBy.map((name): TableColumn => ({ name, type: columnType(spec, name), nullable: true })),
    ...spec.aggregates.map(
      (a): TableColumn => ({ name: a.name, type: a.fn === 'count' || a.fn === 'count_distinct' ? 'long' : 'double', nullable: a.fn !== 'count' && a.fn !== 'count_distinct' }),
    ),
    { name: 'shard', type: 'integer', nullable: false },
    { name: 'gold_batch', type: 'long', nullable: false },
    { name: 'window_date', type: 'date', nullable: false },
  ];
  return { columns, partitionBy: ['window_date'] };
}

/** Late rows: the silver row, the windows it missed and the watermark it missed them by. */
export function lateSchema(spec: PipelineSpec): TableSchema {
  const silver = silverSchema(spec);
  return {
    columns: [
      ...silver.columns,
      { name: 'late_windows', type: 'string', nullable: false },
      { name: 'late_threshold', type: 'timestamp', nullable: false },
      { name: 'gold_batch', type: 'long', nullable: false },
    ],
    partitionBy: silver.partitionBy,
  };
}

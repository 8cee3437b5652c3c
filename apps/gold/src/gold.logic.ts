/**
 * What gold computes, derived from the spec: the engine's configuration, the gold and late table
 * schemas, and the fingerprint inputs of a shard's checkpoint.
 */
import {
  aggregationConfigOf,
  DEFAULT_MANIFEST_ROOT,
  GOLD_LINEAGE_COLUMNS,
  GOLD_WINDOW_COLUMNS,
  LATE_ADDED_COLUMNS,
  manifestQueue,
  silverColumnType,
  type ColumnType,
  type PipelineSpec,
  type TableColumn,
  type TableSchema,
} from '@pipeline/contracts';
import type { AggregationConfig } from '@pipeline/engine';
import { silverSchema } from '@pipeline/transform';

/** Bumped whenever gold's output for the same input changes; part of the checkpoint fingerprint. */
export const GOLD_LOGIC_VERSION = 2;

/** The lake folder of the pipeline's own tables; a replay writes under another one. */
export const DEFAULT_TABLES_ROOT = 'tables';
export const GOLD_TABLE = `${DEFAULT_TABLES_ROOT}/gold`;
export const LATE_TABLE = `${DEFAULT_TABLES_ROOT}/late`;
export const SILVER_QUEUE = manifestQueue('silver');

/** Gold's tables under a tables root: `{root}/gold` and `{root}/late`. */
export function goldTables(tablesRoot: string = DEFAULT_TABLES_ROOT): { gold: string; late: string } {
  return { gold: `${tablesRoot}/gold`, late: `${tablesRoot}/late` };
}

export interface GoldLogicOptions {
  tablesRoot?: string;
  /** Where the silver manifests gold reads are. */
  manifestsRoot?: string;
}

export function aggregationConfig(spec: PipelineSpec): AggregationConfig {
  return aggregationConfigOf(spec);
}

/**
 * The parts of the spec a gold shard's output depends on. Input and output folders other than the
 * defaults are part of it too (a shard resumed on other silver manifests or into other tables would
 * not continue its own); the defaults add nothing, so existing checkpoints keep their fingerprint.
 */
export function goldLogic(spec: PipelineSpec, options: GoldLogicOptions = {}): Record<string, unknown> {
  const logic: Record<string, unknown> = {
    logicVersion: GOLD_LOGIC_VERSION,
    aggregation: aggregationConfig(spec),
    outputModes: spec.gold.outputModes,
    shards: spec.gold.shards,
    columns: spec.source.columns,
  };
  if (options.tablesRoot !== undefined && options.tablesRoot !== DEFAULT_TABLES_ROOT) logic['tablesRoot'] = options.tablesRoot;
  if (options.manifestsRoot !== undefined && options.manifestsRoot !== DEFAULT_MANIFEST_ROOT) logic['manifestsRoot'] = options.manifestsRoot;
  return logic;
}

/** A grouping column's type as gold reads it from silver (the event time column silver owns is a timestamp there). */
function columnType(spec: PipelineSpec, name: string): ColumnType {
  return silverColumnType(spec, name) ?? 'string';
}

/** Final windows: window, bounds, grouping keys, aggregates, lineage; partitioned by the window's date. */
export function goldSchema(spec: PipelineSpec): TableSchema {
  const columns: TableColumn[] = [
    ...GOLD_WINDOW_COLUMNS.map((c) => ({ ...c })),
    ...spec.groupBy.map((name): TableColumn => ({ name, type: columnType(spec, name), nullable: true })),
    ...spec.aggregates.map(
      (a): TableColumn => ({ name: a.name, type: a.fn === 'count' || a.fn === 'count_distinct' ? 'long' : 'double', nullable: a.fn !== 'count' && a.fn !== 'count_distinct' }),
    ),
    ...GOLD_LINEAGE_COLUMNS.map((c) => ({ ...c })),
  ];
  return { columns, partitionBy: ['window_date'] };
}

/** Late rows: the silver row, the windows it missed and the watermark it missed them by. */
export function lateSchema(spec: PipelineSpec): TableSchema {
  const silver = silverSchema(spec);
  return {
    columns: [...silver.columns, ...LATE_ADDED_COLUMNS.map((c) => ({ ...c }))],
    partitionBy: silver.partitionBy,
  };
}

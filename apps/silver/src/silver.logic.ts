import { DEFAULT_MANIFEST_ROOT, manifestQueue, type PipelineSpec } from '@pipeline/contracts';
import { eventTimeConfig } from './silver-batch';
import { describeCaptureTimeRange, isEveryCaptureFile, type CaptureTimeRange } from './capture-time-range';

/** Bumped whenever silver's output for the same input changes; part of the checkpoint fingerprint. */
export const SILVER_LOGIC_VERSION = 3;

/** The lake folder of the pipeline's own tables; a replay writes under another one. */
export const DEFAULT_TABLES_ROOT = 'tables';
export const SILVER_TABLE = `${DEFAULT_TABLES_ROOT}/silver`;
export const QUARANTINE_TABLE = `${DEFAULT_TABLES_ROOT}/quarantine`;
export const BRONZE_QUEUE = manifestQueue('bronze');
export const SILVER_QUEUE = manifestQueue('silver');

/** Silver's tables under a tables root: `{root}/silver` and `{root}/quarantine`. */
export function silverTables(tablesRoot: string = DEFAULT_TABLES_ROOT): { silver: string; quarantine: string } {
  return { silver: `${tablesRoot}/silver`, quarantine: `${tablesRoot}/quarantine` };
}

export interface SilverLogicOptions {
  /** Capture files read; absent or unbounded: every one. */
  captureRange?: CaptureTimeRange;
  tablesRoot?: string;
  manifestsRoot?: string;
}

/**
 * The parts of the spec and settings silver's output depends on: a change to any refuses the
 * checkpoint. A capture-time range and output folders other than the defaults are part of it too
 * (a checkpoint resumed elsewhere would leave its earlier batches behind); the defaults add nothing,
 * so checkpoints written before these options existed keep their fingerprint.
 */
export function silverLogic(spec: PipelineSpec, arrays: string, options: SilverLogicOptions = {}): Record<string, unknown> {
  const logic: Record<string, unknown> = {
    logicVersion: SILVER_LOGIC_VERSION,
    source: spec.source,
    eventTime: spec.eventTime,
    eventId: spec.eventId,
    groupBy: spec.groupBy,
    shards: spec.gold.shards,
    dedup: eventTimeConfig(spec),
    arrays,
  };
  if (options.captureRange && !isEveryCaptureFile(options.captureRange)) logic['captureRange'] = describeCaptureTimeRange(options.captureRange);
  if (options.tablesRoot !== undefined && options.tablesRoot !== DEFAULT_TABLES_ROOT) logic['tablesRoot'] = options.tablesRoot;
  if (options.manifestsRoot !== undefined && options.manifestsRoot !== DEFAULT_MANIFEST_ROOT) logic['manifestsRoot'] = options.manifestsRoot;
  return logic;
}

import type { PipelineSpec } from '@pipeline/contracts';
import { dedupHorizonMs } from './silver-batch';

/** Bumped whenever silver's output for the same input changes; part of the checkpoint fingerprint. */
export const SILVER_LOGIC_VERSION = 2;

export const SILVER_TABLE = 'tables/silver';
export const QUARANTINE_TABLE = 'tables/quarantine';
export const BRONZE_QUEUE = 'bronze-manifests';
export const SILVER_QUEUE = 'silver-manifests';

/** The parts of the spec and settings silver's output depends on: a change to any refuses the checkpoint. */
export function silverLogic(spec: PipelineSpec, arrays: string): Record<string, unknown> {
  return {
    logicVersion: SILVER_LOGIC_VERSION,
    source: spec.source,
    eventTime: spec.eventTime,
    eventId: spec.eventId,
    groupBy: spec.groupBy,
    shards: spec.gold.shards,
    dedupHorizonMs: dedupHorizonMs(spec),
    arrays,
  };
}

import { DEFAULT_LEASE_DURATION_MS, MIN_LEASE_DURATION_MS } from '@pipeline/checkpoint';
import { compileEventTimeParser, DEFAULT_MANIFEST_ROOT, isEventTimeError } from '@pipeline/contracts';
import { readBusBackend, readLakeBackend, resolvePipelineHome, SettingsReader, type BusBackend, type LakeBackend } from '@pipeline/config';
import { describeCaptureTimeRange, type CaptureTimeRange } from './capture-time-range';
import { DEFAULT_TABLES_ROOT } from './silver.logic';

export interface SilverConfig {
  home: string;
  lake: LakeBackend;
  bus: BusBackend;
  specFile: string;
  checkpointName: string;
  arrays: 'json' | 'index' | 'first';
  maxManifestsPerBatch: number;
  maxBatchBytes: number;
  pollIntervalMs: number;
  drain: boolean;
  /** Lake folder of the silver and quarantine tables (`{tablesRoot}/silver`, `{tablesRoot}/quarantine`). */
  tablesRoot: string;
  /** Lake folder silver writes its manifests under (bronze manifests are always read from `manifests`). */
  manifestsRoot: string;
  /** Capture files read; files outside are skipped and counted nowhere. */
  captureRange: CaptureTimeRange;
  /** The lease that keeps a second instance standing by: it takes over about this long after the active one stopped renewing. */
  leaseDurationMs: number;
}

export interface SilverFlags {
  home?: string;
  spec?: string;
  checkpoint?: string;
  poll?: string;
  maxManifests?: string;
  maxBatchSize?: string;
  drain?: boolean;
  tablesRoot?: string;
  manifestsRoot?: string;
  captureFrom?: string;
  captureTo?: string;
  leaseDuration?: string;
}

/** A relative lake folder: segments of letters, digits, `.`, `_`, `-`, none starting with `.`. */
export const LAKE_FOLDER = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

const parseIsoTime = compileEventTimeParser({ format: 'iso8601', timeZone: 'UTC' });

function captureTime(settings: SettingsReader, name: string): number | null {
  const raw = settings.optionalString(name);
  if (raw === undefined) return null;
  const ms = parseIsoTime(raw);
  if (isEventTimeError(ms)) {
    settings.problem(name, 'an ISO-8601 time like 2026-01-01T00:00:00Z (UTC when it has no offset)', JSON.stringify(raw));
    return null;
  }
  return ms;
}

export function silverConfig(flags: SilverFlags, env: NodeJS.ProcessEnv = process.env): SilverConfig {
  const settings = new SettingsReader('silver', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    SILVER_CHECKPOINT: flags.checkpoint ?? env['SILVER_CHECKPOINT'],
    SILVER_POLL: flags.poll ?? env['SILVER_POLL'],
    SILVER_MAX_MANIFESTS_PER_BATCH: flags.maxManifests ?? env['SILVER_MAX_MANIFESTS_PER_BATCH'],
    SILVER_MAX_BATCH_SIZE: flags.maxBatchSize ?? env['SILVER_MAX_BATCH_SIZE'],
    SILVER_TABLES_ROOT: flags.tablesRoot ?? env['SILVER_TABLES_ROOT'],
    SILVER_MANIFESTS_ROOT: flags.manifestsRoot ?? env['SILVER_MANIFESTS_ROOT'],
    SILVER_CAPTURE_FROM: flags.captureFrom ?? env['SILVER_CAPTURE_FROM'],
    SILVER_CAPTURE_TO: flags.captureTo ?? env['SILVER_CAPTURE_TO'],
    SILVER_LEASE_DURATION: flags.leaseDuration ?? env['SILVER_LEASE_DURATION'],
  });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const checkpointName = settings.string('SILVER_CHECKPOINT', {
    default: 'silver',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    describe: 'a checkpoint name (letters, digits, . _ -)',
  });
  const arrays = settings.oneOf('SILVER_ARRAYS', ['json', 'index', 'first'] as const, { default: 'json' });
  const maxManifestsPerBatch = settings.int('SILVER_MAX_MANIFESTS_PER_BATCH', { default: 10, min: 1, max: 10_000 });
  const maxBatchBytes = settings.byteSize('SILVER_MAX_BATCH_SIZE', { default: 32 * 1024 * 1024, min: 1024 });
  const pollIntervalMs = settings.duration('SILVER_POLL', { default: 1_000, minMs: 10 });
  const tablesRoot = settings.string('SILVER_TABLES_ROOT', {
    default: DEFAULT_TABLES_ROOT,
    pattern: LAKE_FOLDER,
    describe: 'a lake folder like tables or tables/replay-2026-01 (--tables-root; no leading or trailing /)',
  });
  const manifestsRoot = settings.string('SILVER_MANIFESTS_ROOT', {
    default: DEFAULT_MANIFEST_ROOT,
    pattern: LAKE_FOLDER,
    describe: 'a lake folder like manifests or manifests/replay-2026-01 (--manifests-root; no leading or trailing /)',
  });
  const captureRange: CaptureTimeRange = { from: captureTime(settings, 'SILVER_CAPTURE_FROM'), to: captureTime(settings, 'SILVER_CAPTURE_TO') };
  if (captureRange.from !== null && captureRange.to !== null && captureRange.from >= captureRange.to) {
    settings.problem(
      'SILVER_CAPTURE_TO',
      'a time after SILVER_CAPTURE_FROM (--capture-to > --capture-from: the range is from ≤ time < to)',
      `the empty range ${describeCaptureTimeRange(captureRange)}`,
    );
  }
  const leaseDurationMs = settings.duration('SILVER_LEASE_DURATION', { default: DEFAULT_LEASE_DURATION_MS, minMs: MIN_LEASE_DURATION_MS });
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const bus = readBusBackend(settings, home);
  settings.done();
  return {
    home,
    lake,
    bus,
    specFile,
    checkpointName,
    arrays,
    maxManifestsPerBatch,
    maxBatchBytes,
    pollIntervalMs,
    drain: flags.drain ?? false,
    tablesRoot,
    manifestsRoot,
    captureRange,
    leaseDurationMs,
  };
}

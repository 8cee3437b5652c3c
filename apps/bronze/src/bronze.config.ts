import { DEFAULT_LEASE_DURATION_MS, MIN_LEASE_DURATION_MS } from '@pipeline/checkpoint';
import { readBusBackend, readEventHubNamespaceName, readLakeBackend, resolvePipelineHome, SettingsReader, type BusBackend, type LakeBackend } from '@pipeline/config';

export interface BronzeConfig {
  home: string;
  lake: LakeBackend;
  bus: BusBackend;
  namespace: string;
  hubName: string;
  partitions: number;
  /** Lake folder the capture files are under. */
  prefix: string;
  /** The manifests' `pipeline` field. */
  pipeline: string;
  /** Lake folder of the stage checkpoint, `checkpoints/<name>`. */
  checkpointRoot: string;
  lookbackMs: number;
  maxBatchFiles: number;
  maxBatchBytes: number;
  maxBatchDelayMs: number;
  pollMs: number;
  /** The queue Event Grid delivers new-capture-file notices to; `undefined`: listing only. */
  noticesQueue: string | undefined;
  /** Listing interval with notices on (the safety net); the poll interval without them. */
  listIntervalMs: number;
  /** Exit once every file present at start-up is in a committed batch. */
  drain: boolean;
  /** The lease that keeps a second instance standing by: it takes over about this long after the active one stopped renewing. */
  leaseDurationMs: number;
}

export interface BronzeFlags {
  home?: string;
  hub?: string;
  partitions?: string;
  lookback?: string;
  maxBatchFiles?: string;
  maxBatchSize?: string;
  maxBatchDelay?: string;
  poll?: string;
  noticesQueue?: string;
  listInterval?: string;
  checkpoint?: string;
  drain?: boolean;
  leaseDuration?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;
/** Service Bus queue names: letters, digits, `.`, `-`, `_` and `/`, starting and ending with a letter or digit. */
const QUEUE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,258}[A-Za-z0-9])?$/;
/** With notices on, listing is only the safety net for notices that never come. */
const DEFAULT_NOTICE_LIST_INTERVAL_MS = 5 * 60_000;
const DEFAULT_SWEEP_INTERVAL_MS = 10_000;
const LAKE_FOLDER = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** Flags win over environment variables; every bad value is reported at once (`ConfigError`). */
export function bronzeConfig(flags: BronzeFlags, env: NodeJS.ProcessEnv = process.env): BronzeConfig {
  const settings = new SettingsReader('bronze', {
    ...env,
    PIPELINE_EVENT_HUB: flags.hub ?? env['PIPELINE_EVENT_HUB'],
    PIPELINE_EVENT_HUB_PARTITIONS: flags.partitions ?? env['PIPELINE_EVENT_HUB_PARTITIONS'],
    BRONZE_LOOKBACK: flags.lookback ?? env['BRONZE_LOOKBACK'],
    BRONZE_MAX_BATCH_FILES: flags.maxBatchFiles ?? env['BRONZE_MAX_BATCH_FILES'],
    BRONZE_MAX_BATCH_SIZE: flags.maxBatchSize ?? env['BRONZE_MAX_BATCH_SIZE'],
    BRONZE_MAX_BATCH_DELAY: flags.maxBatchDelay ?? env['BRONZE_MAX_BATCH_DELAY'],
    BRONZE_POLL: flags.poll ?? env['BRONZE_POLL'],
    BRONZE_NOTICES_QUEUE: flags.noticesQueue ?? env['BRONZE_NOTICES_QUEUE'],
    BRONZE_LIST_INTERVAL: flags.listInterval ?? env['BRONZE_LIST_INTERVAL'],
    BRONZE_CHECKPOINT: flags.checkpoint ?? env['BRONZE_CHECKPOINT'],
    BRONZE_LEASE_DURATION: flags.leaseDuration ?? env['BRONZE_LEASE_DURATION'],
  });
  const hubName = settings.string('PIPELINE_EVENT_HUB', { default: 'events', pattern: NAME, describe: 'an event hub name (letters, digits, . _ -)' });
  const namespace = readEventHubNamespaceName(settings);
  const partitions = settings.int('PIPELINE_EVENT_HUB_PARTITIONS', { default: 4, min: 1, max: 1024 });
  const prefix = settings.string('BRONZE_RAW_PREFIX', { default: 'raw', pattern: LAKE_FOLDER, describe: 'a lake folder like raw or capture/raw (no leading or trailing /)' });
  const pipeline = settings.string('PIPELINE_NAME', { default: hubName, pattern: NAME, describe: 'a pipeline name (letters, digits, . _ -)' });
  const checkpointName = settings.string('BRONZE_CHECKPOINT', { default: 'bronze', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const lookbackMs = settings.duration('BRONZE_LOOKBACK', { default: 2 * 3_600_000, minMs: 60_000 });
  const maxBatchFiles = settings.int('BRONZE_MAX_BATCH_FILES', { default: 100, min: 1, max: 100_000 });
  const maxBatchBytes = settings.byteSize('BRONZE_MAX_BATCH_SIZE', { default: 32 * 1024 * 1024, min: 1024 });
  const maxBatchDelayMs = settings.duration('BRONZE_MAX_BATCH_DELAY', { default: 2_000 });
  const pollMs = settings.duration('BRONZE_POLL', { default: 1_000, minMs: 10 });
  const noticesQueue = settings.string('BRONZE_NOTICES_QUEUE', {
    default: '',
    pattern: QUEUE_NAME,
    describe: 'a Service Bus queue name (letters, digits, . _ - /, starting and ending with a letter or digit), or nothing to find files by listing only',
  });
  // With notices, the listing is their safety net; without, every poll lists past each partition's
  // newest file and the whole lookback window (late files) is listed this often.
  const listIntervalMs = settings.duration('BRONZE_LIST_INTERVAL', { default: noticesQueue ? DEFAULT_NOTICE_LIST_INTERVAL_MS : DEFAULT_SWEEP_INTERVAL_MS, minMs: 10 });
  const leaseDurationMs = settings.duration('BRONZE_LEASE_DURATION', { default: DEFAULT_LEASE_DURATION_MS, minMs: MIN_LEASE_DURATION_MS });
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const bus = readBusBackend(settings, home);
  settings.done();
  return {
    home,
    lake,
    bus,
    namespace,
    hubName,
    partitions,
    prefix,
    pipeline,
    checkpointRoot: `checkpoints/${checkpointName}`,
    lookbackMs,
    maxBatchFiles,
    maxBatchBytes,
    maxBatchDelayMs,
    pollMs,
    noticesQueue: noticesQueue || undefined,
    listIntervalMs,
    drain: flags.drain ?? false,
    leaseDurationMs,
  };
}

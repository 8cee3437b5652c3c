import {
  readCheckpointStoreBackend,
  readEventHubBackend,
  readLakeBackend,
  resolvePipelineHome,
  SettingsReader,
  type CheckpointStoreBackend,
  type EventHubBackend,
  type LakeBackend,
} from '@pipeline/config';
import type { CaptureCodec } from '@pipeline/capture-format';

export interface CaptureConfig {
  home: string;
  lake: LakeBackend;
  eventHub: EventHubBackend;
  checkpointStore: CheckpointStoreBackend;
  /** The namespace name capture paths carry ({Namespace}). */
  namespace: string;
  hubName: string;
  partitions: number;
  consumerGroup: string;
  /** Lake folder the files go under (Azure Capture writes at the container root; we use `raw`). */
  prefix: string;
  checkpointName: string;
  windowMs: number;
  maxFileBytes: number;
  codec: CaptureCodec;
  skipEmpty: boolean;
  pollWaitMs: number;
  ownerId: string;
  /** Partition claims are renewed (and the instances rebalanced) this often… */
  ownershipIntervalMs: number;
  /** …and a claim not renewed for this long is an orphan: owned again within expiry + interval. */
  ownershipExpiryMs: number;
  /** Exit once every partition is captured up to where the hub was at start-up. */
  drain: boolean;
}

export interface CaptureFlags {
  home?: string;
  hub?: string;
  partitions?: string;
  window?: string;
  maxFileSize?: string;
  codec?: string;
  skipEmpty?: boolean;
  drain?: boolean;
  checkpoint?: string;
}

export function captureConfig(flags: CaptureFlags, env: NodeJS.ProcessEnv = process.env): CaptureConfig {
  const settings = new SettingsReader('capture', {
    ...env,
    PIPELINE_EVENT_HUB: flags.hub ?? env['PIPELINE_EVENT_HUB'],
    PIPELINE_EVENT_HUB_PARTITIONS: flags.partitions ?? env['PIPELINE_EVENT_HUB_PARTITIONS'],
    CAPTURE_WINDOW: flags.window ?? env['CAPTURE_WINDOW'],
    CAPTURE_MAX_FILE_SIZE: flags.maxFileSize ?? env['CAPTURE_MAX_FILE_SIZE'],
    CAPTURE_CODEC: flags.codec ?? env['CAPTURE_CODEC'],
    CAPTURE_SKIP_EMPTY: flags.skipEmpty === undefined ? env['CAPTURE_SKIP_EMPTY'] : String(flags.skipEmpty),
    CAPTURE_CHECKPOINT: flags.checkpoint ?? env['CAPTURE_CHECKPOINT'],
  });
  const name = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;
  const hubName = settings.string('PIPELINE_EVENT_HUB', { default: 'events', pattern: name, describe: 'an event hub name (letters, digits, . _ -)' });
  const partitions = settings.int('PIPELINE_EVENT_HUB_PARTITIONS', { default: 4, min: 1, max: 1024 });
  const consumerGroup = settings.string('CAPTURE_CONSUMER_GROUP', { default: '$Default' });
  const windowMs = settings.duration('CAPTURE_WINDOW', { default: 5_000, minMs: 100 });
  const maxFileBytes = settings.byteSize('CAPTURE_MAX_FILE_SIZE', { default: 8 * 1024 * 1024, min: 1024, max: 512 * 1024 * 1024 });
  const codec = settings.oneOf('CAPTURE_CODEC', ['null', 'deflate'] as const, { default: 'null' });
  const skipEmpty = settings.bool('CAPTURE_SKIP_EMPTY', { default: true });
  const checkpointName = settings.string('CAPTURE_CHECKPOINT', { default: `capture-${hubName}`, pattern: name, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const pollWaitMs = settings.duration('CAPTURE_POLL_WAIT', { default: 250 });
  const ownerId = settings.string('CAPTURE_INSTANCE_ID', { default: `capture-${process.pid}-${Math.random().toString(36).slice(2, 8)}` });
  const ownershipIntervalMs = settings.duration('CAPTURE_OWNERSHIP_INTERVAL', { default: 3_000, minMs: 100 });
  const ownershipExpiryMs = settings.duration('CAPTURE_OWNERSHIP_EXPIRY', { default: 10_000, minMs: 300 });
  if (ownershipExpiryMs < 2 * ownershipIntervalMs) {
    settings.problem(
      'CAPTURE_OWNERSHIP_EXPIRY',
      `at least twice CAPTURE_OWNERSHIP_INTERVAL (${ownershipIntervalMs} ms), so a live instance never lets its partitions expire`,
      `${ownershipExpiryMs} ms`,
    );
  }
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const eventHub = readEventHubBackend(settings, home);
  const checkpointStore = readCheckpointStoreBackend(settings, home);
  settings.done();
  return {
    home,
    lake,
    eventHub,
    checkpointStore,
    namespace: eventHub.namespace,
    hubName,
    partitions,
    consumerGroup,
    prefix: 'raw',
    checkpointName,
    windowMs,
    maxFileBytes,
    codec,
    skipEmpty,
    pollWaitMs,
    ownerId,
    ownershipIntervalMs,
    ownershipExpiryMs,
    drain: flags.drain ?? false,
  };
}

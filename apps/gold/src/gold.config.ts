import * as path from 'node:path';
import {
  localPaths,
  readBusBackend,
  readOwnershipStoreBackend,
  readLakeBackend,
  readServingBackend,
  resolvePipelineHome,
  SettingsReader,
  type BusBackend,
  type CheckpointStoreBackend,
  type LakeBackend,
  type ServingBackend,
} from '@pipeline/config';
import { DEFAULT_MANIFEST_ROOT } from '@pipeline/contracts';
import { DEFAULT_TABLES_ROOT } from './gold.logic';

export interface GoldConfig {
  home: string;
  lake: LakeBackend;
  bus: BusBackend;
  /** The embedded serving store (default `{home}/serving.sqlite`). */
  serving: ServingBackend;
  specFile: string;
  checkpointName: string;
  maxManifestsPerBatch: number;
  maxBatchRows: number;
  /** How often every owned shard catches up from the lake even without a bus message. */
  wakeIntervalMs: number;
  /** Where the shard ownership records live (the checkpoint store beside the lake). */
  ownershipStore: CheckpointStoreBackend;
  /** This instance's owner id in the ownership records. */
  instanceId: string;
  /** Settings a deployment may still set that no longer do anything (logged as a warning at start). */
  retired: string[];
  /** Ownership records are renewed this often… */
  ownershipIntervalMs: number;
  /** …and a record not renewed for this long is an orphan: its shard is owned again within expiry + interval. */
  ownershipExpiryMs: number;
  drain: boolean;
  /** With drain: finish the input at the end, so the watermark passes every open window and the last windows are emitted. */
  endOfInput: boolean;
  /** Lake folder of the gold and late tables (`{tablesRoot}/gold`, `{tablesRoot}/late`). */
  tablesRoot: string;
  /** Lake folder of the silver manifests gold reads. */
  manifestsRoot: string;
}

export interface GoldFlags {
  home?: string;
  spec?: string;
  checkpoint?: string;
  maxManifests?: string;
  maxBatchRows?: string;
  wake?: string;
  drain?: boolean;
  endOfInput?: boolean;
  tablesRoot?: string;
  manifestsRoot?: string;
  store?: string;
}

/** A relative lake folder: segments of letters, digits, `.`, `_`, `-`, none starting with `.`. */
export const LAKE_FOLDER = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

export function goldConfig(flags: GoldFlags, env: NodeJS.ProcessEnv = process.env): GoldConfig {
  const settings = new SettingsReader('gold', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    GOLD_CHECKPOINT: flags.checkpoint ?? env['GOLD_CHECKPOINT'],
    GOLD_MAX_MANIFESTS_PER_BATCH: flags.maxManifests ?? env['GOLD_MAX_MANIFESTS_PER_BATCH'],
    GOLD_MAX_BATCH_ROWS: flags.maxBatchRows ?? env['GOLD_MAX_BATCH_ROWS'],
    GOLD_WAKE_INTERVAL: flags.wake ?? env['GOLD_WAKE_INTERVAL'],
    GOLD_TABLES_ROOT: flags.tablesRoot ?? env['GOLD_TABLES_ROOT'],
    GOLD_MANIFESTS_ROOT: flags.manifestsRoot ?? env['GOLD_MANIFESTS_ROOT'],
    GOLD_SERVING_STORE: flags.store ?? env['GOLD_SERVING_STORE'],
  });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const checkpointName = settings.string('GOLD_CHECKPOINT', {
    default: 'gold',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    describe: 'a checkpoint name (letters, digits, . _ -)',
  });
  const maxManifestsPerBatch = settings.int('GOLD_MAX_MANIFESTS_PER_BATCH', { default: 10, min: 1, max: 10_000 });
  const maxBatchRows = settings.int('GOLD_MAX_BATCH_ROWS', { default: 50_000, min: 1 });
  const wakeIntervalMs = settings.duration('GOLD_WAKE_INTERVAL', { default: 30_000, minMs: 100 });
  const ownershipIntervalMs = settings.duration('GOLD_OWNERSHIP_INTERVAL', { default: 3_000, minMs: 100 });
  const ownershipExpiryMs = settings.duration('GOLD_OWNERSHIP_EXPIRY', { default: 10_000, minMs: 300 });
  if (ownershipExpiryMs < 2 * ownershipIntervalMs) {
    settings.problem(
      'GOLD_OWNERSHIP_EXPIRY',
      `at least twice GOLD_OWNERSHIP_INTERVAL (${ownershipIntervalMs} ms), so a live instance never lets its shards expire`,
      `${ownershipExpiryMs} ms`,
    );
  }
  const instanceId = settings.string('GOLD_INSTANCE_ID', {
    default: `gold-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    describe: 'an instance id (letters, digits, . _ -), unique among the running gold instances',
  });
  const tablesRoot = settings.string('GOLD_TABLES_ROOT', {
    default: DEFAULT_TABLES_ROOT,
    pattern: LAKE_FOLDER,
    describe: 'a lake folder like tables or tables/replay-2026-01 (--tables-root; no leading or trailing /)',
  });
  const manifestsRoot = settings.string('GOLD_MANIFESTS_ROOT', {
    default: DEFAULT_MANIFEST_ROOT,
    pattern: LAKE_FOLDER,
    describe: 'a lake folder like manifests or manifests/replay-2026-01 (--manifests-root; no leading or trailing /)',
  });
  // Instances split the shards by fair share now; a cap per instance no longer exists.
  const retired = settings.optionalString('GOLD_MAX_SESSIONS') === undefined ? [] : ['GOLD_MAX_SESSIONS'];
  const storeFile = settings.optionalString('GOLD_SERVING_STORE');
  if (storeFile !== undefined && (storeFile.endsWith('/') || storeFile.endsWith(path.sep))) {
    settings.problem('GOLD_SERVING_STORE', 'a file for the embedded serving store (--store), e.g. serving-replay.sqlite', `the folder ${JSON.stringify(storeFile)}`);
  }
  if (flags.endOfInput === true && flags.drain !== true) {
    settings.problem('--end-of-input', '--drain with it: only a run that ends can finish its input (running services never do)', '--end-of-input without --drain');
  }
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const bus = readBusBackend(settings, home);
  const ownershipStore = readOwnershipStoreBackend(settings, home);
  const serving = readServingBackend(settings, storeFile === undefined ? localPaths(home).servingStoreFile : path.resolve(storeFile));
  settings.done();
  return {
    home,
    lake,
    bus,
    serving,
    specFile,
    checkpointName,
    maxManifestsPerBatch,
    maxBatchRows,
    wakeIntervalMs,
    ownershipStore,
    instanceId,
    retired,
    ownershipIntervalMs,
    ownershipExpiryMs,
    drain: flags.drain ?? false,
    endOfInput: flags.endOfInput ?? false,
    tablesRoot,
    manifestsRoot,
  };
}

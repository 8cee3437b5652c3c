import { localPaths, resolvePipelineHome, SettingsReader } from '@pipeline/config';

export interface GoldConfig {
  home: string;
  lakeRoot: string;
  busFile: string;
  servingStoreFile: string;
  specFile: string;
  checkpointName: string;
  maxManifestsPerBatch: number;
  /** How often every shard is woken to catch up from the lake even without a bus message. */
  wakeIntervalMs: number;
  drain: boolean;
}

export interface GoldFlags {
  home?: string;
  spec?: string;
  checkpoint?: string;
  maxManifests?: string;
  wake?: string;
  drain?: boolean;
}

export function goldConfig(flags: GoldFlags, env: NodeJS.ProcessEnv = process.env): GoldConfig {
  const settings = new SettingsReader('gold', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    GOLD_CHECKPOINT: flags.checkpoint ?? env['GOLD_CHECKPOINT'],
    GOLD_MAX_MANIFESTS_PER_BATCH: flags.maxManifests ?? env['GOLD_MAX_MANIFESTS_PER_BATCH'],
    GOLD_WAKE_INTERVAL: flags.wake ?? env['GOLD_WAKE_INTERVAL'],
  });
  settings.oneOf('PIPELINE_BACKEND', ['local'], { default: 'local' });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const checkpointName = settings.string('GOLD_CHECKPOINT', {
    default: 'gold',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    describe: 'a checkpoint name (letters, digits, . _ -)',
  });
  const maxManifestsPerBatch = settings.int('GOLD_MAX_MANIFESTS_PER_BATCH', { default: 10, min: 1, max: 10_000 });
  const wakeIntervalMs = settings.duration('GOLD_WAKE_INTERVAL', { default: 30_000, minMs: 100 });
  settings.done();
  const home = resolvePipelineHome(flags.home, env);
  const paths = localPaths(home);
  return {
    home,
    lakeRoot: paths.lakeRoot,
    busFile: paths.busFile,
    servingStoreFile: paths.servingStoreFile,
    specFile,
    checkpointName,
    maxManifestsPerBatch,
    wakeIntervalMs,
    drain: flags.drain ?? false,
  };
}

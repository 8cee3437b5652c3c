import { localPaths, resolvePipelineHome, SettingsReader } from '@pipeline/config';

export interface SilverConfig {
  home: string;
  lakeRoot: string;
  busFile: string;
  specFile: string;
  checkpointName: string;
  arrays: 'json' | 'index' | 'first';
  maxManifestsPerBatch: number;
  maxBatchBytes: number;
  pollIntervalMs: number;
  drain: boolean;
}

export interface SilverFlags {
  home?: string;
  spec?: string;
  checkpoint?: string;
  poll?: string;
  maxManifests?: string;
  maxBatchSize?: string;
  drain?: boolean;
}

export function silverConfig(flags: SilverFlags, env: NodeJS.ProcessEnv = process.env): SilverConfig {
  const settings = new SettingsReader('silver', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    SILVER_CHECKPOINT: flags.checkpoint ?? env['SILVER_CHECKPOINT'],
    SILVER_POLL: flags.poll ?? env['SILVER_POLL'],
    SILVER_MAX_MANIFESTS_PER_BATCH: flags.maxManifests ?? env['SILVER_MAX_MANIFESTS_PER_BATCH'],
    SILVER_MAX_BATCH_SIZE: flags.maxBatchSize ?? env['SILVER_MAX_BATCH_SIZE'],
  });
  settings.oneOf('PIPELINE_BACKEND', ['local'], { default: 'local' });
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
  settings.done();
  const home = resolvePipelineHome(flags.home, env);
  const paths = localPaths(home);
  return {
    home,
    lakeRoot: paths.lakeRoot,
    busFile: paths.busFile,
    specFile,
    checkpointName,
    arrays,
    maxManifestsPerBatch,
    maxBatchBytes,
    pollIntervalMs,
    drain: flags.drain ?? false,
  };
}

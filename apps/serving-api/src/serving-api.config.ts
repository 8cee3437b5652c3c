/**
 * The serving API's typed configuration: flags win over environment variables, and every problem
 * is reported at once. The status endpoint reads the bronze and silver checkpoints under the names
 * those services use (the same variables), so one environment configures them all.
 */
import * as path from 'node:path';
import { readLakeBackend, readServingBackend, resolvePipelineHome, SettingsReader, type LakeBackend, type ServingBackend } from '@pipeline/config';

export interface ServingApiConfig {
  home: string;
  lake: LakeBackend;
  serving: ServingBackend;
  specFile: string;
  host: string;
  port: number;
  /** Lake folder of the capture files (as bronze reads them). */
  rawPrefix: string;
  bronzeCheckpoint: string;
  silverCheckpoint: string;
  goldCheckpoint: string;
  /** The status page's history: how often the status is sampled, and how much is kept (ms). */
  history: { everyMs: number; keepMs: number };
}

export interface ServingApiFlags {
  home?: string;
  spec?: string;
  port?: string;
  host?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LAKE_FOLDER = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const HOST = /^[A-Za-z0-9.:[\]-]+$/;

export function servingApiConfig(flags: ServingApiFlags, env: NodeJS.ProcessEnv = process.env): ServingApiConfig {
  const settings = new SettingsReader('serving-api', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    SERVING_PORT: flags.port ?? env['SERVING_PORT'],
    SERVING_HOST: flags.host ?? env['SERVING_HOST'],
  });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const port = settings.int('SERVING_PORT', { default: 8080, min: 0, max: 65_535 });
  // Loopback by default: exposing the API is a decision (a container sets 0.0.0.0).
  const host = settings.string('SERVING_HOST', { default: '127.0.0.1', pattern: HOST, describe: 'a host name or IP address to listen on (--host), e.g. 0.0.0.0' });
  const rawPrefix = settings.string('BRONZE_RAW_PREFIX', { default: 'raw', pattern: LAKE_FOLDER, describe: 'a lake folder like raw or capture/raw (no leading or trailing /)' });
  const bronzeCheckpoint = settings.string('BRONZE_CHECKPOINT', { default: 'bronze', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const silverCheckpoint = settings.string('SILVER_CHECKPOINT', { default: 'silver', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const goldCheckpoint = settings.string('GOLD_CHECKPOINT', { default: 'gold', pattern: NAME, describe: 'a checkpoint name (letters, digits, . _ -)' });
  const everyMs = settings.duration('SERVING_STATUS_SAMPLE_INTERVAL', { default: 5_000, minMs: 100 });
  const keepMs = settings.duration('SERVING_STATUS_HISTORY', { default: 15 * 60_000, minMs: 1_000 });
  if (keepMs < everyMs) settings.problem('SERVING_STATUS_HISTORY', `at least SERVING_STATUS_SAMPLE_INTERVAL (${everyMs} ms)`, `${keepMs} ms`);
  const home = resolvePipelineHome(flags.home, env);
  const lake = readLakeBackend(settings, home);
  const serving = readServingBackend(settings, path.join(home, 'serving.sqlite'));
  settings.done();
  return {
    home,
    lake,
    serving,
    specFile,
    host,
    port,
    rawPrefix,
    bronzeCheckpoint,
    silverCheckpoint,
    goldCheckpoint,
    history: { everyMs, keepMs },
  };
}

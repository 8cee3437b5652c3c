import * as path from 'node:path';
import { readEventHubBackend, resolvePipelineHome, SettingsReader, type EventHubBackend } from '@pipeline/config';
import type { Pacing } from './pacer';

export interface ProducerConfig {
  specFile: string;
  csvFile: string;
  home: string;
  eventHub: EventHubBackend;
  hubName: string;
  partitions: number;
  pacing: Pacing;
  /** Explicitly requested (`--from-row`); otherwise the producer resumes from its recorded position, or row 1. */
  fromRow: number | undefined;
  positionsFolder: string;
  maxBatchEvents: number;
  maxBatchDelayMs: number;
  /** Largest record sent as it is: a larger one goes as a `record_too_large` marker that silver quarantines. */
  maxRecordBytes: number;
  limitRows: number | undefined;
  progress: boolean;
}

/** Command-line flags win over environment variables; every problem is reported at once. */
export interface ProducerFlags {
  spec?: string;
  csv?: string;
  home?: string;
  hub?: string;
  partitions?: string;
  rate?: string;
  speed?: string;
  fromRow?: string;
  batchSize?: string;
  maxRecordSize?: string;
  limit?: string;
  progress?: boolean;
}

export function producerConfig(flags: ProducerFlags, env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const settings = new SettingsReader('producer', {
    ...env,
    PIPELINE_SPEC: flags.spec ?? env['PIPELINE_SPEC'],
    PIPELINE_CSV: flags.csv ?? env['PIPELINE_CSV'],
    PIPELINE_EVENT_HUB: flags.hub ?? env['PIPELINE_EVENT_HUB'],
    PIPELINE_EVENT_HUB_PARTITIONS: flags.partitions ?? env['PIPELINE_EVENT_HUB_PARTITIONS'],
    PRODUCER_RATE: flags.rate ?? env['PRODUCER_RATE'],
    PRODUCER_SPEED: flags.speed ?? env['PRODUCER_SPEED'],
    PRODUCER_FROM_ROW: flags.fromRow ?? env['PRODUCER_FROM_ROW'],
    PRODUCER_BATCH_SIZE: flags.batchSize ?? env['PRODUCER_BATCH_SIZE'],
    PRODUCER_LIMIT: flags.limit ?? env['PRODUCER_LIMIT'],
    PRODUCER_MAX_RECORD_SIZE: flags.maxRecordSize ?? env['PRODUCER_MAX_RECORD_SIZE'],
  });
  const specFile = settings.string('PIPELINE_SPEC', { required: true, describe: 'the pipeline spec file (--spec)' });
  const csvFile = settings.string('PIPELINE_CSV', { required: true, describe: 'the CSV file to send (--csv)' });
  const hubName = settings.string('PIPELINE_EVENT_HUB', {
    default: 'events',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/,
    describe: 'an event hub name (letters, digits, . _ -)',
  });
  const partitions = settings.int('PIPELINE_EVENT_HUB_PARTITIONS', { default: 4, min: 1, max: 1024 });
  const rate = settings.number('PRODUCER_RATE', { default: 0, exclusiveMin: 0 });
  const speed = settings.number('PRODUCER_SPEED', { default: 0, exclusiveMin: 0 });
  const fromRow = settings.int('PRODUCER_FROM_ROW', { default: 0, min: 1 });
  const maxBatchEvents = settings.int('PRODUCER_BATCH_SIZE', { default: 2000, min: 1, max: 100_000 });
  const limit = settings.int('PRODUCER_LIMIT', { default: 0, min: 0 });
  const maxBatchDelayMs = settings.duration('PRODUCER_LINGER', { default: 100 });
  const maxRecordBytes = settings.byteSize('PRODUCER_MAX_RECORD_SIZE', { default: 1024 * 1024, min: 1024, max: 64 * 1024 * 1024 });
  let pacing: Pacing = { kind: 'unlimited' };
  if (rate > 0 && speed > 0) settings.problem('PRODUCER_RATE / PRODUCER_SPEED', 'at most one of --rate and --speed', 'both');
  else if (rate > 0) pacing = { kind: 'rate', eventsPerSecond: rate };
  else if (speed > 0) pacing = { kind: 'replay', speed };
  const home = resolvePipelineHome(flags.home, env);
  const eventHub = readEventHubBackend(settings, home);
  settings.done();
  return {
    specFile,
    csvFile,
    home,
    eventHub,
    hubName,
    partitions,
    pacing,
    fromRow: fromRow > 0 ? fromRow : undefined,
    positionsFolder: path.join(home, 'producer'),
    maxBatchEvents,
    maxBatchDelayMs,
    maxRecordBytes,
    limitRows: limit > 0 ? limit : undefined,
    progress: flags.progress ?? true,
  };
}

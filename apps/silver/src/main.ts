/**
 * `pipeline silver`: bronze manifests → the silver Delta table (parsed, typed, with `event_time`,
 * split into shards), the quarantine table, and one silver manifest per shard per batch.
 * Exit codes: 0 stopped cleanly, 1 failed, 2 bad usage, config, spec or checkpoint.
 */
import 'reflect-metadata';
import type { INestApplicationContext, INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command } from 'commander';
import { openLake } from '@pipeline/adapters';
import { holdStageLease, startupRefusal } from '@pipeline/checkpoint';
import {
  abortableSleep,
  loadStartupInputs,
  METRICS_PORT_FLAG,
  METRICS_PORT_HELP,
  type MetricsPortFlags,
  parseFlags,
  readMetricsPort,
  runMain,
  shutdownSignal,
} from '@pipeline/config';
import { createLogger, metricsListening, PinoNestLogger, startTelemetry } from '@pipeline/telemetry';
import { silverConfig, type SilverFlags } from './silver.config';
import { openSilverBus, SilverModule } from './silver.module';
import { BRONZE_QUEUE } from './silver.logic';
import { BusTransport } from '@pipeline/transport';
import { SilverService } from './silver.service';

export function silverCommand(): Command {
  return new Command('pipeline silver')
    .showHelpAfterError('(run pipeline silver --help for usage)')
    .description('Turn bronze batches into the silver Delta table (typed rows with event_time, split into gold shards) and the quarantine table.')
    .option('--spec <file>', 'pipeline spec (default: $PIPELINE_SPEC)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--checkpoint <name>', 'checkpoint folder under checkpoints/ (default: silver)')
    .option('--max-manifests <n>', 'most bronze manifests per silver batch (default: 10)')
    .option('--max-batch-size <size>', 'capture bytes per silver batch at most (default: 32MiB): bounds memory')
    .option('--poll <duration>', 'how often to look for bronze manifests without a bus message (default: 1s)')
    .option('--drain', 'exit once every bronze manifest in the lake is processed (waits for the lease while another instance runs)')
    .option('--lease-duration <duration>', 'a standby takes over once the active instance has not renewed the lease for this long (default: $SILVER_LEASE_DURATION or 10s)')
    .option('--tables-root <folder>', 'lake folder of the silver and quarantine tables (default: tables, so tables/silver and tables/quarantine)')
    .option('--manifests-root <folder>', 'lake folder silver writes its manifests under (default: manifests); bronze manifests are always read from manifests')
    .option('--capture-from <time>', 'read only capture files whose path time is at or after this ISO-8601 time (UTC unless it has an offset)')
    .option('--capture-to <time>', 'read only capture files whose path time is before this ISO-8601 time')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText(
      'after',
      [
        '',
        'Runs until SIGTERM or Ctrl-C; the batch in progress is finished first, then the lease is released.',
        'One instance runs at a time; another one started on the same checkpoint stands by and takes over when it stops.',
        'A capture file is in the range when --capture-from ≤ the time in its path (…/YYYY/MM/DD/HH/mm/ss.avro) < --capture-to.',
        "Files outside it are skipped unread and appear in no count, so the run's own counts reconcile;",
        'the range is part of the checkpoint fingerprint. `pipeline replay` runs silver and gold this way.',
        '',
      ].join('\n'),
    );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<SilverFlags & MetricsPortFlags>(silverCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const inputs = await loadStartupInputs(() => ({ ...silverConfig(parsed.flags), metricsPort: readMetricsPort('silver', parsed.flags) }), { spec: true });
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config, spec } = inputs;
  const telemetry = startTelemetry({ serviceName: 'silver', metricsPort: config.metricsPort });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'silver' });
  const stop = shutdownSignal((signal) => logger.info({ signal }, 'stopping after the batch in progress'));
  const bus = await openSilverBus(config);
  // One silver runs at a time: a second instance stands by on the lease until the first stops renewing it.
  const lake = await openLake(config.lake);
  const held = await holdStageLease(lake, {
    stage: 'silver',
    checkpointRoot: `checkpoints/${config.checkpointName}`,
    durationMs: config.leaseDurationMs,
    signal: stop.signal,
    logger,
    onLost: (error) => stop.fail(error),
    ...(config.drain ? { waitingNote: 'the drain runs once this instance holds the lease' } : {}),
  }).catch(async (error: unknown) => {
    await bus.close();
    await lake.close();
    throw error;
  });
  if (!held) {
    logger.info('silver stopped while standing by');
    stop.dispose();
    await bus.close();
    await lake.close();
    await telemetry.shutdown();
    return 0;
  }
  const module = SilverModule.register(config, spec, logger, bus, held.lake);
  const nestLogger = new PinoNestLogger(logger);
  let app: INestApplicationContext;
  let listener: INestMicroservice | undefined;
  try {
    // Draining needs no bus listener; running does: bronze announcements wake silver up at once.
    if (config.drain) app = await NestFactory.createApplicationContext(module, { logger: nestLogger, abortOnError: false });
    else
      app = listener = await NestFactory.createMicroservice(module, {
        strategy: new BusTransport({ bus, queues: [{ queue: BRONZE_QUEUE, sessions: true }], logger, onFatal: (error) => stop.fail(error) }),
        logger: nestLogger,
        abortOnError: false,
      });
  } catch (error) {
    await held.release();
    stop.dispose();
    await bus.close();
    await lake.close();
    await telemetry.shutdown();
    const refused = startupRefusal(error, 'silver', logger);
    if (refused !== undefined) return refused;
    throw error;
  }
  try {
    await listener?.listen();
    const service = app.get(SilverService);
    for (;;) {
      await service.catchUp();
      if (config.drain || stop.signal.aborted) break;
      await abortableSleep(config.pollIntervalMs, stop.signal);
      if (stop.signal.aborted) break;
    }
    if (stop.failure) {
      logger.error({ err: stop.failure }, `silver failed: ${stop.failure.message}`);
      return 1;
    }
    logger.info({ bronze_position: service.bronzePosition }, 'silver stopped');
    return 0;
  } catch (error) {
    logger.error({ err: error }, `silver failed: ${(error as Error).message}`);
    return 1;
  } finally {
    stop.dispose();
    await app.close();
    // Nothing writes any more (in-flight work ended with the app): a standby may take over at once.
    await held.release().catch((error: unknown) => logger.warn({ err: error }, 'could not release the silver lease; a standby takes over once it expires'));
    await lake.close();
    await telemetry.shutdown();
  }
}

runMain(module, main);

/**
 * `pipeline bronze`: discovers new capture files under the lake's raw folder, groups them into
 * batches and writes bronze manifests that reference them in place, announced on the bus.
 * Exit codes: 0 stopped cleanly (signal, or `--drain` done), 1 failed, 2 bad usage, config or checkpoint.
 */
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { openLake } from '@pipeline/adapters';
import { Command } from 'commander';
import { FingerprintMismatchError, holdStageLease } from '@pipeline/checkpoint';
import {
  lakeLocation,
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
import { bronzeConfig, type BronzeFlags } from './bronze.config';
import { BronzeModule } from './bronze.module';
import { BronzeService } from './bronze.service';

export function bronzeCommand(): Command {
  return new Command('pipeline bronze')
    .showHelpAfterError('(run pipeline bronze --help for usage)')
    .description(
      'Reference new capture files (raw/{namespace}/{hub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro) in bronze manifests, batch by batch, and announce them on the bus (queue bronze-manifests, session bronze).',
    )
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--hub <name>', 'event hub name (default: $PIPELINE_EVENT_HUB or "events")')
    .option('--partitions <n>', 'partitions 0..n-1 to read (default: $PIPELINE_EVENT_HUB_PARTITIONS or 4)')
    .option('--lookback <duration>', 'how late a capture file may appear and still be taken (default: $BRONZE_LOOKBACK or 2h)')
    .option('--max-batch-files <n>', 'files per batch at most (default: $BRONZE_MAX_BATCH_FILES or 100)')
    .option('--max-batch-size <size>', 'bytes per batch at most (default: $BRONZE_MAX_BATCH_SIZE or 32MiB, which bounds the memory of a silver batch)')
    .option('--max-batch-delay <duration>', 'cut a smaller batch once its oldest file waited this long (default: $BRONZE_MAX_BATCH_DELAY or 2s)')
    .option('--poll <duration>', 'pause between discoveries when idle (default: $BRONZE_POLL or 1s)')
    .option(
      '--notices-queue <name>',
      'take new capture files from Event Grid notices on this queue, listing only as a safety net (default: $BRONZE_NOTICES_QUEUE; none: listing only)',
    )
    .option(
      '--list-interval <duration>',
      'list the whole lookback window this often, for files that land late and, with notices, missed notices (default: $BRONZE_LIST_INTERVAL, or 5m with notices and 10s without; in between each poll lists only past the newest file)',
    )
    .option('--checkpoint <name>', 'checkpoint folder name under checkpoints/ (default: bronze)')
    .option('--drain', 'exit once every capture file present at start-up is in a committed batch (waits for the lease while another instance runs)')
    .option('--lease-duration <duration>', 'a standby takes over once the active instance has not renewed the lease for this long (default: $BRONZE_LEASE_DURATION or 10s)')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText(
      'after',
      '\nRuns until SIGTERM or Ctrl-C, then finishes the batch in progress, releases the lease and exits.\nOne instance runs at a time; another one started on the same checkpoint stands by and takes over when it stops.\n',
    );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<BronzeFlags & MetricsPortFlags>(bronzeCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const inputs = await loadStartupInputs(() => ({ ...bronzeConfig(parsed.flags), metricsPort: readMetricsPort('bronze', parsed.flags) }));
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config } = inputs;

  const telemetry = startTelemetry({ serviceName: 'bronze', metricsPort: config.metricsPort });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'bronze' });
  // Listening for signals before anything opens: a stop during start-up is honoured once it is up.
  const stop = shutdownSignal((signal) => {
    logger.info({ signal }, 'stopping: finishing the batch in progress');
  });
  // One bronze runs at a time: a second instance stands by on the lease until the first stops renewing it.
  const lake = await openLake(config.lake);
  const held = await holdStageLease(lake, {
    stage: 'bronze',
    checkpointRoot: config.checkpointRoot,
    durationMs: config.leaseDurationMs,
    signal: stop.signal,
    logger,
    onLost: (error) => stop.fail(error),
    ...(config.drain ? { waitingNote: 'the drain runs once this instance holds the lease' } : {}),
  });
  if (!held) {
    logger.info('bronze stopped while standing by');
    stop.dispose();
    await lake.close();
    await telemetry.shutdown();
    return 0;
  }
  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(BronzeModule.register(config, logger, held.lake), { logger: new PinoNestLogger(logger) });
  } catch (error) {
    await held.release();
    stop.dispose();
    await lake.close();
    await telemetry.shutdown();
    throw error;
  }
  try {
    logger.info(
      {
        hub: config.hubName,
        namespace: config.namespace,
        lake: lakeLocation(config.lake),
        prefix: config.prefix,
        partitions: config.partitions,
        checkpoint: config.checkpointRoot,
        lookback_ms: config.lookbackMs,
        max_batch_files: config.maxBatchFiles,
        max_batch_bytes: config.maxBatchBytes,
        max_batch_delay_ms: config.maxBatchDelayMs,
        notices_queue: config.noticesQueue ?? null,
        list_interval_ms: config.listIntervalMs,
        lease_term: held.term,
      },
      'bronze starting',
    );
    const summary = await app.get(BronzeService).run(stop.signal, config.drain);
    if (stop.failure) {
      logger.error({ err: stop.failure }, `bronze failed: ${stop.failure.message}`);
      return 1;
    }
    const setAside = summary.rejected > 0 ? `; ${summary.rejected} set aside (\`pipeline rejected list\`)` : '';
    logger.info({ ...summary }, `bronze stopped: ${summary.files} files (${summary.records} records) in ${summary.batches} batches${setAside}`);
    return 0;
  } catch (error) {
    if (error instanceof FingerprintMismatchError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    logger.error({ err: error }, `bronze failed: ${(error as Error).message}`);
    return 1;
  } finally {
    stop.dispose();
    await app.close();
    // Nothing writes any more (in-flight work ended with the app): a standby may take over at once.
    await held.release().catch((error: unknown) => logger.warn({ err: error }, 'could not release the bronze lease; a standby takes over once it expires'));
    await lake.close();
    await telemetry.shutdown();
  }
}

runMain(module, main);

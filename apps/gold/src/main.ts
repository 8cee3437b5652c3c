/**
 * `pipeline gold`: one actor per shard, on the shard's bus session: silver rows → event-time
 * windows with a watermark → the gold table (final windows), the late table, the serving store.
 * Exit codes: 0 stopped cleanly, 1 failed, 2 bad usage, config, spec or checkpoint.
 */
import 'reflect-metadata';
import type { INestApplicationContext, INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command } from 'commander';
import { isFatalBackendError } from '@pipeline/ports';
import { FingerprintMismatchError, startupRefusal } from '@pipeline/checkpoint';
import {
  loadStartupInputs,
  METRICS_PORT_FLAG,
  METRICS_PORT_HELP,
  type MetricsPortFlags,
  parseFlags,
  readMetricsPort,
  runMain,
  shutdownSignal,
  untilAborted,
} from '@pipeline/config';
import { openCheckpointStore } from '@pipeline/adapters';
import { manifestQueue } from '@pipeline/contracts';
import { systemClock } from '@pipeline/engine';
import { createLogger, metricsListening, PinoNestLogger, startTelemetry } from '@pipeline/telemetry';
import { BusTransport } from '@pipeline/transport';
import { goldConfig, type GoldFlags } from './gold.config';
import { GoldModule, openGoldBus, QUEUE_OPTIONS } from './gold.module';
import { GoldService } from './gold.service';
import { ShardOwnership } from './shard-ownership';

export function goldCommand(): Command {
  return new Command('pipeline gold')
    .showHelpAfterError('(run pipeline gold --help for usage)')
    .description('Aggregate silver rows over event-time windows with a watermark, one actor per shard: the gold and late Delta tables and the serving store.')
    .option('--spec <file>', 'pipeline spec (default: $PIPELINE_SPEC)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--checkpoint <name>', 'checkpoint folder under checkpoints/ (default: gold), one sub-folder per shard')
    .option('--max-manifests <n>', 'most silver manifests per gold batch (default: 10)')
    .option('--max-batch-rows <n>', 'silver rows per gold batch at most (default: 50000): bounds memory')
    .option('--wake <duration>', 'how often each owned shard checks the lake without a bus message (default: 30s)')
    .option('--drain', 'process every silver manifest in the lake, shard by shard, then exit')
    .option(
      '--end-of-input',
      'with --drain: the input is complete, so at the end the watermark passes every open window and the last windows are emitted (later rows would be late)',
    )
    .option('--tables-root <folder>', 'lake folder of the gold and late tables (default: tables, so tables/gold and tables/late)')
    .option('--manifests-root <folder>', 'lake folder of the silver manifests to read (default: manifests), as silver --manifests-root wrote them')
    .option('--store <file>', 'embedded serving store file (default: serving.sqlite in the home folder)')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText(
      'after',
      [
        '',
        'Runs until SIGTERM or Ctrl-C: the batches in progress finish, then the shards are released.',
        'Several instances on one checkpoint split the shards evenly (GOLD_OWNERSHIP_INTERVAL, GOLD_OWNERSHIP_EXPIRY);',
        "a killed instance's shards are owned again within expiry + interval (default 13 s).",
        'Tables and manifests roots other than the defaults are bound into the shard checkpoints. `pipeline replay` runs gold this way.',
        '',
      ].join('\n'),
    );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<GoldFlags & MetricsPortFlags>(goldCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const inputs = await loadStartupInputs(() => ({ ...goldConfig(parsed.flags), metricsPort: readMetricsPort('gold', parsed.flags) }), { spec: true });
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config, spec } = inputs;
  const telemetry = startTelemetry({ serviceName: 'gold', metricsPort: config.metricsPort });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'gold' });
  for (const name of config.retired)
    logger.warn({ setting: name }, `${name} is no longer read: gold instances split the shards by fair share (GOLD_OWNERSHIP_INTERVAL, GOLD_OWNERSHIP_EXPIRY); remove it`);
  const stop = shutdownSignal((signal) => logger.info({ signal }, 'stopping: finishing the batches in progress, then releasing the shards'));
  const bus = await openGoldBus(config);
  const module = GoldModule.register(config, spec, logger, bus);
  const nestLogger = new PinoNestLogger(logger);
  const silverQueue = manifestQueue('silver', config.manifestsRoot);
  let app: INestApplicationContext;
  let listener: INestMicroservice | undefined;
  let ownership: ShardOwnership | undefined;
  try {
    if (config.drain) app = await NestFactory.createApplicationContext(module, { logger: nestLogger, abortOnError: false });
    else
      app = listener = await NestFactory.createMicroservice(module, {
        strategy: new BusTransport({
          bus,
          queues: [{ queue: silverQueue, sessions: true, ownedSessions: () => ownership?.sessions() ?? [] }],
          logger,
          onFatal: (error) => stop.fail(error),
        }),
        logger: nestLogger,
        abortOnError: false,
      });
  } catch (error) {
    stop.dispose();
    await bus.close();
    await telemetry.shutdown();
    const refused = startupRefusal(error, 'gold', logger);
    if (refused !== undefined) return refused;
    throw error;
  }
  const ownershipStore = config.drain ? undefined : await openCheckpointStore(config.ownershipStore, systemClock);
  try {
    const gold = app.get(GoldService);
    if (config.drain) {
      // Bind every shard first, so a checkpoint written by other logic refuses before any work.
      for (let shard = 0; shard < gold.shards; shard++) await gold.actor(shard);
      await gold.catchUpAll(config.endOfInput);
      return 0;
    }
    ownership = new ShardOwnership(ownershipStore as NonNullable<typeof ownershipStore>, systemClock, gold, logger, {
      ownerId: config.instanceId,
      checkpointName: config.checkpointName,
      manifestsRoot: config.manifestsRoot,
      intervalMs: config.ownershipIntervalMs,
      expiryMs: config.ownershipExpiryMs,
      wakeIntervalMs: config.wakeIntervalMs,
      sessionLockMs: QUEUE_OPTIONS.lockDurationMs,
      onFatal: (error) => stop.fail(error),
      isFatal: (error) => error instanceof FingerprintMismatchError || isFatalBackendError(error),
    });
    await ownership.start();
    await listener?.listen();
    logger.info({ owner: config.instanceId, owned: ownership.sessions() }, 'gold listening');
    await untilAborted(stop.signal);
    if (stop.failure instanceof FingerprintMismatchError) {
      process.stderr.write(`${stop.failure.message}\n`);
      return 2;
    }
    if (stop.failure) {
      logger.error({ err: stop.failure }, `gold failed: ${stop.failure.message}`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (error instanceof FingerprintMismatchError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    logger.error({ err: error }, `gold failed: ${(error as Error).message}`);
    return 1;
  } finally {
    stop.dispose();
    await ownership?.stop();
    await app.close();
    await (ownershipStore as { close?: () => Promise<void> } | undefined)?.close?.();
    await telemetry.shutdown();
  }
}

runMain(module, main);

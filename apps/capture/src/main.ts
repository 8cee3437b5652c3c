/**
 * `pipeline capture`: the self-hosted Event Hubs Capture. Reads every partition it owns and writes
 * Avro files in Capture's format and layout under the lake's `raw/` folder.
 * Exit codes: 0 stopped cleanly (signal, or `--drain` done), 1 failed, 2 bad usage or config.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Command } from 'commander';
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
import { CheckpointMismatchError } from './capture-log';
import { captureConfig, type CaptureFlags } from './capture.config';
import { CaptureModule } from './capture.module';
import { CaptureService } from './capture.service';

export function captureCommand(): Command {
  return new Command('pipeline capture')
    .showHelpAfterError('(run pipeline capture --help for usage)')
    .description(
      'Capture the event hub into Avro files in the lake, in Event Hubs Capture format and layout (raw/{namespace}/{hub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro).',
    )
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--hub <name>', 'event hub name (default: $PIPELINE_EVENT_HUB or "events")')
    .option('--partitions <n>', 'partitions of a new embedded hub (default: 4)')
    .option('--window <duration>', 'close a file after this long (default: $CAPTURE_WINDOW or 5s)')
    .option('--max-file-size <size>', 'or once it reaches this size (default: $CAPTURE_MAX_FILE_SIZE or 8MiB)')
    .option('--codec <codec>', 'Avro codec: null or deflate (default: null)')
    .option('--skip-empty', 'write no file for a window without events (default)')
    .option('--no-skip-empty', 'write an empty file for a window without events, as Azure Capture does by default')
    .option('--checkpoint <name>', 'checkpoint folder name under checkpoints/ (default: capture-<hub>)')
    .option('--drain', 'exit once everything the hub held at start-up is captured, by this instance or by the others running beside it')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText('after', '\nRuns until SIGTERM or Ctrl-C, then writes its open files and releases its partitions.\n');
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<CaptureFlags & MetricsPortFlags>(captureCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const flags = parsed.flags;
  const inputs = await loadStartupInputs(() => ({ ...captureConfig(flags), metricsPort: readMetricsPort('capture', flags) }));
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config } = inputs;

  const telemetry = startTelemetry({ serviceName: 'capture', metricsPort: config.metricsPort });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'capture' });
  // Listening for signals before anything opens: a stop during start-up is honoured once it is up.
  const stop = shutdownSignal((signal) => {
    logger.info({ signal }, 'stopping: writing open files, then releasing partitions');
  });
  const app = await NestFactory.createApplicationContext(CaptureModule.register(config, logger), { logger: new PinoNestLogger(logger) });
  try {
    logger.info(
      { hub: config.hubName, lake: lakeLocation(config.lake), window_ms: config.windowMs, max_file_bytes: config.maxFileBytes, codec: config.codec, skip_empty: config.skipEmpty },
      'capture starting',
    );
    const summary = await app.get(CaptureService).run(stop.signal, config.drain);
    const others = summary.drainedByOthers.length === 0 ? '' : `; partitions ${summary.drainedByOthers.join(', ')} were captured to the end by other instances`;
    logger.info({ ...summary }, `capture stopped: ${summary.events} events in ${summary.files} files${others}`);
    return 0;
  } catch (error) {
    if (error instanceof CheckpointMismatchError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    logger.error({ err: error }, `capture failed: ${(error as Error).message}`);
    return 1;
  } finally {
    stop.dispose();
    await app.close();
    await telemetry.shutdown();
  }
}

runMain(module, main);

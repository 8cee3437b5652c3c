/**
 * `pipeline produce`: sends a CSV file to the event hub, one event per record.
 * Exit codes: 0 done, 1 failed (the message says where to resume), 2 a mistake the user fixes (usage,
 * config, spec or the CSV file: one line on stderr naming the input and the fix), 130 stopped by a
 * signal (the summary says where to resume).
 */
import 'reflect-metadata';
import { stat } from 'node:fs/promises';
import { NestFactory } from '@nestjs/core';
import { ProcessLockHeldError, takeProcessLock, type ProcessLock } from '@pipeline/adapters';
import { Command, Option } from 'commander';
import { loadStartupInputs, METRICS_PORT_FLAG, METRICS_PORT_HELP, type MetricsPortFlags, parseFlags, readMetricsPort, runMain, shutdownSignal } from '@pipeline/config';
import { csvFileProblem, CsvFileError, delimiterProblem } from '@pipeline/csv';
import { systemClock } from '@pipeline/engine';
import { createLogger, metricsListening, PinoNestLogger, startTelemetry } from '@pipeline/telemetry';
import { CsvProducer, ProduceError, type ProduceSummary } from './csv-producer';
import { HeaderMismatchError } from './event-mapper';
import { producerConfig, type ProducerFlags } from './producer.config';
import { ProducerModule } from './producer.module';
import { carryUnterminated, ProducerPositions, resumePoint } from './producer-position';
import { ProgressReporter } from './progress';

export function producerCommand(): Command {
  return new Command('pipeline produce')
    .showHelpAfterError('(run pipeline produce --help for usage)')
    .description('Send a CSV file to the event hub, one event per record (JSON body of raw values; bad records sent raw, marked for quarantine).')
    .addOption(new Option('--spec <file>', 'pipeline spec (YAML)').env('PIPELINE_SPEC'))
    .addOption(new Option('--csv <file>', 'CSV file to send').env('PIPELINE_CSV'))
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--hub <name>', 'event hub name (default: $PIPELINE_EVENT_HUB or "events")')
    .option('--partitions <n>', 'partitions of a new embedded hub (default: 4)')
    .option('--rate <events/s>', 'send at this many events per second')
    .option('--speed <factor>', 'replay event time at this speed (60: an hour of events in a minute)')
    .option('--from-row <n>', 'start at this 1-based data row (default: the first row the hub has not acknowledged from an earlier run on this file and hub, else 1)')
    .option('--batch-size <n>', 'most events per send batch (default: 2000; a batch also stops at the event hub size limit)')
    .option(
      '--max-record-size <size>',
      'largest record sent as it is, e.g. 512KiB (default: 1MiB, and never more than the event hub takes); a larger one is sent as a record_too_large marker with its first bytes, and silver quarantines it',
    )
    .option('--limit <n>', 'send at most this many rows')
    .option('--no-progress', 'no progress bar or progress lines')
    .option('--json', 'print the summary as JSON on stdout')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText(
      'after',
      '\nA file still being written: a run sends the rows the file holds when it starts; run it again to send\n' +
        'the rows appended since. The last line without a line break is a record, sent only when the file has\n' +
        'not changed for a second (else the next run sends it). Should that line go on after it was sent, the\n' +
        'next run sends the row again as it is then, and warns.\n' +
        '\nExamples:\n  pipeline produce --spec examples/sensors.spec.yaml --csv examples/sensors.sample.csv\n  pipeline produce --spec my.spec.yaml --csv big.csv --speed 60\n  pipeline produce --spec my.spec.yaml --csv big.csv --from-row 250001\n',
    );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<ProducerFlags & { json?: boolean } & MetricsPortFlags>(producerCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const flags = parsed.flags;

  const inputs = await loadStartupInputs(() => ({ ...producerConfig(flags), metricsPort: readMetricsPort('producer', flags) }), { spec: true });
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config, spec } = inputs;
  const delimiter = delimiterProblem(spec.source.delimiter);
  const inputProblem = csvFileProblem('--csv', config.csvFile) ?? (delimiter === undefined ? undefined : `--spec ${config.specFile}: source.delimiter: ${delimiter}.`);
  if (inputProblem !== undefined) {
    process.stderr.write(`${inputProblem}\n`);
    return 2;
  }

  const telemetry = startTelemetry({ serviceName: 'producer', metricsPort: config.metricsPort });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'producer' });
  const app = await NestFactory.createApplicationContext(ProducerModule.register(config, spec, logger), { logger: new PinoNestLogger(logger) });
  const stop = shutdownSignal((signal) => {
    logger.info({ signal }, 'stopping: sending what was read, then exiting');
  });
  let lock: ProcessLock | undefined;
  try {
    const producer = app.get(CsvProducer);
    const positions = new ProducerPositions(config.positionsFolder);
    // One run per CSV file and hub: two would both send the rows after the recorded position.
    try {
      lock = await takeProcessLock(positions.lockFile(config.hubName, config.csvFile), `A producer of ${config.csvFile} to event hub "${config.hubName}"`);
    } catch (error) {
      if (!(error instanceof ProcessLockHeldError)) throw error;
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    const recorded = config.fromRow === undefined ? await positions.read(config.hubName, config.csvFile) : undefined;
    const resume = recorded ? await resumePoint(recorded, config.csvFile, (await stat(config.csvFile)).size) : undefined;
    if (resume?.kind === 'shrunk') {
      process.stderr.write(
        `--csv ${config.csvFile} has ${resume.size} bytes, fewer than the ${recorded?.size} bytes an earlier run sent to event hub "${config.hubName}" before: it was replaced or cut short; pass --from-row 1 to send it from the start, or --from-row N to choose the row.\n`,
      );
      return 2;
    }
    const fromRow = config.fromRow ?? resume?.fromRow ?? 1;
    if (recorded)
      logger.info(
        { from_row: fromRow, recorded_at: recorded.updatedAt },
        `resuming ${config.csvFile} at row ${fromRow}: earlier rows were sent to "${config.hubName}" before (--from-row 1 sends everything again)`,
      );
    if (resume?.resentRow !== undefined)
      logger.warn(
        { row: resume.resentRow },
        `row ${resume.resentRow} was sent before its line was complete (the file has gone on with that line since): sending it again as it is now; silver quarantines the cut one, or keeps it and drops this one as a duplicate if it parsed with the same event id`,
      );
    const summary = await producer.produce({
      csvFile: config.csvFile,
      fromRow,
      onPosition: (position) => positions.write(config.hubName, config.csvFile, carryUnterminated(position, resume?.unterminated)),
      ...(resume ? { acknowledged: resume.acknowledged } : {}),
      pacing: config.pacing,
      maxBatchEvents: config.maxBatchEvents,
      maxRecordBytes: config.maxRecordBytes,
      maxBatchDelayMs: config.maxBatchDelayMs,
      limitRows: config.limitRows,
      progress: config.progress ? new ProgressReporter(process.stderr, systemClock) : undefined,
      signal: stop.signal,
    });
    printSummary(summary, config.hubName, Boolean(flags.json));
    return summary.stoppedEarly ? 130 : 0;
  } catch (error) {
    // A CSV the user must fix: nothing was sent (the file fails at its header or first line).
    const cause = error instanceof ProduceError ? error.cause : error;
    if (cause instanceof CsvFileError || cause instanceof HeaderMismatchError) {
      process.stderr.write(`--csv ${config.csvFile}: ${cause.message}\n`);
      return 2;
    }
    if (error instanceof ProduceError) {
      logger.error({ err: error.cause, resumeFromRow: error.summary.resumeFromRow }, `produce failed: ${error.message}`);
      printSummary(error.summary, config.hubName, Boolean(flags.json));
      return 1;
    }
    logger.error({ err: error }, `produce failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await lock?.release();
    stop.dispose();
    await app.close();
    await telemetry.shutdown();
  }
}

function printSummary(summary: ProduceSummary, hubName: string, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ hub: hubName, ...summary })}\n`);
    return;
  }
  const seconds = summary.elapsedMs / 1000;
  const malformed = Object.entries(summary.malformed);
  const lines = [
    `Sent ${summary.eventsSent.toLocaleString('en-US')} events from ${summary.csvFile} to event hub "${hubName}" in ${summary.batchesSent} batches, ${seconds.toFixed(1)} s (${Math.round(summary.eventsSent / Math.max(seconds, 1e-3)).toLocaleString('en-US')} events/s).`,
    summary.firstRow !== undefined
      ? `  Rows ${summary.firstRow}–${summary.lastRow}.`
      : summary.fromRow > 1
        ? `  No rows from row ${summary.fromRow} on: everything before was sent by an earlier run (--from-row 1 sends it all again).`
        : '  No data rows.',
    malformed.length === 0 ? '  No malformed rows.' : `  Malformed rows sent raw for quarantine: ${malformed.map(([reason, n]) => `${reason} ${n}`).join(', ')}.`,
  ];
  if (summary.heldBackRow !== undefined)
    lines.push(`  Row ${summary.heldBackRow} not sent: it is the last line, has no line break yet and the file is still being written; run again to send it.`);
  if (summary.resumeFromRow !== undefined) lines.push(`  Stopped before the end: resume with --from-row ${summary.resumeFromRow}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

runMain(module, main);

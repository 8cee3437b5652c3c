/**
 * `pipeline`: the command-line tool. Service commands run the services' own entry points;
 * the others are tools around them (start everything, generate data, check a spec, read files).
 */
import 'reflect-metadata';
import { createWriteStream, existsSync } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { Command, Option } from 'commander';
import { CaptureFormatError, openCaptureFile } from '@pipeline/capture-format';
import { loadSpecFile, readLakeBackend, resolvePipelineHome, runMain, SettingsReader, SpecFileError } from '@pipeline/config';
import { openLake } from '@pipeline/adapters';
import { openCommandBus, openCommandLake } from './backends';
import { CheckpointInUseError, resetCheckpoint } from '@pipeline/checkpoint';
import { audit, formatAudit } from './audit';
import { formatRejected, listRejected, restoreRejected } from './rejected';
import { SpecValidationError } from '@pipeline/contracts';
import { csvLines } from '@pipeline/generator';
import { createReadStream } from 'node:fs';
import { service, services, usageExitCode } from './services';
import { simulate, simulateCommandHelp } from './simulate';
import { replay, replayCommandHelp } from './replay';
import { start } from './start';
import { formatQueryResult, queryLake, QueryError, type QueryFormat } from './query';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('pipeline')
    .description('A real-time medallion pipeline for Azure: CSV → event hub → capture (Avro) → bronze → silver → gold → serving.')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  for (const svc of services) {
    program
      .command(svc.command)
      .description(svc.description)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[options...]', `options of the ${svc.name} (see --help)`)
      .action(async (args: string[]) => {
        code = await service(svc.name).load().main(args);
      });
  }

  program
    .command('start')
    .description('Run the whole pipeline locally on the embedded backends, every service in its own process, with the example data (or your spec and CSV).')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--spec <file>', 'pipeline spec', 'examples/sensors.spec.yaml')
    .option('--csv <file>', 'CSV file to send', 'examples/sensors.sample.csv')
    .option('--hub <name>', 'event hub name', 'events')
    .option('--partitions <n>', 'partitions of a new embedded hub', '4')
    .option('--speed <factor>', 'replay event time at this speed instead of as fast as possible')
    .option('--rate <events/s>', 'send at this rate instead of as fast as possible')
    .option('--window <duration>', 'capture window (under 1s, capture files are named by the millisecond)', '250ms')
    .option('--port <n>', 'port of the serving API', '8080')
    .option('--metrics-port <n|auto|off>', "each service's Prometheus /metrics: free ports (auto), six ports from n on, or none", 'auto')
    .option('--exit-when-done', 'stop once everything sent is through, instead of running until Ctrl-C')
    .option('--restarts <n>', 'times a service that fails (ends by a signal or an error) is started again within a minute; it resumes from its checkpoint (0: never)', '3')
    .action(
      async (opts: {
        home?: string;
        spec: string;
        csv: string;
        hub: string;
        partitions: string;
        speed?: string;
        rate?: string;
        window: string;
        port: string;
        metricsPort: string;
        exitWhenDone?: boolean;
        restarts: string;
      }) => {
        const bin = process.env['PIPELINE_BIN'] ?? path.join(REPO_ROOT, 'bin', 'pipeline.js');
        code = await start({ ...opts, exitWhenDone: Boolean(opts.exitWhenDone), bin });
      },
    );

  program
    .command('replay')
    .description(
      'Re-process bronze for a capture-time range into silver and gold under a new name (new checkpoints, tables and serving store), without ingesting again: backfills and logic changes.',
    )
    .requiredOption('--from <time>', 'start of the capture-time range, inclusive (ISO-8601, UTC unless it has an offset)')
    .requiredOption('--to <time>', 'end of the capture-time range, exclusive')
    .requiredOption('--checkpoint <name>', 'name of the replay: checkpoints <name>-silver and <name>-gold, tables under tables/<name>')
    .option('--spec <file>', 'pipeline spec to replay with (default: $PIPELINE_SPEC)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--resume', 'continue the replay of this name instead of refusing a name in use')
    .option('--end-of-input', 'the range is the whole input: at its end the watermark passes every open window, so the last windows are emitted')
    .option('--json', 'print the summary as JSON (the stages log to stderr)')
    .addHelpText('after', replayCommandHelp)
    .action(async (opts: { from: string; to: string; checkpoint: string; spec?: string; home?: string; resume?: boolean; json?: boolean; endOfInput?: boolean }) => {
      const bin = process.env['PIPELINE_BIN'] ?? path.join(REPO_ROOT, 'bin', 'pipeline.js');
      code = await replay({ ...opts, resume: Boolean(opts.resume), json: Boolean(opts.json), endOfInput: Boolean(opts.endOfInput), bin });
    });

  program
    .command('generate')
    .description('Write deterministic example sensor readings as CSV (the example spec reads them).')
    .option('--rows <n>', 'data rows', '10000')
    .option('--seed <n>', 'random seed: the same seed gives the same bytes', '42')
    .option('--devices <n>', 'distinct device ids (partition and grouping keys)', '20')
    .option('--sites <n>', 'distinct sites', '3')
    .option('--rate <events/s>', 'events per second of event time', '10')
    .option('--start <iso>', 'event time of the first row', '2026-01-01T00:00:00Z')
    .option('--out-of-order <ms>', 'largest random delay of an event behind its neighbours', '5000')
    .option('--late-fraction <f>', 'fraction of events pushed back beyond --late-by', '0')
    .option('--late-by <ms>', 'how far late events are pushed back', '120000')
    .addOption(new Option('--out <file>', 'write to this file instead of stdout'))
    .action(async (opts: Record<string, string>) => {
      code = await generate(opts);
    });

  program
    .command('validate')
    .description('Check a pipeline spec and list every problem in it.')
    .argument('<spec>', 'pipeline spec (YAML)')
    .action(async (file: string) => {
      if (!existsSync(file)) {
        process.stderr.write(`${file} does not exist: give the path of a pipeline spec (examples/sensors.spec.yaml is one).\n`);
        code = 2;
        return;
      }
      try {
        const spec = await loadSpecFile(file);
        process.stdout.write(
          `${file} is valid: pipeline "${spec.name}", ${spec.source.columns.length} columns, ${spec.windows.length} window(s), ${spec.aggregates.length} aggregate(s), watermark delay ${spec.watermark.delayMs} ms, ${spec.gold.shards} gold shard(s).\n`,
        );
      } catch (error) {
        if (error instanceof SpecValidationError || error instanceof SpecFileError) {
          process.stderr.write(`${error.message}\n`);
          code = 1;
          return;
        }
        throw error;
      }
    });

  program
    .command('read-capture')
    .description('Print the records of an Event Hubs Capture Avro file as JSON lines (bodies as UTF-8 text when they are).')
    .argument('<file>', 'capture file (.avro)')
    .option('--limit <n>', 'print at most this many records')
    .action(async (file: string, opts: { limit?: string }) => {
      code = await readCapture(file, opts.limit === undefined ? Infinity : Number(opts.limit));
    });

  program
    .command('simulate')
    .description("Run gold's windowed aggregation over batches from a JSONL file and print, per batch, the windows emitted and the late rows (no services, no lake).")
    .requiredOption('--spec <file>', 'pipeline spec (YAML)')
    .requiredOption('--input <file>', 'JSONL file of batches, one per line: {"rows": [...]}')
    .addOption(new Option('--mode <mode>', 'output mode').choices(['append', 'update']).default('append'))
    .addHelpText('after', simulateCommandHelp)
    .action(async (opts: { spec: string; input: string; mode: 'append' | 'update' }) => {
      code = await simulate({ specFile: opts.spec, inputFile: opts.input, mode: opts.mode }, process.stdout);
    });

  program
    .command('audit')
    .description(
      'Reconcile the layers, per partition and batch: captured = bronze = silver + quarantined + duplicates, gold read every silver row, no event id in silver twice unless gold found the repeat late, and nothing pending. Exits 1 listing every problem.',
    )
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--raw-prefix <prefix>', 'lake folder of the capture files', 'raw')
    .option('--bronze-checkpoint <name>', 'bronze checkpoint name', 'bronze')
    .option('--silver-checkpoint <name>', 'silver checkpoint name', 'silver')
    .option('--gold-checkpoint <name>', 'gold checkpoint name (one sub-folder per shard)', 'gold')
    .option(
      '--allow-pending',
      'report pending work (capture files bronze has not committed, manifests the next stage has not committed, batches started but not committed) without failing: for auditing a running pipeline. A stage failing on every retry looks the same as one still running, so audit without it once the pipeline has drained.',
    )
    .option('--json', 'print the report as JSON')
    .addHelpText('after', BACKEND_HELP)
    .action(
      async (opts: { home?: string; rawPrefix: string; bronzeCheckpoint: string; silverCheckpoint: string; goldCheckpoint: string; allowPending?: boolean; json?: boolean }) => {
        const lake = await openCommandLake('audit', opts.home);
        try {
          const report = await audit(lake, {
            rawPrefix: opts.rawPrefix,
            bronzeCheckpoint: opts.bronzeCheckpoint,
            silverCheckpoint: opts.silverCheckpoint,
            goldCheckpoint: opts.goldCheckpoint,
            allowPending: opts.allowPending === true,
          });
          process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatAudit(report));
          code = report.problems.length === 0 ? 0 : 1;
        } finally {
          await lake.close();
        }
      },
    );

  const checkpoint = program.command('checkpoint').description('Reset a stage checkpoint that has committed nothing yet.');
  checkpoint
    .command('reset')
    .description('Delete a checkpoint whose stage has committed no batch yet (a first start with a wrong spec or setting), so the stage can start with new logic under that name.')
    .argument('<name>', 'checkpoint name, e.g. silver or bronze (a folder under checkpoints/)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--yes', 'really delete it')
    .addHelpText('after', BACKEND_HELP)
    .action(async (name: string, opts: { home?: string; yes?: boolean }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
        process.stderr.write(`checkpoint reset: ${JSON.stringify(name)} is not a checkpoint name.\n`);
        code = 2;
        return;
      }
      const lake = await openCommandLake('checkpoint reset', opts.home);
      try {
        if (!opts.yes) {
          process.stderr.write(
            `This deletes checkpoints/${name} in ${lake.location}, which is allowed only while its stage has committed no batch. Run again with --yes to do it.\n`,
          );
          code = 2;
          return;
        }
        const deleted = await resetCheckpoint(lake, `checkpoints/${name}`).catch((error: unknown) => {
          if (error instanceof CheckpointInUseError) return error;
          throw error;
        });
        if (deleted instanceof CheckpointInUseError) {
          process.stderr.write(`checkpoint reset: ${deleted.message}\n`);
          code = 2;
          return;
        }
        process.stdout.write(`Deleted ${deleted} entries of checkpoints/${name} in ${lake.location}.\n`);
      } finally {
        await lake.close();
      }
    });

  const rejected = program
    .command('rejected')
    .description('The capture files bronze or silver set aside (the rejected-file log, rejected/ in the lake), and putting one back once it is re-copied.');
  rejected
    .command('list')
    .description('List the capture files set aside or restored and not yet taken back, with the reason and the fix.')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--raw-prefix <prefix>', 'lake folder of the capture files', 'raw')
    .option('--all', 'also list the files bronze took back')
    .option('--json', 'print JSON')
    .addHelpText('after', BACKEND_HELP)
    .action(async (opts: { home?: string; rawPrefix: string; all?: boolean; json?: boolean }) => {
      const lake = await openCommandLake('rejected list', opts.home);
      try {
        const files = await listRejected(lake, { rawPrefix: opts.rawPrefix, all: opts.all === true });
        process.stdout.write(opts.json ? `${JSON.stringify(files)}\n` : formatRejected(files, opts.all === true));
      } finally {
        await lake.close();
      }
    });
  rejected
    .command('restore')
    .description(
      'Put a set-aside capture file back into processing once an intact copy is at its path: checks that it reads as a capture file, then bronze takes it into its next batch, once.',
    )
    .argument('<path>', 'the capture file, as `pipeline rejected list` and the audit name it (raw/…)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--raw-prefix <prefix>', 'lake folder of the capture files', 'raw')
    .addHelpText('after', `\nExit codes: 0 restored (or already restored), 1 refused: nothing set aside there, or the file still cannot be read.\n${BACKEND_HELP}`)
    .action(async (file: string, opts: { home?: string; rawPrefix: string }) => {
      const lake = await openCommandLake('rejected restore', opts.home);
      try {
        const result = await restoreRejected(lake, file, { rawPrefix: opts.rawPrefix });
        if (result.kind === 'refused') {
          process.stderr.write(`rejected restore: ${result.message}\n`);
          code = 1;
          return;
        }
        process.stdout.write(`${result.message}\n`);
      } finally {
        await lake.close();
      }
    });

  program
    .command('dead-letters')
    .description('List the dead letters of a bus queue, or send one back to its queue.')
    .argument('<queue>', 'queue name, e.g. bronze-manifests or silver-manifests')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--resubmit <messageId>', 'send this dead letter back to its queue')
    .addHelpText('after', BACKEND_HELP)
    .action(async (queue: string, opts: { home?: string; resubmit?: string }) => {
      const bus = await openCommandBus('dead-letters', opts.home);
      try {
        if (opts.resubmit) {
          await bus.resubmitDeadLetter(queue, opts.resubmit);
          process.stdout.write(`Resubmitted ${opts.resubmit} to ${queue}.\n`);
          return;
        }
        const letters = await bus.listDeadLetters(queue);
        if (letters.length === 0) process.stdout.write(`No dead letters in ${queue}.\n`);
        for (const l of letters)
          process.stdout.write(
            `${JSON.stringify({ messageId: l.messageId, sessionId: l.sessionId, subject: l.subject, reason: l.reason, description: l.description, deliveryCount: l.deliveryCount, deadLetteredTime: new Date(l.deadLetteredTime).toISOString(), body: l.body })}\n`,
          );
      } finally {
        await bus.close();
      }
    });

  program
    .command('query')
    .description("SQL over the lake's Delta tables with DuckDB: silver, quarantine, gold, late (each table under tables/ is a view of its current snapshot).")
    .argument('<sql>', 'one SQL statement, e.g. "select origin, sum(departures) from gold group by 1 order by 2 desc limit 5"')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .addOption(new Option('--format <format>', 'output: an aligned table, CSV or JSON lines').choices(['table', 'csv', 'json']).default('table'))
    .option('--max-rows <n>', 'rows the table format prints at most (csv and json print all)', '100')
    .addHelpText(
      'after',
      [
        '',
        'Partition columns (event_date, window_date, …) come from the Delta log, typed as the table says. The embedded lake',
        'only: on Azure the same Delta tables are open to Fabric, Databricks or DuckDB with its Azure extension.',
        'Exit codes: 0 answered, 1 the SQL failed (the message lists the tables), 2 bad usage or settings.',
        '',
      ].join('\n'),
    )
    .action(async (sql: string, opts: { home?: string; format: QueryFormat; maxRows: string }) => {
      const maxRows = Number(opts.maxRows);
      if (!Number.isInteger(maxRows) || maxRows < 1) {
        process.stderr.write(`query: --max-rows must be a whole number from 1, got ${JSON.stringify(opts.maxRows)}.\n`);
        code = 2;
        return;
      }
      const settings = new SettingsReader('pipeline query', process.env);
      const backend = readLakeBackend(settings, resolvePipelineHome(opts.home, process.env));
      settings.done();
      if (backend.kind !== 'local') {
        process.stderr.write('query: reads the embedded lake (a folder) only; on Azure query the Delta tables from Fabric, Databricks or DuckDB with its Azure extension.\n');
        code = 2;
        return;
      }
      const lake = await openLake(backend);
      try {
        const result = await queryLake(lake, backend.root, sql);
        for (const table of result.unreadable) process.stderr.write(`query: table ${table.name} left out, it cannot be read: ${table.problem}\n`);
        process.stdout.write(formatQueryResult(result, opts.format, maxRows));
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        process.stderr.write(`query: ${error.message}\n`);
        code = 1;
      } finally {
        await lake.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const exitCode = usageExitCode(error);
    if (exitCode === undefined) throw error;
    return exitCode;
  }
  return code;
}

/** The operator commands read the same backend settings as the services. */
const BACKEND_HELP = [
  '',
  "Works on the embedded backends under --home, or on Azure with the services' settings: PIPELINE_BACKEND=azure",
  '(or PIPELINE_LAKE_BACKEND / PIPELINE_BUS_BACKEND) and AZURE_STORAGE_ACCOUNT_URL, PIPELINE_LAKE_CONTAINER,',
  'AZURE_SERVICEBUS_NAMESPACE, signed in with `az login` (Microsoft Entra ID). See "Running on Azure" in the README.',
  '',
].join('\n');

async function generate(opts: Record<string, string>): Promise<number> {
  const numbers = ['rows', 'seed', 'devices', 'sites', 'rate', 'outOfOrder', 'lateFraction', 'lateBy'] as const;
  const bad = numbers.filter((k) => !Number.isFinite(Number(opts[k])) || Number(opts[k]) < 0);
  const start = Date.parse(opts['start'] ?? '');
  if (bad.length > 0 || Number.isNaN(start)) {
    process.stderr.write(
      `generate: expected non-negative numbers for ${bad.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ') || '(none)'}${Number.isNaN(start) ? ' and an ISO-8601 time for --start' : ''}.\n`,
    );
    return 2;
  }
  const out = opts['out'] ? createWriteStream(opts['out']) : process.stdout;
  const lines = csvLines({
    rows: Number(opts['rows']),
    seed: Number(opts['seed']),
    devices: Number(opts['devices']),
    sites: Number(opts['sites']),
    ratePerSecond: Number(opts['rate']),
    start,
    outOfOrderMs: Number(opts['outOfOrder']),
    lateFraction: Number(opts['lateFraction']),
    lateByMs: Number(opts['lateBy']),
  });
  for (const line of lines) {
    if (!out.write(line)) await once(out, 'drain');
  }
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
  return 0;
}

async function readCapture(file: string, limit: number): Promise<number> {
  if (!existsSync(file)) {
    process.stderr.write(`${file} does not exist.\n`);
    return 2;
  }
  let n = 0;
  try {
    const { records } = await openCaptureFile(createReadStream(file), file);
    for await (const record of records) {
      if (n++ >= limit) break;
      const body = record.body;
      const text = body ? new TextDecoder('utf-8', { fatal: false }).decode(body) : null;
      process.stdout.write(
        `${JSON.stringify({ ...record, body: text }, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? `base64:${Buffer.from((v as { data: number[] }).data).toString('base64')}` : v))}\n`,
      );
    }
  } catch (error) {
    // A damaged file: what it is and where, after the records read before the damage.
    if (!(error instanceof CaptureFormatError)) throw error;
    process.stderr.write(`${error.message} (${n} record${n === 1 ? '' : 's'} printed before it)\n`);
    return 1;
  }
  return 0;
}

runMain(module, main);

/**
 * The services the `pipeline` tool launches. Each service is its own app with its own `main`, as
 * deployed; the tool loads it by path (apps do not import each other).
 */
import * as path from 'node:path';
import { ConfigError } from '@pipeline/config';

export interface ServiceEntry {
  name: string;
  /** The `pipeline` command that runs it (`produce` for the producer). */
  command: string;
  description: string;
  load(): { main(argv: string[]): Promise<number> };
}

function entry(name: string, description: string): ServiceEntry {
  return {
    name,
    command: name === 'producer' ? 'produce' : name,
    description,
    load: () => require(path.join(__dirname, '..', '..', name, 'src', 'main')) as { main(argv: string[]): Promise<number> },
  };
}

export const services: ServiceEntry[] = [
  entry('producer', 'Send a CSV file to the event hub, one event per record.'),
  entry('capture', 'Capture the event hub into Avro files in the lake (Event Hubs Capture format and layout).'),
  entry('bronze', 'Reference new capture files in bronze manifests, batch by batch, and announce them on the bus.'),
  entry('silver', 'Turn bronze batches into the silver Delta table (typed, with event_time, in gold shards) and the quarantine table.'),
  entry('gold', 'Aggregate silver over event-time windows with a watermark, one actor per shard: gold and late tables, serving store.'),
  entry('serving-api', 'Serve window aggregates, late rows and pipeline status over REST, with an OpenAPI document at /docs.'),
];

export function service(name: string): ServiceEntry {
  const found = services.find((s) => s.name === name);
  if (!found) throw new Error(`unknown service ${name}`);
  return found;
}

/** The service the `pipeline` command `command` runs, if it is a service's. */
export function serviceForCommand(command: string): ServiceEntry | undefined {
  return services.find((s) => s.command === command);
}

/**
 * The exit code of an error a command threw that is the user's to fix: a bad setting (its message is
 * printed) or a command-line parse (commander's own exit code: 0 for `--help`, else 2).
 * `undefined` for any other error, which is a failure to report as it is.
 */
/**
 * The log settings of the services `start` and `replay` launch: warnings and errors unless
 * LOG_LEVEL says otherwise (empty counts as unset), pretty on a terminal unless LOG_FORMAT says.
 */
export function launchedLogEnv(): { LOG_LEVEL: string; LOG_FORMAT: string } {
  return { LOG_LEVEL: process.env['LOG_LEVEL'] || 'warn', LOG_FORMAT: process.env['LOG_FORMAT'] ?? (process.stdout.isTTY ? 'pretty' : 'json') };
}

export function usageExitCode(error: unknown): number | undefined {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  const { exitCode, code } = (error ?? {}) as { exitCode?: number; code?: unknown };
  if (exitCode === undefined) return undefined;
  // Commander printed its own usage error (its errors have a `commander.…` code); a setting refused
  // outside the settings check (LOG_LEVEL, read as the logger is made) says what to fix here.
  if (exitCode === 2 && code === undefined && error instanceof Error) process.stderr.write(`${error.message}\n`);
  return exitCode === 0 ? 0 : 2;
}

/**
 * `pipeline start`: runs the whole pipeline locally on the embedded backends, each service in its
 * own process as it is deployed (capture, bronze, silver, gold, serving-api), and the producer
 * sending the example data (or your CSV). A live view per layer, read from the serving API's own
 * `/v1/status` (the figures of the API's status page at `/`, made by the same `statusSample`), runs
 * until the data is through; then the audit and the queries to try. Each service serves its metrics
 * on its own port (`--metrics-port`), printed at start for a Prometheus to scrape. The services keep
 * running until Ctrl-C or SIGTERM, which is passed on; each finishes what it holds.
 * Running it again resumes: the checkpoints in the pipeline home skip what is done, and the
 * producer's stable event ids let silver drop what is sent twice. A spec the services would refuse
 * is refused first, with exit code 2, before anything is launched or sent.
 * A service that fails while running (ended by a signal, or exiting with an error) is started
 * again, as a container platform restarts it, and resumes from its checkpoints: at most
 * `--restarts` times within a minute, after 1, 2, then 4 s; then it stays down and `start` stops,
 * saying which. Exit code 2 (a setting or spec it refuses) is not retried: it would fail again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { LocalEventHub, LocalLake, ProcessLockHeldError, takeProcessLock, type ProcessLock } from '@pipeline/adapters';
import { csvFileProblem } from '@pipeline/csv';
import { loadSpecFile, localPaths, resolvePipelineHome, SpecFileError } from '@pipeline/config';
import { SpecValidationError, statusLine, statusSample, type StatusSample, type StatusView, type TableRow } from '@pipeline/contracts';
import { readDeltaRows } from '@pipeline/delta';
import { systemClock } from '@pipeline/engine';
import { audit, formatAudit, type AuditReport } from './audit';
import { launchedLogEnv } from './services';

export interface StartOptions {
  home?: string;
  spec: string;
  csv: string;
  hub: string;
  partitions: string;
  speed?: string;
  rate?: string;
  window: string;
  port: string;
  /** `auto` (free ports), `off`, or the first of consecutive ports, one per service. */
  metricsPort: string;
  exitWhenDone: boolean;
  /** Restarts of a failed service allowed within `RESTART_WINDOW_MS` (default 3; 0: never). */
  restarts?: string;
  bin: string;
}

interface Child {
  name: string;
  /** The service's process now: a new one after each restart. */
  process: ChildProcess;
  /** The exit code, once the service is down for good: stopped, or failed with no restart left. */
  exited: Promise<number>;
}

/** The window over which `--restarts` counts a service's restarts. */
export const RESTART_WINDOW_MS = 60_000;

/** How long the API may answer that the status cannot be read (a damaged record) before `start` stops, saying why. */
const STATUS_PROBLEM_MS = 30_000;

/** The wait before a failed service's first, second and later restarts. */
export const RESTART_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];

/** The exit codes of a process ended by SIGINT and by SIGTERM (128 + the signal's number). */
const STOPPED_BY_SIGINT = 130;
const STOPPED_BY_SIGTERM = 143;

/** The exit code of a refused setting or spec: the service would fail again, so it is not started again. */
const REFUSED = 2;

export async function start(options: StartOptions): Promise<number> {
  const home = resolvePipelineHome(options.home);
  if (!existsSync(options.spec)) {
    process.stderr.write(`--spec ${options.spec} does not exist.${options.spec.startsWith('examples/') ? ' Run `npm start` from the repository root.' : ''}\n`);
    return 2;
  }
  // The producer's own check of its input: a missing file, a folder or an unreadable one is refused before anything starts.
  const csvProblem = csvFileProblem('--csv', options.csv);
  if (csvProblem !== undefined) {
    process.stderr.write(`${csvProblem}\n`);
    return 2;
  }
  // The check every service runs at start-up, run before any of them is launched: a spec they would
  // refuse must not have the producer send the whole file first.
  try {
    await loadSpecFile(options.spec);
  } catch (error) {
    if (error instanceof SpecValidationError || error instanceof SpecFileError) {
      process.stderr.write(`${error.message}\nNothing was started or sent. Fix the spec (\`npx pipeline validate ${options.spec}\` checks it) and start again.\n`);
      return 2;
    }
    throw error;
  }
  const restarts = restartLimit(options.restarts);
  if (typeof restarts === 'string') {
    process.stderr.write(`${restarts}\n`);
    return 2;
  }
  // One \`pipeline start\` per home: a second would send the CSV again and run a second set of services on the same lake.
  let lock: ProcessLock;
  try {
    lock = await takeProcessLock(path.join(home, 'start.lock'), `\`pipeline start\` on ${home}`);
  } catch (error) {
    if (!(error instanceof ProcessLockHeldError)) throw error;
    process.stderr.write(`${error.message}\nNothing was started or sent.\n`);
    return 2;
  }
  try {
    return await startOnHome(options, home, restarts);
  } finally {
    await lock.release();
  }
}

/** `start` once the home is this process's own. */
async function startOnHome(options: StartOptions, home: string, restarts: number): Promise<number> {
  // The live view reads the API on this port: another process there (another \`pipeline start\`, say)
  // would answer for a pipeline that is not this one.
  const portProblem = await apiPortProblem(options.port);
  if (portProblem !== undefined) {
    process.stderr.write(`${portProblem}\nNothing was started or sent.\n`);
    return 2;
  }
  // The services log warnings and errors here; the live view says how the data moves.
  const env = {
    ...process.env,
    PIPELINE_HOME: home,
    ...launchedLogEnv(),
  };
  const metricsPorts = await servicePorts(options.metricsPort, METRICS_SERVICES.length);
  if (typeof metricsPorts === 'string') {
    process.stderr.write(`${metricsPorts}\n`);
    return 2;
  }
  const metricsArgs = (name: (typeof METRICS_SERVICES)[number]) => {
    const port = metricsPorts?.[METRICS_SERVICES.indexOf(name)];
    return port === undefined ? [] : ['--metrics-port', String(port)];
  };
  const common = ['--home', home, '--hub', options.hub, '--partitions', options.partitions];
  const api = `http://127.0.0.1:${options.port}`;
  say(`Pipeline home: ${home}`);
  say(`Status page (rates, watermarks, late and quarantined rows, last batches): ${api}/`);
  if (metricsPorts) say(`Metrics (Prometheus text, docs/metrics.md): ${METRICS_SERVICES.map((name, i) => `${name} http://127.0.0.1:${metricsPorts[i]}/metrics`).join(', ')}`);
  const children: Child[] = [];
  let stopping = false;
  const launch = (name: string, args: string[]) => {
    const serviceEnv = { ...env, ...restartIdentity(name, env) };
    // The producer is done once it has sent the file; the others run until stopped.
    const child = superviseService(
      () => spawnService(options.bin, name, args, serviceEnv),
      name,
      restarts,
      () => stopping,
      { finishes: name === 'producer' },
    );
    children.push(child);
    return child;
  };
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`Stopping (${signal}): the services finish what they hold, then exit.`);
    // A terminal's Ctrl-C reaches the services too, and they are already stopping: the SIGTERM
    // goes only to those still running a moment later (signalling a process as it exits would
    // end it by that signal instead of its own clean exit).
    setTimeout(
      () => {
        for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
      },
      signal === 'SIGINT' ? 1_000 : 0,
    ).unref();
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  try {
    const launchedAt = performance.now();
    launch('capture', ['capture', ...common, '--window', options.window, ...metricsArgs('capture')]);
    launch('bronze', ['bronze', ...common, '--poll', '100ms', '--max-batch-delay', '0s', ...metricsArgs('bronze')]);
    launch('silver', ['silver', '--home', home, '--spec', options.spec, '--poll', '500ms', ...metricsArgs('silver')]);
    launch('gold', ['gold', '--home', home, '--spec', options.spec, '--wake', '2s', ...metricsArgs('gold')]);
    launch('serving-api', ['serving-api', '--home', home, '--spec', options.spec, '--port', options.port, ...metricsArgs('serving-api')]);
    const pacing = options.speed ? ['--speed', options.speed] : options.rate ? ['--rate', options.rate] : [];
    // A producer started again resumes after the last row the hub acknowledged (its position file).
    const producer = launch('producer', ['produce', ...common, '--spec', options.spec, '--csv', options.csv, '--no-progress', ...pacing, ...metricsArgs('producer')]);
    const services = children.filter((c) => c !== producer);

    // While the producer sends, the live view shows how far each layer got.
    let sending = true;
    const viewed = showWhileSending(api, () => !sending || stopping);
    const produced = await producer.exited;
    sending = false;
    await viewed;
    if (stopping) return finish(children, 130);
    if (produced !== 0) {
      say(`The producer failed (exit ${produced}); stopping.`);
      stopAll('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
      // A refused input (exit code 2, its reason printed above) is the user's to fix, as for the producer alone.
      return produced === 2 ? 2 : 1;
    }
    const sent = await eventsSent(home, options);
    const through = await waitUntilThrough(home, api, sent, services, () => stopping);
    let healthy = false;
    if (through) {
      say(
        `Everything sent is through: ${sent} events captured, ${through.sample.silver.rows} silver rows, ${through.sample.silver.quarantined} quarantined, ${through.sample.silver.duplicates} duplicates; gold aggregated ${through.sample.gold.rows} rows, ${through.sample.gold.lateRows} late (${seconds(through.at - launchedAt)} after launch).`,
      );
      say(`The audit (pipeline audit, ${seconds(through.auditMs)}):\n${formatAudit(through.audit).trimEnd()}`);
      say(
        [
          `The serving API is up at ${api} (status page: ${api}/, OpenAPI and Swagger UI: ${api}/docs). Try:`,
          ...(await exampleQueries(home, options.spec, api)).map((q) => `  curl '${q}'`),
          `Lake tables (Delta Lake: Spark, Fabric, Databricks, DuckDB): ${path.join(localPaths(home).lakeRoot, 'tables')}/{silver,quarantine,gold,late}`,
        ].join('\n'),
      );
      healthy = through.audit.problems.length === 0;
    }
    if (options.exitWhenDone || !healthy) {
      stopAll('SIGTERM');
      return finish(children, healthy ? 0 : 1);
    }
    say('The services keep running: send more with `npx pipeline produce --spec … --csv …` in another terminal. Ctrl-C stops.');
    // Until Ctrl-C, or until a service is down for good (it failed more often than --restarts allows).
    const down = await Promise.race(services.map(async (service) => ({ name: service.name, code: await service.exited })));
    if (stopping) return finish(children, 0);
    say(`${down.name} is down (exit ${down.code}): stopping the pipeline.`);
    stopAll('SIGTERM');
    return finish(children, 1);
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
}

/** The services that serve metrics, in the order of their ports. */
const METRICS_SERVICES = ['capture', 'bronze', 'silver', 'gold', 'serving-api', 'producer'] as const;

/** `count` ports for `--metrics-port`: free ones (auto), consecutive ones from n, or none (off); a message for anything else. */
async function servicePorts(setting: string, count: number): Promise<number[] | undefined | string> {
  if (setting === 'off') return undefined;
  if (setting === 'auto') return freePorts(count);
  const first = /^\d+$/.test(setting) ? Number(setting) : NaN;
  if (!(first >= 1 && first + count - 1 <= 65_535))
    return `--metrics-port: expected auto, off, or a port from 1 to ${65_536 - count} (the services take ${count} ports from it), found ${JSON.stringify(setting)}.`;
  return Array.from({ length: count }, (_, i) => first + i);
}

/** `count` distinct ports free now, all held until each is known (a service binds its own a moment later; a clash then stops that service with a message naming the port). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function finish(children: Child[], code: number): Promise<number> {
  const codes = await Promise.all(children.map((c) => c.exited));
  // Every call comes once the services were told to stop: ended by that SIGTERM (one still starting
  // has no handler for it yet) or by Ctrl-C, a service stopped as asked.
  const failed = children.filter((_, i) => codes[i] !== 0 && codes[i] !== STOPPED_BY_SIGINT && codes[i] !== STOPPED_BY_SIGTERM);
  for (const child of failed) say(`${child.name} exited with code ${codes[children.indexOf(child)]}.`);
  return failed.length > 0 && code === 0 ? 1 : code;
}

/**
 * V8 grows a busy service's heap far beyond what it holds (gold's live data fits in 256 MiB where
 * its heap reached 700 MiB): each service runs with the old-space cap the container images set,
 * unless NODE_OPTIONS sets one.
 */
export const SERVICE_HEAP_MIB = 384;

/**
 * The producer's young generation, per semi-space (V8's default is 16 MiB). It builds each event of
 * a send and holds the send's 2,000 until the hub commits them, so a scavenge finds much of what it
 * allocated still alive and copies it. At 32 MiB a million example readings cost half the GC time
 * (0.45 s instead of 0.9 s; scavenges 0.17 s instead of 0.56 s) and 8–20% less CPU in all, for
 * 30 MiB of RSS. Silver, measured the same way, gained nothing, nor did any other service in the
 * whole pipeline.
 */
export const PRODUCER_SEMI_SPACE_MIB = 32;

/**
 * Silver's and gold's initial old space: half their heap cap. A batch's rows live until its files
 * are written (and gold's documents until they are served), then all die, so from V8's small
 * starting limits the old space fills and is marked and compacted about twice a batch (silver:
 * 27–31 mark-compacts for a million events of either example; gold: 34 for a million flights).
 * Starting at 192 MiB silver compacts 5 times, about 1 s less CPU per million events (GC threads
 * included) for 60–110 MiB more RSS (128 MiB gave 9 compacts and 0.8 s); gold 2 times on the
 * flights, 4.1 → 3.4 s of CPU (175 → 325 MiB of RSS), and 87 → 47 on the example spec, 35.8 →
 * 33.0 s (407 → 421 MiB). Node refuses this flag in NODE_OPTIONS, so it is on the command line, as
 * in the two images.
 */
export const INITIAL_OLD_SPACE_MIB = 192;

/** The services started with `INITIAL_OLD_SPACE_MIB`. */
export const INITIAL_OLD_SPACE_SERVICES: readonly string[] = ['silver', 'gold'];

/** The V8 flags a service runs with (as its container image sets them), except those NODE_OPTIONS sets. */
export function serviceV8Flags(service: string, env: NodeJS.ProcessEnv): string[] {
  const set = env['NODE_OPTIONS'] ?? '';
  return [
    ...(/--max-old-space-size/.test(set) ? [] : [`--max-old-space-size=${SERVICE_HEAP_MIB}`]),
    ...(service !== 'producer' || /--max-semi-space-size/.test(set) ? [] : [`--max-semi-space-size=${PRODUCER_SEMI_SPACE_MIB}`]),
    ...(INITIAL_OLD_SPACE_SERVICES.includes(service) ? [`--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`] : []),
  ];
}

/** Why the serving API cannot listen on `port` of 127.0.0.1 (its default address), or `undefined` when it can. */
async function apiPortProblem(setting: string): Promise<string | undefined> {
  const port = /^\d+$/.test(setting) ? Number(setting) : NaN;
  if (!(port >= 1 && port <= 65_535)) return `--port: expected a port from 1 to 65535, found ${JSON.stringify(setting)}.`;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      resolve(
        error.code === 'EADDRINUSE'
          ? `--port ${port}: another process listens on it (another \`pipeline start\`?). Stop it, or give the serving API another port with --port.`
          : `--port ${port}: the serving API could not listen on it (${error.message}).`,
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(undefined)));
  });
}

/**
 * The instance id capture and gold keep across their restarts in this run (unless the environment
 * sets one): a capture or gold started again is the owner of its partitions or shards still, and
 * works them at once instead of waiting for its earlier claims to expire. Only one process of a
 * service runs at a time here (a restart follows the exit), so the id is never shared.
 */
function restartIdentity(service: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const setting = service === 'capture' ? 'CAPTURE_INSTANCE_ID' : service === 'gold' ? 'GOLD_INSTANCE_ID' : undefined;
  return setting === undefined || env[setting] !== undefined ? {} : { [setting]: `pipeline-start-${process.pid}-${service}` };
}

/** `--restarts`: a whole number from 0, or a message naming the setting. */
function restartLimit(setting: string | undefined): number | string {
  if (setting === undefined) return RESTART_DELAYS_MS.length;
  const n = /^\d+$/.test(setting) ? Number(setting) : NaN;
  return Number.isSafeInteger(n) ? n : `--restarts: expected a whole number of restarts from 0 (0: a failed service is not started again), found ${JSON.stringify(setting)}.`;
}

/**
 * Runs a service and starts it again when it ends, at most `limit` times within
 * `RESTART_WINDOW_MS`, after `RESTART_DELAYS_MS`; never once `stopping()` (it was told to stop),
 * after a refused setting or spec (exit 2), or, for a service that `finishes` (the producer, done
 * once it has sent its file), after a clean exit. A service that runs until stopped and exits
 * cleanly while the pipeline runs was stopped by something else (a signal from outside): it is
 * started again, as after a failure. The returned child's `exited` settles only when the service
 * is down for good: with its last exit code, or 0 when the pipeline stopped while it waited to be
 * started again.
 */
export function superviseService(
  spawnOnce: () => Child,
  name: string,
  limit: number,
  stopping: () => boolean,
  { finishes = false, now = Date.now }: { finishes?: boolean; now?: () => number } = {},
): Child {
  let settle: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (settle = resolve));
  const restartedAt: number[] = [];
  const first = spawnOnce();
  const child: Child = { name, process: first.process, exited };
  const watch = (run: Child): void => {
    void run.exited.then((code) => {
      if (stopping() || code === REFUSED || (code === 0 && finishes) || limit === 0) return settle(code);
      const at = now();
      while (restartedAt.length > 0 && at - (restartedAt[0] as number) >= RESTART_WINDOW_MS) restartedAt.shift();
      const ended = code === 0 ? 'stopped though the pipeline runs (exit 0: stopped from outside?)' : `failed (exit ${code})`;
      if (restartedAt.length >= limit) {
        say(`${name} ended ${limit + 1} times within a minute, the last time ${ended}; it is not started again (--restarts ${limit}).`);
        return settle(code);
      }
      restartedAt.push(at);
      const delay = RESTART_DELAYS_MS[Math.min(restartedAt.length, RESTART_DELAYS_MS.length) - 1] as number;
      say(`${name} ${ended}; starting it again in ${delay / 1000} s (restart ${restartedAt.length} of ${limit} within a minute). It resumes from its checkpoints.`);
      setTimeout(() => {
        if (stopping()) {
          // Its failure was one to recover from, and the pipeline stops now on its own account.
          say(`${name} is not started again: the pipeline is stopping.`);
          return settle(0);
        }
        const next = spawnOnce();
        child.process = next.process;
        watch(next);
      }, delay);
    });
  };
  watch(first);
  return child;
}

function spawnService(bin: string, name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  // The IPC channel is how the service sees this process end, even by SIGKILL: it then stops (entry.ts).
  const child = spawn(process.execPath, [...serviceV8Flags(name, env), bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  // Everything the services print is the pipeline's running log: one stream, each line tagged.
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code === null && signal) process.stdout.write(`[pipeline] ${name} was ended by ${signal}.\n`);
      resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    }),
  );
  return { name, process: child, exited };
}

/** Events in the hub: what the producer sent, now or before (a re-run resumes, it does not start over). */
async function eventsSent(home: string, options: StartOptions): Promise<number> {
  const hub = LocalEventHub.open({ file: localPaths(home).eventHubFile, hubName: options.hub, partitionCount: Number(options.partitions), clock: systemClock });
  try {
    let events = 0;
    for (const id of await hub.getPartitionIds()) events += (await hub.getPartitionProperties(id)).lastSequenceNumber + 1;
    return events;
  } finally {
    await hub.close();
  }
}

/** How often the live view asks the serving API for the status near the end: how late "through" is seen at most. */
const NEAR_LOOK_EVERY_MS = 250;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Shows a live view per layer until every event sent went through silver into gold, then returns
 * the last status and the audit. A batch in flight can look like a mismatch for a moment (its
 * table commit lands before its checkpoint commit); a problem that stays over several looks is real.
 */
async function waitUntilThrough(
  home: string,
  api: string,
  sent: number,
  services: Child[],
  stopped: () => boolean,
): Promise<{ sample: StatusSample; audit: AuditReport; at: number; auditMs: number } | undefined> {
  const lake = new LocalLake(localPaths(home).lakeRoot);
  let exited: string | undefined;
  for (const service of services) void service.exited.then(() => (exited ??= service.name));
  let problemLooks = 0;
  // Since when the API has answered that the status cannot be read, a problem no retry fixes.
  let problemSince: number | undefined;
  const lines = new LiveLines(`sent ${sent}`);
  try {
    for (;;) {
      if (stopped()) return undefined;
      if (exited) {
        say(`${exited} stopped before the data was through.`);
        return undefined;
      }
      const answer = await askStatus(api);
      if (answer !== undefined && 'problem' in answer) {
        const now = performance.now();
        problemSince ??= now;
        if (now - problemSince >= STATUS_PROBLEM_MS) {
          say(`The pipeline's status has not been readable for ${seconds(STATUS_PROBLEM_MS)}: ${answer.problem}`);
          return undefined;
        }
      } else problemSince = undefined;
      const status = answer !== undefined && 'view' in answer ? answer.view : undefined;
      if (status) {
        const sample = lines.look(status);
        const silverDone = sample.silver.records === sent;
        const goldDone = sample.gold.rows === sample.silver.rows;
        if (silverDone && goldDone) {
          const at = performance.now();
          const report = await audit(lake, { rawPrefix: 'raw', silverCheckpoint: 'silver' });
          problemLooks = report.problems.length > 0 ? problemLooks + 1 : 0;
          if (report.problems.length === 0 || problemLooks >= 6) return { sample, audit: report, at, auditMs: performance.now() - at };
        }
      }
      // Looks come every 250 ms once silver is near the end (a status costs the API some CPU), and a
      // problem seen by the audit is looked at again a second later: a batch in flight settles.
      const near = lines.last !== undefined && lines.last.silver.records >= sent * 0.95;
      await new Promise((resolve) => setTimeout(resolve, near && problemLooks === 0 ? NEAR_LOOK_EVERY_MS : 1_000));
    }
  } finally {
    await lake.close();
  }
}

/** The live view while the producer sends (the count sent is known once it is done): a line a second, until `done()`. */
async function showWhileSending(api: string, done: () => boolean): Promise<void> {
  const lines = new LiveLines('sending');
  while (!done()) {
    const status = await fetchStatus(api);
    if (status) lines.look(status);
    // A second between looks, cut short when the producer is done.
    for (let waited = 0; waited < 1_000 && !done(); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The live view's lines: one a second at most, with rates over the time since the line before, none printed twice in a row. */
class LiveLines {
  /** The sample of the last line printed. */
  last: StatusSample | undefined;
  private lastLine = '';

  constructor(private readonly prefix: string) {}

  /** The status as a sample (the status page's figures, from the same function: the two views agree), printed when a second has passed since the last line. */
  look(status: StatusView): StatusSample {
    const now = Date.now();
    const sample = statusSample(status, now, this.last);
    if (this.last === undefined || now - this.last.at >= 1_000) {
      this.last = sample;
      const line = `${this.prefix} | ${statusLine(sample)}`;
      if (line !== this.lastLine) say(line);
      this.lastLine = line;
    }
    return sample;
  }
}

async function fetchStatus(api: string): Promise<StatusView | undefined> {
  const answer = await askStatus(api);
  return answer !== undefined && 'view' in answer ? answer.view : undefined;
}

/** The status, or the reason the API gives for not having one that no retry fixes (503); undefined while it cannot answer. */
async function askStatus(api: string): Promise<{ view: StatusView } | { problem: string } | undefined> {
  try {
    const response = await fetch(`${api}/v1/status`);
    if (response.ok) return { view: (await response.json()) as StatusView };
    if (response.status !== 503) return undefined;
    const body = (await response.json().catch(() => undefined)) as { message?: unknown } | undefined;
    return { problem: typeof body?.message === 'string' ? body.message : `${api}/v1/status answers 503` };
  } catch {
    return undefined; // The API is still starting.
  }
}

/** Queries that answer with data: a key, window and start taken from the gold table, names from the spec. */
async function exampleQueries(home: string, specFile: string, api: string): Promise<string[]> {
  const spec = await loadSpecFile(specFile);
  const queries = [`${api}/v1/status`];
  const lake = new LocalLake(localPaths(home).lakeRoot);
  try {
    let row: TableRow | undefined;
    for await (const first of readDeltaRows(lake, 'tables/gold')) {
      row = first;
      break;
    }
    if (row) {
      const key = spec.groupBy.length === 1 ? String(row[spec.groupBy[0] as string]) : spec.groupBy.map((c) => `${c}=${String(row?.[c])}`).join('&');
      const window = String(row['window']);
      const start = new Date(row['window_start'] as number).toISOString();
      const by = spec.aggregates[0]?.name ?? 'count';
      queries.push(
        `${api}/v1/windows?key=${encodeURIComponent(key)}&window=${window}&limit=5`,
        `${api}/v1/keys/${encodeURIComponent(key)}/latest?window=${window}`,
        `${api}/v1/windows/top?window=${window}&start=${start}&by=${by}&limit=3`,
      );
    }
  } catch {
    // No gold table yet: the status and late queries still answer.
  } finally {
    await lake.close();
  }
  queries.push(`${api}/v1/late?limit=5`);
  return queries;
}

function say(message: string): void {
  process.stdout.write(`[pipeline] ${message}\n`);
}

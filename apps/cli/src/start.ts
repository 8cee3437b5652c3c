/**
 * `pipeline start`: runs the pipeline locally on the embedded backends, each service in its own
 * process as it is deployed: capture, bronze and silver keep running, the producer sends the
 * example data (or your CSV). Once everything sent has reached silver it prints the audit; it
 * stops on Ctrl-C or SIGTERM by passing the signal on and waiting for the services to flush.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { LocalCheckpointStore, LocalEventHub, LocalLake } from '@pipeline/adapters';
import { audit, formatAudit, type AuditReport } from './audit';
import { localPaths, resolvePipelineHome } from '@pipeline/config';
import { systemClock } from '@pipeline/engine';

export interface StartOptions {
  home?: string;
  spec: string;
  csv: string;
  hub: string;
  partitions: string;
  speed?: string;
  rate?: string;
  window: string;
  exitWhenDone: boolean;
  bin: string;
}

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number>;
}

export async function start(options: StartOptions): Promise<number> {
  const home = resolvePipelineHome(options.home);
  for (const [flag, file] of [
    ['--spec', options.spec],
    ['--csv', options.csv],
  ] as const) {
    if (!existsSync(file)) {
      process.stderr.write(`${flag} ${file} does not exist.${file.startsWith('examples/') ? ' Run `npm start` from the repository root.' : ''}\n`);
      return 2;
    }
  }
  const env = { ...process.env, PIPELINE_HOME: home, LOG_FORMAT: process.env['LOG_FORMAT'] ?? (process.stdout.isTTY ? 'pretty' : 'json') };
  const common = ['--home', home, '--hub', options.hub, '--partitions', options.partitions];
  say(`Pipeline home: ${home}`);
  const children: Child[] = [];
  const launch = (name: string, args: string[]) => {
    const child = spawnService(options.bin, name, args, env);
    children.push(child);
    return child;
  };
  let stopping = false;
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`Stopping (${signal}): the services write what they hold, then exit.`);
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGTERM');
  };
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  try {
    const capture = launch('capture', ['capture', ...common, '--window', options.window]);
    const bronze = launch('bronze', ['bronze', ...common, '--poll', '250ms', '--max-batch-delay', '500ms']);
    const silver = launch('silver', ['silver', '--home', home, '--spec', options.spec, '--poll', '500ms']);
    const pacing = options.speed ? ['--speed', options.speed] : options.rate ? ['--rate', options.rate] : [];
    const producer = launch('producer', ['produce', ...common, '--spec', options.spec, '--csv', options.csv, '--no-progress', ...pacing]);
    const produced = await producer.exited;
    if (stopping) return finish(children, 130);
    if (produced !== 0) {
      say(`The producer failed (exit ${produced}); stopping.`);
      stopAll('SIGTERM');
      await Promise.all(children.map((c) => c.exited));
      return 1;
    }
    const captured = await waitForCapture(home, options, capture, () => stopping);
    if (captured) say(`Everything sent is captured: ${captured.events} events in Avro files under ${path.join(localPaths(home).lakeRoot, 'raw')}.`);
    const caughtUp = captured && (await waitForSilver(home, [bronze, silver], () => stopping));
    if (caughtUp) {
      say(`Bronze and silver have caught up. The audit (pipeline audit):\n${formatAudit(caughtUp).trimEnd()}`);
      say(`Silver and quarantine are Delta tables (Spark, Fabric, Databricks and DuckDB read them) under ${path.join(localPaths(home).lakeRoot, 'tables')}.`);
    }
    const healthy = caughtUp !== undefined && caughtUp.problems.length === 0;
    if (options.exitWhenDone || !healthy) {
      stopAll('SIGTERM');
      return finish(children, healthy ? 0 : 1);
    }
    say('The services keep running: send more with `npx pipeline produce --spec … --csv …` in another terminal. Ctrl-C stops.');
    return finish(children, (await capture.exited) === 0 || stopping ? 0 : 1);
  } finally {
    process.off('SIGINT', stopAll);
    process.off('SIGTERM', stopAll);
  }
}

async function finish(children: Child[], code: number): Promise<number> {
  const codes = await Promise.all(children.map((c) => c.exited));
  const failed = children.filter((_, i) => codes[i] !== 0 && codes[i] !== 130);
  for (const child of failed) say(`${child.name} exited with code ${codes[children.indexOf(child)]}.`);
  return failed.length > 0 && code === 0 ? 1 : code;
}

function spawnService(bin: string, name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Everything the services print is the pipeline's running log: one stream, each line tagged.
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
  }
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { name, process: child, exited };
}

/** Waits until the capture checkpoint covers every event in the hub, or capture exits. */
async function waitForCapture(home: string, options: StartOptions, capture: Child, stopped: () => boolean): Promise<{ events: number } | undefined> {
  const paths = localPaths(home);
  const hub = LocalEventHub.open({ file: paths.eventHubFile, hubName: options.hub, partitionCount: Number(options.partitions), clock: systemClock });
  const store = new LocalCheckpointStore(paths.checkpointStoreFile, systemClock);
  let exited = false;
  void capture.exited.then(() => (exited = true));
  try {
    for (;;) {
      if (stopped() || exited) return undefined;
      const ids = await hub.getPartitionIds();
      const checkpoints = await store.listCheckpoints(hub.fullyQualifiedNamespace, hub.hubName, hub.consumerGroup);
      let events = 0;
      let behind = 0;
      for (const id of ids) {
        const last = (await hub.getPartitionProperties(id)).lastSequenceNumber;
        const captured = checkpoints.find((c) => c.partitionId === id)?.sequenceNumber ?? -1;
        events += last + 1;
        behind += Math.max(0, last - captured);
      }
      if (behind === 0) return { events };
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await hub.close();
    await store.close();
  }
}

/** Waits until bronze referenced every capture file and silver processed every bronze batch; returns the audit. */
async function waitForSilver(home: string, services: Child[], stopped: () => boolean): Promise<AuditReport | undefined> {
  const lake = new LocalLake(localPaths(home).lakeRoot);
  let exited = false;
  for (const service of services) void service.exited.then(() => (exited = true));
  // A batch in flight can look like a mismatch for a moment (its table commit lands before its
  // checkpoint commit); a problem that stays over several looks is real.
  let problemLooks = 0;
  try {
    for (;;) {
      if (stopped() || exited) return undefined;
      const report = await audit(lake, { rawPrefix: 'raw', silverCheckpoint: 'silver' });
      const pending = report.rows.reduce((n, r) => n + r.pending + (r.bronze - r.silverIn), 0);
      problemLooks = report.problems.length > 0 ? problemLooks + 1 : 0;
      if ((pending === 0 && report.rows.length > 0 && report.problems.length === 0) || problemLooks >= 6) return report;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await lake.close();
  }
}

function say(message: string): void {
  process.stdout.write(`[pipeline] ${message}\n`);
}

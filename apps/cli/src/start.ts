/**
 * `pipeline start`: runs the pipeline locally on the embedded backends, each service in its own
 * process as it is deployed: capture keeps running, the producer sends the example data (or your
 * CSV). Prints where things are once everything sent is captured; stops on Ctrl-C or SIGTERM by
 * passing the signal on and waiting for the services to flush.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { LocalCheckpointStore, LocalEventHub } from '@pipeline/adapters';
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
    const caughtUp = await waitForCapture(home, options, capture, () => stopping);
    if (caughtUp) {
      say(`Everything sent is captured: ${caughtUp.events} events in Avro files under ${path.join(localPaths(home).lakeRoot, 'raw')}.`);
      say(caughtUp.note);
    }
    if (options.exitWhenDone || !caughtUp) {
      stopAll('SIGTERM');
      return finish(children, caughtUp ? 0 : 1);
    }
    say('Capture keeps running: send more with `npx pipeline produce --spec … --csv …` in another terminal. Ctrl-C stops.');
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
async function waitForCapture(home: string, options: StartOptions, capture: Child, stopped: () => boolean): Promise<{ events: number; note: string } | undefined> {
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
      if (behind === 0) {
        return { events, note: 'Read a capture file with `npx pipeline read-capture <file>`; bronze, silver and gold come next in this pipeline.' };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await hub.close();
    await store.close();
  }
}

function say(message: string): void {
  process.stdout.write(`[pipeline] ${message}\n`);
}

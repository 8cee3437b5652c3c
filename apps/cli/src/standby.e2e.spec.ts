/**
 * Standby instances of the singleton stages, as an operator runs them: two bronze and two silver
 * processes on one pipeline home while the producer sends. The second of each stands by naming the
 * first; the first is killed with SIGKILL and the standby takes over within the bound; a third
 * stands by and takes over at once from a SIGTERM, and so does a `--drain` run. No batch is run twice (each batch number is
 * committed by one process, each capture file is in one bronze manifest, no ManifestConflictError),
 * and the audit reconciles. The compiled tool in dist/ (built by `npm test` before Jest runs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { ManifestLog } from '@pipeline/checkpoint';
import { collect, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import type { AuditReport } from './audit';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const sample = path.join(root, 'examples', 'sensors.sample.csv');
/** The default lease (10 s), renewed four times per duration, polled every second: takeover within 15 s of a death. */
const TAKEOVER_BOUND_MS = 15_000;

interface Service {
  name: string;
  child: ChildProcess;
  lines: () => Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function launch(name: string, args: string[]): Service {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines = () =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { name, child, lines, exited };
}

function pipeline(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 60_000 });
}

const said = (service: Service, pattern: RegExp) => service.lines().find((l) => pattern.test(String(l['msg'])));
const instanceOf = (service: Service) => service.lines().find((l) => typeof l['instance'] === 'string')?.['instance'] as string | undefined;
const committedBatches = (service: Service, stage: string) =>
  service
    .lines()
    .filter((l) => l['msg'] === `${stage} batch committed`)
    .map((l) => l['batch'] as number);

function waitToSay(service: Service, pattern: RegExp, timeoutMs: number): Promise<Record<string, unknown>> {
  return waitFor(
    () => {
      if (service.child.exitCode !== null)
        throw new Error(`${service.name} exited (${service.child.exitCode}) before saying ${String(pattern)}:\n${JSON.stringify(service.lines()).slice(-3000)}`);
      return said(service, pattern);
    },
    { timeoutMs, intervalMs: 50, description: `${service.name} to say ${String(pattern)}` },
  );
}

describe('standby instances of bronze and silver', () => {
  let home: TempDir;
  const running: Service[] = [];
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    home = await makeTempDir('pipeline-standby-');
  });
  afterEach(async () => {
    for (const service of running) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    await Promise.all(running.map((s) => s.exited));
    await home.dispose();
  });

  it('a standby takes over a killed instance within the bound, a stopped one at once, and no batch is run twice', async () => {
    const h = home.path;
    const start = (name: string, args: string[]) => {
      const service = launch(name, [...args, '--home', h]);
      running.push(service);
      return service;
    };
    const bronzeArgs = ['bronze', '--poll', '200ms', '--max-batch-delay', '200ms'];
    const silverArgs = ['silver', '--spec', spec, '--poll', '200ms', '--max-manifests', '2'];
    start('capture', ['capture', '--window', '300ms']);
    const bronzeA = start('bronze A', bronzeArgs);
    const silverA = start('silver A', silverArgs);
    await waitToSay(bronzeA, /^bronze lease taken/, 30_000);
    await waitToSay(silverA, /^silver lease taken/, 30_000);

    const bronzeB = start('bronze B', bronzeArgs);
    const silverB = start('silver B', silverArgs);
    expect((await waitToSay(bronzeB, /^standing by/, 30_000))['holder']).toBe(instanceOf(bronzeA));
    expect((await waitToSay(silverB, /^standing by/, 30_000))['holder']).toBe(instanceOf(silverA));

    // Paced, so the producer is still sending while the standbys take over.
    const producer = start('producer', ['produce', '--spec', spec, '--csv', sample, '--rate', '120', '--no-progress']);
    await waitFor(() => (committedBatches(bronzeA, 'bronze').length >= 2 && committedBatches(silverA, 'silver').length >= 1 ? true : undefined), {
      timeoutMs: 30_000,
      description: 'bronze A and silver A to commit batches',
    });
    const killedAt = Date.now();
    bronzeA.child.kill('SIGKILL');
    silverA.child.kill('SIGKILL');
    const bronzeTaken = await waitToSay(bronzeB, /^bronze lease taken over/, 30_000);
    const silverTaken = await waitToSay(silverB, /^silver lease taken over/, 30_000);
    const afterKill = { bronze: Date.parse(String(bronzeTaken['time'])) - killedAt, silver: Date.parse(String(silverTaken['time'])) - killedAt };
    expect(producer.child.exitCode).toBeNull(); // still sending: the takeover happened under load

    // A third instance of each stands by on the new holder, and takes over from a SIGTERM at once.
    const bronzeC = start('bronze C', bronzeArgs);
    const silverC = start('silver C', silverArgs);
    expect((await waitToSay(bronzeC, /^standing by/, 30_000))['holder']).toBe(instanceOf(bronzeB));
    expect((await waitToSay(silverC, /^standing by/, 30_000))['holder']).toBe(instanceOf(silverB));
    const stoppedAt = Date.now();
    bronzeB.child.kill('SIGTERM');
    silverB.child.kill('SIGTERM');
    const bronzeReleased = await waitToSay(bronzeC, /^bronze lease taken over/, 30_000);
    const silverReleased = await waitToSay(silverC, /^silver lease taken over/, 30_000);
    const afterStop = { bronze: Date.parse(String(bronzeReleased['time'])) - stoppedAt, silver: Date.parse(String(silverReleased['time'])) - stoppedAt };
    process.stdout.write(
      `standby takeover: after SIGKILL bronze ${afterKill.bronze} ms, silver ${afterKill.silver} ms (bound ${TAKEOVER_BOUND_MS} ms); after SIGTERM bronze ${afterStop.bronze} ms, silver ${afterStop.silver} ms\n`,
    );
    expect(afterKill.bronze).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    expect(afterKill.silver).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    expect(afterStop.bronze).toBeLessThan(afterKill.bronze);
    expect(afterStop.silver).toBeLessThan(afterKill.silver);
    expect([await bronzeB.exited, await silverB.exited]).toEqual([0, 0]);

    expect(await producer.exited).toBe(0);
    const capture = running[0] as Service;
    capture.child.kill('SIGTERM');
    expect(await capture.exited).toBe(0);
    const captured = pipeline(['capture', '--drain', '--home', h]);
    expect({ status: captured.status, stderr: captured.status === 0 ? '' : captured.stderr }).toEqual({ status: 0, stderr: '' });

    // A drain while another instance runs waits for the lease, says so, and runs once it is released.
    const bronzeDrain = start('bronze drain', ['bronze', '--drain']);
    const silverDrain = start('silver drain', ['silver', '--spec', spec, '--drain']);
    for (const [drain, active] of [
      [bronzeDrain, bronzeC],
      [silverDrain, silverC],
    ] as const) {
      const waiting = await waitToSay(drain, /^standing by/, 30_000);
      expect(waiting).toMatchObject({ holder: instanceOf(active), msg: expect.stringContaining('the drain runs once this instance holds the lease') });
      active.child.kill('SIGTERM');
    }
    expect([await bronzeC.exited, await silverC.exited, await bronzeDrain.exited, await silverDrain.exited]).toEqual([0, 0, 0, 0]);
    // What the silver drain had not seen (bronze's drain may have committed after it started), then gold.
    for (const args of [
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ]) {
      const drained = pipeline([...args, '--home', h]);
      expect({ args, status: drained.status, stderr: drained.status === 0 ? '' : drained.stderr }).toEqual({ args, status: 0, stderr: '' });
    }

    // No batch twice: each batch number committed by one process only, and never by a standby before it took over.
    const everyOutput = running.flatMap((s) => s.lines());
    expect(everyOutput.filter((l) => /ManifestConflictError|already holds a different/.test(JSON.stringify(l)))).toEqual([]);
    for (const [stage, instances] of [
      ['bronze', [bronzeA, bronzeB, bronzeC, bronzeDrain]],
      ['silver', [silverA, silverB, silverC, silverDrain]],
    ] as const) {
      const batches = instances.flatMap((s) => committedBatches(s, stage));
      expect(batches.length).toBeGreaterThan(2);
      expect(new Set(batches).size).toBe(batches.length);
      for (const standby of instances.slice(1)) {
        const took = standby.lines().findIndex((l) => /lease taken over/.test(String(l['msg'])));
        const firstCommit = standby.lines().findIndex((l) => l['msg'] === `${stage} batch committed`);
        if (firstCommit >= 0) expect(firstCommit).toBeGreaterThan(took);
      }
    }
    const lake = new LocalLake(path.join(h, 'lake'));
    const manifests = await collect(new ManifestLog(lake).after('bronze', 'bronze', -1));
    const files = manifests.flatMap((m) => m.files.map((f) => f.path));
    expect(files.length).toBeGreaterThan(0);
    expect(new Set(files).size).toBe(files.length);
    expect(manifests.map((m) => m.sequence)).toEqual(manifests.map((_, i) => i));

    const audit = pipeline(['audit', '--home', h, '--json']);
    const report = JSON.parse(audit.stdout) as AuditReport;
    expect({ status: audit.status, problems: report.problems, pending: report.pending, reconciled: report.reconciled }).toEqual({
      status: 0,
      problems: [],
      pending: [],
      reconciled: true,
    });
    expect(report.tables).toMatchObject({ silverRows: 2000, quarantineRows: 4 });
  }, 90_000);
});

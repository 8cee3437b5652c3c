/**
 * Scale-out and failover on the embedded backends, with the compiled tool as an operator runs it:
 * capture over the hub's 8 partitions and gold over 8 shards each go 1 → 2 → 4 instances while the
 * producer sends, then two capture instances and two gold instances, chosen at random, are killed
 * with SIGKILL at once (4 → 2). A capture drain then runs beside the two surviving capture instances.
 *
 * Checked, for each stage: every step balances (8, then 4 + 4, then 2 + 2 + 2 + 2, then 4 + 4 over
 * the survivors); the survivors own every orphan within the takeover bound (measured from the kill
 * and printed); every partition's events are in exactly one capture file each, with no gap; each
 * partition's and shard's commits are one gap-free sequence, whoever wrote them; no gold window is
 * written twice; the gold and late tables equal those of a single gold instance draining the same
 * silver manifests (the reference: which events each silver batch holds depends on when capture
 * closed its files, so a run fed separately would batch, and so drop late rows, differently); the
 * capture drain finishes beside running instances; and `pipeline audit` reconciles every layer.
 *
 * The only timed assertions are the takeover bounds, a correctness property of the design: the test
 * sets *_OWNERSHIP_INTERVAL=1s and *_OWNERSHIP_EXPIRY=4s (a 5 s bound) and allows 15 s, the default
 * bound, leaving a wide margin for a busy CI machine. Every other wait is a `waitFor`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalCheckpointStore, LocalLake } from '@pipeline/adapters';
import { readCaptureFile } from '@pipeline/capture-format';
import { captureProgressAll, goldOwnershipScope, HEARTBEAT_PREFIX, type OwnershipScope } from '@pipeline/checkpoint';
import { readDeltaRows } from '@pipeline/delta';
import { collect, makeTempDir, PIPELINE_BIN, runPipeline, waitFor, type TempDir } from '@pipeline/testing';
import type { AuditReport } from './audit';

const root = path.resolve(__dirname, '..', '..', '..');
const PARTITIONS = 8;
const SHARDS = 8;
const TAKEOVER_LIMIT_MS = 15_000;
const EXPIRY_MS = 4_000;
const PIPELINE_ENV = {
  PIPELINE_EVENT_HUB_PARTITIONS: String(PARTITIONS),
  GOLD_OWNERSHIP_INTERVAL: '1s',
  GOLD_OWNERSHIP_EXPIRY: `${EXPIRY_MS}ms`,
  CAPTURE_OWNERSHIP_INTERVAL: '1s',
  CAPTURE_OWNERSHIP_EXPIRY: `${EXPIRY_MS}ms`,
};
const CAPTURE_SCOPE: OwnershipScope = { fullyQualifiedNamespace: 'local', eventHubName: 'events', consumerGroup: '$Default.capture-events' };
const GOLD_SCOPE = goldOwnershipScope('gold', 'manifests');

interface Service {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

function launch(name: string, args: string[], env: Record<string, string> = {}): Service {
  const child = spawn(process.execPath, [PIPELINE_BIN, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...PIPELINE_ENV, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { name, child, exited, stderr: () => stderr };
}

async function stop(service: Service): Promise<void> {
  service.child.kill('SIGTERM');
  const code = await service.exited;
  if (code !== 0) throw new Error(`${service.name} exited ${String(code)} on SIGTERM:\n${service.stderr()}`);
}

function run(args: string[]): string {
  const result = runPipeline(args, PIPELINE_ENV);
  if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${String(result.status ?? result.signal)}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

/** Live owners of a stage's work items (owner id per partition or shard session), from the records the instances keep. */
async function liveOwners(store: LocalCheckpointStore, scope: OwnershipScope): Promise<Map<string, string>> {
  const records = await store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
  const now = Date.now();
  return new Map(
    records
      .filter((r) => !r.partitionId.startsWith(HEARTBEAT_PREFIX) && r.ownerId !== '' && now - (r.lastModifiedTimeInMs ?? 0) < EXPIRY_MS)
      .map((r) => [r.partitionId, r.ownerId]),
  );
}

const countBy = (owners: Map<string, string>) => [...owners.values()].reduce((m, o) => m.set(o, (m.get(o) ?? 0) + 1), new Map<string, number>());

/** Until exactly `instances` own every one of `items` work items, each an equal share. */
async function balanced(store: LocalCheckpointStore, scope: OwnershipScope, items: number, instances: Service[], what: string): Promise<Map<string, string>> {
  const names = instances.map((s) => s.name).sort();
  return waitFor(
    async () => {
      const owners = await liveOwners(store, scope);
      const counts = countBy(owners);
      const even = owners.size === items && [...counts.keys()].sort().join() === names.join() && [...counts.values()].every((n) => n === items / names.length);
      return even ? owners : undefined;
    },
    { timeoutMs: 45_000, intervalMs: 100, description: `${names.join(', ')} to own ${items / names.length} ${what} each` },
  );
}

/** A gold shard's committed silver position (-1 before its first batch) and the newest silver manifest of the shard. */
async function shardProgress(home: string, shard: number): Promise<{ committed: number; available: number }> {
  const session = `shard-${String(shard).padStart(3, '0')}`;
  const names = async (folder: string) => (await readdir(folder).catch(() => [] as string[])).filter((n) => /^\d+(\.json)?$/.test(n)).sort();
  const commits = await names(path.join(home, 'lake', 'checkpoints', 'gold', session, 'commits'));
  const last = commits[commits.length - 1];
  const committed =
    last === undefined
      ? -1
      : (JSON.parse(await readFile(path.join(home, 'lake', 'checkpoints', 'gold', session, 'offsets', last), 'utf8')) as { silver: { to: number } }).silver.to;
  const manifests = await names(path.join(home, 'lake', 'manifests', 'silver', session));
  const newest = manifests[manifests.length - 1];
  return { committed, available: newest === undefined ? -1 : Number(newest.replace('.json', '')) };
}

/** Gold rows without their lineage (which batch wrote them), sorted: what a window holds. */
async function windows(lake: LocalLake, table: string): Promise<string[]> {
  const rows = await collect(readDeltaRows(lake, table));
  return rows.map(({ gold_batch: _batch, shard: _shard, ...row }) => JSON.stringify(row)).sort();
}

async function lateRows(lake: LocalLake, table: string): Promise<string[]> {
  const rows = await collect(readDeltaRows(lake, table));
  return rows.map((row) => String(row['event_id'])).sort();
}

/** The sequence numbers of each partition's captured events, file by file in path order, and the files. */
async function capturedSequences(lake: LocalLake): Promise<{ files: string[]; byPartition: Map<string, number[]> }> {
  const files = (await collect(lake.list('raw/'))).map((e) => e.path).filter((p) => p.endsWith('.avro'));
  const byPartition = new Map<string, number[]>();
  for (const file of files) {
    const partition = file.split('/')[3] as string;
    const records = await collect(readCaptureFile(await lake.readStream(file), file));
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), ...records.map((r) => r.sequenceNumber)]);
  }
  return { files, byPartition };
}

/** Kills `count` of `services` at random with SIGKILL; returns the victims and the survivors. */
function pickVictims(services: Service[], count: number): { victims: Service[]; survivors: Service[] } {
  const shuffled = services
    .map((s) => ({ s, key: Math.random() }))
    .sort((a, b) => a.key - b.key)
    .map(({ s }) => s);
  return { victims: shuffled.slice(0, count), survivors: shuffled.slice(count) };
}

/** Time from `killedAt` until the survivors own every item between them. */
async function takeover(store: LocalCheckpointStore, scope: OwnershipScope, items: number, survivors: Service[], killedAt: number, what: string): Promise<number> {
  const names = new Set(survivors.map((s) => s.name));
  return waitFor(
    async () => {
      const owners = await liveOwners(store, scope);
      return owners.size === items && [...owners.values()].every((o) => names.has(o)) ? Date.now() - killedAt : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 50, description: `${[...names].join(' and ')} to own every ${what}` },
  );
}

describe('scale-out and failover', () => {
  let dir: TempDir;
  const services: Service[] = [];

  beforeAll(async () => {
    dir = await makeTempDir('scale-out-');
  });

  afterAll(async () => {
    for (const service of services) if (service.child.exitCode === null && service.child.signalCode === null) service.child.kill('SIGKILL');
    await Promise.all(services.map((s) => s.exited));
    await dir.dispose();
  });

  it('goes 1 → 2 → 4 → 2 instances of capture and of gold, balanced at each step, re-owns what the killed ones held within the bound, and writes what one instance writes', async () => {
    const home = path.join(dir.path, 'home');
    const spec = path.join(dir.path, 'spec.yaml');
    const csv = path.join(dir.path, 'input.csv');
    await writeFile(spec, (await readFile(path.join(root, 'examples', 'sensors.spec.yaml'), 'utf8')).replace(/shards: \d+/, `shards: ${SHARDS}`));
    run(['generate', '--rows', '8000', '--devices', '40', '--rate', '20', '--out', csv]);
    const common = ['--home', home];
    const start = (name: string, args: string[], env: Record<string, string> = {}) => {
      const service = launch(name, [...args, ...common], env);
      services.push(service);
      return service;
    };
    const startCapture = (n: number) => start(`capture-${n}`, ['capture', '--window', '1s'], { CAPTURE_INSTANCE_ID: `capture-${n}` });
    const startGold = (n: number) => start(`gold-${n}`, ['gold', '--spec', spec, '--wake', '1s'], { GOLD_INSTANCE_ID: `gold-${n}` });
    const producer = start('producer', ['produce', '--spec', spec, '--csv', csv, '--rate', '400', '--no-progress']);
    const bronze = start('bronze', ['bronze', '--poll', '500ms', '--max-batch-delay', '500ms']);
    const silver = start('silver', ['silver', '--spec', spec, '--poll', '500ms']);
    const captures = [startCapture(1)];
    const golds = [startGold(1)];

    const store = new LocalCheckpointStore(path.join(home, 'checkpoints.sqlite'));
    let survivors: { captures: Service[]; golds: Service[] };
    try {
      // 1 → 2 → 4: each step balanced, for capture (partitions) and gold (shards) alike.
      for (const step of [1, 2, 4]) {
        while (captures.length < step) captures.push(startCapture(captures.length + 1));
        while (golds.length < step) golds.push(startGold(golds.length + 1));
        await Promise.all([balanced(store, CAPTURE_SCOPE, PARTITIONS, captures, 'partitions'), balanced(store, GOLD_SCOPE, SHARDS, golds, 'shards')]);
      }
      const sending = producer.child.exitCode === null;

      // 4 → 2: two of each killed at random, at once; the survivors must own everything within the bound.
      const capture = pickVictims(captures, 2);
      const gold = pickVictims(golds, 2);
      const goldOwners = await liveOwners(store, GOLD_SCOPE);
      const orphans = [...goldOwners].filter(([, owner]) => gold.victims.some((v) => v.name === owner)).map(([session]) => Number(session.slice('shard-'.length)));
      expect(orphans).toHaveLength(SHARDS / 2);
      const killedAt = Date.now();
      for (const victim of [...capture.victims, ...gold.victims]) victim.child.kill('SIGKILL');
      const atKill = await Promise.all(orphans.map((shard) => shardProgress(home, shard)));
      await Promise.all([...capture.victims, ...gold.victims].map((v) => v.exited));
      const [captureTakeoverMs, goldTakeoverMs] = await Promise.all([
        takeover(store, CAPTURE_SCOPE, PARTITIONS, capture.survivors, killedAt, 'partition'),
        takeover(store, GOLD_SCOPE, SHARDS, gold.survivors, killedAt, 'shard'),
      ]);
      const killed = [...capture.victims, ...gold.victims].map((v) => v.name).join(', ');
      process.stdout.write(
        `takeover after SIGKILL of ${killed}${sending ? ' while the producer sent' : ''}: capture ${captureTakeoverMs} ms, gold ${goldTakeoverMs} ms ` +
          `(bound: 5 s with interval 1s + expiry 4s; asserted ≤ ${TAKEOVER_LIMIT_MS} ms)\n`,
      );
      expect(captureTakeoverMs).toBeLessThanOrEqual(TAKEOVER_LIMIT_MS);
      expect(goldTakeoverMs).toBeLessThanOrEqual(TAKEOVER_LIMIT_MS);
      await Promise.all([balanced(store, CAPTURE_SCOPE, PARTITIONS, capture.survivors, 'partitions'), balanced(store, GOLD_SCOPE, SHARDS, gold.survivors, 'shards')]);
      survivors = { captures: capture.survivors, golds: gold.survivors };

      // The producer finishes; the gold survivors work the orphaned shards live up to the newest silver manifest.
      expect(await producer.exited).toBe(0);
      await waitFor(
        async () => {
          const now = await Promise.all(orphans.map((shard) => shardProgress(home, shard)));
          return now.every((p, i) => p.committed === p.available && p.committed > (atKill[i] as { committed: number }).committed) ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, description: `the gold survivors to catch the orphaned shards ${orphans.join(', ')} up with silver` },
      );

      // A capture drain beside the two running capture instances finishes once every partition is captured, by whichever owns it.
      const drain = start('capture-drain', ['capture', '--drain'], { CAPTURE_INSTANCE_ID: 'capture-drain', LOG_LEVEL: 'info' });
      const drained = await Promise.race([drain.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 60_000).unref())]);
      if (drained !== 0)
        throw new Error(`capture --drain beside running instances ${drained === 'hung' ? 'did not finish within 60 s' : `exited ${String(drained)}`}:\n${drain.stderr()}`);
      // It says which partitions the running instances captured to the end: those they kept.
      const stopped = drain
        .stderr()
        .split('\n')
        .filter((line) => line.includes('capture stopped'))
        .map((line) => JSON.parse(line) as { drainedByOthers: string[]; msg: string })[0];
      expect(stopped?.drainedByOthers.length).toBeGreaterThan(0);
      expect(stopped?.msg).toMatch(/partitions [\d, ]+ were captured to the end by other instances/);
      // Then every stage is stopped cleanly and drained to the end of the input.
      for (const service of [...survivors.captures, bronze, silver, ...survivors.golds]) await stop(service);
    } finally {
      await store.close();
    }
    run(['bronze', '--drain', ...common]);
    run(['silver', '--spec', spec, '--drain', ...common]);
    run(['gold', '--spec', spec, '--drain', '--end-of-input', ...common]);
    // The reference: one gold instance draining the same silver manifests into other tables.
    run([
      'gold',
      '--spec',
      spec,
      '--drain',
      '--end-of-input',
      '--checkpoint',
      'gold-reference',
      '--tables-root',
      'reference',
      '--store',
      path.join(dir.path, 'reference.sqlite'),
      ...common,
    ]);

    const lake = new LocalLake(path.join(home, 'lake'));
    // Capture: each partition's events in exactly one file each, in order, with no gap; 8000 in all.
    const { files, byPartition } = await capturedSequences(lake);
    expect(new Set(files).size).toBe(files.length);
    expect([...byPartition.keys()].sort()).toEqual(Array.from({ length: PARTITIONS }, (_, i) => String(i)));
    for (const [partition, sequences] of byPartition) expect({ partition, sequences }).toEqual({ partition, sequences: sequences.map((_, i) => i) });
    expect([...byPartition.values()].reduce((n, s) => n + s.length, 0)).toBe(8000);
    // Each partition's last file names the instance that committed it (what /v1/status shows).
    const progress = await captureProgressAll(lake, 'checkpoints/capture-events');
    expect(progress).toHaveLength(PARTITIONS);
    for (const p of progress) expect(p.owner).toMatch(/^capture-(\d|drain)$/);

    const scaled = await windows(lake, 'tables/gold');
    expect(scaled.length).toBeGreaterThan(100);
    expect(new Set(scaled).size).toBe(scaled.length);
    const keys = scaled.map((row) => {
      const { window, window_start, device_id } = JSON.parse(row) as Record<string, unknown>;
      return `${String(window)} ${String(window_start)} ${String(device_id)}`;
    });
    expect(new Set(keys).size).toBe(keys.length);
    expect(scaled).toEqual(await windows(lake, 'reference/gold'));
    expect(await lateRows(lake, 'tables/late')).toEqual(await lateRows(lake, 'reference/late'));
    // Every shard's commits are one gap-free sequence, whoever wrote them.
    for (let shard = 0; shard < SHARDS; shard++) {
      const commits = (await readdir(path.join(home, 'lake', 'checkpoints', 'gold', `shard-${String(shard).padStart(3, '0')}`, 'commits'))).sort();
      expect(commits.map(Number)).toEqual(commits.map((_, i) => i));
    }
    const audit = runPipeline(['audit', '--json', ...common], PIPELINE_ENV);
    const report = JSON.parse(audit.stdout) as AuditReport;
    expect(report).toMatchObject({ problems: [], reconciled: true });
    expect(audit.status).toBe(0);
  }, 90_000);
});

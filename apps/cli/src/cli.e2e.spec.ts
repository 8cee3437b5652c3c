/**
 * The `pipeline` command as a user runs it: the compiled tool in dist/ (built by `npm test`
 * before Jest runs), real processes, a real pipeline home in a temporary folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake, LocalServingStore, takeProcessLock } from '@pipeline/adapters';
import type { WindowDocument } from '@pipeline/ports';
import { readDeltaRows } from '@pipeline/delta';
import { readCaptureFile } from '@pipeline/capture-format';
import { collect, freePort, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const sample = path.join(root, 'examples', 'sensors.sample.csv');

function pipeline(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json', ...env }, encoding: 'utf8', timeout: 120_000 });
}

function launch(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function capturedSequences(home: string): Promise<Map<string, number[]>> {
  const lake = new LocalLake(path.join(home, 'lake'));
  const byPartition = new Map<string, number[]>();
  for (const entry of await collect(lake.list('raw/'))) {
    const partition = entry.path.split('/')[3] as string;
    const records = await collect(readCaptureFile(await lake.readStream(entry.path), entry.path));
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), ...records.map((r) => r.sequenceNumber)]);
  }
  return byPartition;
}

async function servedDocuments(home: string): Promise<WindowDocument[]> {
  const store = LocalServingStore.open({ file: path.join(home, 'serving.sqlite') });
  try {
    const docs: WindowDocument[] = [];
    for (let d = 1; d <= 20; d++) docs.push(...(await store.queryWindows({ pk: `device_id=dev-${String(d).padStart(3, '0')}`, limit: 10_000 })).items);
    return docs;
  } finally {
    await store.close();
  }
}

/** The value of `name` in a running process's environment. */
function instanceId(pid: number, name: string): string | undefined {
  let environment: string;
  try {
    environment = readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined; // Ended meanwhile.
  }
  return environment
    .split('\0')
    .find((e) => e.startsWith(`${name}=`))
    ?.slice(name.length + 1);
}

/** The ids of this machine's processes whose command line (arguments joined by spaces) passes `match`. */
function processesRunning(match: (args: string) => boolean): number[] {
  const ids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue; // Ended meanwhile.
    }
    if (match(args)) ids.push(Number(entry));
  }
  return ids;
}

async function dataRows(file: string): Promise<number> {
  // The sample has no quoted newlines: data rows are its non-empty lines after the header.
  return (await readFile(file, 'utf8')).split(/\r?\n/).filter((l) => l.length > 0).length - 1;
}

describe('the pipeline command', () => {
  let home: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    home = await makeTempDir('pipeline-cli-');
  });
  afterEach(async () => {
    await home.dispose();
  });

  it('lists its commands, and each command has its own help', () => {
    const help = pipeline(['--help']);
    expect(help.status).toBe(0);
    for (const command of ['produce', 'capture', 'start', 'generate', 'validate', 'read-capture']) expect(help.stdout).toContain(command);
    const produceHelp = pipeline(['produce', '--help']);
    expect(produceHelp.status).toBe(0);
    expect(produceHelp.stdout).toContain('--from-row');
    expect(pipeline(['capture', '--help']).stdout).toContain('--max-file-size');
  });

  it('stops quietly when its reader closes the pipe early, as `pipeline silver --help | head -1` does', async () => {
    const child = spawn(process.execPath, [bin, 'silver', '--help'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // The reader takes nothing and goes away before the help is written.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it("runs a service's command without loading the rest of the tool, and still lists it under `pipeline --help`", () => {
    // At exit, the compiled modules of the tool itself (apps/cli) that the process loaded.
    const report =
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('/apps/cli/')).map((f) => f.replace(/^.*[/]apps[/]cli[/]src[/]/, '')).sort()) + '\\n'))";
    const loaded = (args: string[]) => {
      const result = spawnSync(process.execPath, ['-e', `${report}; require(${JSON.stringify(bin)})`, bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      return { status: result.status, loaded: JSON.parse(/LOADED (.*)/.exec(result.stderr)?.[1] ?? 'null') as string[] | null, stdout: result.stdout };
    };
    const silver = loaded(['silver', '--help']);
    expect(silver.status).toBe(0);
    expect(silver.stdout).toContain('Usage: pipeline silver');
    expect(silver.loaded).toEqual(['entry.js', 'services.js']);
    const help = loaded(['--help']);
    expect(help.status).toBe(0);
    expect(help.loaded).toContain('main.js');
    for (const command of ['produce', 'capture', 'bronze', 'silver', 'gold', 'serving-api', 'start', 'audit']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('answers a bad flag with exit code 2 and a pointer to --help', () => {
    const result = pipeline(['produce', '--bogus']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--bogus'");
  });

  it('refuses a --port another process listens on before starting anything: the live view would read that one', async () => {
    const { createServer } = await import('node:net');
    const other = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
    try {
      const result = pipeline(['start', '--home', home.path, '--exit-when-done', '--port', String(port)]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`--port ${port}: another process listens on it (another \`pipeline start\`?). Stop it, or give the serving API another port with --port.`);
      expect(existsSync(path.join(home.path, 'lake'))).toBe(false);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it('refuses to start on a home another `pipeline start` runs on, before starting anything, naming it and the way out', async () => {
    const lockFile = path.join(home.path, 'start.lock');
    const other = await takeProcessLock(lockFile, 'Another start');
    try {
      const result = pipeline(['start', '--home', home.path, '--exit-when-done', '--port', String(await freePort())]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(`\`pipeline start\` on ${home.path} already runs: process ${process.pid} on `);
      expect(result.stderr).toContain(`holds ${lockFile}. Wait for it to end or stop it; if no such process runs, delete ${lockFile}.\nNothing was started or sent.`);
      expect(existsSync(path.join(home.path, 'lake'))).toBe(false);
    } finally {
      await other.release();
    }
  });

  it('exits with code 2, as the producer does, when the producer refuses the CSV, and stops every service', async () => {
    const csv = path.join(home.path, 'readings.csv');
    await writeFile(csv, 'reading_id,device_id,site,ts,temperature,humidity\nr1,d1,Oslo,2026-01-01T00:00:00Z,21.5,40\n');
    const result = pipeline(['start', '--home', path.join(home.path, 'home'), '--csv', csv, '--exit-when-done', '--port', String(await freePort()), '--metrics-port', 'off']);
    expect(result.stdout).toContain(`[producer] --csv ${csv}: the header lacks column "status" declared in the spec's source.columns.`);
    expect(result.stdout).toContain('The producer failed (exit 2); stopping.');
    expect(result.status).toBe(2);
  });

  it('refuses a --restarts that is not a whole number before starting anything', () => {
    const result = pipeline(['start', '--home', home.path, '--restarts', 'many']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--restarts: expected a whole number of restarts from 0 (0: a failed service is not started again), found "many".');
    expect(existsSync(path.join(home.path, 'lake'))).toBe(false);
  });

  it('refuses a LOG_LEVEL that names no level with exit code 2, naming the values, and exits though its metrics port is open; an empty one means info', async () => {
    for (const service of ['silver', 'bronze']) {
      const args = [
        service,
        '--home',
        home.path,
        '--drain',
        '--metrics-port',
        String(await freePort()),
        ...(service === 'silver' ? ['--spec', path.join(root, 'examples', 'sensors.spec.yaml')] : []),
      ];
      // A process held open by its metrics listener would run into the timeout (status null).
      const refused = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'verbose' }, encoding: 'utf8', timeout: 60_000 });
      expect({ status: refused.status, stderr: refused.stderr.trim() }).toEqual({
        status: 2,
        stderr: 'LOG_LEVEL is "verbose": expected one of trace, debug, info, warn, error, fatal, silent, or unset for info.',
      });
      const empty = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: '', LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 60_000 });
      expect(empty.status).toBe(0);
      expect(empty.stderr).toContain('"level":"info"');
    }
  });

  it('ends a command whose process something it opened still holds, 10 s after the command ended, saying so, with its exit code', async () => {
    // A listening server, opened before the command runs and never closed, stands for such a handle.
    const holder = path.join(home.path, 'hold.js');
    await writeFile(holder, "require('node:net').createServer().listen(0, '127.0.0.1');\n");
    const result = spawnSync(process.execPath, ['-r', holder, bin, 'validate', '--bogus'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--bogus'");
    expect(result.stderr).toContain('pipeline: the command ended (exit code 2), but something it opened still held the process 10 s later; exiting.');
  });

  it('reports every missing producer setting at once', () => {
    const result = pipeline(['produce', '--home', home.path, '--partitions', 'many'], { PIPELINE_SPEC: '', PIPELINE_CSV: '' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PIPELINE_SPEC');
    expect(result.stderr).toContain('PIPELINE_CSV');
    expect(result.stderr).toContain('PIPELINE_EVENT_HUB_PARTITIONS: expected an integer');
  });

  it('says in one line, with exit code 2, that the spec to validate does not exist', () => {
    const missing = path.join(home.path, 'missing.yaml');
    const result = pipeline(['validate', missing]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`${missing} does not exist: give the path of a pipeline spec (examples/sensors.spec.yaml is one).\n`);
  });

  it('prints the records of a damaged capture file up to the damage, then what is wrong in one line, without a stack trace', async () => {
    const real = await readFile(path.resolve(root, '..', 'shared', 'fixtures', 'eventhubs-capture', 'usql-EHC.avro'));
    const cut = path.join(home.path, 'cut.avro');
    await writeFile(cut, real.subarray(0, 3000));
    const result = pipeline(['read-capture', cut]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^Invalid Event Hubs Capture file .*cut\\.avro at byte \\d+: .*the file is truncated \\(0 records printed before it\\)\n$`));
    expect(pipeline(['read-capture', cut.replace('cut', 'whole')]).status).toBe(2);
  });

  it('validates a spec, listing every problem with its line', async () => {
    expect(pipeline(['validate', spec]).status).toBe(0);
    const bad = path.join(home.path, 'bad.yaml');
    await writeFile(bad, (await readFile(spec, 'utf8')).replace(/delay: *\S+/, 'delay: soon').replace(/shards: *\d+/, 'shards: 0'));
    const result = pipeline(['validate', bad]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/2 problems/);
    expect(result.stderr).toMatch(/line \d+.*watermark\.delay/);
    expect(result.stderr).toMatch(/line \d+.*gold\.shards/);
  });

  it('runs the example pipeline end to end with `start`: every row captured once, and the layers reconcile', async () => {
    const result = pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms', '--port', String(await freePort())]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const rows = await dataRows(sample);
    expect(result.stdout).toContain(`Everything sent is through: ${rows} events captured, ${rows - 4} silver rows, 4 quarantined, 0 duplicates; gold aggregated ${rows - 4} rows`);
    // When it was through and how long the audit after it took, which the benchmark reads.
    expect(result.stdout).toMatch(/ late \(\d+\.\d s after launch\)\.\n/);
    expect(result.stdout).toMatch(/The audit \(pipeline audit, \d+\.\d s\):\n/);
    expect(result.stdout).toMatch(/curl .http:\/\/127\.0\.0\.1:\d+\/v1\/windows\?key=dev-\d{3}&window=/);
    // The status page's address, and the live view's figures (the page's, from the same function).
    expect(result.stdout).toMatch(/Status page \(.*\): http:\/\/127\.0\.0\.1:\d+\/\n/);
    expect(result.stdout).toMatch(new RegExp(`sent ${rows} \\| captured ${rows} \\| bronze ${rows} \\| silver ${rows - 4} \\+ 4 quarantined \\+ 0 dup`));
    // The sample's four bad lines are quarantined, the rest reach silver.
    expect(result.stdout).toMatch(new RegExp(`total +${rows} +0 +${rows} +${rows} +${rows - 4} +4 +0`));
    expect(result.stdout).toContain('Reconciled:');
    const captured = await capturedSequences(home.path);
    let total = 0;
    for (const seqs of captured.values()) {
      expect(seqs).toEqual(seqs.map((_, i) => i));
      total += seqs.length;
    }
    expect(total).toBe(rows);
  }, 120_000);

  it('audits the layers, and fails naming the partition and batch when a count was doctored', async () => {
    expect(pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms', '--port', String(await freePort())]).status).toBe(0);
    const clean = pipeline(['audit', '--home', home.path]);
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain('Reconciled:');
    const commitPath = path.join(home.path, 'lake', 'checkpoints', 'silver', 'commits', '0'.padStart(20, '0'));
    const commit = JSON.parse(await readFile(commitPath, 'utf8')) as { counts: Record<string, { rows: number }> };
    const partition = Object.keys(commit.counts)[0] as string;
    (commit.counts[partition] as { rows: number }).rows -= 1;
    await writeFile(commitPath, JSON.stringify(commit));
    const doctored = pipeline(['audit', '--home', home.path]);
    expect(doctored.status).toBe(1);
    expect(doctored.stdout).toContain(`silver batch 0, partition ${partition}:`);
    expect(doctored.stdout).toMatch(/silver table: \d+ rows in its Delta log, silver's batches committed \d+/);
  }, 120_000);

  it('stops `start` cleanly on SIGTERM', async () => {
    const port = await freePort();
    const run = launch(['start', '--home', home.path, '--window', '500ms', '--port', String(port)]);
    await waitFor(() => (run.output().includes('Ctrl-C stops') ? true : undefined), { timeoutMs: 60_000, description: 'the sample to go through the pipeline' });
    // While it runs, the serving API answers.
    const response = await fetch(`http://127.0.0.1:${port}/v1/keys/dev-001/latest?window=per_minute`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { key: string }).key).toBe('device_id=dev-001');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('Stopping (SIGTERM)');
  }, 120_000);

  it('resumes when started again on the same home: nothing is sent or counted twice', async () => {
    const first = pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms', '--port', String(await freePort())]);
    expect(first.status).toBe(0);
    const goldBefore = await collect(readDeltaRows(new LocalLake(path.join(home.path, 'lake')), 'tables/gold'));
    const second = pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms', '--port', String(await freePort())]);
    expect(second.status).toBe(0);
    const rows = await dataRows(sample);
    // The producer resumes after the last row the hub acknowledged: the sample is not sent again.
    expect(second.stdout).toContain(`No rows from row ${rows + 1} on`);
    expect(second.stdout).toContain(`Everything sent is through: ${rows} events captured, ${rows - 4} silver rows, 4 quarantined, 0 duplicates; gold aggregated ${rows - 4} rows`);
    expect(second.stdout).toContain('Reconciled:');
    expect(await collect(readDeltaRows(new LocalLake(path.join(home.path, 'lake')), 'tables/gold'))).toEqual(goldBefore);
    // A checkpoint with committed batches cannot be reset in place: its outputs would collide with a fresh run.
    const reset = pipeline(['checkpoint', 'reset', 'silver', '--home', home.path, '--yes']);
    expect(reset.status).toBe(2);
    expect(reset.stderr).toMatch(/checkpoints\/silver has \d+ committed batch(es)?: .*SILVER_CHECKPOINT=silver-v2/s);
    expect(pipeline(['audit', '--home', home.path]).status).toBe(0);
  }, 180_000);

  it('counts nothing twice when the whole sample is sent again: repeats are dropped or late, never aggregated', async () => {
    expect(pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms', '--port', String(await freePort())]).status).toBe(0);
    const lake = new LocalLake(path.join(home.path, 'lake'));
    const goldBefore = await collect(readDeltaRows(lake, 'tables/gold'));
    const documentsBefore = await servedDocuments(home.path);
    // The sample has readings minutes behind their neighbours: whether the first run finds some late depends on how its batches fell.
    const lateBefore = (await collect(readDeltaRows(lake, 'tables/late'))).length;
    expect(pipeline(['produce', '--spec', spec, '--csv', sample, '--home', home.path, '--from-row', '1', '--no-progress']).status).toBe(0);
    for (const args of [
      ['capture', '--drain'],
      ['bronze', '--drain'],
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ]) {
      expect(pipeline([...args, '--home', home.path]).status).toBe(0);
    }
    const report = pipeline(['audit', '--home', home.path, '--json']);
    expect(report.status).toBe(0);
    const totals = (JSON.parse(report.stdout) as { rows: Array<{ silver: number; duplicates: number }> }).rows.reduce(
      (t, r) => ({ silver: t.silver + r.silver, duplicates: t.duplicates + r.duplicates }),
      { silver: 0, duplicates: 0 },
    );
    const rows = await dataRows(sample);
    // Every repeat of a good row is either dropped as a duplicate or reaches silver only to be late in gold.
    expect(totals.silver + totals.duplicates).toBe(2 * (rows - 4));
    expect(await collect(readDeltaRows(lake, 'tables/gold'))).toEqual(goldBefore);
    expect(await servedDocuments(home.path)).toEqual(documentsBefore);
    expect((await collect(readDeltaRows(lake, 'tables/late'))).length).toBe(lateBefore + totals.silver - (rows - 4));
  }, 180_000);

  it('starts services killed mid-run again: `start` goes on, and nothing is lost or counted twice', async () => {
    const run = launch(['start', '--home', home.path, '--exit-when-done', '--window', '250ms', '--rate', '400', '--metrics-port', 'off', '--port', String(await freePort())]);
    // Silver has committed a batch and the producer is still sending (5 s at 400 events/s): the kills land mid-run.
    const commits = path.join(home.path, 'lake', 'checkpoints', 'silver', 'commits');
    await waitFor(() => (existsSync(commits) && readdirSync(commits).length > 0 ? true : undefined), { timeoutMs: 60_000, description: 'silver to commit a batch' });
    expect(run.output()).not.toContain('[producer] Sent');
    const service = (name: string) => processesRunning((args) => args.includes(` ${name} `) && args.includes(home.path));
    const [silver, gold] = [service('silver'), service('gold')];
    expect([silver.length, gold.length]).toEqual([1, 1]);
    const goldId = instanceId(gold[0] as number, 'GOLD_INSTANCE_ID');
    for (const pid of [...silver, ...gold]) process.kill(pid, 'SIGKILL');
    // Gold started again keeps its instance id: it still owns its shards and works them at once.
    // Read from the new process as soon as it is seen: it may end with the run right after.
    const restartedId = await waitFor(
      () => {
        const [restarted] = service('gold').filter((pid) => !gold.includes(pid));
        return restarted === undefined ? undefined : instanceId(restarted, 'GOLD_INSTANCE_ID');
      },
      { timeoutMs: 30_000, description: 'gold to start again' },
    );
    expect(restartedId).toBe(goldId);
    expect(goldId).toMatch(/^pipeline-start-\d+-gold$/);
    expect({ code: await run.exited, output: run.output() }).toMatchObject({ code: 0 });
    const rows = await dataRows(sample);
    for (const name of ['silver', 'gold']) {
      expect(run.output()).toContain(`[pipeline] ${name} was ended by SIGKILL.`);
      expect(run.output()).toContain(`[pipeline] ${name} failed (exit 137); starting it again in 1 s (restart 1 of 3 within a minute). It resumes from its checkpoints.`);
    }
    // The new silver and gold did the rest: the producer was still sending when the first ones were killed.
    expect(run.output()).not.toContain('is not started again');
    // The live view ran while the producer sent, too.
    expect(run.output()).toMatch(/^\[pipeline\] sending \| captured \d+ \| bronze \d+ \| silver \d+ \+ \d+ quarantined/m);
    expect(run.output()).toContain(`Everything sent is through: ${rows} events captured, ${rows - 4} silver rows, 4 quarantined, 0 duplicates; gold aggregated ${rows - 4} rows`);
    expect(run.output()).toContain('Reconciled:');
    expect(processesRunning((args) => args.includes(home.path))).toEqual([]);
  }, 180_000);

  it('starts the producer killed mid-send again: it resumes after the rows the hub acknowledged, and silver drops any sent twice', async () => {
    const run = launch(['start', '--home', home.path, '--exit-when-done', '--window', '250ms', '--rate', '400', '--metrics-port', 'off', '--port', String(await freePort())]);
    const commits = path.join(home.path, 'lake', 'checkpoints', 'silver', 'commits');
    await waitFor(() => (existsSync(commits) && readdirSync(commits).length > 0 ? true : undefined), { timeoutMs: 60_000, description: 'silver to commit a batch' });
    const producer = processesRunning((args) => args.includes(' produce ') && args.includes(home.path));
    expect(producer).toHaveLength(1);
    process.kill(producer[0] as number, 'SIGKILL');
    expect({ code: await run.exited, output: run.output() }).toMatchObject({ code: 0 });
    expect(run.output()).toContain('[pipeline] producer failed (exit 137); starting it again in 1 s (restart 1 of 3 within a minute).');
    const rows = await dataRows(sample);
    const through = /Everything sent is through: (\d+) events captured, (\d+) silver rows, (\d+) quarantined, (\d+) duplicates/.exec(run.output());
    const [captured, silver, quarantined, duplicates] = (through?.slice(1) ?? []).map(Number);
    // Every good row once in silver; a row sent twice is a duplicate (or, if malformed, quarantined again).
    expect(silver).toBe(rows - 4);
    expect(quarantined).toBeGreaterThanOrEqual(4);
    expect(captured).toBe((silver as number) + (quarantined as number) + (duplicates as number));
    expect(run.output()).toContain('Reconciled:');
  }, 180_000);

  it('stops the pipeline when a service is down for good, saying which', async () => {
    const run = launch(['start', '--home', home.path, '--window', '250ms', '--restarts', '0', '--metrics-port', 'off', '--port', String(await freePort())]);
    await waitFor(() => (run.output().includes('Ctrl-C stops') ? true : undefined), { timeoutMs: 60_000, description: 'the sample to go through the pipeline' });
    const silver = processesRunning((args) => args.includes('silver') && args.includes(home.path));
    expect(silver).toHaveLength(1);
    process.kill(silver[0] as number, 'SIGKILL');
    expect({ code: await run.exited, output: run.output() }).toMatchObject({ code: 1 });
    expect(run.output()).toContain('[pipeline] silver is down (exit 137): stopping the pipeline.');
    expect(run.output()).toContain('[pipeline] silver exited with code 137.');
    expect(run.output()).not.toContain('starting it again');
    expect(processesRunning((args) => args.includes(home.path))).toEqual([]);
  }, 120_000);

  it('stops every service when `start` itself is killed with SIGKILL, so that it can be started again at once', async () => {
    const port = await freePort();
    const run = launch(['start', '--home', home.path, '--window', '250ms', '--metrics-port', 'off', '--port', String(port)]);
    await waitFor(() => (run.output().includes('Ctrl-C stops') ? true : undefined), { timeoutMs: 60_000, description: 'the sample to go through the pipeline' });
    expect(processesRunning((args) => args.includes(home.path) && !args.includes(' start '))).toHaveLength(5);
    run.child.kill('SIGKILL');
    await run.exited;
    // Each service sees its channel to `start` close and stops as on SIGTERM.
    await waitFor(() => (processesRunning((args) => args.includes(home.path)).length === 0 ? true : undefined), { timeoutMs: 30_000, description: 'the services to stop' });
    const again = pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '250ms', '--metrics-port', 'off', '--port', String(port)]);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('Reconciled:');
  }, 180_000);

  it('captures every event exactly once although capture is killed with SIGKILL again and again', async () => {
    const produced = pipeline(['produce', '--spec', spec, '--csv', sample, '--home', home.path, '--no-progress', '--json']);
    expect(produced.status).toBe(0);
    const sent = (JSON.parse(produced.stdout) as { eventsSent: number }).eventsSent;
    // Small files, so that kills land between the steps of many of them.
    const captureArgs = ['capture', '--home', home.path, '--max-file-size', '4KiB', '--window', '200ms'];
    for (let kill = 0; kill < 5; kill++) {
      const run = launch(captureArgs, { CAPTURE_INSTANCE_ID: 'same-instance' });
      await waitFor(() => (run.output().includes('capture file written') ? true : undefined), { timeoutMs: 30_000, description: 'capture to write a file' });
      await new Promise((resolve) => setTimeout(resolve, 20 * kill));
      run.child.kill('SIGKILL');
      await run.exited;
    }
    const final = pipeline([...captureArgs, '--drain'], { CAPTURE_INSTANCE_ID: 'same-instance' });
    expect(final.status).toBe(0);
    const captured = await capturedSequences(home.path);
    let total = 0;
    for (const seqs of captured.values()) {
      expect(seqs).toEqual(seqs.map((_, i) => i));
      total += seqs.length;
    }
    expect(total).toBe(sent);
  }, 180_000);
});

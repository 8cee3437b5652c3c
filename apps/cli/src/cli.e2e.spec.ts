/**
 * The `pipeline` command as a user runs it: the compiled tool in dist/ (built by `npm test`
 * before Jest runs), real processes, a real pipeline home in a temporary folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { readCaptureFile } from '@pipeline/capture-format';
import { collect, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';

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

  it('answers a bad flag with exit code 2 and a pointer to --help', () => {
    const result = pipeline(['produce', '--bogus']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--bogus'");
  });

  it('reports every missing producer setting at once', () => {
    const result = pipeline(['produce', '--home', home.path, '--partitions', 'many'], { PIPELINE_SPEC: '', PIPELINE_CSV: '' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PIPELINE_SPEC');
    expect(result.stderr).toContain('PIPELINE_CSV');
    expect(result.stderr).toContain('PIPELINE_EVENT_HUB_PARTITIONS: expected an integer');
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
    const result = pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const rows = await dataRows(sample);
    expect(result.stdout).toContain(`Everything sent is captured: ${rows} events`);
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
    expect(pipeline(['start', '--home', home.path, '--exit-when-done', '--window', '500ms']).status).toBe(0);
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
    const run = launch(['start', '--home', home.path, '--window', '500ms']);
    await waitFor(() => (run.output().includes('Ctrl-C stops') ? true : undefined), { timeoutMs: 60_000, description: 'the pipeline to capture the sample' });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('Stopping (SIGTERM)');
  }, 120_000);

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

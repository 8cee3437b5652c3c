/**
 * `pipeline replay` as a user runs it: the compiled tool in dist/ (built by `npm test` before Jest
 * runs), real processes, one real pipeline run of the example sample in a temporary home, then
 * replays of its capture files under new names beside it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { captureTimeOfPath, type TableRow } from '@pipeline/contracts';
import { readDeltaRows } from '@pipeline/delta';
import { collect, drainThroughEveryStage, freePort, makeTempDir, type TempDir } from '@pipeline/testing';
import type { ReplaySummary } from './replay';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const sample = path.join(root, 'examples', 'sensors.sample.csv');

function pipeline(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 120_000 });
}

/** What the running pipeline owns in the home, file by file, as hashes of the bytes. */
async function liveBytes(home: string): Promise<Map<string, string>> {
  const lake = new LocalLake(path.join(home, 'lake'));
  const out = new Map<string, string>();
  const folders = [
    'tables/silver',
    'tables/quarantine',
    'tables/gold',
    'tables/late',
    'manifests/bronze',
    'manifests/silver',
    'checkpoints/bronze',
    'checkpoints/silver',
    'checkpoints/gold',
  ];
  for (const folder of folders)
    for (const entry of await collect(lake.list(`${folder}/`)))
      out.set(
        entry.path,
        createHash('sha256')
          .update(await lake.read(entry.path))
          .digest('hex'),
      );
  out.set(
    'serving.sqlite',
    createHash('sha256')
      .update(await readFile(path.join(home, 'serving.sqlite')))
      .digest('hex'),
  );
  return out;
}

async function table(home: string, root: string): Promise<TableRow[]> {
  return collect(readDeltaRows(new LocalLake(path.join(home, 'lake')), root));
}

/** Gold rows in a stable order, without the batch that emitted them (a lineage column: which batch depends on how the run was cut). */
function windows(rows: TableRow[]): TableRow[] {
  return rows
    .map(({ gold_batch: _batch, ...window }) => window)
    .sort((a, b) =>
      `${String(a['window'])}|${String(a['device_id'])}|${String(a['window_start'])}`.localeCompare(
        `${String(b['window'])}|${String(b['device_id'])}|${String(b['window_start'])}`,
      ),
    );
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('pipeline replay', () => {
  let home: TempDir;
  let captureTimes: number[];
  let before: Map<string, string>;

  /** Runs the example pipeline to the end in a new home; `rate` paces the producer (events/s). */
  async function startPipeline(dir: TempDir, rate?: string): Promise<void> {
    const run = pipeline(['start', '--home', dir.path, '--exit-when-done', '--window', '500ms', ...(rate ? ['--rate', rate] : []), '--port', String(await freePort())]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  }

  async function captureTimesOf(dir: TempDir): Promise<number[]> {
    return (await collect(new LocalLake(path.join(dir.path, 'lake')).list('raw/'))).map((e) => captureTimeOfPath(e.path) as number);
  }

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
    home = await makeTempDir('pipeline-replay-');
    // Which of the sample's lagging rows are late depends on how batches cut the data: each stage
    // drains it in one batch here, as the replay of the whole range does, so none is late.
    drainThroughEveryStage(home.path, spec, sample);
    expect(await table(home.path, 'tables/late')).toEqual([]);
    captureTimes = await captureTimesOf(home);
    before = await liveBytes(home.path);
  }, 120_000);
  afterAll(async () => {
    await home?.dispose();
  });

  it('replays the whole capture-time range into new tables whose gold equals the live gold, leaving the pipeline untouched', async () => {
    const from = Math.min(...captureTimes);
    const to = Math.max(...captureTimes) + 1000;
    const result = pipeline(['replay', '--home', home.path, '--spec', spec, '--from', iso(from), '--to', iso(to), '--checkpoint', 'full', '--json']);
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout) as ReplaySummary;
    const liveSilver = await table(home.path, 'tables/silver');
    expect(summary.captureFiles).toEqual({ inRange: captureTimes.length, outOfRange: 0 });
    expect(summary.silver).toMatchObject({ rows: liveSilver.length, quarantined: 4, duplicates: 0 });
    expect(summary.tables.gold).toBe(path.join(home.path, 'lake', 'tables', 'full', 'gold'));
    expect(existsSync(summary.servingStore)).toBe(true);

    const liveGold = await table(home.path, 'tables/gold');
    const replayGold = await table(home.path, 'tables/full/gold');
    expect(liveGold.length).toBeGreaterThan(0);
    expect(windows(replayGold)).toEqual(windows(liveGold));
    expect(summary.gold).toEqual({ rows: liveSilver.length, windows: replayGold.length, lateRows: 0 });
    expect(await table(home.path, 'tables/full/late')).toEqual(await table(home.path, 'tables/late'));
    expect(await liveBytes(home.path)).toEqual(before);
  }, 120_000);

  it('replays part of the range: fewer rows, every one from a capture file in the range', async () => {
    // Paced, the sample spreads over several seconds of capture files.
    const paced = await makeTempDir('pipeline-replay-paced-');
    try {
      await startPipeline(paced, '400');
      const times = await captureTimesOf(paced);
      const pacedBefore = await liveBytes(paced.path);
      // The middle third of the capture files' times: the replay leaves out files on either side.
      const sorted = [...new Set(times)].sort((a, b) => a - b);
      expect(sorted.length).toBeGreaterThanOrEqual(6);
      const from = sorted[Math.floor(sorted.length / 3)] as number;
      const to = sorted[Math.floor((2 * sorted.length) / 3)] as number;
      const inRange = times.filter((t) => t >= from && t < to).length;
      const result = pipeline(['replay', '--home', paced.path, '--spec', spec, '--from', iso(from), '--to', iso(to), '--checkpoint', 'middle', '--json']);
      expect(result.status).toBe(0);
      expect((JSON.parse(result.stdout) as ReplaySummary).captureFiles).toEqual({ inRange, outOfRange: times.length - inRange });

      const silver = await table(paced.path, 'tables/middle/silver');
      expect(silver.length).toBeGreaterThan(0);
      expect(silver.length).toBeLessThan((await table(paced.path, 'tables/silver')).length);
      for (const file of new Set(silver.map((r) => r['capture_file'] as string))) {
        const time = captureTimeOfPath(file) as number;
        expect(time >= from && time < to).toBe(true);
      }
      expect((await table(paced.path, 'tables/middle/gold')).length).toBeLessThan((await table(paced.path, 'tables/gold')).length);
      expect(await liveBytes(paced.path)).toEqual(pacedBefore);
    } finally {
      await paced.dispose();
    }
  }, 120_000);

  it('refuses a name already used unless --resume, which continues that replay', async () => {
    const args = ['replay', '--home', home.path, '--spec', spec, '--from', iso(Math.min(...captureTimes)), '--to', iso(Math.max(...captureTimes) + 1000), '--checkpoint', 'again'];
    expect(pipeline(args).status).toBe(0);
    const gold = await table(home.path, 'tables/again/gold');
    const second = pipeline(args);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain('The replay name again is already used');
    expect(second.stderr).toContain('checkpoints/again-silver');
    expect(second.stderr).toContain('--resume');
    const resumed = pipeline([...args, '--resume']);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain('Resuming replay again');
    expect(await table(home.path, 'tables/again/gold')).toEqual(gold);
    expect(await liveBytes(home.path)).toEqual(before);
  }, 120_000);

  it('refuses --end-of-input for a range that has not ended, and without it says the rest comes with --resume', async () => {
    const future = iso(Date.now() + 3_600_000);
    const from = iso(Math.min(...captureTimes));
    const closing = pipeline(['replay', '--home', home.path, '--spec', spec, '--from', from, '--to', future, '--checkpoint', 'open', '--end-of-input']);
    expect(closing.status).toBe(2);
    expect(closing.stderr).toContain(`--to ${future} is after now (`);
    expect(closing.stderr).toContain('Pass a --to that has passed, or leave out --end-of-input');
    expect(await collect(new LocalLake(path.join(home.path, 'lake')).list('checkpoints/open-silver/'))).toEqual([]);
    const open = pipeline(['replay', '--home', home.path, '--spec', spec, '--from', from, '--to', future, '--checkpoint', 'open']);
    expect(open.status).toBe(0);
    expect(open.stdout).toContain(`--to ${future} is after now: the replay takes the capture files bronze has referenced so far; run it again with --resume`);
  }, 120_000);

  it('lists every bad input at once and runs nothing', async () => {
    const result = pipeline(['replay', '--home', home.path, '--spec', spec, '--from', '2026-02-01T00:00:00Z', '--to', '2026-01-01', '--checkpoint', 'gold']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('2 problems');
    expect(result.stderr).toContain('--from 2026-02-01T00:00:00Z is not before --to 2026-01-01');
    expect(result.stderr).toContain("--checkpoint gold names one of the pipeline's own tables");
    const empty = pipeline(['replay', '--home', home.path, '--spec', spec, '--from', '2000-01-01', '--to', '2000-01-02', '--checkpoint', 'nothing']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/No capture file bronze referenced is in \[2000-01-01T00:00:00\.000Z, 2000-01-02T00:00:00\.000Z\): they span \S+ to \S+/);
    expect(await collect(new LocalLake(path.join(home.path, 'lake')).list('checkpoints/nothing-silver/'))).toEqual([]);
  });
});

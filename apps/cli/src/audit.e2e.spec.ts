/**
 * `pipeline audit` on real lakes: the example pipeline run once with `start`, then a copy of its
 * home per test, doctored the way a stuck or broken stage would leave it. The compiled tool in
 * dist/ (built by `npm test` before Jest runs), as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { CaptureFileWriter, readCaptureFile } from '@pipeline/capture-format';
import { loadSpecFile } from '@pipeline/config';
import type { TableColumnType, TableRow, TableSchema } from '@pipeline/contracts';
import { DeltaTable, decodeAddPath, readDeltaSnapshot, readTableFile, tableColumnTypeOf } from '@pipeline/delta';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { silverSchema, utcDate } from '@pipeline/transform';
import type { AuditReport } from './audit';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const sample = path.join(root, 'examples', 'sensors.sample.csv');
const entry = (n: number) => String(n).padStart(20, '0');

function pipeline(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 120_000 });
}

function auditJson(home: string, ...flags: string[]): { status: number | null; report: AuditReport } {
  const result = pipeline(['audit', '--home', home, '--json', ...flags]);
  return { status: result.status, report: JSON.parse(result.stdout) as AuditReport };
}

/**
 * Makes one row of a silver data file carry the event id of another row of the file; row counts stay
 * as they were. Returns the id and the row that now repeats it.
 */
async function duplicateAnEventId(lake: LocalLake): Promise<{ id: string; repeat: TableRow }> {
  const schema = silverSchema(await loadSpecFile(spec));
  const snapshot = await readDeltaSnapshot(lake, 'tables/silver');
  const file = `tables/silver/${decodeAddPath((snapshot.files[0] as { path: string }).path)}`;
  const rows = await readTableFile(lake, file, schema);
  const id = rows[0]?.['event_id'] as string;
  (rows[1] as Record<string, unknown>)['event_id'] = id;
  for (const row of rows) row['event_date'] = utcDate(row['event_time'] as number);
  // Written through a scratch table, so the file is encoded as the silver table's are.
  const scratch = await DeltaTable.open(lake, 'scratch/silver', schema);
  const [add] = await scratch.writeFiles(rows, { filePrefix: 'doctored', commitTime: 0 });
  await lake.write(file, await lake.read(`scratch/silver/${decodeAddPath((add as { path: string }).path)}`));
  return { id, repeat: rows[1] as TableRow };
}

/**
 * Puts a silver row in the late table as gold does, late for `lateWindows` of its windows, and
 * counts it in its gold shard's commit, so the late table's row count still matches gold's.
 */
async function addLateCopy(home: string, lake: LocalLake, row: TableRow, lateWindows: number): Promise<void> {
  const snapshot = await readDeltaSnapshot(lake, 'tables/late');
  const schema: TableSchema = {
    columns: snapshot.schema.fields.map((f) => ({ name: f.name, type: tableColumnTypeOf(f.type) as TableColumnType, nullable: f.nullable })),
    partitionBy: [...snapshot.partitionColumns],
  };
  const windows = Array.from({ length: lateWindows }, (_, i) => ({
    window: 'last_5m',
    start: new Date(i * 60_000).toISOString(),
    end: new Date(i * 60_000 + 300_000).toISOString(),
  }));
  const late = await DeltaTable.open(lake, 'tables/late', schema);
  const adds = await late.writeFiles([{ ...row, late_windows: JSON.stringify(windows), late_threshold: row['event_time'] as number, gold_batch: 0 }], {
    filePrefix: 'doctored',
    commitTime: 0,
  });
  await late.commit(adds, { txn: { appId: 'doctored', version: 0 }, commitTime: 0 });
  const commitPath = path.join(home, 'lake', 'checkpoints', 'gold', `shard-${String(row['shard']).padStart(3, '0')}`, 'commits', entry(0));
  const commit = JSON.parse(await readFile(commitPath, 'utf8')) as { lateRows: number };
  await writeFile(commitPath, JSON.stringify({ ...commit, lateRows: commit.lateRows + 1 }));
}

/**
 * Re-encodes a capture file with another sync marker: the same records, other bytes, so the file no
 * longer matches its bronze manifest's SHA-256 and silver fails its batch on every retry.
 */
async function reencodeCaptureFile(lake: LocalLake, file: string): Promise<void> {
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: Buffer.alloc(16, 7) });
  for await (const record of readCaptureFile(await lake.readStream(file), file)) writer.append(record);
  await lake.write(file, writer.finish());
}

describe('pipeline audit', () => {
  let ran: TempDir;
  const copies: TempDir[] = [];

  /** A copy of the home of the clean run, to doctor. */
  async function copyOfRun(): Promise<{ home: string; lake: LocalLake }> {
    const copy = await makeTempDir('pipeline-audit-copy-');
    copies.push(copy);
    await cp(ran.path, copy.path, { recursive: true });
    return { home: copy.path, lake: new LocalLake(path.join(copy.path, 'lake')) };
  }

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
    ran = await makeTempDir('pipeline-audit-');
    // Each stage drains the sample in one batch, so the doctored copies below know the batch numbers.
    for (const args of [
      ['produce', '--spec', spec, '--csv', sample, '--no-progress'],
      ['capture', '--drain'],
      ['bronze', '--drain'],
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ]) {
      const stage = pipeline([...args, '--home', ran.path]);
      if (stage.status !== 0) throw new Error(`pipeline ${args[0] as string} failed:\n${stage.stdout}\n${stage.stderr}`);
    }
  }, 120_000);
  afterAll(async () => {
    for (const copy of copies) await copy.dispose();
    await ran?.dispose();
  });

  it('says Reconciled on a clean run: nothing pending, gold read every silver row, every event id once', () => {
    const text = pipeline(['audit', '--home', ran.path]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('Reconciled:');
    expect(text.stdout).toMatch(/gold shard +batches +silver rows read +gold rows/);

    const { status, report } = auditJson(ran.path);
    expect(status).toBe(0);
    expect(report).toMatchObject({ problems: [], pending: [], reconciled: true });
    // The fields the report always had, as they were.
    expect(report.tables).toMatchObject({ silverRows: 2000, quarantineRows: 4 });
    expect(Object.keys(report.rows[0] as object)).toEqual(['partition', 'captured', 'pending', 'bronze', 'silverIn', 'silver', 'quarantined', 'duplicates']);
    expect(report.gold.length).toBeGreaterThan(0);
    for (const shard of report.gold) expect(shard.goldRows).toBe(shard.silverRows);
    expect(report.gold.reduce((n, s) => n + s.silverRows, 0)).toBe(2000);
    expect(report.eventIds).toMatchObject({ silverRows: 2000, distinct: 2000, repeated: 0, unexplained: 0 });
  });

  it('documents --allow-pending in its help', () => {
    const help = pipeline(['audit', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--allow-pending');
  });

  it('fails naming the shard and the manifest when a silver manifest has no gold commit, and never says Reconciled even when pending work is allowed', async () => {
    const { home } = await copyOfRun();
    const folder = path.join(home, 'lake', 'manifests', 'silver', 'shard-001');
    const manifest = JSON.parse(await readFile(path.join(folder, `${entry(0)}.json`), 'utf8')) as { sequence: number; batch: number };
    await writeFile(path.join(folder, `${entry(1)}.json`), JSON.stringify({ ...manifest, sequence: 1, batch: 1 }, null, 2));

    const failed = pipeline(['audit', '--home', home]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).not.toContain('Reconciled:');
    expect(failed.stdout).toContain(`silver shard-001: manifest 1 with`);
    expect(failed.stdout).toContain(`manifests/silver/shard-001/${entry(1)}.json`);

    const allowed = pipeline(['audit', '--home', home, '--allow-pending']);
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).not.toContain('Reconciled:');
    expect(allowed.stdout).toContain('Not reconciled yet: 1 item of pending work, allowed by --allow-pending');
    const { report } = auditJson(home, '--allow-pending');
    expect(report).toMatchObject({ problems: [], reconciled: false, pendingAllowed: true });
    expect(report.pending).toEqual([
      expect.objectContaining({ kind: 'silver-manifests', stage: 'gold shard-001', location: `manifests/silver/shard-001/${entry(1)}.json`, count: 1 }),
    ]);
  });

  it('fails while silver fails its batch on every retry, naming the batch and the bronze manifest it never committed', async () => {
    const { home, lake } = await copyOfRun();
    expect(pipeline(['produce', '--spec', spec, '--csv', sample, '--home', home, '--from-row', '1', '--no-progress']).status).toBe(0);
    for (const args of [
      ['capture', '--drain'],
      ['bronze', '--drain'],
    ])
      expect(pipeline([...args, '--home', home]).status).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(home, 'lake', 'manifests', 'bronze', 'bronze', `${entry(1)}.json`), 'utf8')) as { files: Array<{ path: string }> };
    await reencodeCaptureFile(lake, (manifest.files[0] as { path: string }).path);
    for (let attempt = 0; attempt < 2; attempt++) {
      const silver = pipeline(['silver', '--spec', spec, '--drain', '--home', home]);
      expect(silver.status).toBe(1);
      expect(silver.stdout + silver.stderr).toContain('checksum differs');
    }
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.problems).toEqual([
      `bronze: 1 manifest not in a committed silver batch yet: after silver's last committed batch 0, which ended at bronze manifest 0 (manifests/bronze/bronze/${entry(1)}.json)`,
      `batch 1 of silver was started but not committed: the stage is failing or still running (checkpoints/silver/offsets/${entry(1)} has no commit)`,
    ]);
  }, 120_000);

  it('fails naming the stage and batch when an offsets record has no commit', async () => {
    const { home } = await copyOfRun();
    await writeFile(path.join(home, 'lake', 'checkpoints', 'silver', 'offsets', entry(1)), JSON.stringify({ bronze: { from: 1, to: 1 }, batchTime: 0 }));
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.problems).toEqual([
      `batch 1 of silver was started but not committed: the stage is failing or still running (checkpoints/silver/offsets/${entry(1)} has no commit)`,
    ]);
    expect(report.pending).toEqual([expect.objectContaining({ kind: 'uncommitted-batch', stage: 'silver', location: `checkpoints/silver/offsets/${entry(1)}` })]);
  });

  it('fails naming the partition when a capture file is in no committed bronze batch', async () => {
    const { home, lake } = await copyOfRun();
    const captured = [];
    for await (const e of lake.list('raw/')) captured.push(e.path);
    const first = captured[0] as string;
    const partition = first.split('/')[3] as string;
    const later = `${first.slice(0, first.lastIndexOf('/'))}/59.avro`;
    await lake.write(later, await lake.read(first));
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.pending).toEqual([expect.objectContaining({ kind: 'capture-files', stage: 'bronze', location: later, count: 1 })]);
    expect(report.problems).toEqual([expect.stringMatching(new RegExp(`^capture partition ${partition}: 1 capture file \\(\\d+ records\\) in no committed bronze batch yet`))]);
    expect((report.rows.find((r) => r.partition === partition) as { pending: number }).pending).toBeGreaterThan(0);
  });

  it('fails naming the shard and batch when a gold commit reports rows its silver manifests do not hold', async () => {
    const { home } = await copyOfRun();
    const commitPath = path.join(home, 'lake', 'checkpoints', 'gold', 'shard-002', 'commits', entry(0));
    const commit = JSON.parse(await readFile(commitPath, 'utf8')) as { rows: number };
    await writeFile(commitPath, JSON.stringify({ ...commit, rows: commit.rows - 1 }));
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.problems).toEqual([`gold shard-002 batch 0: silver manifests 0 hold ${commit.rows} rows, gold's commit reports ${commit.rows - 1}`]);
  });

  it('fails naming an event id that is in silver twice without a copy in the late table', async () => {
    const { home, lake } = await copyOfRun();
    const { id } = await duplicateAnEventId(lake);
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.eventIds).toMatchObject({ repeated: 1, unexplained: 1, unexplainedIds: [expect.objectContaining({ id, copies: 2, late: 0 })] });
    expect(report.problems).toEqual([
      expect.stringContaining(
        `event id ${JSON.stringify(id)} is in the silver table 2 times and 0 of its copies were late for every one of its 6 windows, where 1 must be; 1 repeat is not in the late table (tables/silver/`,
      ),
    ]);
  });

  it('accepts a repeat in the late table only when it was late for every window of the row', async () => {
    // The example spec's windows: per_minute and last_5m (five per row), six in all.
    const partly = await copyOfRun();
    const first = await duplicateAnEventId(partly.lake);
    await addLateCopy(partly.home, partly.lake, first.repeat, 5);
    const failed = auditJson(partly.home);
    expect(failed.status).toBe(1);
    expect(failed.report.problems).toEqual([
      expect.stringContaining(
        `event id ${JSON.stringify(first.id)} is in the silver table 2 times and 0 of its copies were late for every one of its 6 windows, where 1 must be; 1 copy in the late table was late for only some windows, so gold aggregated it into the others`,
      ),
    ]);

    const everywhere = await copyOfRun();
    const second = await duplicateAnEventId(everywhere.lake);
    await addLateCopy(everywhere.home, everywhere.lake, second.repeat, 6);
    const passed = auditJson(everywhere.home);
    expect(passed.report.problems).toEqual([]);
    expect(passed.status).toBe(0);
    expect(passed.report.eventIds).toMatchObject({ repeated: 1, repeatedLate: 1, windowsPerRow: 6 });
  });

  it('lists every problem at once', async () => {
    const { home, lake } = await copyOfRun();
    await writeFile(path.join(home, 'lake', 'checkpoints', 'gold', 'shard-000', 'offsets', entry(1)), JSON.stringify({ silver: { from: 1, to: 1 }, batchTime: 0 }));
    const { id } = await duplicateAnEventId(lake);
    const text = pipeline(['audit', '--home', home]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('2 problem(s):');
    expect(text.stdout).toContain('batch 1 of gold shard-000 was started but not committed');
    expect(text.stdout).toContain(`event id ${JSON.stringify(id)} is in the silver table 2 times`);
  });
});

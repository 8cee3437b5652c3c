/**
 * `pipeline audit` on real lakes: the example pipeline run once with `start`, then a copy of its
 * home per test, doctored the way a stuck or broken stage would leave it. The compiled tool in
 * dist/ (built by `npm test` before Jest runs), as a user runs it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { CaptureFileWriter, readCaptureFile } from '@pipeline/capture-format';
import { loadSpecFile } from '@pipeline/config';
import type { TableColumnType, TableRow, TableSchema } from '@pipeline/contracts';
import { DeltaTable, decodeAddPath, readDeltaSnapshot, readTableFile, tableColumnTypeOf } from '@pipeline/delta';
import { drainThroughEveryStage, makeTempDir, type TempDir } from '@pipeline/testing';
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
  // The first data file with two rows (how many files the run wrote depends on its timing).
  let file = '';
  let rows: TableRow[] = [];
  for (const add of snapshot.files) {
    file = `tables/silver/${decodeAddPath(add.path)}`;
    rows = await readTableFile(lake, file, schema);
    if (rows.length >= 2) break;
  }
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
 * longer matches its bronze manifest's SHA-256 and silver sets it aside.
 */
async function reencodeCaptureFile(lake: LocalLake, file: string): Promise<void> {
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: Buffer.alloc(16, 7) });
  for await (const record of readCaptureFile(await lake.readStream(file), file)) writer.append(record);
  await lake.write(file, writer.finish());
}

/** Sends the sample again (the copies are duplicates or late for silver and gold) and captures it into new capture files. */
async function sendAgain(home: string): Promise<void> {
  expect(pipeline(['produce', '--spec', spec, '--csv', sample, '--home', home, '--from-row', '1', '--no-progress']).status).toBe(0);
  expect(pipeline(['capture', '--drain', '--home', home]).status).toBe(0);
}

async function collectPaths(lake: LocalLake, prefix: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const e of lake.list(prefix)) paths.push(e.path);
  return paths;
}

/** How many bronze manifests there are: the next bronze batch's number. */
async function bronzeBatches(lake: LocalLake): Promise<number> {
  return (await collectPaths(lake, 'manifests/bronze/bronze/')).length;
}

/** The bronze manifests that reference a file. */
async function referencesOf(lake: LocalLake, file: string): Promise<number[]> {
  const batches: number[] = [];
  for (const manifest of await collectPaths(lake, 'manifests/bronze/bronze/')) {
    const m = JSON.parse((await lake.read(manifest)).toString('utf8')) as { batch: number; files: Array<{ path: string }> };
    if (m.files.some((f) => f.path === file)) batches.push(m.batch);
  }
  return batches;
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
    drainThroughEveryStage(ran.path, spec, sample);
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
    expect(Object.keys(report.rows[0] as object)).toEqual(['partition', 'captured', 'pending', 'bronze', 'silverIn', 'silver', 'quarantined', 'duplicates', 'rejected']);
    expect(report.rejected).toEqual([]);
    expect(report.gold.length).toBeGreaterThan(0);
    for (const shard of report.gold) expect(shard.goldRows).toBe(shard.silverRows);
    expect(report.gold.reduce((n, s) => n + s.silverRows, 0)).toBe(2000);
    expect(report.eventIds).toMatchObject({ silverRows: 2000, distinct: 2000, repeated: 0, unexplained: 0 });
  });

  it('has gold refuse a spec whose column types changed with exit code 2, saying what changed, before it opens a table', async () => {
    const { home } = await copyOfRun();
    const changed = path.join(home, 'changed.spec.yaml');
    const text = await readFile(spec, 'utf8');
    expect(text).toContain('{ name: humidity, type: double }');
    await writeFile(changed, text.replace('{ name: humidity, type: double }', '{ name: humidity, type: long }'));
    const gold = pipeline(['gold', '--home', home, '--spec', changed, '--drain']);
    expect(gold.status).toBe(2);
    expect(gold.stderr).toContain('was written by different logic; refusing to start');
    expect(gold.stderr).toMatch(/What changed:\n {2}- .*humidity|What changed:\n {2}- .*columns/);
    expect(gold.stderr).not.toMatch(/DeltaSchemaError|\n\s+at /);
  });

  it('fails naming the gold table when a log entry that added gold rows is lost, which gold cannot see once it is done', async () => {
    const { home, lake } = await copyOfRun();
    const entries = (await readdir(path.join(home, 'lake', 'tables', 'gold', '_delta_log'))).filter((name) => name.endsWith('.json')).sort();
    let lost: string | undefined;
    for (const name of entries.reverse()) {
      if ((await readFile(path.join(home, 'lake', 'tables', 'gold', '_delta_log', name), 'utf8')).includes('"add"')) {
        lost = name;
        break;
      }
    }
    if (lost === undefined) throw new Error('the clean run added no gold rows');
    await lake.delete(`tables/gold/_delta_log/${lost}`);
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.problems).toContainEqual(
      expect.stringMatching(
        /^gold table: \d+ rows in its Delta log, gold's batches emitted \d+ final windows: a log entry of tables\/gold\/_delta_log is missing or was replaced; put the original back/,
      ),
    );
    // Gold refuses to start on it, before any shard could commit into the version it left free.
    const gold = pipeline(['gold', '--home', home, '--spec', spec, '--drain']);
    expect(gold.status).toBe(1);
    expect(gold.stdout + gold.stderr).toContain('but batch 0 of checkpoints/gold/shard-');
    expect(gold.stdout + gold.stderr).toContain(`the entry tables/gold/_delta_log/${lost} is missing. Nothing was committed, so the versions stay free`);
    expect(existsSync(path.join(home, 'lake', 'tables', 'gold', '_delta_log', lost))).toBe(false);
  });

  it('has silver refuse to start when the newest silver log entry is lost, naming it, instead of committing its next batch in its place', async () => {
    const { home, lake } = await copyOfRun();
    const entries = (await readdir(path.join(home, 'lake', 'tables', 'silver', '_delta_log'))).filter((name) => name.endsWith('.json')).sort();
    const newest = entries.at(-1) as string;
    await lake.delete(`tables/silver/_delta_log/${newest}`);
    const silver = pipeline(['silver', '--home', home, '--spec', spec, '--drain']);
    expect(silver.status).toBe(1);
    expect(silver.stdout + silver.stderr).toContain('but batch 0 of checkpoints/silver (checkpoints/silver/commits/00000000000000000000) says it committed version');
    expect(silver.stdout + silver.stderr).toContain(`the entry tables/silver/_delta_log/${newest} is missing`);
  });

  it('documents --allow-pending in its help', () => {
    const help = pipeline(['audit', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--allow-pending');
  });

  it('fails naming the shard and the manifest when a silver manifest has no gold commit, and never says Reconciled even when pending work is allowed', async () => {
    const { home } = await copyOfRun();
    const folder = path.join(home, 'lake', 'manifests', 'silver', 'shard-001');
    const next = (await readdir(folder)).length;
    const manifest = JSON.parse(await readFile(path.join(folder, `${entry(next - 1)}.json`), 'utf8')) as { sequence: number; batch: number };
    await writeFile(path.join(folder, `${entry(next)}.json`), JSON.stringify({ ...manifest, sequence: next, batch: next }, null, 2));

    const failed = pipeline(['audit', '--home', home]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).not.toContain('Reconciled:');
    expect(failed.stdout).toContain(`silver shard-001: manifest ${next} with`);
    expect(failed.stdout).toContain(`manifests/silver/shard-001/${entry(next)}.json`);

    const allowed = pipeline(['audit', '--home', home, '--allow-pending']);
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).not.toContain('Reconciled:');
    expect(allowed.stdout).toContain('Not reconciled yet: 1 item of pending work, allowed by --allow-pending');
    const { report } = auditJson(home, '--allow-pending');
    expect(report).toMatchObject({ problems: [], reconciled: false, pendingAllowed: true });
    expect(report.pending).toEqual([
      expect.objectContaining({ kind: 'silver-manifests', stage: 'gold shard-001', location: `manifests/silver/shard-001/${entry(next)}.json`, count: 1 }),
    ]);
  });

  it('sets aside a capture file that changed after bronze referenced it: silver goes on, the audit names it with the fix, and following the fix reconciles', async () => {
    const { home, lake } = await copyOfRun();
    await sendAgain(home);
    const batch = await bronzeBatches(lake);
    expect(pipeline(['bronze', '--drain', '--home', home]).status).toBe(0);
    // The first file of the bronze batch that took the new files, which silver has not read yet.
    const manifest = JSON.parse((await lake.read(`manifests/bronze/bronze/${entry(batch)}.json`)).toString('utf8')) as { files: Array<{ path: string; rows: number }> };
    const changed = manifest.files[0] as { path: string; rows: number };
    const original = await lake.read(changed.path);
    await reencodeCaptureFile(lake, changed.path);

    const silver = pipeline(['silver', '--spec', spec, '--drain', '--home', home]);
    expect(silver.status).toBe(0);
    expect(silver.stderr).toContain(`capture file set aside: the ${changed.rows} records bronze batch ${batch} referenced in ${changed.path} count as rejected`);
    expect(pipeline(['gold', '--spec', spec, '--drain', '--home', home]).status).toBe(0);

    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.reconciled).toBe(false);
    expect(report.rejected).toEqual([
      expect.objectContaining({ path: changed.path, stage: 'silver', reason: 'checksum', state: 'set-aside', bronzeBatch: batch, silverBatch: expect.any(Number) }),
    ]);
    expect(report.problems).toEqual([expect.stringContaining(`silver set ${changed.path} (partition `)]);
    const fix = (report.rejected[0] as { fix: string }).fix;
    expect(report.problems[0]).toContain(`To put it back: ${fix}`);
    expect(fix).toContain(`then run \`pipeline rejected restore ${changed.path}\``);
    const partition = changed.path.split('/')[3] as string;
    expect(report.rows.find((r) => r.partition === partition)).toMatchObject({ rejected: changed.rows });
    for (const r of report.rows) expect(r.silverIn).toBe(r.silver + r.quarantined + r.duplicates + r.rejected);

    // The fix, as it reads: the bytes bronze referenced back, then the restore.
    await lake.write(changed.path, original);
    const restored = pipeline(['rejected', 'restore', changed.path, '--home', home]);
    expect(restored.status).toBe(0);
    expect(restored.stdout).toContain('These are the bytes bronze referenced.');
    for (const args of [
      ['bronze', '--drain'],
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
      ['bronze', '--drain'],
    ])
      expect(pipeline([...args, '--home', home]).status).toBe(0);
    const after = auditJson(home);
    expect(after.report.problems).toEqual([]);
    expect(after.status).toBe(0);
    expect(after.report).toMatchObject({ reconciled: true, rejected: [] });
    expect(await referencesOf(lake, changed.path)).toEqual([batch, batch + 1]);
  }, 180_000);

  it('sets aside a zero-byte capture file: bronze goes on, restore refuses until an intact copy is back, then bronze takes it once and the audit reconciles', async () => {
    const { home, lake } = await copyOfRun();
    const before = new Set((await collectPaths(lake, 'raw/')).values());
    await sendAgain(home);
    const damaged = (await collectPaths(lake, 'raw/')).find((p) => !before.has(p)) as string;
    const intact = await lake.read(damaged);
    await lake.write(damaged, Buffer.alloc(0));
    const batch = await bronzeBatches(lake);

    const bronze = pipeline(['bronze', '--drain', '--home', home]);
    expect(bronze.status).toBe(0);
    expect(bronze.stderr).toContain(`capture file set aside: bronze set ${damaged}`);
    expect(bronze.stderr).toContain('the file has 0 bytes. Event Hubs Capture never writes an empty file');
    expect(bronze.stderr).not.toContain('delete or re-copy');
    for (const args of [
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ])
      expect(pipeline([...args, '--home', home]).status).toBe(0);

    const failed = pipeline(['audit', '--home', home]);
    expect(failed.status).toBe(1);
    expect(failed.stdout).not.toContain('Reconciled:');
    expect(failed.stdout).toContain(`bronze set ${damaged} (partition ${damaged.split('/')[3]}) aside in its batch ${batch} (empty)`);
    expect(failed.stdout).toContain(`To put it back: copy an intact copy of the file to ${damaged}`);
    const allowed = auditJson(home, '--allow-pending');
    expect(allowed.status).toBe(1);
    expect(allowed.report.rejected).toEqual([expect.objectContaining({ path: damaged, stage: 'bronze', reason: 'empty', state: 'set-aside' })]);

    const listed = pipeline(['rejected', 'list', '--home', home, '--json']);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ path: damaged, state: 'set-aside', reason: 'empty', fix: allowed.report.rejected[0]?.fix })]);

    // Restoring before the copy is back is refused, saying what to do.
    const early = pipeline(['rejected', 'restore', damaged, '--home', home]);
    expect(early.status).toBe(1);
    expect(early.stderr).toContain(`${damaged} is still not a readable capture file: it has 0 bytes.`);
    expect(early.stderr).toContain('Nothing was restored.');

    // The fix, as it reads: an intact copy at the path (given as the file's path on disk here), then the restore.
    await lake.write(damaged, intact);
    const restored = pipeline(['rejected', 'restore', path.join(home, 'lake', damaged), '--home', home]);
    expect(restored.status).toBe(0);
    expect(restored.stdout).toContain(`Restored ${damaged}:`);
    const pendingNow = auditJson(home, '--allow-pending');
    expect(pendingNow.report.pending).toEqual([expect.objectContaining({ kind: 'restored-file', stage: 'bronze', location: damaged })]);
    expect(pendingNow.status).toBe(0);

    for (const args of [
      ['bronze', '--drain'],
      ['bronze', '--drain'],
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ])
      expect(pipeline([...args, '--home', home]).status).toBe(0);
    const after = auditJson(home);
    expect(after.report.problems).toEqual([]);
    expect(after.status).toBe(0);
    expect(await referencesOf(lake, damaged)).toEqual([batch + 1]);
    expect(JSON.parse(pipeline(['rejected', 'list', '--home', home, '--json']).stdout)).toEqual([]);
  }, 180_000);

  it('reports a capture file truncated after the pipeline read it, with the bytes to put back, and reconciles once they are', async () => {
    const { home, lake } = await copyOfRun();
    const [file] = await collectPaths(lake, 'raw/');
    const intact = await lake.read(file as string);
    await lake.write(file as string, intact.subarray(0, intact.byteLength >> 1));
    const text = pipeline(['audit', '--home', home]);
    expect(text.status).toBe(1);
    expect(text.stderr).toBe('');
    const { report } = auditJson(home);
    expect(report.problems).toEqual([
      expect.stringMatching(
        new RegExp(
          `^bronze batch \\d+, partition \\d+: ${file} cannot be read any more \\(\\d+ records, then: Invalid Event Hubs Capture file .* truncated\\.\\) Put the bytes bronze referenced \\(${intact.byteLength} bytes, SHA-256 ${createHash('sha256').update(intact).digest('hex')}\\) back at ${file}`,
        ),
      ),
    ]);
    await lake.write(file as string, intact);
    expect(auditJson(home).status).toBe(0);
  });

  it('reports a capture file changed or deleted after the pipeline read it, with the bytes to put back, and reconciles once they are', async () => {
    const { home, lake } = await copyOfRun();
    const [file] = (await collectPaths(lake, 'raw/')) as [string];
    const intact = await lake.read(file);
    const putBack = `Put the bytes bronze referenced (${intact.byteLength} bytes, SHA-256 ${createHash('sha256').update(intact).digest('hex')}) back at ${file}`;

    await reencodeCaptureFile(lake, file);
    const changed = auditJson(home);
    expect(changed.status).toBe(1);
    expect(changed.report.problems).toEqual([
      expect.stringMatching(new RegExp(`: ${file} is not the bytes bronze referenced \\(found ${intact.byteLength} bytes, SHA-256 [0-9a-f]{64}\\)`)),
    ]);
    expect(changed.report.problems[0]).toContain(putBack);
    await lake.write(file, intact);
    expect(auditJson(home).status).toBe(0);

    await lake.delete(file);
    const deleted = auditJson(home);
    expect(deleted.status).toBe(1);
    expect(deleted.report.problems).toEqual([expect.stringContaining(`: ${file} is referenced but not in the lake. ${putBack}`)]);
    await lake.write(file, intact);
    expect(auditJson(home).status).toBe(0);
  });

  it('reports a bronze manifest with a bad path, naming it, without a stack trace, and reconciles once the original is back', async () => {
    const { home } = await copyOfRun();
    const manifestFile = path.join(home, 'lake', 'manifests', 'bronze', 'bronze', `${entry(0)}.json`);
    const original = await readFile(manifestFile, 'utf8');
    await writeFile(manifestFile, original.replace('"path": "raw/', '"path": "../raw/'));
    const text = pipeline(['audit', '--home', home]);
    expect(text.status).toBe(1);
    expect(text.stderr).toBe('');
    expect(text.stdout).not.toMatch(/\n\s+at /);
    expect(text.stdout).toContain(`bronze manifest manifests/bronze/bronze/${entry(0)}.json cannot be read: files[0].path "../raw/`);
    expect(text.stdout).toContain(`put the original back at manifests/bronze/bronze/${entry(0)}.json`);
    await writeFile(manifestFile, original);
    expect(auditJson(home).status).toBe(0);
  });

  it('fails naming the stage and batch when an offsets record has no commit', async () => {
    const { home } = await copyOfRun();
    const next = (await readdir(path.join(home, 'lake', 'checkpoints', 'silver', 'commits'))).length;
    await writeFile(path.join(home, 'lake', 'checkpoints', 'silver', 'offsets', entry(next)), JSON.stringify({ bronze: { from: next, to: next }, batchTime: 0 }));
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    expect(report.problems).toEqual([
      `batch ${next} of silver was started but not committed: the stage is failing or still running (checkpoints/silver/offsets/${entry(next)} has no commit)`,
    ]);
    expect(report.pending).toEqual([expect.objectContaining({ kind: 'uncommitted-batch', stage: 'silver', location: `checkpoints/silver/offsets/${entry(next)}` })]);
  });

  it('fails naming the partition when a capture file is in no committed bronze batch', async () => {
    const { home, lake } = await copyOfRun();
    const captured: string[] = [];
    for await (const e of lake.list('raw/')) captured.push(e.path);
    const first = captured[0] as string;
    const partition = first.split('/')[3] as string;
    // A second of the first file's minute that holds no capture file yet.
    const folder = first.slice(0, first.lastIndexOf('/'));
    const later = Array.from({ length: 60 }, (_, i) => `${folder}/${String(59 - i).padStart(2, '0')}.avro`).find((p) => !captured.includes(p)) as string;
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
    const commit = JSON.parse(await readFile(commitPath, 'utf8')) as { rows: number; silver: { from: number; to: number } };
    await writeFile(commitPath, JSON.stringify({ ...commit, rows: commit.rows - 1 }));
    const { status, report } = auditJson(home);
    expect(status).toBe(1);
    const read = commit.silver.from === commit.silver.to ? `${commit.silver.from}` : `${commit.silver.from}–${commit.silver.to}`;
    expect(report.problems).toEqual([`gold shard-002 batch 0: silver manifests ${read} hold ${commit.rows} rows, gold's commit reports ${commit.rows - 1}`]);
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
    const next = (await readdir(path.join(home, 'lake', 'checkpoints', 'gold', 'shard-000', 'commits'))).length;
    await writeFile(path.join(home, 'lake', 'checkpoints', 'gold', 'shard-000', 'offsets', entry(next)), JSON.stringify({ silver: { from: next, to: next }, batchTime: 0 }));
    const { id } = await duplicateAnEventId(lake);
    const text = pipeline(['audit', '--home', home]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('2 problem(s):');
    expect(text.stdout).toContain(`batch ${next} of gold shard-000 was started but not committed`);
    expect(text.stdout).toContain(`event id ${JSON.stringify(id)} is in the silver table 2 times`);
  });
});

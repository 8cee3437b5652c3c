/**
 * The oracle: generated readings go through every service (producer, capture, bronze, silver,
 * gold, each as its own process, as a user runs them), and the gold table and the serving store
 * must equal DuckDB SQL over the same CSV: same windows, same aggregates (floats within 1e-9
 * relative). With events beyond the watermark delay, the late table holds exactly the rows (and
 * windows) that gold left out, and everything else still matches.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { LocalLake, LocalServingStore } from '@pipeline/adapters';
import { readDeltaRows } from '@pipeline/delta';
import { csvLines, type ReadingsOptions } from '@pipeline/generator';
import type { WindowDocument } from '@pipeline/ports';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const DEVICES = 40;

function run(args: string[]): string {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) throw new Error(`pipeline ${args[0]} exited ${result.status}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

interface Expected {
  window: string;
  windowStart: number;
  device: string;
  readings: number;
  avg_temperature: number | null;
  max_temperature: number | null;
  distinct_statuses: number;
}

const keyOf = (window: string, start: number, device: string) => `${window}|${start}|${device}`;

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** DuckDB's windows over the CSV, minus the (event, window) pairs gold reported late. */
async function duckdbWindows(connection: DuckDBConnection, csv: string, latePairs: Array<{ id: string; window: string; start: number }>): Promise<Map<string, Expected>> {
  await connection.run(`create or replace table late_pairs (id varchar, win varchar, start_ms bigint)`);
  if (latePairs.length > 0) {
    await connection.run(`insert into late_pairs values ${latePairs.map((p) => `('${p.id}', '${p.window}', ${p.start})`).join(',')}`);
  }
  const sql = `
    with readings as (
      select reading_id, device_id, status, temperature, epoch_ms(ts::timestamptz) as t
      from read_csv('${csv}', header = true, all_varchar = false, columns = {
        'reading_id': 'VARCHAR', 'device_id': 'VARCHAR', 'site': 'VARCHAR', 'ts': 'VARCHAR',
        'temperature': 'DOUBLE', 'humidity': 'DOUBLE', 'status': 'VARCHAR'})
    ),
    assigned as (
      select reading_id, device_id, status, temperature, 'per_minute' as win, (t // 60000) * 60000 as start_ms from readings
      union all
      select reading_id, device_id, status, temperature, 'last_5m' as win, s * 60000 as start_ms
      from readings, unnest(range((t // 60000) - 4, (t // 60000) + 1)) as u(s)
    )
    select win, start_ms, device_id, count(*) as readings, avg(temperature) as avg_temperature,
           max(temperature) as max_temperature, count(distinct status) as distinct_statuses
    from assigned a
    where not exists (select 1 from late_pairs l where l.id = a.reading_id and l.win = a.win and l.start_ms = a.start_ms)
    group by all`;
  const result = await connection.runAndReadAll(sql);
  const out = new Map<string, Expected>();
  for (const r of result.getRowObjects()) {
    const e: Expected = {
      window: String(r['win']),
      windowStart: Number(r['start_ms']),
      device: String(r['device_id']),
      readings: Number(r['readings']),
      avg_temperature: r['avg_temperature'] === null ? null : Number(r['avg_temperature']),
      max_temperature: r['max_temperature'] === null ? null : Number(r['max_temperature']),
      distinct_statuses: Number(r['distinct_statuses']),
    };
    out.set(keyOf(e.window, e.windowStart, e.device), e);
  }
  return out;
}

function expectMatches(label: string, actual: { readings: unknown; avg_temperature: unknown; max_temperature: unknown; distinct_statuses: unknown }, expected: Expected): void {
  const problems: string[] = [];
  if (Number(actual.readings) !== expected.readings) problems.push(`readings ${String(actual.readings)} ≠ ${expected.readings}`);
  if (Number(actual.distinct_statuses) !== expected.distinct_statuses) problems.push(`distinct_statuses ${String(actual.distinct_statuses)} ≠ ${expected.distinct_statuses}`);
  for (const name of ['avg_temperature', 'max_temperature'] as const) {
    const value = actual[name] === null ? null : Number(actual[name]);
    if (!close(value, expected[name])) problems.push(`${name} ${String(value)} ≠ ${String(expected[name])}`);
  }
  expect({ window: label, problems }).toEqual({ window: label, problems: [] });
}

async function pipelineRun(home: string, generator: ReadingsOptions, smallBatches: boolean) {
  const csv = path.join(home, 'readings.csv');
  const out = createWriteStream(csv);
  for (const line of csvLines(generator)) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  // Small files and batches make many batches, so the watermark moves between them and late events are late.
  const capture = smallBatches ? ['--max-file-size', '64KiB'] : [];
  const batches = smallBatches ? ['--max-batch-files', '4'] : [];
  run(['produce', '--spec', spec, '--csv', csv, '--home', home, '--no-progress']);
  run(['capture', '--home', home, '--drain', ...capture]);
  run(['bronze', '--home', home, '--drain', ...batches]);
  run(['silver', '--home', home, '--spec', spec, '--drain', ...(smallBatches ? ['--max-manifests', '1'] : [])]);
  run(['gold', '--home', home, '--spec', spec, '--drain', ...(smallBatches ? ['--max-manifests', '1'] : [])]);
  // Everything captured went through bronze and silver: nothing pending, every row accounted for.
  const audit = JSON.parse(run(['audit', '--home', home, '--json'])) as {
    rows: Array<{ captured: number; pending: number; silver: number; quarantined: number; duplicates: number }>;
  };
  const totals = audit.rows.reduce(
    (t, r) => ({ captured: t.captured + r.captured, pending: t.pending + r.pending, through: t.through + r.silver + r.quarantined + r.duplicates }),
    { captured: 0, pending: 0, through: 0 },
  );
  expect(totals).toEqual({ captured: generator.rows, pending: 0, through: generator.rows });
  return csv;
}

async function servedDocuments(home: string): Promise<WindowDocument[]> {
  const store = LocalServingStore.open({ file: path.join(home, 'serving.sqlite') });
  try {
    const docs: WindowDocument[] = [];
    for (let d = 1; d <= DEVICES; d++) {
      const pk = `device_id=dev-${String(d).padStart(3, '0')}`;
      let token: string | undefined;
      do {
        const page = await store.queryWindows({ pk, limit: 500, ...(token ? { continuationToken: token } : {}) });
        docs.push(...page.items);
        token = page.continuationToken;
      } while (token);
    }
    return docs;
  } finally {
    await store.close();
  }
}

describe('the pipeline against a DuckDB oracle', () => {
  let dir: TempDir;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
    connection = await (await DuckDBInstance.create(':memory:')).connect();
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-oracle-');
  });
  afterEach(() => dir.dispose());
  afterAll(() => connection.closeSync());

  it('computes the same windows and aggregates as DuckDB over the CSV, for 100,000 events within the delay', async () => {
    const csv = await pipelineRun(dir.path, { rows: 100_000, seed: 11, devices: DEVICES, ratePerSecond: 50, outOfOrderMs: 20_000 }, false);
    const expected = await duckdbWindows(connection, csv, []);
    const lake = new LocalLake(path.join(dir.path, 'lake'));
    expect(await collect(readDeltaRows(lake, 'tables/late'))).toEqual([]);

    // The serving store holds every window (update mode), final or not: all of DuckDB's, no more.
    const docs = await servedDocuments(dir.path);
    expect(docs.length).toBe(expected.size);
    for (const doc of docs) {
      const e = expected.get(keyOf(doc.window, doc.windowStart, String(doc.key['device_id'])));
      expect(e).toBeDefined();
      expectMatches(doc.id, doc.aggregates as never, e as Expected);
    }
    // The gold table holds the final windows: each equal to DuckDB's, each once.
    const gold = await collect(readDeltaRows(lake, 'tables/gold'));
    expect(gold.length).toBeGreaterThan(expected.size / 2);
    const seen = new Set<string>();
    for (const row of gold) {
      const key = keyOf(String(row['window']), Number(row['window_start']), String(row['device_id']));
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      expectMatches(key, row as never, expected.get(key) as Expected);
    }
    const finalDocs = docs.filter((d) => d.final).length;
    expect(finalDocs).toBe(gold.length);
  }, 300_000);

  it('routes events beyond the delay to the late table, exactly the rows and windows gold left out', async () => {
    const csv = await pipelineRun(dir.path, { rows: 30_000, seed: 12, devices: DEVICES, ratePerSecond: 20, outOfOrderMs: 10_000, lateFraction: 0.02, lateByMs: 600_000 }, true);
    const lake = new LocalLake(path.join(dir.path, 'lake'));
    const late = await collect(readDeltaRows(lake, 'tables/late'));
    expect(late.length).toBeGreaterThan(100);
    const pairs: Array<{ id: string; window: string; start: number }> = [];
    for (const row of late) {
      for (const w of JSON.parse(String(row['late_windows'])) as Array<{ window: string; start: string; end: string }>) {
        // Late means: the window had ended by the watermark in force for the row's batch.
        expect(Date.parse(w.end)).toBeLessThanOrEqual(Number(row['late_threshold']));
        pairs.push({ id: String(row['reading_id']), window: w.window, start: Date.parse(w.start) });
      }
    }
    const expected = await duckdbWindows(connection, csv, pairs);
    const docs = await servedDocuments(dir.path);
    const servedKeys = new Set(docs.map((d) => keyOf(d.window, d.windowStart, String(d.key['device_id']))));
    for (const doc of docs) expectMatches(doc.id, doc.aggregates as never, expected.get(keyOf(doc.window, doc.windowStart, String(doc.key['device_id']))) as Expected);
    // Every window DuckDB has (after removing the late pairs) is served.
    for (const key of expected.keys()) expect(servedKeys.has(key)).toBe(true);
    for (const row of await collect(readDeltaRows(lake, 'tables/gold'))) {
      const key = keyOf(String(row['window']), Number(row['window_start']), String(row['device_id']));
      expectMatches(key, row as never, expected.get(key) as Expected);
    }
  }, 300_000);
});

/**
 * Event time advances per event hub partition (DESIGN invariants 9 and 11), checked through the
 * real services, each its own process as a user runs them (`pipeline produce`, then `capture`,
 * `bronze`, `silver` and `gold` with `--drain`), against DuckDB SQL over the same CSV:
 *
 * - Flights over 4 partitions, sent as fast as possible and captured in small files, so bronze reads
 *   the partitions at different points of event time. Within its partition no row is more than 20
 *   minutes behind, the delay is 30 minutes: no row is late, and gold equals DuckDB.
 * - A reading sent twice, with a newer reading of another device between the copies: silver drops
 *   the copy (one duplicate) and gold counts the reading once.
 * - The producer killed with SIGKILL and resumed several times: its re-sent copies reach silver
 *   once, and no gold window counts more than DuckDB does.
 *
 * Gold gets `--end-of-input` when `pipeline gold --help` lists it: the watermark then passes every
 * open window at the end, so gold must hold every window DuckDB has. Without it, only the windows gold
 * emitted are compared.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { LocalLake, LocalServingStore } from '@pipeline/adapters';
import { readCaptureFile } from '@pipeline/capture-format';
import { readDeltaRows } from '@pipeline/delta';
import { partitionIndexForKey } from '@pipeline/engine';
import { csvLines, flightCsvLines, formatCsvRecord, SeededRandom, SENSOR_COLUMNS } from '@pipeline/generator';
import type { Lake } from '@pipeline/ports';
import { collect, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import { shardOf } from '@pipeline/transform';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const flightsSpec = path.join(root, 'examples', 'flights', 'flights.spec.yaml');
const sensorsSpec = path.join(root, 'examples', 'sensors.spec.yaml');
const PARTITIONS = 4;
const SHARDS = 4;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Row = Record<string, unknown>;

function pipeline(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}

async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  for (const line of lines) if (!out.write(line)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
}

interface StageOptions {
  spec: string;
  capture?: string[];
  bronze?: string[];
  silver?: string[];
  gold?: string[];
  /** Whether to run capture (false when the test already captured, step by step). */
  runCapture?: boolean;
}

/** capture, bronze, silver and gold, each drained in its own process, in that order. */
function drainStages(home: string, goldFlags: string[], options: StageOptions): void {
  if (options.runCapture ?? true) pipeline(['capture', '--home', home, '--drain', ...(options.capture ?? [])]);
  pipeline(['bronze', '--home', home, '--drain', ...(options.bronze ?? [])]);
  pipeline(['silver', '--home', home, '--spec', options.spec, '--drain', ...(options.silver ?? [])]);
  pipeline(['gold', '--home', home, '--spec', options.spec, '--drain', ...(options.gold ?? []), ...goldFlags]);
}

interface AuditTotals {
  captured: number;
  pending: number;
  silver: number;
  quarantined: number;
  duplicates: number;
}

function auditTotals(home: string): AuditTotals {
  const report = JSON.parse(pipeline(['audit', '--home', home, '--json'])) as { rows: AuditTotals[] };
  return report.rows.reduce(
    (t, r) => ({
      captured: t.captured + r.captured,
      pending: t.pending + r.pending,
      silver: t.silver + r.silver,
      quarantined: t.quarantined + r.quarantined,
      duplicates: t.duplicates + r.duplicates,
    }),
    { captured: 0, pending: 0, silver: 0, quarantined: 0, duplicates: 0 },
  );
}

/**
 * Per hub partition, in sequence-number order: how far the event furthest behind the newest event
 * time before it (in the same partition) is behind, in ms. Read from the capture files.
 */
async function hubDisorder(lake: Lake, eventTimeColumn: string): Promise<Record<string, number>> {
  const events = new Map<string, Array<{ sequence: number; time: number }>>();
  for (const entry of await collect(lake.list('raw/'))) {
    if (!entry.path.endsWith('.avro')) continue;
    const partition = entry.path.split('/')[3] as string;
    const list = events.get(partition) ?? [];
    events.set(partition, list);
    for await (const record of readCaptureFile(await lake.readStream(entry.path), entry.path)) {
      const body = JSON.parse(record.body?.toString('utf8') ?? '{}') as Record<string, unknown>;
      list.push({ sequence: record.sequenceNumber, time: Date.parse(String(body[eventTimeColumn])) });
    }
  }
  const behind: Record<string, number> = {};
  for (const [partition, list] of events) {
    list.sort((a, b) => a.sequence - b.sequence);
    let newest = Number.NEGATIVE_INFINITY;
    let furthest = 0;
    for (const { time } of list) {
      furthest = Math.max(furthest, newest - time);
      newest = Math.max(newest, time);
    }
    behind[partition] = furthest;
  }
  return behind;
}

/** Every row of a Delta table, or none when no batch has created it yet. */
async function tableRows(lake: Lake, table: string): Promise<Row[]> {
  const log = await collect(lake.list(`${table}/_delta_log/`, { limit: 1 }));
  return log.length === 0 ? [] : collect(readDeltaRows(lake, table));
}

function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

const numberOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

interface Aggregates {
  /** The count aggregate: a window above DuckDB's counted something twice. */
  count: string;
  /** Compared exactly. */
  exact: string[];
  /** Compared within 1e-9 relative. */
  approx: string[];
}

interface WindowComparison {
  goldWindows: number;
  /** Gold windows whose aggregates differ from DuckDB's, described. */
  mismatched: string[];
  /** Of those, the windows that count more rows than DuckDB. */
  overCounted: number;
  /** Gold windows DuckDB does not have, or has once where gold has them twice. */
  notInDuckDB: string[];
  /** DuckDB windows that gold should have emitted (see `compareWindows`) but does not have. */
  missingFromGold: string[];
}

/**
 * Gold's windows against DuckDB's (keyed by `windowKey`). Gold must hold every DuckDB window that
 * ends at or before `finalBy`: Infinity when the input was declared ended, otherwise a time every
 * partition's watermark has passed.
 */
function compareWindows(gold: Row[], expected: Map<string, Row>, windowKey: (row: Row) => string, aggregates: Aggregates, finalBy: number): WindowComparison {
  const result: WindowComparison = { goldWindows: gold.length, mismatched: [], overCounted: 0, notInDuckDB: [], missingFromGold: [] };
  const seen = new Set<string>();
  for (const row of gold) {
    const key = windowKey(row);
    const e = expected.get(key);
    if (!e || seen.has(key)) {
      result.notInDuckDB.push(seen.has(key) ? `${key} (twice in gold)` : key);
      continue;
    }
    seen.add(key);
    const problems: string[] = [];
    for (const name of [aggregates.count, ...aggregates.exact]) {
      if (numberOrNull(row[name]) !== numberOrNull(e[name])) problems.push(`${name} ${String(row[name])} ≠ ${String(e[name])}`);
    }
    for (const name of aggregates.approx) {
      if (!close(numberOrNull(row[name]), numberOrNull(e[name]))) problems.push(`${name} ${String(row[name])} ≠ ${String(e[name])}`);
    }
    if (problems.length > 0) result.mismatched.push(`${key}: ${problems.join(', ')}`);
    if (Number(row[aggregates.count]) > Number(e[aggregates.count])) result.overCounted++;
  }
  for (const [key, e] of expected) if (Number(e['window_end']) <= finalBy && !seen.has(key)) result.missingFromGold.push(key);
  return result;
}

async function duckdbRows(connection: DuckDBConnection, sql: string): Promise<Row[]> {
  return (await connection.runAndReadAll(sql)).getRowObjects() as Row[];
}

/** The newest event time in the CSV, epoch ms. */
async function latestEventTime(connection: DuckDBConnection, csv: string, column: string): Promise<number> {
  const [row] = await duckdbRows(connection, `select max(epoch_ms(${column}::timestamptz)) as latest from read_csv('${csv}', header = true, all_varchar = true)`);
  return Number(row?.['latest']);
}

const flightWindowKey = (row: Row): string => `${Number(row['window_start'])}|${String(row['origin'])}`;

/** The flights spec's hourly windows per origin, over the CSV. */
async function duckdbFlightWindows(connection: DuckDBConnection, csv: string): Promise<Map<string, Row>> {
  const rows = await duckdbRows(
    connection,
    `select origin, (epoch_ms(dep_time::timestamptz) // 3600000) * 3600000 as window_start,
            (epoch_ms(dep_time::timestamptz) // 3600000 + 1) * 3600000 as window_end,
            count(*) as departures, avg(delay_minutes) as avg_delay_minutes,
            max(delay_minutes) as max_delay_minutes, sum(distance_km) as total_distance_km
     from read_csv('${csv}', header = true, columns = {
       'flight_id': 'VARCHAR', 'carrier': 'VARCHAR', 'flight_number': 'BIGINT', 'origin': 'VARCHAR',
       'dest': 'VARCHAR', 'dep_time': 'VARCHAR', 'delay_minutes': 'BIGINT', 'distance_km': 'DOUBLE'})
     group by all`,
  );
  return new Map(rows.map((r) => [flightWindowKey(r), r]));
}

const sensorWindowKey = (row: Row): string => `${String(row['window'])}|${Number(row['window_start'])}|${String(row['device_id'])}`;

/** The sensors spec's windows (1-minute tumbling, 5-minute hopping by 1 minute) per device, over the CSV. */
async function duckdbSensorWindows(connection: DuckDBConnection, csv: string): Promise<Map<string, Row>> {
  const rows = await duckdbRows(
    connection,
    `with readings as (
       select device_id, status, temperature, epoch_ms(ts::timestamptz) as t
       from read_csv('${csv}', header = true, columns = {
         'reading_id': 'VARCHAR', 'device_id': 'VARCHAR', 'site': 'VARCHAR', 'ts': 'VARCHAR',
         'temperature': 'DOUBLE', 'humidity': 'DOUBLE', 'status': 'VARCHAR'})
     ),
     assigned as (
       select device_id, status, temperature, 'per_minute' as "window", (t // 60000) * 60000 as window_start from readings
       union all
       select device_id, status, temperature, 'last_5m' as "window", s * 60000 as window_start
       from readings, unnest(range((t // 60000) - 4, (t // 60000) + 1)) as u(s)
     )
     select "window", window_start, window_start + (case "window" when 'per_minute' then 60000 else 300000 end) as window_end, device_id, count(*) as readings, avg(temperature) as avg_temperature,
            max(temperature) as max_temperature, count(distinct status) as distinct_statuses
     from assigned group by all`,
  );
  return new Map(rows.map((r) => [sensorWindowKey(r), r]));
}

/** The producer's position files under the home, by path, with their text. */
async function producerFiles(home: string): Promise<Map<string, string>> {
  const folder = path.join(home, 'producer');
  const files = new Map<string, string>();
  for (const name of await readdir(folder)) if (name.endsWith('.json')) files.set(path.join(folder, name), await readFile(path.join(folder, name), 'utf8'));
  return files;
}

/** The first row the producer has not had acknowledged yet, from the position it keeps under the home. */
async function producerPosition(home: string): Promise<number | undefined> {
  const folder = path.join(home, 'producer');
  if (!existsSync(folder)) return undefined;
  for (const name of await readdir(folder)) {
    if (!name.endsWith('.json')) continue;
    return (JSON.parse(await readFile(path.join(folder, name), 'utf8')) as { nextRow: number }).nextRow;
  }
  return undefined;
}

describe('event time per event hub partition, through every service', () => {
  let dir: TempDir;
  let connection: DuckDBConnection;
  let goldFlags: string[];
  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
    goldFlags = pipeline(['gold', '--help']).includes('--end-of-input') ? ['--end-of-input'] : [];
    connection = await (await DuckDBInstance.create(':memory:')).connect();
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-event-time-');
  });
  afterEach(() => dir.dispose());
  afterAll(() => connection.closeSync());

  it('leaves no row late when each partition is in order within the delay, however far apart the partitions are read, and gold equals DuckDB', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'flights.csv');
    const rows = 40_000;
    // ~230 origins, 4 days, up to 20 minutes of disorder; busy origins make the partitions uneven.
    await writeLines(csv, flightCsvLines({ rows, seed: 17 }));
    pipeline(['produce', '--spec', flightsSpec, '--csv', csv, '--home', home, '--no-progress']);
    // Small files and one file per batch in every stage: the partitions' files interleave, each
    // partition at its own event time, and gold's watermark moves after every file.
    drainStages(home, goldFlags, {
      spec: flightsSpec,
      capture: ['--max-file-size', '64KiB'],
      bronze: ['--max-batch-files', '1'],
      silver: ['--max-manifests', '1'],
      gold: ['--max-manifests', '1'],
    });
    expect(auditTotals(home)).toEqual({ captured: rows, pending: 0, silver: rows, quarantined: 0, duplicates: 0 });

    const lake = new LocalLake(path.join(home, 'lake'));
    // The premise: every partition reached the hub in event-time order within the CSV's 20 minutes.
    const disorder = await hubDisorder(lake, 'dep_time');
    expect(Object.keys(disorder)).toHaveLength(PARTITIONS);
    expect(Object.entries(disorder).filter(([, ms]) => ms > 20 * MINUTE)).toEqual([]);
    const late = await tableRows(lake, 'tables/late');
    const expected = await duckdbFlightWindows(connection, csv);
    const gold = compareWindows(
      await tableRows(lake, 'tables/gold'),
      expected,
      flightWindowKey,
      { count: 'departures', exact: ['max_delay_minutes'], approx: ['avg_delay_minutes', 'total_distance_km'] },
      // Every partition has departures until the end: two hours before it, every watermark has passed.
      goldFlags.length > 0 ? Infinity : (await latestEventTime(connection, csv, 'dep_time')) - 2 * HOUR,
    );
    expect({
      lateRows: late.length,
      mismatchedWindows: gold.mismatched.length,
      windowsNotInDuckDB: gold.notInDuckDB.length,
      duckdbWindowsMissingFromGold: gold.missingFromGold.length,
      firstMismatches: gold.mismatched.slice(0, 3),
    }).toEqual({ lateRows: 0, mismatchedWindows: 0, windowsNotInDuckDB: 0, duckdbWindowsMissingFromGold: 0, firstMismatches: [] });
  }, 180_000);

  it('drops a reading sent again after a newer reading of another device: one duplicate, counted once in gold', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'readings.csv');
    // dev-009 shares dev-001's gold shard and sits on a partition bronze orders before dev-001's,
    // so silver sees the newer reading before the copy.
    const [device, other] = ['dev-001', 'dev-009'];
    expect(shardOf([other], SHARDS)).toBe(shardOf([device], SHARDS));
    expect(partitionIndexForKey(other, PARTITIONS)).toBeLessThan(partitionIndexForKey(device, PARTITIONS));
    const t0 = Date.UTC(2026, 0, 1, 0, 0, 10);
    const reading = ['r-1', device, 'Kyoto', new Date(t0).toISOString(), '21.50', '40.0', 'ok'];
    const newer = ['r-2', other, 'Kyoto', new Date(t0 + 10 * MINUTE).toISOString(), '19.00', '45.0', 'ok'];
    await writeLines(
      csv,
      [SENSOR_COLUMNS, reading, newer, reading].map((fields) => `${formatCsvRecord(fields)}\n`),
    );
    // One row at a time, each captured before the next is sent: the copy arrives after the newer reading.
    for (let row = 1; row <= 3; row++) {
      pipeline(['produce', '--spec', sensorsSpec, '--csv', csv, '--home', home, '--from-row', String(row), '--limit', '1', '--no-progress']);
      pipeline(['capture', '--home', home, '--drain']);
    }
    drainStages(home, goldFlags, { spec: sensorsSpec, runCapture: false });

    const minute = Math.floor(t0 / MINUTE) * MINUTE;
    const windows = [`per_minute@${minute}`, ...[4, 3, 2, 1, 0].map((back) => `last_5m@${minute - back * MINUTE}`)];
    const store = LocalServingStore.open({ file: path.join(home, 'serving.sqlite') });
    const served = new Map<string, unknown>();
    try {
      for (const doc of (await store.queryWindows({ pk: `device_id=${device}`, limit: 100 })).items) served.set(`${doc.window}@${doc.windowStart}`, doc.aggregates['readings']);
    } finally {
      await store.close();
    }
    const gold = (await tableRows(new LocalLake(path.join(home, 'lake')), 'tables/gold')).filter((row) => row['device_id'] === device);
    const goldReadings = Object.fromEntries(gold.map((row) => [`${String(row['window'])}@${Number(row['window_start'])}`, Number(row['readings'])]));
    const once = (names: string[]) => Object.fromEntries(names.map((w) => [w, 1]));
    expect({
      duplicates: auditTotals(home).duplicates,
      servedReadings: Object.fromEntries(windows.map((w) => [w, served.get(w)])),
      goldReadings,
    }).toEqual({
      duplicates: 1,
      servedReadings: once(windows),
      // Without --end-of-input the watermark may hold some of these windows open: gold has only the others.
      goldReadings: once(goldFlags.length > 0 ? windows : Object.keys(goldReadings)),
    });
  }, 120_000);

  it('lets no re-sent copy into silver twice when the producer is killed and resumed, and no gold window counts more than DuckDB', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'readings.csv');
    const rows = 40_000;
    // 20 readings a second of event time (33 minutes in all), up to 20 s out of order, over 40 devices.
    await writeLines(csv, csvLines({ rows, seed: 31, devices: 40, ratePerSecond: 20, outOfOrderMs: 20_000 }));
    // Paced, so what a kill makes the producer send again (since its last recorded position) spans
    // about a minute of event time, well within what gold could still aggregate.
    const produce = ['produce', '--spec', sensorsSpec, '--csv', csv, '--home', home, '--rate', '2000', '--no-progress'];
    const random = new SeededRandom(31);
    const kills = 5;
    // The producer's position as it stood when the last run got past its target, a moment before its kill.
    let lagging: Map<string, string> | undefined;
    for (let kill = 0; kill < kills; kill++) {
      const last = kill === kills - 1;
      const target = Math.floor((rows * (kill + 1)) / (kills + 2)) + random.below(rows / (2 * (kills + 2)));
      // The last run sends on for at least 200 ms (some 400 rows) past the position kept then.
      const pause = Math.max(random.below(400), last ? 200 : 0);
      const child = spawn(process.execPath, [bin, ...produce], {
        cwd: root,
        env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await waitFor(
          async () => {
            if (child.exitCode !== null) throw new Error(`the producer exited (${child.exitCode}) before kill ${kill + 1}:\n${stderr}`);
            const position = await producerPosition(home);
            return position !== undefined && position >= target ? position : undefined;
          },
          { timeoutMs: 60_000, description: `the producer to get past row ${target}` },
        );
        if (last) lagging = await producerFiles(home);
        await new Promise((resolve) => setTimeout(resolve, pause));
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    }
    // A kill lands between the hub's acknowledgement of a send and the write of the position after
    // it only by chance. Putting back the position of a moment before the last kill leaves the hub
    // holding rows that position does not know of, as such a kill does: the resumed producer sends
    // them again, always.
    for (const [file, text] of lagging ?? new Map<string, string>()) await writeFile(file, text);
    pipeline(produce);
    drainStages(home, goldFlags, { spec: sensorsSpec });

    const totals = auditTotals(home);
    // At-least-once: the kills made the producer send some rows twice, so there is something to drop.
    expect(totals.captured).toBeGreaterThan(rows);
    expect(totals.pending).toBe(0);

    const lake = new LocalLake(path.join(home, 'lake'));
    const timesSeen = new Map<string, number>();
    for (const row of await tableRows(lake, 'tables/silver')) timesSeen.set(String(row['event_id']), (timesSeen.get(String(row['event_id'])) ?? 0) + 1);
    const twice = [...timesSeen].filter(([, n]) => n > 1).map(([id]) => id);
    const gold = compareWindows(
      await tableRows(lake, 'tables/gold'),
      await duckdbSensorWindows(connection, csv),
      sensorWindowKey,
      { count: 'readings', exact: ['distinct_statuses', 'max_temperature'], approx: ['avg_temperature'] },
      goldFlags.length > 0 ? Infinity : (await latestEventTime(connection, csv, 'ts')) - 10 * MINUTE,
    );
    expect({
      eventIdsTwiceInSilver: twice.length,
      firstIdsTwice: twice.slice(0, 3),
      eventIdsMissingFromSilver: rows - timesSeen.size,
      overCountedGoldWindows: gold.overCounted,
      mismatchedGoldWindows: gold.mismatched.length,
      goldWindowsNotInDuckDB: gold.notInDuckDB.length,
      duckdbWindowsMissingFromGold: gold.missingFromGold.length,
      firstMismatches: gold.mismatched.slice(0, 3),
    }).toEqual({
      eventIdsTwiceInSilver: 0,
      firstIdsTwice: [],
      eventIdsMissingFromSilver: 0,
      overCountedGoldWindows: 0,
      mismatchedGoldWindows: 0,
      goldWindowsNotInDuckDB: 0,
      duckdbWindowsMissingFromGold: 0,
      firstMismatches: [],
    });
    expect(gold.goldWindows).toBeGreaterThan(0);
    // Every source row is in silver once or counted as a duplicate (invariant 9).
    expect(totals.silver + totals.duplicates).toBe(totals.captured);
  }, 180_000);
});

/**
 * A CSV mixing every kind of bad data a user sends, through every service as its own process (the
 * compiled tool, a real home in a temporary folder): nothing stops a stage, and every row ends in
 * exactly one place — the silver table or the quarantine table with its reason — which the audit
 * reconciles.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { readDeltaRows } from '@pipeline/delta';
import { collect, drainThroughEveryStage, makeTempDir, runPipeline, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');

const good = (n: number, ts = `2026-01-01T00:${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}Z`) => `r${n},dev-00${n % 3},Oslo,${ts},21.5,40,ok`;

describe('a CSV of mixed bad input through every service', () => {
  let dir: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-bad-input-');
  });
  afterEach(() => dir.dispose());

  it('ends every row in silver or in quarantine with its reason, stops no stage, and reconciles', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'mixed.csv');
    const lines = [
      'reading_id,device_id,site,ts,temperature,humidity,status',
      ...Array.from({ length: 20 }, (_, i) => good(i + 1)),
      // An event time in the years 0001 to 0099: a silver row with its own date (late for gold, which starts at the epoch).
      good(21, '0050-06-01T12:00:00Z'),
      // A record larger than the event hub takes: a record_too_large marker.
      `r22,dev-001,Oslo,2026-01-01T00:00:22Z,${'9'.repeat(2 * 1024 * 1024)},40,ok`,
      // Broken quoting, a wrong column count, an unreadable time, a cast error.
      'r23,dev-002,"Oslo"x,2026-01-01T00:00:23Z,21.5,40,ok',
      'r24,dev-000,Oslo,2026-01-01T00:00:24Z,21.5',
      'r25,dev-001,Oslo,yesterday,21.5,40,ok',
      'r26,dev-002,Oslo,2026-01-01T00:00:26Z,warm,40,ok',
      // Digits below the millisecond: kept to the microsecond, in silver's ts and event_time.
      good(27, '2026-01-01T00:00:27.123456Z'),
      // The last line has no line break: still a record.
      good(28),
    ];
    await writeFile(csv, lines.join('\n'));
    const rows = lines.length - 1;

    drainThroughEveryStage(home, spec, csv, { gold: ['--end-of-input'] });

    const audit = runPipeline(['audit', '--home', home]);
    expect({ status: audit.status, output: audit.stdout }).toEqual({ status: 0, output: expect.stringContaining('Reconciled') });
    const lake = new LocalLake(path.join(home, 'lake'));
    const silver = await collect(readDeltaRows(lake, 'tables/silver'));
    const quarantine = await collect(readDeltaRows(lake, 'tables/quarantine'));
    expect(silver.length + quarantine.length).toBe(rows);
    expect(Object.fromEntries(quarantine.map((q) => [String(q['source_row']), q['reason']]))).toEqual({
      '22': 'record_too_large',
      '23': 'csv_quote',
      '24': 'csv_column_count',
      '25': 'unparseable_event_time',
      '26': 'cast_error',
    });
    expect(silver.find((r) => r['reading_id'] === 'r21')?.['event_date']).toBe('0050-06-01');
    expect(silver.some((r) => r['reading_id'] === 'r28')).toBe(true);
    const micros = (await collect(readDeltaRows(lake, 'tables/silver', { timestamps: 'micros' }))).find((r) => r['reading_id'] === 'r27');
    expect([micros?.['ts'], micros?.['event_time']]).toEqual([1_767_225_627_123_456n, 1_767_225_627_123_456n]);
    // Every silver row is aggregated or late: the year-0050 reading is late for every window.
    const late = await collect(readDeltaRows(lake, 'tables/late'));
    expect(late.map((r) => r['reading_id'])).toEqual(['r21']);
  }, 240_000);

  it('keeps a long within ±(2^53 − 1) exactly and quarantines one beyond it as cast_error naming the limit, never rounded', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'flights.csv');
    const flights = path.join(root, 'examples', 'flights', 'flights.spec.yaml');
    const lines = [
      'flight_id,carrier,flight_number,origin,dest,dep_time,delay_minutes,distance_km',
      'f1,AA,9007199254740991,OSL,LHR,2026-01-01T00:10:00Z,-9007199254740991,1200.5',
      'f2,AA,9007199254740993,OSL,LHR,2026-01-01T00:20:00Z,5,1200.5',
      'f3,AA,12,OSL,LHR,2026-01-01T00:30:00Z,99999999999999999999,1200.5',
      'f4,AA,13,OSL,LHR,2026-01-01T00:40:00Z,7,1200.5',
    ];
    await writeFile(csv, `${lines.join('\n')}\n`);

    drainThroughEveryStage(home, flights, csv, { gold: ['--end-of-input'] });

    const audit = runPipeline(['audit', '--home', home]);
    expect({ status: audit.status, output: audit.stdout }).toEqual({ status: 0, output: expect.stringContaining('Reconciled') });
    const lake = new LocalLake(path.join(home, 'lake'));
    const silver = await collect(readDeltaRows(lake, 'tables/silver'));
    const quarantine = await collect(readDeltaRows(lake, 'tables/quarantine'));
    expect(Object.fromEntries(silver.map((r) => [r['flight_id'], [r['flight_number'], r['delay_minutes']]]))).toEqual({
      f1: [9007199254740991, -9007199254740991],
      f4: [13, 7],
    });
    expect(Object.fromEntries(quarantine.map((q) => [String(q['source_row']), q['reason']]))).toEqual({ '2': 'cast_error', '3': 'cast_error' });
    for (const q of quarantine) expect(q['message']).toContain('9007199254740991');
    // Gold aggregates the long column exactly: the max of the hour holding f1 and f4 is 7.
    const gold = await collect(readDeltaRows(lake, 'tables/gold'));
    expect(gold.map((g) => [g['departures'], g['max_delay_minutes']])).toEqual([[2, 7]]);
  }, 240_000);
});

/**
 * Timestamps with microseconds through every service as its own process (the compiled tool, a real
 * home in a temporary folder): silver keeps the microseconds the CSV states, DuckDB reads them back
 * from the silver table, the Delta statistics bound them, and gold windows each event by its
 * millisecond.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { LocalLake } from '@pipeline/adapters';
import { decodeAddPath, readDeltaRows, readDeltaSnapshot } from '@pipeline/delta';
import { collect, drainThroughEveryStage, makeTempDir, runPipeline, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');

describe('timestamps with microseconds through every service', () => {
  let dir: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-micros-');
  });
  afterEach(() => dir.dispose());

  it('keeps them in silver, exactly as DuckDB reads them, and windows them by their millisecond in gold', async () => {
    const home = path.join(dir.path, 'home');
    const csv = path.join(dir.path, 'micros.csv');
    const lines = [
      'reading_id,device_id,site,ts,temperature,humidity,status',
      'r1,dev-001,Oslo,2026-01-01T00:00:10.123456Z,21.5,40,ok',
      'r2,dev-001,Oslo,2026-01-01T00:00:59.999999Z,22.5,40,ok',
      'r3,dev-001,Oslo,2026-01-01T00:01:00.000001Z,23.5,40,ok',
      'r4,dev-001,Oslo,2026-01-01T00:01:10Z,24.5,40,ok',
      // Digits below the microsecond are cut, as Spark does.
      'r5,dev-002,Oslo,2026-01-01T00:00:10.1234569Z,25.5,40,ok',
    ];
    await writeFile(csv, `${lines.join('\n')}\n`);

    drainThroughEveryStage(home, spec, csv, { gold: ['--end-of-input'] });
    const audit = runPipeline(['audit', '--home', home]);
    expect({ status: audit.status, output: audit.stdout }).toEqual({ status: 0, output: expect.stringContaining('Reconciled') });

    const expected: Record<string, bigint> = {
      r1: 1_767_225_610_123_456n,
      r2: 1_767_225_659_999_999n,
      r3: 1_767_225_660_000_001n,
      r4: 1_767_225_670_000_000n,
      r5: 1_767_225_610_123_456n,
    };
    const lake = new LocalLake(path.join(home, 'lake'));
    try {
      const silver = await collect(readDeltaRows(lake, 'tables/silver', { timestamps: 'micros' }));
      expect(Object.fromEntries(silver.map((row) => [row['reading_id'], [row['ts'], row['event_time']]]))).toEqual({
        r1: [expected['r1'], expected['r1']],
        r2: [expected['r2'], expected['r2']],
        r3: [expected['r3'], expected['r3']],
        r4: [Date.UTC(2026, 0, 1, 0, 1, 10), Date.UTC(2026, 0, 1, 0, 1, 10)],
        r5: [expected['r5'], expected['r5']],
      });

      // Every file's statistics bound its microseconds: the max rounded up, not cut down.
      const snapshot = await readDeltaSnapshot(lake, 'tables/silver');
      const files: string[] = [];
      for (const add of snapshot.files) {
        const stats = JSON.parse(add.stats ?? '{}') as { minValues: Record<string, string>; maxValues: Record<string, string> };
        const file = path.join(home, 'lake', 'tables', 'silver', decodeAddPath(add.path));
        files.push(`'${file.replace(/'/g, "''")}'`);
        const instance = await DuckDBInstance.create(':memory:');
        const connection = await instance.connect();
        try {
          const [range] = (
            await connection.runAndReadAll(`SELECT min(epoch_us(event_time)) AS lo, max(epoch_us(event_time)) AS hi FROM read_parquet('${file.replace(/'/g, "''")}')`)
          ).getRowObjectsJS();
          expect(BigInt(Date.parse(stats.minValues['event_time'] as string)) * 1000n <= (range?.['lo'] as bigint)).toBe(true);
          expect(BigInt(Date.parse(stats.maxValues['event_time'] as string)) * 1000n >= (range?.['hi'] as bigint)).toBe(true);
        } finally {
          connection.closeSync();
          instance.closeSync();
        }
      }

      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      try {
        const read = (
          await connection.runAndReadAll(`SELECT reading_id, epoch_us(event_time) AS event_time, epoch_us(ts) AS ts FROM read_parquet([${files.join(', ')}]) ORDER BY reading_id`)
        ).getRowObjectsJS();
        expect(read).toEqual(Object.entries(expected).map(([id, micros]) => ({ reading_id: id, event_time: micros, ts: micros })));
      } finally {
        connection.closeSync();
        instance.closeSync();
      }

      // Gold: r2 (00:00:59.999999) stays in the first minute, r3 (00:01:00.000001) opens the second.
      const gold = await collect(readDeltaRows(lake, 'tables/gold'));
      const perMinute = gold
        .filter((row) => row['window'] === 'per_minute')
        .map((row) => [row['device_id'], new Date(row['window_start'] as number).toISOString(), row['readings']])
        .sort();
      expect(perMinute).toEqual([
        ['dev-001', '2026-01-01T00:00:00.000Z', 2],
        ['dev-001', '2026-01-01T00:01:00.000Z', 2],
        ['dev-002', '2026-01-01T00:00:00.000Z', 1],
      ]);
    } finally {
      await lake.close();
    }
  }, 240_000);
});

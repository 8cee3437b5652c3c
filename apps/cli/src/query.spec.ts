import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import type { TableRow, TableSchema } from '@pipeline/contracts';
import { DeltaTable } from '@pipeline/delta';
import { makeTempDir, runPipeline, type TempDir } from '@pipeline/testing';
import { formatQueryResult, queryLake } from './query';

const SCHEMA: TableSchema = {
  columns: [
    { name: 'origin', type: 'string', nullable: false },
    { name: 'departures', type: 'long', nullable: false },
    { name: 'window_start', type: 'timestamp', nullable: false },
    { name: 'window_date', type: 'date', nullable: true },
  ],
  partitionBy: ['window_date'],
};

const row = (origin: string, departures: number, hour: number, date: string | null): TableRow => ({
  origin,
  departures,
  window_start: Date.UTC(2026, 2, 1, hour),
  window_date: date,
});

describe('pipeline query', () => {
  let temp: TempDir;
  let lake: LocalLake;
  const lakeRoot = () => path.join(temp.path, 'lake');

  beforeEach(async () => {
    temp = await makeTempDir('query-');
    lake = new LocalLake(lakeRoot());
    const gold = await DeltaTable.open(lake, 'tables/gold', SCHEMA);
    const first = [row('ATL', 3, 0, '2026-03-01'), row('ORD', 5, 1, '2026-03-01'), row("O'H", 1, 2, '2026-03-02'), row('NUL', 2, 3, null)];
    await gold.commit(await gold.writeFiles(first, { filePrefix: 'part-1', commitTime: 1 }), { txn: { appId: 'gold', version: 1 }, commitTime: 1 });
    await gold.commit(await gold.writeFiles([row('ATL', 4, 5, '2026-03-02')], { filePrefix: 'part-2', commitTime: 2 }), { txn: { appId: 'gold', version: 2 }, commitTime: 2 });
    // A batch that wrote its file and died before its commit: no Delta reader sees it.
    await gold.writeFiles([row('ATL', 1000, 6, '2026-03-02')], { filePrefix: 'part-3', commitTime: 3 });
    await DeltaTable.open(lake, 'tables/late', { columns: [{ name: 'origin', type: 'string', nullable: false }], partitionBy: [] });
  });
  afterEach(async () => {
    await lake.close();
    await temp.dispose();
  });

  it("reads each table's committed files only, with its partition values typed from the log", async () => {
    const result = await queryLake(lake, lakeRoot(), 'select origin, sum(departures) as n from gold group by 1 order by 1');
    expect(result.columns).toEqual(['origin', 'n']);
    // ATL 3 + 4: the uncommitted file's 1000 is not there.
    expect(result.rows).toEqual([
      ['ATL', '7'],
      ['NUL', '2'],
      ["O'H", '1'],
      ['ORD', '5'],
    ]);
    expect(result.tables).toEqual([
      { name: 'gold', version: 2, files: 4 },
      { name: 'late', version: 0, files: 0 },
    ]);
    const byDate = await queryLake(lake, lakeRoot(), 'select window_date, typeof(window_date) as t, count(*) as c from gold group by all order by 1 nulls last');
    expect(byDate.rows).toEqual([
      ['2026-03-01', 'DATE', '2'],
      ['2026-03-02', 'DATE', '2'],
      [null, 'DATE', '1'],
    ]);
  });

  it('queries the other tables when one table’s log is damaged, and says why a query naming that one fails', async () => {
    await lake.write('tables/late/_delta_log/00000000000000000000.json', '{"protocol": {');
    const gold = await queryLake(lake, lakeRoot(), 'select count(*) as c from gold');
    expect(gold.rows).toEqual([['5']]);
    expect(gold.tables.map((t) => t.name)).toEqual(['gold']);
    expect(gold.unreadable).toEqual([
      { name: 'late', problem: expect.stringMatching(/^Delta log entry .*tables\/late\/_delta_log\/00000000000000000000\.json line 1 is not JSON .*put a good copy back/) },
    ]);
    const late = queryLake(lake, lakeRoot(), 'select count(*) from late');
    await expect(late).rejects.toThrow(/Table with name late does not exist[\s\S]*\nTable late cannot be read: Delta log entry .* is not JSON[\s\S]*\nTables: gold /);
  });

  it('makes a table without files a view with its columns and no rows', async () => {
    const result = await queryLake(lake, lakeRoot(), 'select count(*) as c, (select count(*) from (describe late)) as columns from late');
    expect(result.rows).toEqual([['0', '1']]);
  });

  it('formats as an aligned table, CSV that quotes what needs it, or JSON lines', async () => {
    const result = await queryLake(lake, lakeRoot(), "select origin, departures from gold where origin in ('ORD', 'O''H') order by origin");
    expect(formatQueryResult(result, 'table')).toBe("origin  departures\n------  ----------\nO'H     1\nORD     5\n(2 rows)\n");
    expect(formatQueryResult(result, 'table', 1)).toContain('… 1 more rows (--format csv or json prints them all)');
    expect(formatQueryResult({ ...result, rows: [['a,"b"', '1']] }, 'csv')).toBe('origin,departures\n"a,""b""",1\n');
    expect(formatQueryResult(result, 'json')).toBe('{"origin":"O\'H","departures":"1"}\n{"origin":"ORD","departures":"5"}\n');
  });

  it('answers through the command, and a bad query exits 1 naming the tables there are', () => {
    fs.mkdirSync(path.join(temp.path, 'home'), { recursive: true });
    fs.renameSync(lakeRoot(), path.join(temp.path, 'home', 'lake'));
    const home = path.join(temp.path, 'home');
    const ok = runPipeline(['query', '--home', home, '--format', 'csv', 'select count(*) as windows from gold']);
    expect({ status: ok.status, stdout: ok.stdout }).toEqual({ status: 0, stdout: 'windows\n5\n' });
    const bad = runPipeline(['query', '--home', home, 'select * from silver']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/silver does not exist/);
    expect(bad.stderr).toContain('Tables: gold, late');
    expect(runPipeline(['query', '--home', home, '--max-rows', '0', 'select 1']).status).toBe(2);
  });
});

/**
 * Names in the spec that the pipeline's tables cannot hold, through the `pipeline` command: the
 * compiled tool in dist/ (built by `npm test` before Jest runs), real processes, a real pipeline
 * home in a temporary folder. `validate`, `start` and every service refuse the same specs, with
 * the same messages, and a CSV whose columns are literally event_id and event_time runs through.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { readDeltaRows, readDeltaSnapshot } from '@pipeline/delta';
import { collect, freePort, makeTempDir, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');

function pipeline(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 120_000 });
}

/** A spec whose source columns are literally event_id, event_time, device, value. */
function literalSpec(overrides: { columns?: string; eventTime?: string; eventId?: string; groupBy?: string; aggregates?: string } = {}): string {
  return `version: 1
name: literal-columns
source:
  name: literal
  columns:
${
  overrides.columns ??
  `    - { name: event_id, type: long }
    - { name: event_time, type: string }
    - { name: device, type: string }
    - { name: value, type: double }`
}
eventTime: ${overrides.eventTime ?? '{ column: event_time, format: "yyyy-MM-dd HH:mm:ss" }'}
eventId: ${overrides.eventId ?? '{ column: event_id }'}
partitionKey: device
groupBy: ${overrides.groupBy ?? '[device]'}
windows: [{ name: per_minute, type: tumbling, size: 1m }]
aggregates:
${
  overrides.aggregates ??
  `  - { name: readings, fn: count }
  - { name: total, fn: sum, column: value }
  - { name: first_seen, fn: min, column: event_time }
  - { name: ids, fn: count_distinct, column: event_id }`
}
watermark: { delay: 0s }
gold: { shards: 2 }
`;
}

const START = Date.UTC(2026, 0, 1);
const ROWS = 40;

/** Row i (1-based) of the literal CSV: one every 10 s, three devices. */
function literalRow(i: number): { id: number; time: number; text: string; device: string; value: number } {
  const time = START + i * 10_000;
  const text = new Date(time).toISOString().slice(0, 19).replace('T', ' ');
  return { id: i, time, text, device: `d${(i % 3) + 1}`, value: i / 2 };
}

function literalCsv(): string {
  const lines = ['event_id,event_time,device,value'];
  for (let i = 1; i <= ROWS; i++) {
    const r = literalRow(i);
    lines.push(`${r.id},${r.text},${r.device},${r.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Problem lines of a spec error, as `line N:C path`. */
function problemPlaces(stderr: string): string[] {
  return [...stderr.matchAll(/^ {2}- (line \d+:\d+ \S+):/gm)].map((m) => m[1] as string);
}

describe('names that end in the same table', () => {
  let home: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    home = await makeTempDir('pipeline-names-');
  });
  afterEach(async () => {
    await home.dispose();
  });

  async function specFile(text: string, name = 'spec.yaml'): Promise<string> {
    const file = path.join(home.path, name);
    await writeFile(file, text);
    return file;
  }

  const clashing = literalSpec({
    columns: [
      '    - { name: id, type: string }',
      '    - { name: at, type: string }',
      '    - { name: event_id, type: string }',
      '    - { name: event_time, type: string }',
      '    - { name: event_date, type: string }',
      '    - { name: shard, type: long }',
      '    - { name: source_row, type: long }',
      '    - { name: enqueued_time, type: string }',
      '    - { name: window, type: string }',
      '    - { name: window_start, type: string }',
      '    - { name: gold_batch, type: long }',
      '    - { name: v, type: double }',
      '    - { name: V, type: double }',
      '    - { name: device, type: string }',
    ].join('\n'),
    eventTime: '{ column: at }',
    eventId: '{ column: id }',
    groupBy: '[device, window, window_start, gold_batch]',
    aggregates: '  - { name: readings, fn: count }\n  - { name: Readings, fn: count }',
  }).replace('delay: 0s', 'delay: soon');

  it('`validate` lists every clash with its line and fix, with the other problems, and exits 1', async () => {
    const result = pipeline(['validate', await specFile(clashing)]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('12 problems in the pipeline spec');
    expect(problemPlaces(result.stderr)).toEqual([
      'line 8:15 source.columns[2].name',
      'line 9:15 source.columns[3].name',
      'line 10:15 source.columns[4].name',
      'line 11:15 source.columns[5].name',
      'line 12:15 source.columns[6].name',
      'line 13:15 source.columns[7].name',
      'line 16:15 source.columns[10].name',
      'line 18:15 source.columns[12].name',
      'line 23:19 groupBy[1]',
      'line 23:27 groupBy[2]',
      'line 27:13 aggregates[1].name',
      'line 28:21 watermark.delay',
    ]);
    const lines = result.stderr.split('\n');
    const problem = (place: string) => lines.find((l) => l.includes(place)) ?? '';
    expect(problem('source.columns[2].name')).toContain(
      'expected this column as the event id (eventId: { column: event_id }), which silver writes as its own "event_id" column, or a name other than "event_id" in any case (rename the column in source.columns and in the CSV header), found "event_id"',
    );
    expect(problem('source.columns[3].name')).toContain('this column as the event time (eventTime: { column: event_time })');
    for (const [place, name] of [
      ['source.columns[4].name', 'event_date'],
      ['source.columns[5].name', 'shard'],
      ['source.columns[6].name', 'source_row'],
      ['source.columns[7].name', 'enqueued_time'],
    ]) {
      expect(problem(place as string)).toContain(`a name other than "${name}" in any case: silver adds a column of that name to every row`);
    }
    expect(problem('source.columns[10].name')).toContain('a name other than "gold_batch" in any case: the late table adds a column of that name');
    expect(problem('source.columns[12].name')).toContain('a name that differs from the column "v" in more than case');
    expect(problem('groupBy[1]')).toContain('a grouping column not named "window" in any case: every gold row has a column of that name');
    expect(problem('groupBy[2]')).toContain('a grouping column not named "window_start" in any case');
    expect(problem('aggregates[1].name')).toContain('a name that differs from the aggregate "readings" in more than case');
  });

  it('`validate` refuses columns that differ only in case, and accepts literal event_id and event_time columns', async () => {
    const twoVs = literalSpec({
      columns:
        '    - { name: event_id, type: long }\n    - { name: event_time, type: string }\n    - { name: device, type: string }\n    - { name: value, type: double }\n    - { name: v, type: double }\n    - { name: V, type: double }',
    });
    const refused = pipeline(['validate', await specFile(twoVs)]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('1 problem in the pipeline spec');
    expect(refused.stderr).toMatch(/line 11:15 source\.columns\[5\]\.name: expected a name that differs from the column "v" in more than case .*, found "V"/);
    const accepted = pipeline(['validate', await specFile(literalSpec(), 'literal.yaml')]);
    expect(accepted.stderr).toBe('');
    expect(accepted.status).toBe(0);
  });

  it.each([
    ['silver', ['--drain']],
    ['gold', ['--drain']],
    ['serving-api', ['--port', '8089']],
    ['produce', ['--csv', 'examples/sensors.sample.csv']],
  ])('`%s` refuses the same spec at start-up with exit code 2 and the same message, without a stack trace', async (command, args) => {
    const file = await specFile(clashing);
    const result = pipeline([command, '--home', home.path, '--spec', file, ...args]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${file}: 12 problems in the pipeline spec`);
    expect(problemPlaces(result.stderr)).toHaveLength(12);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).not.toContain('Nest');
  });

  it('`start` refuses a clashing spec before any service starts: nothing is sent', async () => {
    const file = await specFile(clashing);
    const result = pipeline([
      'start',
      '--home',
      home.path,
      '--spec',
      file,
      '--csv',
      await specFile(literalCsv(), 'data.csv'),
      '--exit-when-done',
      '--port',
      String(await freePort()),
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`${file}: 12 problems in the pipeline spec`);
    expect(result.stderr).toContain('Nothing was started or sent.');
    expect(result.stdout).not.toMatch(/\[(producer|capture|silver|gold)\]/);
    expect(existsSync(path.join(home.path, 'eventhub.sqlite'))).toBe(false);
    expect(existsSync(path.join(home.path, 'lake'))).toBe(false);
  });

  it('runs a CSV whose columns are literally event_id and event_time end to end: silver holds them once, gold aggregates them', async () => {
    const spec = await specFile(literalSpec());
    const csv = await specFile(literalCsv(), 'data.csv');
    const result = pipeline([
      'start',
      '--home',
      home.path,
      '--spec',
      spec,
      '--csv',
      csv,
      '--exit-when-done',
      '--window',
      '500ms',
      '--partitions',
      '1',
      '--port',
      String(await freePort()),
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`Everything sent is through: ${ROWS} events captured, ${ROWS} silver rows, 0 quarantined, 0 duplicates; gold aggregated ${ROWS} rows`);
    expect(result.stdout).toContain('Reconciled:');
    expect(pipeline(['audit', '--home', home.path]).status).toBe(0);

    const lake = new LocalLake(path.join(home.path, 'lake'));
    try {
      const fieldNames = async (table: string) => (await readDeltaSnapshot(lake, table)).schema.fields.map((f) => f.name);
      const silverColumns = ['device', 'value', 'event_id', 'event_time', 'event_date', 'enqueued_time', 'partition_id', 'sequence_number', 'capture_file', 'source_row', 'shard'];
      expect(await fieldNames('tables/silver')).toEqual(silverColumns);
      expect(await fieldNames('tables/late')).toEqual([...silverColumns, 'late_windows', 'late_threshold', 'gold_batch']);

      // event_id is the id as sent, event_time the parsed time of the source column.
      const silver = (await collect(readDeltaRows(lake, 'tables/silver'))).sort((a, b) => Number(a['event_id']) - Number(b['event_id']));
      expect(silver.map((r) => [r['event_id'], r['event_time'], r['device'], r['value'], r['source_row']])).toEqual(
        Array.from({ length: ROWS }, (_, k) => {
          const r = literalRow(k + 1);
          return [String(r.id), r.time, r.device, r.value, k + 1];
        }),
      );

      // One partition: the watermark is the newest event time, so the windows before the last are final.
      const expected = new Map<string, { readings: number; total: number; first_seen: number; ids: number }>();
      const lastMinute = Math.floor((literalRow(ROWS).time - START) / 60_000);
      for (let i = 1; i <= ROWS; i++) {
        const r = literalRow(i);
        const start = START + Math.floor((r.time - START) / 60_000) * 60_000;
        if (start >= START + lastMinute * 60_000) continue;
        const key = `${start}|${r.device}`;
        const e = expected.get(key) ?? { readings: 0, total: 0, first_seen: r.time, ids: 0 };
        expected.set(key, { readings: e.readings + 1, total: e.total + r.value, first_seen: Math.min(e.first_seen, r.time), ids: e.ids + 1 });
      }
      const gold = await collect(readDeltaRows(lake, 'tables/gold'));
      expect(
        new Map(
          gold.map((g) => [`${String(g['window_start'])}|${String(g['device'])}`, { readings: g['readings'], total: g['total'], first_seen: g['first_seen'], ids: g['ids'] }]),
        ),
      ).toEqual(expected);
    } finally {
      await lake.close();
    }
  }, 120_000);
});

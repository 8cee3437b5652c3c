/**
 * Session windows through every service, each its own process as a user runs it (the compiled
 * tool, a real home in a temporary folder): clicks of two users sent a few at a time, each group
 * drained through capture, bronze, silver and gold before the next, so gold sees them in separate
 * batches. Checked in the serving store (update mode: a click that bridges two sessions leaves one
 * document, the other retired), the gold table (append mode: each closed session once, with its
 * start and end) and the late table (a click whose own session had closed, with the reason).
 * The hub has one partition, so the watermark is simply the newest event time − the delay.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalLake, LocalServingStore } from '@pipeline/adapters';
import { readDeltaRows } from '@pipeline/delta';
import type { WindowDocument } from '@pipeline/ports';
import { collect, makeTempDir, runPipeline, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');

const SPEC = `version: 1
name: visits-e2e
source:
  name: clicks
  columns:
    - { name: click_id, type: string }
    - { name: user_id, type: string }
    - { name: ts, type: timestamp }
    - { name: page, type: string }
eventTime: { column: ts }
eventId: { column: click_id }
partitionKey: user_id
groupBy: [user_id]
windows:
  - { name: visits, type: session, gap: 5m }
aggregates:
  - { name: clicks, fn: count }
  - { name: pages, fn: count_distinct, column: page }
watermark: { delay: 5m }
gold: { outputModes: [append, update] }
`;

/** The clicks, in the order they are sent, in the groups gold sees as separate batches. */
const GROUPS = [
  ['c1,u1,2026-01-01T10:00:00Z,home', 'c2,u1,2026-01-01T10:03:00Z,search', 'c3,u2,2026-01-01T10:01:00Z,home'],
  ['c4,u1,2026-01-01T10:10:00Z,cart', 'c5,u2,2026-01-01T10:04:00Z,help'],
  // 10:07 + 5m reaches 10:10: u1's two sessions become one, from 10:00 to 10:15.
  ['c6,u1,2026-01-01T10:07:00Z,product'],
  // 10:20 moves the watermark to 10:15, closing u1's session and u2's first one.
  ['c7,u2,2026-01-01T10:20:00Z,home'],
  // 10:02 + 5m is before the watermark: late for u2's sessions.
  ['c8,u2,2026-01-01T10:02:00Z,help'],
];

const at = (time: string) => Date.parse(`2026-01-01T${time}:00Z`);

describe('session windows through every service', () => {
  let dir: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-sessions-');
  });
  afterEach(() => dir.dispose());

  it('serves one session per merged visit, retires the merged-away one, writes closed sessions to gold and late clicks to the late table', async () => {
    const home = path.join(dir.path, 'home');
    const spec = path.join(dir.path, 'visits.spec.yaml');
    const csv = path.join(dir.path, 'clicks.csv');
    await writeFile(spec, SPEC);
    await writeFile(csv, ['click_id,user_id,ts,page', ...GROUPS.flat()].join('\n') + '\n');
    const stage = (args: string[]) => {
      const result = runPipeline([...args, '--home', home]);
      if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${String(result.status ?? result.signal)}:\n${result.stderr}\n${result.stdout}`);
    };
    const served = async (user: string): Promise<Array<[number, number, number | null, boolean]>> => {
      const store = LocalServingStore.open({ file: path.join(home, 'serving.sqlite') });
      try {
        const page = await store.queryWindows({ pk: `user_id=${user}`, window: 'visits', limit: 100 });
        return page.items.map((d: WindowDocument) => [d.windowStart, d.windowEnd, d.aggregates['clicks'] ?? null, d.final]);
      } finally {
        await store.close();
      }
    };

    let row = 1;
    const servedAfter: Array<Awaited<ReturnType<typeof served>>> = [];
    for (const group of GROUPS) {
      stage(['produce', '--spec', spec, '--csv', csv, '--partitions', '1', '--from-row', String(row), '--limit', String(group.length), '--no-progress']);
      row += group.length;
      stage(['capture', '--drain', '--partitions', '1']);
      stage(['bronze', '--drain', '--partitions', '1']);
      stage(['silver', '--spec', spec, '--drain']);
      stage(['gold', '--spec', spec, '--drain']);
      servedAfter.push(await served('u1'));
    }

    // Update mode: after the second group u1 has two sessions; the bridging click leaves one.
    expect(servedAfter[1]).toEqual([
      [at('10:00'), at('10:08'), 2, false],
      [at('10:10'), at('10:15'), 1, false],
    ]);
    expect(servedAfter[2]).toEqual([[at('10:00'), at('10:15'), 4, false]]);
    expect(servedAfter[3]).toEqual([[at('10:00'), at('10:15'), 4, true]]);
    expect(await served('u2')).toEqual([
      [at('10:01'), at('10:09'), 2, true],
      [at('10:20'), at('10:25'), 1, false],
    ]);

    const lake = new LocalLake(path.join(home, 'lake'));
    const gold = await collect(readDeltaRows(lake, 'tables/gold'));
    expect(gold.map((r) => [r['user_id'], r['window'], Number(r['window_start']), Number(r['window_end']), Number(r['clicks']), Number(r['pages'])]).sort()).toEqual(
      [
        ['u1', 'visits', at('10:00'), at('10:15'), 4, 4],
        ['u2', 'visits', at('10:01'), at('10:09'), 2, 2],
      ].sort(),
    );
    const late = await collect(readDeltaRows(lake, 'tables/late'));
    expect(late.map((r) => [r['click_id'], JSON.parse(String(r['late_windows'])) as unknown])).toEqual([
      ['c8', [{ window: 'visits', start: '2026-01-01T10:02:00.000Z', end: '2026-01-01T10:07:00.000Z', reason: 'watermark' }]],
    ]);

    const audit = runPipeline(['audit', '--home', home]);
    expect({ status: audit.status, output: audit.stdout }).toEqual({ status: 0, output: expect.stringContaining('Reconciled') });
  }, 240_000);
});

import { LocalLake } from '@pipeline/adapters';
import { DeltaTable } from '@pipeline/delta';
import { makeTempDir } from '@pipeline/testing';
import { auditEventIds, EventIdTally, idHash, passOfHash, REPORTED_IDS } from './audit-event-ids';

/** Gold's windows in these tests: a tumbling one and a hopping one of five slides, six per row. */
const WINDOWS_PER_ROW = 6;

/** Silver files of ids, and late copies: an id (late for every window) or [id, windows it was late for, its event time]. */
function tally(
  silver: string[][],
  late: Array<string | [string, number] | [string, number, number]>,
  windowsPerRow: number | ((eventTime: number) => number) | null = WINDOWS_PER_ROW,
) {
  const t = new EventIdTally(windowsPerRow ?? undefined);
  silver.forEach((ids, i) => {
    const file = t.silverFile(`tables/silver/part-${i}.parquet`);
    for (const id of ids) t.addSilver(id, file);
  });
  for (const copy of late) {
    if (typeof copy === 'string') t.addLate(copy, WINDOWS_PER_ROW);
    else t.addLate(copy[0], copy[1], copy[2]);
  }
  return t.summary();
}

describe('the event id tally', () => {
  it('accepts ids that are each in silver once', () => {
    const summary = tally([['a', 'b'], ['c']], []);
    expect(summary).toMatchObject({ silverRows: 3, distinct: 3, repeated: 0, unexplained: 0, lateNotInSilver: 0 });
  });

  it('accepts an id in silver twice when gold put one copy in the late table', () => {
    const summary = tally([['a', 'b'], ['a']], ['a']);
    expect(summary).toMatchObject({ silverRows: 3, distinct: 2, repeated: 1, repeatedLate: 1, unexplained: 0 });
  });

  it('reports an id in silver twice with no copy in the late table, with the files of its copies', () => {
    const summary = tally([['a', 'b'], ['a']], []);
    expect(summary.unexplained).toBe(1);
    expect(summary.unexplainedIds).toEqual([{ id: 'a', copies: 2, late: 0, lateForEveryWindow: 0, files: ['tables/silver/part-0.parquet', 'tables/silver/part-1.parquet'] }]);
  });

  it('needs k − 1 late copies of an id that is k times in silver', () => {
    expect(tally([['a', 'a', 'a']], ['a']).unexplainedIds).toEqual([{ id: 'a', copies: 3, late: 1, lateForEveryWindow: 1, files: ['tables/silver/part-0.parquet'] }]);
    expect(tally([['a', 'a', 'a']], ['a', 'a']).unexplained).toBe(0);
  });

  it('does not accept a repeat late for only some of its windows, since gold aggregated it into the others', () => {
    const summary = tally([['a'], ['a']], [['a', 5]]);
    expect(summary).toMatchObject({ repeated: 1, repeatedLate: 0, unexplained: 1, windowsPerRow: WINDOWS_PER_ROW });
    expect(summary.unexplainedIds).toEqual([expect.objectContaining({ id: 'a', copies: 2, late: 1, lateForEveryWindow: 0 })]);
  });

  it('counts the windows of a late copy at its event time when a slide does not divide its size', () => {
    // 10 s windows sliding by 3 s: a row at 27 s is in 4 windows, one at 34 s in 3.
    const windowsAt = (eventTime: number) => (eventTime % 3_000 < 1_000 ? 4 : 3);
    expect(
      tally(
        [
          ['a', 'b'],
          ['a', 'b'],
        ],
        [
          ['a', 3, 34_000],
          ['b', 3, 27_000],
        ],
        windowsAt,
      ),
    ).toMatchObject({ repeated: 2, repeatedLate: 1, unexplained: 1, windowsPerRow: null });
    expect(tally([['b'], ['b']], [['b', 3, 27_000]], windowsAt).unexplainedIds).toEqual([expect.objectContaining({ id: 'b', late: 1, lateForEveryWindow: 0 })]);
  });

  it("counts every late copy as late everywhere when gold's windows are unknown", () => {
    expect(tally([['a'], ['a']], [['a', 1]], null)).toMatchObject({ repeatedLate: 1, unexplained: 0, windowsPerRow: null });
  });

  it('names the first ten unexplained ids and counts them all', () => {
    const ids = Array.from({ length: 25 }, (_, i) => `id-${i}`);
    const summary = tally([ids, ids], []);
    expect(summary.unexplained).toBe(25);
    expect(summary.unexplainedIds.map((r) => r.id)).toEqual(ids.slice(0, REPORTED_IDS));
  });

  it('reports a late row whose id is not in silver', () => {
    const summary = tally([['a']], ['a', 'z']);
    expect(summary).toMatchObject({ lateNotInSilver: 1, lateNotInSilverIds: ['z'], unexplained: 0 });
  });

  it('counts two hundred thousand distinct ids and one repeat exactly', () => {
    const t = new EventIdTally();
    const file = t.silverFile('f');
    for (let i = 0; i < 200_000; i++) t.addSilver(`event-${i}`, file);
    t.addSilver('event-7', file);
    expect(t.summary()).toMatchObject({ silverRows: 200_001, distinct: 200_000, repeated: 1 });
  });
});

describe('auditEventIds over Delta tables', () => {
  const silverSchema = { columns: [{ name: 'event_id', type: 'string' as const, nullable: false }], partitionBy: [] };
  const lateSchema = {
    columns: [
      { name: 'event_id', type: 'string' as const, nullable: false },
      { name: 'event_time', type: 'timestamp' as const, nullable: false },
      { name: 'late_windows', type: 'string' as const, nullable: false },
    ],
    partitionBy: [],
  };

  it('hashes ids to distinct safe integers', () => {
    const ids = Array.from({ length: 200_000 }, (_, i) => `ev-${i}`);
    const hashes = new Set(ids.map(idHash));
    expect(hashes.size).toBe(ids.length);
    for (const hash of [...hashes].slice(0, 1000)) expect(Number.isSafeInteger(hash) && hash >= 0).toBe(true);
    expect(idHash('ab')).not.toBe(idHash('ba'));
    expect(idHash('')).not.toBe(idHash('\u0000'));
  });

  it('counts a table without repeats or late rows without tallying any id exactly', async () => {
    const dir = await makeTempDir('audit-ids-');
    try {
      const lake = new LocalLake(dir.path);
      const silver = await DeltaTable.open(lake, 'tables/silver', silverSchema);
      const adds = await silver.writeFiles(
        Array.from({ length: 1000 }, (_, i) => ({ event_id: `id-${i}` })),
        { filePrefix: 'part-0', commitTime: 1 },
      );
      await silver.commit(adds, { txn: { appId: 'test', version: 0 }, commitTime: 1 });
      for (const maxIdsPerPass of [undefined, 100]) {
        expect(await auditEventIds(lake, { silver: 'tables/silver', late: 'tables/late' }, 1, maxIdsPerPass)).toEqual({
          silverRows: 1000,
          distinct: 1000,
          repeated: 0,
          repeatedLate: 0,
          windowsPerRow: 1,
          unexplained: 0,
          unexplainedIds: [],
          lateNotInSilver: 0,
          lateNotInSilverIds: [],
        });
      }
    } finally {
      await dir.dispose();
    }
  });

  it('gives the same summary in several passes as in one, each pass holding a share of the ids', async () => {
    const dir = await makeTempDir('audit-ids-');
    try {
      const lake = new LocalLake(dir.path);
      const silver = await DeltaTable.open(lake, 'tables/silver', silverSchema);
      const late = await DeltaTable.open(lake, 'tables/late', lateSchema);
      // 300 ids; ids 0–9 twice with a late copy for every window, 10–19 twice without, and two late rows not in silver.
      const ids = Array.from({ length: 300 }, (_, i) => `ev-${i}`);
      const files = [ids.slice(0, 150), [...ids.slice(150), ...ids.slice(0, 20)]];
      for (const [i, chunk] of files.entries()) {
        const adds = await silver.writeFiles(
          chunk.map((event_id) => ({ event_id })),
          { filePrefix: `part-${i}`, commitTime: 1_000 + i },
        );
        await silver.commit(adds, { txn: { appId: 'test', version: i }, commitTime: 1_000 + i });
      }
      const lateRows = [...ids.slice(0, 10), 'stray-1', 'stray-2'].map((event_id) => ({ event_id, event_time: 0, late_windows: JSON.stringify(['w']) }));
      await late.commit(await late.writeFiles(lateRows, { filePrefix: 'late', commitTime: 2_000 }), { txn: { appId: 'test', version: 0 }, commitTime: 2_000 });

      const tables = { silver: 'tables/silver', late: 'tables/late' };
      const once = await auditEventIds(lake, tables, 1);
      expect(once).toMatchObject({ silverRows: 320, distinct: 300, repeated: 20, repeatedLate: 10, unexplained: 10, lateNotInSilver: 2 });
      // 320 rows at most 50 a pass: 7 passes, and the ids really split between them.
      expect(new Set(ids.map((id) => passOfHash(idHash(id), 7))).size).toBe(7);
      const inPasses = await auditEventIds(lake, tables, 1, 50);
      if (once === undefined || inPasses === undefined) throw new Error('the silver table is there');
      // The named ids come in pass order: the same ones, maybe in another order.
      const { unexplainedIds: namedOnce, lateNotInSilverIds: strayOnce, ...countsOnce } = once;
      const { unexplainedIds: namedInPasses, lateNotInSilverIds: strayInPasses, ...countsInPasses } = inPasses;
      expect(countsInPasses).toEqual(countsOnce);
      expect(new Set(namedInPasses.map((r) => r.id))).toEqual(new Set(namedOnce.map((r) => r.id)));
      expect(new Set(strayInPasses)).toEqual(new Set(strayOnce));
      expect(new Set(strayOnce)).toEqual(new Set(['stray-1', 'stray-2']));
      expect(once.unexplainedIds.map((r) => r.id).sort()).toEqual(ids.slice(10, 20).sort());
      // Each unexplained id names the two files holding its copies.
      for (const repeat of once.unexplainedIds)
        expect(repeat.files.map((f) => f.replace(/\.c000\.snappy\.parquet$/, ''))).toEqual(['tables/silver/part-0', 'tables/silver/part-1']);
    } finally {
      await dir.dispose();
    }
  });
});

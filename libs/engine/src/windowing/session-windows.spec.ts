/**
 * Session windows against the cases of Apache Spark's own suites (inputs and expected sessions
 * reproduced; times in seconds there, milliseconds here). Where this engine differs from Spark it
 * is said beside the case: it emits a session at the end of the batch whose watermark closes it
 * (Spark emits it in the following no-data batch), it reports rows without a valid gap as late
 * with a reason (Spark filters them out), and it serves update mode (Spark refuses it).
 */
import type { AggregationConfig } from './aggregation-config';
import type { EngineRow } from './engine-value';
import { MAX_EPOCH_MS } from './window';
import { WindowedAggregation, type WindowResult } from './windowed-aggregation';

const S = 1000;

/** Spark's StreamingSessionWindowSuite query: each word of a line is a session id, gap 10 s, watermark 30 s. */
function wordsConfig(extra: Partial<AggregationConfig> = {}): AggregationConfig {
  return {
    windows: [],
    sessions: [{ name: 'session', gapMs: 10 * S }],
    groupBy: ['sessionId'],
    aggregates: [{ name: 'numEvents', fn: 'count' }],
    watermarkDelayMs: 30 * S,
    ...extra,
  };
}

/** `explode(split(value, ' '))`: one row per word, at `seconds`. */
function words(line: string, seconds: number, extra: (word: string) => Partial<EngineRow> = () => ({})): EngineRow[] {
  return line.split(' ').map((word) => ({ event_time: seconds * S, sessionId: word, ...extra(word) }));
}

/** (sessionId, start s, end s, duration s, numEvents), as Spark's expected rows read. */
const asSpark = (w: WindowResult) => [w.key['sessionId'], w.windowStart / S, w.windowEnd / S, (w.windowEnd - w.windowStart) / S, w.aggregates['numEvents']];
const sorted = (rows: unknown[][]) => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('session windows: Spark StreamingSessionWindowSuite', () => {
  it('"append mode - session window": merges, drops the row whose own session ended before the watermark, emits once the watermark passes', () => {
    const engine = WindowedAggregation.build(wordsConfig({ outputModes: ['append'] }));
    const b0 = engine.processBatch([...words('hello world spark streaming', 40), ...words('world hello structured streaming', 41)]);
    expect(b0.watermark).toBe(11 * S);
    expect(b0.emitted).toEqual([]);
    expect(engine.processBatch(words('spark streaming', 25)).emitted).toEqual([]);

    // "late event which session's end 10 would be later than watermark 11: should be dropped"
    const late = engine.processBatch(words('spark streaming', 0));
    expect(late.emitted).toEqual([]);
    expect(late.rowsDroppedByWatermark).toBe(2);
    expect(late.numRowsDroppedByWatermark).toBe(2);
    expect(late.late.map((l) => l.windows)).toEqual([
      [{ window: 'session', windowStart: 0, windowEnd: 10 * S, reason: 'watermark' }],
      [{ window: 'session', windowStart: 0, windowEnd: 10 * S, reason: 'watermark' }],
    ]);

    expect(engine.processBatch(words('spark streaming', 30)).emitted).toEqual([]);
    const b4 = engine.processBatch(words('hello apache spark', 60));
    expect(b4.watermark).toBe(30 * S);
    expect(b4.emitted).toEqual([]);

    const b5 = engine.processBatch(words('structured streaming', 90));
    expect(b5.watermark).toBe(60 * S);
    expect(sorted(b5.emitted.map(asSpark))).toEqual(
      sorted([
        ['spark', 25, 50, 25, 3],
        ['streaming', 25, 51, 26, 4],
        ['hello', 40, 51, 11, 2],
        ['world', 40, 51, 11, 2],
        ['structured', 41, 51, 10, 1],
      ]),
    );
    expect(b5.emitted.every((w) => w.final)).toBe(true);
    // Still open, as Spark's comment lists them: hello/apache/spark at 60, structured/streaming at 90.
    expect(engine.openWindows).toBe(5);
  });

  it('"SPARK-36465: dynamic gap duration": each row’s gap from a column; zero and negative gaps make no session', () => {
    const gapOf = (word: string) => (word === 'hello' ? 1 * S : word === 'structured' ? 0 : word === 'world' ? -10 * S : 10 * S);
    const engine = WindowedAggregation.build({ ...wordsConfig({ outputModes: ['append'] }), sessions: [{ name: 'session', gapColumn: 'gap' }] });
    const rows = (line: string, seconds: number) => words(line, seconds, (w) => ({ gap: gapOf(w) }));

    const b0 = engine.processBatch([...rows('hello world spark streaming', 40), ...rows('world hello structured streaming', 41)]);
    // Spark filters these out silently; here they are reported, with the reason.
    expect(b0.late.map((l) => [l.row['sessionId'], l.windows[0].reason])).toEqual([
      ['world', 'invalid-gap'],
      ['world', 'invalid-gap'],
      ['structured', 'invalid-gap'],
    ]);
    // Listed as late rows, but not in Spark's metric: Spark filters them before its state operator.
    expect([b0.rowsDroppedByWatermark, b0.numRowsDroppedByWatermark]).toEqual([3, 0]);
    engine.processBatch(rows('spark streaming', 25));
    expect(engine.processBatch(rows('spark streaming', 0)).rowsDroppedByWatermark).toBe(2);
    engine.processBatch(rows('spark streaming', 30));
    engine.processBatch(rows('hello apache spark', 60));
    const last = engine.processBatch(rows('structured streaming', 90));
    expect(sorted(last.emitted.map(asSpark))).toEqual(
      sorted([
        ['spark', 25, 50, 25, 3],
        ['streaming', 25, 51, 26, 4],
        ['hello', 40, 42, 2, 2],
      ]),
    );
  });

  it('"session window with first/last function": rows out of order across batches form one session [40, 52)', () => {
    const engine = WindowedAggregation.build({
      windows: [],
      sessions: [{ name: 'session', gapMs: 10 * S }],
      groupBy: ['sessionId'],
      aggregates: [
        { name: 'minTime', fn: 'min', column: 'ts' },
        { name: 'maxTime', fn: 'max', column: 'ts' },
      ],
      watermarkDelayMs: 30 * S,
      outputModes: ['append'],
    });
    const at = (id: string, seconds: number) => [{ event_time: seconds * S, sessionId: id, ts: seconds }];
    for (const t of [41, 42, 40]) expect(engine.processBatch(at('a', t)).emitted).toEqual([]);
    // Spark emits the session one batch later (b at 101): its no-data batch runs after the watermark moves.
    const moved = engine.processBatch(at('b', 100));
    expect(moved.emitted.map((w) => [w.key['sessionId'], w.windowStart / S, w.windowEnd / S, w.aggregates['minTime'], w.aggregates['maxTime']])).toEqual([['a', 40, 52, 40, 42]]);
  });

  it('"complete mode - session window", in update mode: merged-away session starts are superseded, later ones replace them', () => {
    // Spark checks this case in complete mode and refuses update mode for session windows; here
    // the update output plus the superseded starts rebuild the same table of sessions.
    const engine = WindowedAggregation.build(wordsConfig({ outputModes: ['update'] }));
    const table = new Map<string, WindowResult>();
    const apply = (rows: EngineRow[]) => {
      const result = engine.processBatch(rows);
      for (const s of result.superseded ?? []) expect(table.delete(JSON.stringify([s.key['sessionId'], s.windowStart]))).toBe(true);
      for (const u of result.updated) table.set(JSON.stringify([u.key['sessionId'], u.windowStart]), u);
      return result;
    };
    apply([...words('hello world spark streaming', 40), ...words('world hello structured streaming', 41)]);
    expect(sorted([...table.values()].map(asSpark))).toEqual(
      sorted([
        ['hello', 40, 51, 11, 2],
        ['world', 40, 51, 11, 2],
        ['streaming', 40, 51, 11, 2],
        ['spark', 40, 50, 10, 1],
        ['structured', 41, 51, 10, 1],
      ]),
    );
    expect(apply(words('spark streaming', 25)).superseded).toEqual([]);
    // "concatenating multiple previous sessions into one"
    const merged = apply(words('spark streaming', 30));
    expect(merged.superseded).toEqual([
      { window: 'session', windowStart: 40 * S, key: { sessionId: 'spark' } },
      { window: 'session', windowStart: 40 * S, key: { sessionId: 'streaming' } },
    ]);
    expect(sorted([...table.values()].map(asSpark))).toEqual(
      sorted([
        ['spark', 25, 50, 25, 3],
        ['streaming', 25, 51, 26, 4],
        ['hello', 40, 51, 11, 2],
        ['world', 40, 51, 11, 2],
        ['structured', 41, 51, 10, 1],
      ]),
    );
  });
});

/** Spark's DataFrameSessionWindowingSuite runs on a batch DataFrame: here, one batch and the end of the input. */
describe('session windows: Spark DataFrameSessionWindowingSuite', () => {
  const time = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);
  const run = (config: Partial<AggregationConfig>, rows: EngineRow[]) => {
    const engine = WindowedAggregation.build({
      windows: [],
      sessions: [{ name: 'session_window', gapMs: 10 * S }],
      groupBy: ['id'],
      aggregates: [
        { name: 'counts', fn: 'count' },
        { name: 'sum', fn: 'sum', column: 'value' },
      ],
      watermarkDelayMs: 0,
      outputModes: ['append'],
      ...config,
    });
    return [...engine.processBatch(rows).emitted, ...engine.processBatch([], { endOfInput: true }).emitted].map((w) => [
      new Date(w.windowStart).toISOString(),
      new Date(w.windowEnd).toISOString(),
      w.key['id'] ?? null,
      w.aggregates['counts'],
      w.aggregates['sum'],
    ]);
  };
  const row = (t: string, value: number, id: string, extra: Partial<EngineRow> = {}): EngineRow => ({ event_time: time(t), value, id, ...extra });
  // The engine's outputs come sorted by start, then window, then key: as Spark's `orderBy(session_window.start)`.
  const iso = (t: string) => new Date(time(t)).toISOString();

  it('"session window groupBy with multiple keys statement"', () => {
    expect(
      run({}, [
        row('2016-03-27 19:39:34', 1, 'a'),
        row('2016-03-27 19:39:39', 1, 'a'),
        row('2016-03-27 19:39:56', 2, 'a'),
        row('2016-03-27 19:40:04', 2, 'a'),
        row('2016-03-27 19:39:27', 4, 'b'),
      ]),
    ).toEqual([
      [iso('2016-03-27 19:39:27'), iso('2016-03-27 19:39:37'), 'b', 1, 4],
      [iso('2016-03-27 19:39:34'), iso('2016-03-27 19:39:49'), 'a', 2, 2],
      [iso('2016-03-27 19:39:56'), iso('2016-03-27 19:40:14'), 'a', 2, 4],
    ]);
  });

  it('"session window groupBy with multiple keys statement - keys overlapped with sessions"', () => {
    expect(
      run({}, [
        row('2016-03-27 19:39:34', 1, 'a'),
        row('2016-03-27 19:39:39', 1, 'b'),
        row('2016-03-27 19:39:40', 2, 'a'),
        row('2016-03-27 19:39:45', 2, 'b'),
        row('2016-03-27 19:39:27', 4, 'b'),
      ]),
    ).toEqual([
      [iso('2016-03-27 19:39:27'), iso('2016-03-27 19:39:37'), 'b', 1, 4],
      [iso('2016-03-27 19:39:34'), iso('2016-03-27 19:39:50'), 'a', 2, 3],
      [iso('2016-03-27 19:39:39'), iso('2016-03-27 19:39:55'), 'b', 2, 3],
    ]);
  });

  it('"SPARK-36465: filter out events with negative/zero gap duration" (reported late here, with the reason)', () => {
    const gap = (value: number) => (value === 1 ? 0 : value === 2 ? -10 * S : 5 * S);
    const rows = [row('2016-03-27 19:39:34', 1, 'x'), row('2016-03-27 19:39:56', 2, 'x'), row('2016-03-27 19:39:27', 4, 'x')].map((r) => ({
      ...r,
      gap: gap(r['value'] as number),
    }));
    expect(run({ groupBy: [], sessions: [{ name: 'session_window', gapColumn: 'gap' }] }, rows)).toEqual([[iso('2016-03-27 19:39:27'), iso('2016-03-27 19:39:32'), null, 1, 4]]);
  });

  it('"SPARK-36724: Support timestamp_ntz as a type of time column for SessionWindow": rows out of order merge', () => {
    expect(run({ groupBy: [] }, [row('2016-03-27 19:39:30', 1, 'a'), row('2016-03-27 19:39:25', 2, 'a')])).toEqual([
      [iso('2016-03-27 19:39:25'), iso('2016-03-27 19:39:40'), null, 2, 3],
    ]);
  });
});

describe('session windows: state, bad input and configuration', () => {
  const config: AggregationConfig = { windows: [], sessions: [{ name: 'visits', gapMs: 5 }], groupBy: ['k'], aggregates: [{ name: 'n', fn: 'count' }], watermarkDelayMs: 0 };

  it('a row touching a session’s end merges with it (Spark merges when the next start ≤ the end)', () => {
    const engine = WindowedAggregation.build(config);
    const result = engine.processBatch([
      { event_time: 0, k: 'a' },
      { event_time: 5, k: 'a' },
      { event_time: 11, k: 'a' },
    ]);
    expect(result.updated.map((w) => [w.windowStart, w.windowEnd, w.aggregates['n']])).toEqual([
      [0, 10, 2],
      [11, 16, 1],
    ]);
  });

  it('snapshots sessions deterministically and resumes them: the same input gives the same bytes', () => {
    const input = [
      [
        { event_time: 20, k: 'b' },
        { event_time: 0, k: 'a' },
      ],
      [{ event_time: 3, k: 'a' }],
    ];
    const slow = { ...config, watermarkDelayMs: 100 };
    const one = WindowedAggregation.build(slow);
    const two = WindowedAggregation.build(slow);
    for (const rows of input) one.processBatch(rows);
    for (const rows of input) two.processBatch([...rows].reverse());
    expect(JSON.stringify(one.snapshot())).toBe(JSON.stringify(two.snapshot()));
    expect(one.snapshot().sessions).toEqual([
      { window: 'visits', key: ['a'], start: 0, end: 8, rows: 2, aggregates: [null] },
      { window: 'visits', key: ['b'], start: 20, end: 25, rows: 1, aggregates: [null] },
    ]);
    const resumed = WindowedAggregation.build(slow, JSON.parse(JSON.stringify(one.snapshot())) as ReturnType<WindowedAggregation['snapshot']>);
    expect(resumed.processBatch([{ event_time: 7, k: 'a' }]).superseded).toEqual([]);
    expect(resumed.snapshot().sessions?.[0]).toMatchObject({ start: 0, end: 12, rows: 3 });
  });

  it('refuses saved sessions that overlap, are final already or belong to no configured session window', () => {
    const engine = WindowedAggregation.build(config);
    engine.processBatch([{ event_time: 30, k: 'a' }]);
    const saved = engine.snapshot();
    const overlapping = {
      ...saved,
      sessions: [
        { window: 'visits', key: ['b'], start: 30, end: 40, rows: 1, aggregates: [null] },
        { window: 'visits', key: ['b'], start: 40, end: 45, rows: 1, aggregates: [null] },
      ],
    };
    expect(() => WindowedAggregation.build(config, overlapping)).toThrow(/overlaps or touches the session before it/);
    const final = { ...saved, sessions: [{ window: 'visits', key: ['b'], start: 10, end: 20, rows: 1, aggregates: [null] }] };
    expect(() => WindowedAggregation.build(config, final)).toThrow(/already final at watermark 30/);
    const unknown = { ...saved, sessions: [{ window: 'other', key: ['b'], start: 30, end: 40, rows: 1, aggregates: [null] }] };
    expect(() => WindowedAggregation.build(config, unknown)).toThrow(/not a configured session window/);
    expect(() => WindowedAggregation.build({ ...config, sessions: [{ name: 'visits', gapMs: 6 }] }, saved)).toThrow(/different sessions/);
  });

  it('rejects a batch whose gap column holds text, naming the row and the column', () => {
    const engine = WindowedAggregation.build({ ...config, sessions: [{ name: 'visits', gapColumn: 'timeout' }] });
    expect(() =>
      engine.processBatch([
        { event_time: 1, k: 'a', timeout: 5 },
        { event_time: 2, k: 'a', timeout: '5m' },
      ]),
    ).toThrow(/Row 1 of the batch: timeout is "5m"/);
    expect(engine.openWindows).toBe(0);
  });

  it('lists every problem of a session definition', () => {
    expect(() => WindowedAggregation.build({ ...config, sessions: [{ name: 'visits' }, { name: 'again', gapMs: 0 }, { name: 'visits', gapColumn: '' }] })).toThrow(
      /sessions\[0\] \(visits\): give exactly one of gapMs[\s\S]*gapMs must be a positive whole number of milliseconds, got 0[\s\S]*gapColumn must be a non-empty column name[\s\S]*window name "visits" appears more than once/,
    );
  });
});

describe('session windows: gaps beyond what a timestamp holds', () => {
  it('gives a row whose own session would end past MAX_EPOCH_MS no session: late as invalid-gap, never held in state', () => {
    const engine = WindowedAggregation.build({ ...wordsConfig({ outputModes: ['append', 'update'] }), sessions: [{ name: 'session', gapColumn: 'gap' }] });
    const far = engine.processBatch([
      { event_time: 40 * S, sessionId: 'forever', gap: MAX_EPOCH_MS },
      { event_time: 40 * S, sessionId: 'edge', gap: MAX_EPOCH_MS - 40 * S },
    ]);
    // The session ending exactly at MAX_EPOCH_MS is one; a millisecond later is none.
    expect(far.late.map((l) => [l.row['sessionId'], l.windows[0]?.reason])).toEqual([['forever', 'invalid-gap']]);
    expect(far.updated.map((w) => [w.key['sessionId'], w.windowEnd])).toEqual([['edge', MAX_EPOCH_MS]]);
    expect(engine.openWindows).toBe(1);
    const fixed = WindowedAggregation.build({ ...wordsConfig(), sessions: [{ name: 'session', gapMs: 10 * S }] });
    const nearTheEnd = fixed.processBatch([{ event_time: MAX_EPOCH_MS - 5 * S, sessionId: 'last' }]);
    expect(nearTheEnd.late.map((l) => l.windows[0]?.reason)).toEqual(['invalid-gap']);
    expect(fixed.openWindows).toBe(0);
  });
});

/**
 * Cases of Spark's `DataFrameTimeWindowingSuite` (sql/core, org.apache.spark.sql), with their inputs
 * and expected outputs, run through `windowsOf` (Spark's `window()` projection) and the windowed
 * aggregation (Spark's `groupBy(window(...)).agg(...)`) over one bounded batch. Spark's suite
 * writes its times in the session time zone; they are read as UTC here, which moves no window of
 * whole seconds (zone offsets are whole minutes). Spark's `startTime` is the offset.
 */
import { WindowedAggregation } from './windowed-aggregation';
import { windowsOf, type WindowDefinition } from './window';

const SECOND = 1_000;
const at = (text: string) => Date.parse(`${text.replace(' ', 'T')}Z`);
const text = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/(\.000)?Z$/, '');

/** The suite's usual input: three rows of (time, value, id). */
const SUITE_ROWS = [
  { time: '2016-03-27 19:39:34', value: 1, id: 'a' },
  { time: '2016-03-27 19:39:56', value: 2, id: 'a' },
  { time: '2016-03-27 19:39:27', value: 4, id: 'b' },
];

/** `groupBy(window(time, …), …groupBy).agg(count("*"))` ordered by window start: [start, end, counts, …keys]. */
function countsPerWindow(window: WindowDefinition, rows: Array<{ time: string; [column: string]: unknown }>, groupBy: string[] = []): Array<Array<string | number>> {
  const engine = WindowedAggregation.build({
    windows: [{ name: 'window', ...window }],
    groupBy,
    aggregates: [{ name: 'counts', fn: 'count' }],
    watermarkDelayMs: 0,
    outputModes: ['append'],
  });
  const result = engine.processBatch(
    rows.map(({ time, ...rest }) => ({ ...(rest as Record<string, string | number>), event_time: at(time) })),
    { endOfInput: true },
  );
  return result.emitted.map((w) => [text(w.windowStart), text(w.windowEnd), w.aggregates['counts'] ?? 0, ...groupBy.map((c) => w.key[c] as string)]);
}

/** `select(window(time, …), value)`: one output row per (row, window) it falls in, ordered by window start then value descending. */
function projection(window: WindowDefinition, rows: Array<{ time: string; value: number }>): Array<[string, string, number]> {
  return rows
    .flatMap((r) => windowsOf(at(r.time), window).map((w) => ({ ...w, value: r.value })))
    .sort((a, b) => a.start - b.start || b.value - a.value)
    .map((w) => [text(w.start), text(w.end), w.value]);
}

describe("Spark's DataFrameTimeWindowingSuite", () => {
  it('"simple tumbling window with record at window start"', () => {
    expect(countsPerWindow({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND }, [{ time: '2016-03-27 19:39:30' }])).toEqual([['2016-03-27 19:39:30', '2016-03-27 19:39:40', 1]]);
  });

  it('"tumbling window with multi-column projection"', () => {
    expect(projection({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND }, SUITE_ROWS)).toEqual([
      ['2016-03-27 19:39:20', '2016-03-27 19:39:30', 4],
      ['2016-03-27 19:39:30', '2016-03-27 19:39:40', 1],
      ['2016-03-27 19:39:50', '2016-03-27 19:40:00', 2],
    ]);
  });

  it('"sliding window grouping": 10 s windows sliding by 3 s, a slide that does not divide the size', () => {
    // 19:39:27 falls in 4 windows, 19:39:34 and 19:39:56 in 3 each.
    expect(countsPerWindow({ sizeMs: 10 * SECOND, slideMs: 3 * SECOND, offsetMs: 0 }, SUITE_ROWS)).toEqual([
      ['2016-03-27 19:39:18', '2016-03-27 19:39:28', 1],
      ['2016-03-27 19:39:21', '2016-03-27 19:39:31', 1],
      ['2016-03-27 19:39:24', '2016-03-27 19:39:34', 1],
      ['2016-03-27 19:39:27', '2016-03-27 19:39:37', 2],
      ['2016-03-27 19:39:30', '2016-03-27 19:39:40', 1],
      ['2016-03-27 19:39:33', '2016-03-27 19:39:43', 1],
      ['2016-03-27 19:39:48', '2016-03-27 19:39:58', 1],
      ['2016-03-27 19:39:51', '2016-03-27 19:40:01', 1],
      ['2016-03-27 19:39:54', '2016-03-27 19:40:04', 1],
    ]);
  });

  it('"sliding window projection"', () => {
    expect(projection({ sizeMs: 10 * SECOND, slideMs: 3 * SECOND }, SUITE_ROWS).map(([, , value]) => value)).toEqual([4, 4, 4, 4, 1, 1, 1, 2, 2, 2]);
  });

  it('"millisecond precision sliding windows"', () => {
    const rows = [{ time: '2016-03-27 09:00:00.410' }, { time: '2016-03-27 09:00:00.620' }, { time: '2016-03-27 09:00:00.715' }];
    expect(countsPerWindow({ sizeMs: 200, slideMs: 40 }, rows).map(([start, end, counts]) => [String(start).slice(11), String(end).slice(11), counts])).toEqual([
      ['09:00:00.240', '09:00:00.440', 1],
      ['09:00:00.280', '09:00:00.480', 1],
      ['09:00:00.320', '09:00:00.520', 1],
      ['09:00:00.360', '09:00:00.560', 1],
      ['09:00:00.400', '09:00:00.600', 1],
      ['09:00:00.440', '09:00:00.640', 1],
      ['09:00:00.480', '09:00:00.680', 1],
      ['09:00:00.520', '09:00:00.720', 2],
      ['09:00:00.560', '09:00:00.760', 2],
      ['09:00:00.600', '09:00:00.800', 2],
      ['09:00:00.640', '09:00:00.840', 1],
      ['09:00:00.680', '09:00:00.880', 1],
    ]);
  });

  it('"tumbling window groupBy statement with startTime": 10 s windows starting 5 s past the epoch grid, per id', () => {
    const counts = countsPerWindow({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND, offsetMs: 5 * SECOND }, SUITE_ROWS, ['id']);
    // Spark's suite checks the counts in window order; the windows are those of the next case.
    expect(counts.map(([, , n]) => n)).toEqual([1, 1, 1]);
    expect(counts).toEqual([
      ['2016-03-27 19:39:25', '2016-03-27 19:39:35', 1, 'a'],
      ['2016-03-27 19:39:25', '2016-03-27 19:39:35', 1, 'b'],
      ['2016-03-27 19:39:55', '2016-03-27 19:40:05', 1, 'a'],
    ]);
  });

  it('"time window in SQL with three expressions": window(time, "10 seconds", 10000000, "5 seconds")', () => {
    const rows = SUITE_ROWS.map(({ time, value }) => ({ time, value }));
    expect(projection({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND, offsetMs: 5 * SECOND }, rows)).toEqual([
      ['2016-03-27 19:39:25', '2016-03-27 19:39:35', 4],
      ['2016-03-27 19:39:25', '2016-03-27 19:39:35', 1],
      ['2016-03-27 19:39:55', '2016-03-27 19:40:05', 2],
    ]);
  });

  it('"negative timestamps": a window with startTime that begins before the epoch', () => {
    const rows = [
      { time: '1970-01-01 00:00:02', value: 1 },
      { time: '1970-01-01 00:00:12', value: 2 },
    ];
    expect(projection({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND, offsetMs: 5 * SECOND }, rows)).toEqual([
      ['1969-12-31 23:59:55', '1970-01-01 00:00:05', 1],
      ['1970-01-01 00:00:05', '1970-01-01 00:00:15', 2],
    ]);
  });

  it('"SPARK-21590: tumbling window using negative start time", with the start time −5 s written as the offset 5 s it equals', () => {
    // Spark accepts −slide < startTime < slide; the offset here is 0 ≤ offset < slide, and −5 s ≡ 5 s modulo the 10 s slide.
    const rows = [{ time: '2016-03-27 19:39:30' }, { time: '2016-03-27 19:39:25' }];
    expect(countsPerWindow({ sizeMs: 10 * SECOND, slideMs: 10 * SECOND, offsetMs: 5 * SECOND }, rows)).toEqual([['2016-03-27 19:39:25', '2016-03-27 19:39:35', 2]]);
  });
});

describe("sliding windows with an offset (not a case of Spark's suite: written from the semantics)", () => {
  it('puts rows in the 10 s windows that start 2 s past every multiple of 3 s', () => {
    // Starts are k·3 s + 2 s. 19:39:27 is in the windows starting at :20, :23, :26 (not :17, which ends at :27);
    // 19:39:34 in :26, :29, :32; 19:39:56 in :47, :50, :53, :56.
    expect(countsPerWindow({ sizeMs: 10 * SECOND, slideMs: 3 * SECOND, offsetMs: 2 * SECOND }, SUITE_ROWS)).toEqual([
      ['2016-03-27 19:39:20', '2016-03-27 19:39:30', 1],
      ['2016-03-27 19:39:23', '2016-03-27 19:39:33', 1],
      ['2016-03-27 19:39:26', '2016-03-27 19:39:36', 2],
      ['2016-03-27 19:39:29', '2016-03-27 19:39:39', 1],
      ['2016-03-27 19:39:32', '2016-03-27 19:39:42', 1],
      ['2016-03-27 19:39:47', '2016-03-27 19:39:57', 1],
      ['2016-03-27 19:39:50', '2016-03-27 19:40:00', 1],
      ['2016-03-27 19:39:53', '2016-03-27 19:40:03', 1],
      ['2016-03-27 19:39:56', '2016-03-27 19:40:06', 1],
    ]);
  });
});

import type { AggregationConfig } from './aggregation-config';
import type { EngineRow } from './engine-value';
import { WindowedAggregation, type AggregationState } from './windowed-aggregation';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (seconds: number) => T0 + seconds * SECOND;

const perMinute: AggregationConfig = {
  windows: [{ name: 'per_minute', sizeMs: MINUTE, slideMs: MINUTE }],
  groupBy: ['device'],
  aggregates: [
    { name: 'readings', fn: 'count' },
    { name: 'total', fn: 'sum', column: 'value' },
  ],
  watermarkDelayMs: 10 * SECOND,
};

const reading = (seconds: number, device = 'd1', value: number | null = 1): EngineRow => ({ event_time: at(seconds), device, value });

describe('WindowedAggregation', () => {
  describe('the watermark', () => {
    it('starts at the epoch, so a row of a window ending at or before 1970-01-01 is late in the first batch', () => {
      const engine = WindowedAggregation.build(perMinute);
      expect(engine.watermark).toBe(0);
      const result = engine.processBatch([{ event_time: -1, device: 'd1', value: 1 }]);
      expect(result.lateThreshold).toBe(0);
      expect(result.late).toEqual([{ row: { event_time: -1, device: 'd1', value: 1 }, windows: [{ window: 'per_minute', windowStart: -MINUTE, windowEnd: 0 }] }]);
      expect(result.watermark).toBe(0);
    });

    it('is the max event time minus the delay, computed at the end of the batch', () => {
      const engine = WindowedAggregation.build(perMinute);
      const result = engine.processBatch([reading(30), reading(95), reading(70)]);
      expect(result).toMatchObject({ lateThreshold: 0, watermark: at(85), maxEventTime: at(95) });
      expect(engine.watermark).toBe(at(85));
    });

    it('never regresses when a later batch holds only older rows', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(100)]);
      const result = engine.processBatch([reading(95), reading(91)]);
      expect(result).toMatchObject({ lateThreshold: at(90), watermark: at(90), maxEventTime: at(95), rowsDroppedByWatermark: 0 });
    });
  });

  describe('append mode', () => {
    it('emits a window at the end of the batch that moves the watermark past its end, and only then', () => {
      const engine = WindowedAggregation.build(perMinute);
      const first = engine.processBatch([reading(10, 'd1', 2), reading(65, 'd1', 3)]);
      expect(first.watermark).toBe(at(55));
      expect(first.emitted).toEqual([]);

      const second = engine.processBatch([reading(75, 'd1', 4)]);
      expect(second.watermark).toBe(at(65));
      expect(second.emitted).toEqual([{ window: 'per_minute', windowStart: at(0), windowEnd: at(60), key: { device: 'd1' }, aggregates: { readings: 1, total: 2 }, final: true }]);

      const third = engine.processBatch([reading(80, 'd1', 5)]);
      expect(third.emitted).toEqual([]);
    });

    it('emits a window once the watermark equals its end', () => {
      const engine = WindowedAggregation.build({ ...perMinute, watermarkDelayMs: 0 });
      const result = engine.processBatch([reading(10), reading(60)]);
      expect(result.watermark).toBe(at(60));
      expect(result.emitted.map((w) => w.windowStart)).toEqual([at(0)]);
    });

    it('puts a row exactly on a window boundary in the window that starts there', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(60, 'd1', 7)]);
      const result = engine.processBatch([reading(200)]);
      expect(result.emitted).toEqual([expect.objectContaining({ windowStart: at(60), windowEnd: at(120), aggregates: { readings: 1, total: 7 } })]);
    });

    it('evicts the state of a window once it is emitted', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10, 'd1'), reading(20, 'd2'), reading(65, 'd1')]);
      expect(engine.openWindows).toBe(2);
      expect(engine.stateRows).toBe(3);
      engine.processBatch([reading(75)]);
      expect(engine.openWindows).toBe(1);
      expect(engine.stateRows).toBe(1);
      expect(engine.snapshot().windows).toEqual([{ window: 'per_minute', windowStart: at(60), groups: [{ key: ['d1'], rows: 2, aggregates: [null, [2, 2]] }] }]);
    });

    it('sorts output by window start, then window name, then key (null, booleans, numbers, strings)', () => {
      const engine = WindowedAggregation.build({
        windows: [
          { name: 'b_minute', sizeMs: MINUTE, slideMs: MINUTE },
          { name: 'a_minute', sizeMs: MINUTE, slideMs: MINUTE },
        ],
        groupBy: ['k'],
        aggregates: [{ name: 'n', fn: 'count' }],
        watermarkDelayMs: 0,
      });
      const keys = ['b', 'a', 10, 2, true, false, null];
      const result = engine.processBatch([...keys.map((k) => ({ event_time: at(61), k })), ...keys.map((k) => ({ event_time: at(1), k })), { event_time: at(120) }]);
      const order = result.emitted.map((w) => `${(w.windowStart - T0) / SECOND}s ${w.window} ${JSON.stringify(w.key['k'])}`);
      const expected: string[] = [];
      for (const start of [0, 60])
        for (const name of ['a_minute', 'b_minute']) for (const k of [null, false, true, 2, 10, '"a"', '"b"']) expected.push(`${start}s ${name} ${String(k)}`);
      expect(order).toEqual(expected);
    });
  });

  describe('late rows', () => {
    it('treats a row whose window end equals the watermark as late, and a row of the next window as on time', () => {
      const engine = WindowedAggregation.build({ ...perMinute, watermarkDelayMs: 0 });
      engine.processBatch([reading(60)]);
      const lateRow = reading(59.999);
      const result = engine.processBatch([lateRow, reading(60, 'd2')]);
      expect(result.lateThreshold).toBe(at(60));
      expect(result.late).toEqual([{ row: lateRow, windows: [{ window: 'per_minute', windowStart: at(0), windowEnd: at(60) }] }]);
      expect(result.rowsDroppedByWatermark).toBe(1);
      expect(result.updated.map((w) => w.key)).toEqual([{ device: 'd2' }]);
    });

    it('aggregates a row late for one hopping window into the other windows it belongs to, and reports it late for the first', () => {
      const engine = WindowedAggregation.build({
        windows: [{ name: 'two_minutes', sizeMs: 2 * MINUTE, slideMs: MINUTE }],
        groupBy: [],
        aggregates: [{ name: 'n', fn: 'count' }],
        watermarkDelayMs: 0,
      });
      engine.processBatch([{ event_time: at(120) }]);
      const row = { event_time: at(90) };
      const result = engine.processBatch([row]);
      expect(result.late).toEqual([{ row, windows: [{ window: 'two_minutes', windowStart: at(0), windowEnd: at(120) }] }]);
      expect(result.rowsDroppedByWatermark).toBe(1);
      expect(result.updated).toEqual([{ window: 'two_minutes', windowStart: at(60), windowEnd: at(180), key: {}, aggregates: { n: 2 }, final: false }]);
    });

    it('reports a row once, listing every window it missed across window definitions, in input order', () => {
      const engine = WindowedAggregation.build({
        windows: [
          { name: 'minute', sizeMs: MINUTE, slideMs: MINUTE },
          { name: 'two_minutes', sizeMs: 2 * MINUTE, slideMs: MINUTE },
        ],
        groupBy: [],
        aggregates: [{ name: 'n', fn: 'count' }],
        watermarkDelayMs: 0,
      });
      engine.processBatch([{ event_time: at(240) }]);
      const rows = [{ event_time: at(10) }, { event_time: at(250) }, { event_time: at(130) }];
      const result = engine.processBatch(rows);
      expect(result.late).toEqual([
        {
          row: rows[0],
          windows: [
            { window: 'minute', windowStart: at(0), windowEnd: at(60) },
            { window: 'two_minutes', windowStart: at(-60), windowEnd: at(60) },
            { window: 'two_minutes', windowStart: at(0), windowEnd: at(120) },
          ],
        },
        {
          row: rows[2],
          windows: [
            { window: 'minute', windowStart: at(120), windowEnd: at(180) },
            { window: 'two_minutes', windowStart: at(60), windowEnd: at(180) },
            { window: 'two_minutes', windowStart: at(120), windowEnd: at(240) },
          ],
        },
      ]);
      expect(result.rowsDroppedByWatermark).toBe(2);
    });
  });

  describe('aggregates', () => {
    const config: AggregationConfig = {
      windows: [{ name: 'all', sizeMs: MINUTE, slideMs: MINUTE }],
      groupBy: [],
      aggregates: [
        { name: 'rows', fn: 'count' },
        { name: 'sum', fn: 'sum', column: 'x' },
        { name: 'min', fn: 'min', column: 'x' },
        { name: 'max', fn: 'max', column: 'x' },
        { name: 'avg', fn: 'avg', column: 'x' },
        { name: 'distinct', fn: 'count_distinct', column: 'x' },
      ],
      watermarkDelayMs: 0,
    };

    it('ignores nulls and missing values, and gives null for sum, min, max and avg of no values while count counts rows', () => {
      const engine = WindowedAggregation.build(config);
      const result = engine.processBatch([{ event_time: at(1), x: null }, { event_time: at(2) }, { event_time: at(60) }]);
      expect(result.emitted[0].aggregates).toEqual({ rows: 2, sum: null, min: null, max: null, avg: null, distinct: 0 });
    });

    it('computes sum, min, max and avg over the non-null values', () => {
      const engine = WindowedAggregation.build(config);
      const result = engine.processBatch([
        { event_time: at(1), x: 4 },
        { event_time: at(2), x: null },
        { event_time: at(3), x: -2 },
        { event_time: at(4), x: 7 },
        { event_time: at(60) },
      ]);
      expect(result.emitted[0].aggregates).toEqual({ rows: 4, sum: 9, min: -2, max: 7, avg: 3, distinct: 3 });
    });

    it('counts distinct values exactly, telling 1, "1" and true apart', () => {
      const engine = WindowedAggregation.build({ ...config, aggregates: [{ name: 'distinct', fn: 'count_distinct', column: 'v' }] });
      const values = ['a', 'a', 'b', 1, '1', true, null, 1, -0, 0];
      engine.processBatch(values.map((v) => ({ event_time: at(1), v })));
      const many = Array.from({ length: 20_000 }, (_, i) => ({ event_time: at(2), v: `id-${i % 12_345}` }));
      const result = engine.processBatch([...many, { event_time: at(60) }]);
      expect(result.emitted[0].aggregates).toEqual({ distinct: 6 + 12_345 });
    });
  });

  describe('update mode', () => {
    it('returns every window a batch changed with its running aggregates, marking those the watermark has made final', () => {
      const engine = WindowedAggregation.build(perMinute);
      const first = engine.processBatch([reading(10, 'd1', 1), reading(20, 'd2', 2)]);
      expect(first.updated).toEqual([
        { window: 'per_minute', windowStart: at(0), windowEnd: at(60), key: { device: 'd1' }, aggregates: { readings: 1, total: 1 }, final: false },
        { window: 'per_minute', windowStart: at(0), windowEnd: at(60), key: { device: 'd2' }, aggregates: { readings: 1, total: 2 }, final: false },
      ]);
      const second = engine.processBatch([reading(30, 'd1', 5), reading(80, 'd1', 1)]);
      expect(second.updated).toEqual([
        { window: 'per_minute', windowStart: at(0), windowEnd: at(60), key: { device: 'd1' }, aggregates: { readings: 2, total: 6 }, final: true },
        { window: 'per_minute', windowStart: at(60), windowEnd: at(120), key: { device: 'd1' }, aggregates: { readings: 1, total: 1 }, final: false },
      ]);
      // d2's window became final unchanged: append emits it, update does not repeat it.
      expect(second.emitted.map((w) => w.key)).toEqual([{ device: 'd1' }, { device: 'd2' }]);
    });

    it('reports a window the batch changed and closed as one result, the same object in both outputs', () => {
      const engine = WindowedAggregation.build({ ...perMinute, outputModes: ['append', 'update'] });
      engine.processBatch([reading(10, 'd1', 1), reading(20, 'd2', 1)]);
      const second = engine.processBatch([reading(30, 'd1', 5), reading(80, 'd1', 1)]);
      const closedAndChanged = second.updated.filter((w) => w.final);
      expect(closedAndChanged.map((w) => w.key)).toEqual([{ device: 'd1' }]);
      expect(second.emitted.find((w) => w.key['device'] === 'd1')).toBe(closedAndChanged[0]);
      // Still open, or closed unchanged: in one output only.
      const open = second.updated.find((w) => !w.final);
      expect(second.emitted).not.toContain(open);
      expect(second.updated).not.toContain(second.emitted.find((w) => w.key['device'] === 'd2'));
    });

    it('computes only the outputs asked for', () => {
      const appendOnly = WindowedAggregation.build({ ...perMinute, outputModes: ['append'] });
      expect(appendOnly.processBatch([reading(10), reading(100)])).toMatchObject({ updated: [], emitted: [expect.objectContaining({ windowStart: at(0) })] });
      const updateOnly = WindowedAggregation.build({ ...perMinute, outputModes: ['update'] });
      expect(updateOnly.processBatch([reading(10), reading(100)])).toMatchObject({
        emitted: [],
        updated: [expect.objectContaining({ final: true }), expect.objectContaining({ final: false })],
      });
      expect(updateOnly.openWindows).toBe(1);
    });
  });

  describe('no-data batches', () => {
    it('emit nothing after the batch that moved the watermark, since that batch already emitted what it finalised', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10)]);
      const moving = engine.processBatch([reading(90)]);
      expect(moving.emitted).toHaveLength(1);
      const empty = engine.processBatch([]);
      expect(empty).toEqual({
        batch: 2,
        lateThreshold: at(80),
        watermark: at(80),
        emitted: [],
        updated: [],
        late: [],
        rowsDroppedByWatermark: 0,
        numRowsDroppedByWatermark: 0,
        maxEventTime: null,
      });
    });

    it('keep the watermark and open windows, and still take a batch number', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10)]);
      expect(engine.processBatch([]).batch).toBe(1);
      expect(engine.processBatch([]).batch).toBe(2);
      expect(engine.watermark).toBe(at(0));
      expect(engine.openWindows).toBe(1);
      expect(engine.processBatch([reading(75)]).emitted).toEqual([expect.objectContaining({ windowStart: at(0), aggregates: { readings: 1, total: 1 } })]);
    });
  });

  describe('snapshots', () => {
    it('resume batch numbering, watermark and open windows after a JSON round trip', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10, 'd1', 1), reading(65, 'd2', 2)]);
      const state = JSON.parse(JSON.stringify(engine.snapshot())) as AggregationState;
      expect(state).toMatchObject({ format: 'windowed-aggregation/2', nextBatch: 1, eventTime: { watermark: at(55), partitions: { '': { maxEventTime: at(65) } } } });
      const resumed = WindowedAggregation.build(perMinute, state);
      expect(resumed.nextBatch).toBe(1);
      const result = resumed.processBatch([reading(20, 'd1', 3), reading(80)]);
      expect(result.batch).toBe(1);
      expect(result.emitted).toEqual([expect.objectContaining({ windowStart: at(0), key: { device: 'd1' }, aggregates: { readings: 2, total: 4 } })]);
    });

    it('keep a sum that overflowed to ±Infinity across a JSON round trip', () => {
      const config: AggregationConfig = { ...perMinute, groupBy: [], aggregates: [...perMinute.aggregates, { name: 'mean', fn: 'avg', column: 'value' }] };
      const engine = WindowedAggregation.build(config);
      engine.processBatch([reading(10, 'd1', Number.MAX_VALUE), reading(20, 'd1', Number.MAX_VALUE), reading(61, 'd1', -Number.MAX_VALUE), reading(62, 'd1', -Number.MAX_VALUE)]);
      const state = JSON.parse(JSON.stringify(engine.snapshot())) as AggregationState;
      expect(state.windows.map((w) => w.groups[0]?.aggregates)).toEqual([
        [null, ['Infinity', 2], ['Infinity', 2]],
        [null, ['-Infinity', 2], ['-Infinity', 2]],
      ]);
      const resumed = WindowedAggregation.build(config, state);
      expect(resumed.processBatch([reading(30, 'd1', -1)], { endOfInput: true }).emitted.map((w) => w.aggregates)).toEqual([
        { readings: 3, total: Infinity, mean: Infinity },
        { readings: 2, total: -Infinity, mean: -Infinity },
      ]);
    });

    it('refuse a state taken with another configuration, naming what changed', () => {
      const state = WindowedAggregation.build(perMinute).snapshot();
      expect(() => WindowedAggregation.build({ ...perMinute, watermarkDelayMs: 0 }, state)).toThrow(
        /Cannot resume the windowed aggregation: the snapshot was taken with a different watermarkDelayMs \(saved watermarkDelayMs=10000; now watermarkDelayMs=0\)\. Use a new checkpoint or reset this one\./,
      );
    });

    it('refuse a damaged state with a message that says where', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10)]);
      const state = engine.snapshot();
      state.windows[0].groups[0].aggregates = [null];
      expect(() => WindowedAggregation.build(perMinute, state)).toThrow(/window "per_minute" at \d+, key \["d1"\]: expected 2 aggregate states, found 1/);
    });
  });

  describe('bad input', () => {
    it('rejects a batch with an unparsed event time and leaves the state untouched', () => {
      const engine = WindowedAggregation.build(perMinute);
      engine.processBatch([reading(10)]);
      const before = engine.snapshot();
      expect(() => engine.processBatch([reading(20), { event_time: '2026-01-01T00:00:30Z' as unknown as number }])).toThrow(
        'Row 1 of the batch: event_time is "2026-01-01T00:00:30Z"; it must be epoch milliseconds (a finite number), so parse event times before the engine.',
      );
      expect(engine.snapshot()).toEqual(before);
      expect(engine.nextBatch).toBe(1);
    });

    it('rejects a non-numeric value in a numeric aggregate, naming the column and the fix', () => {
      const engine = WindowedAggregation.build(perMinute);
      expect(() => engine.processBatch([{ event_time: at(1), device: 'd1', value: 'hot' }])).toThrow(
        'Row 0 of the batch: value is "hot", but sum (total) needs a finite number or null; convert the column to numbers (timestamps as epoch milliseconds) before aggregating.',
      );
    });

    it('rejects a grouping key that is not a scalar', () => {
      const engine = WindowedAggregation.build(perMinute);
      expect(() => engine.processBatch([{ event_time: at(1), device: { id: 1 } as never }])).toThrow(/grouping column device is an object/);
    });
  });
});

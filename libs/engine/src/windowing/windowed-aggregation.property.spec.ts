import * as fc from 'fast-check';
import type { AggregationConfig } from './aggregation-config';
import type { EngineRow, EngineValue } from './engine-value';
import { referenceAggregation, windowsContaining } from './reference-aggregation';
import { WindowedAggregation, type BatchResult, type WindowResult } from './windowed-aggregation';

const keyValue = fc.constantFrom<EngineValue>('a', 'b', '1', 1, 2, 0, true, false, null);
const numberValue = fc.oneof(fc.integer({ min: -20, max: 20 }), fc.constantFrom<number | null>(null, 0.5, -1.5, -0));
const anyValue = fc.oneof(keyValue, numberValue);

/** Rows around the epoch (some before it) with columns sometimes missing, from three source partitions. */
const row: fc.Arbitrary<EngineRow> = fc.record(
  {
    event_time: fc.integer({ min: -80, max: 700 }),
    k1: keyValue,
    k2: keyValue,
    x: numberValue,
    y: anyValue,
    partition: fc.constantFrom('0', '1', '2'),
    captured: fc.integer({ min: 0, max: 400 }),
    // A session gap column: mostly positive, sometimes missing, zero or negative (no session).
    gap: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.constantFrom<number | null>(null, 0, -5, 2.5)),
  },
  { requiredKeys: ['event_time', 'partition', 'captured'] },
);

const windowNames = ['zeta', 'alpha', 'mid'];
/** Any slide up to the size (dividing it or not), with or without an offset below the slide. */
const windowDefinition = fc
  .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 150 }), fc.option(fc.nat(), { nil: undefined }), fc.boolean())
  .map(([slideMs, extra, offset, dividing]) => {
    // Up to 4 slides (whole or not) and 150 ms, so a row is in at most a few dozen windows.
    const sizeMs = dividing ? slideMs * (1 + (extra % 4)) : slideMs + (extra % Math.min(151, 3 * slideMs + 1));
    return offset === undefined ? { sizeMs, slideMs } : { sizeMs, slideMs, offsetMs: offset % slideMs };
  });

const aggregate = fc.oneof(
  fc.constant({ fn: 'count' as const }),
  fc.record({ fn: fc.constantFrom('sum' as const, 'min' as const, 'max' as const, 'avg' as const), column: fc.constant('x') }),
  fc.record({ fn: fc.constant('count_distinct' as const), column: fc.constantFrom('x', 'y', 'k1') }),
);

const config: fc.Arbitrary<AggregationConfig> = fc
  .record({
    windows: fc.array(windowDefinition, { minLength: 1, maxLength: 3 }).map((ws) => ws.map((w, i) => ({ name: windowNames[i], ...w }))),
    groupBy: fc.shuffledSubarray(['k1', 'k2']),
    aggregates: fc.array(aggregate, { minLength: 1, maxLength: 5 }).map((as) => as.map((a, i) => ({ name: `a${i}`, ...a }))),
    watermarkDelayMs: fc.integer({ min: 0, max: 150 }),
    // Either one partition (Spark's rule) or per-partition watermarks, with or without idleness.
    partitioned: fc.oneof(
      fc.constant({}),
      fc.record({ partitionColumn: fc.constant('partition'), captureTimeColumn: fc.constant('captured'), watermarkIdleTimeoutMs: fc.option(fc.integer({ min: 0, max: 300 })) }),
    ),
  })
  .map(({ partitioned, ...rest }) => ({ ...rest, ...partitioned }));

const sessionDefinition = fc.oneof(fc.record({ gapMs: fc.integer({ min: 1, max: 120 }) }), fc.constant({ gapColumn: 'gap' }));

/** Session windows, alone or beside fixed ones, in either or both output modes. */
const sessionConfig: fc.Arbitrary<AggregationConfig> = fc
  .record({
    base: config,
    sessions: fc.array(sessionDefinition, { minLength: 1, maxLength: 2 }).map((ss) => ss.map((w, i) => ({ name: ['visits', 'beta'][i], ...w }))),
    fixed: fc.integer({ min: 0, max: 2 }),
    outputModes: fc.constantFrom<AggregationConfig['outputModes']>(undefined, ['append'], ['update']),
  })
  .map(({ base, sessions, fixed, outputModes }) => ({ ...base, windows: base.windows.slice(0, fixed), sessions, ...(outputModes === undefined ? {} : { outputModes }) }));

const anyConfig = fc.oneof(config, sessionConfig);

const batches = fc.array(fc.array(row, { maxLength: 12 }), { maxLength: 8 });

function runAll(cfg: AggregationConfig, input: EngineRow[][]): BatchResult[] {
  const engine = WindowedAggregation.build(cfg);
  return input.map((rows) => engine.processBatch(rows));
}

const windowId = (w: WindowResult) => JSON.stringify([w.window, w.windowStart, w.key]);

describe('WindowedAggregation against a brute-force reference', () => {
  it('returns exactly the reference emitted, updated and late rows, batch by batch', () => {
    fc.assert(
      fc.property(config, batches, (cfg, input) => {
        expect(runAll(cfg, input)).toEqual(referenceAggregation(cfg, input));
      }),
      { numRuns: 300 },
    );
  });

  it('returns exactly the reference sessions: emitted, updated, superseded and late rows, batch by batch', () => {
    fc.assert(
      fc.property(sessionConfig, batches, (cfg, input) => {
        expect(runAll(cfg, input)).toEqual(referenceAggregation(cfg, input));
      }),
      { numRuns: 300 },
    );
  });

  it('gives identical outputs after a JSON round trip of snapshot() and build(resume) at any batch boundary', () => {
    fc.assert(
      fc.property(anyConfig, batches, fc.nat(), (cfg, input, cut) => {
        const boundary = input.length === 0 ? 0 : cut % (input.length + 1);
        const uninterrupted = WindowedAggregation.build(cfg);
        const expected = input.map((rows) => uninterrupted.processBatch(rows));

        const first = WindowedAggregation.build(cfg);
        input.slice(0, boundary).forEach((rows) => first.processBatch(rows));
        const saved = JSON.parse(JSON.stringify(first.snapshot())) as ReturnType<WindowedAggregation['snapshot']>;
        const resumed = WindowedAggregation.build(cfg, saved);
        expect(resumed.snapshot()).toEqual(saved);
        const rest = input.slice(boundary).map((rows) => resumed.processBatch(rows));

        expect(rest).toEqual(expected.slice(boundary));
        expect(JSON.stringify(resumed.snapshot())).toBe(JSON.stringify(uninterrupted.snapshot()));
      }),
      { numRuns: 200 },
    );
  });

  it('never lets the watermark regress, and applies each batch’s watermark as the next batch’s late threshold', () => {
    fc.assert(
      fc.property(anyConfig, batches, (cfg, input) => {
        const engine = WindowedAggregation.build(cfg);
        let previous = 0;
        for (const rows of input) {
          const result = engine.processBatch(rows);
          expect(result.lateThreshold).toBe(previous);
          expect(result.watermark).toBeGreaterThanOrEqual(previous);
          expect(engine.watermark).toBe(result.watermark);
          previous = result.watermark;
        }
      }),
    );
  });

  it('accounts for every (row, window) pair: aggregated into an emitted window or reported late for it', () => {
    fc.assert(
      fc.property(anyConfig, batches, (generated, input) => {
        const cfg: AggregationConfig = { ...generated, aggregates: [{ name: 'rows', fn: 'count' }], outputModes: ['append'] };
        const engine = WindowedAggregation.build(cfg);
        const results = input.map((rows) => engine.processBatch(rows));
        // The end of the input finalises every window the stream opened.
        results.push(engine.processBatch([], { endOfInput: true }));
        expect(engine.openWindows).toBe(0);
        for (const w of cfg.windows) {
          const rowsIn = input.flat().reduce((n, r) => n + windowsContaining(r.event_time, w).length, 0);
          const emitted = results.flatMap((r) => r.emitted.filter((e) => e.window === w.name)).reduce((n, e) => n + (e.aggregates['rows'] ?? 0), 0);
          const late = results.flatMap((r) => r.late.flatMap((l) => l.windows.filter((lw) => lw.window === w.name))).length;
          expect(emitted + late).toBe(rowsIn);
        }
        // Each row is in exactly one emitted session of each session window, or late for it.
        for (const w of cfg.sessions ?? []) {
          const emitted = results.flatMap((r) => r.emitted.filter((e) => e.window === w.name)).reduce((n, e) => n + (e.aggregates['rows'] ?? 0), 0);
          const late = results.flatMap((r) => r.late.flatMap((l) => l.windows.filter((lw) => lw.window === w.name))).length;
          expect(emitted + late).toBe(input.flat().length);
        }
      }),
    );
  });

  it('computes the same watermarks whether progress is observed from rows or merged from upstream', () => {
    fc.assert(
      fc.property(config, batches, (cfg, input) => {
        if (cfg.partitionColumn === undefined) return;
        const fromRows = WindowedAggregation.build(cfg);
        const upstream = WindowedAggregation.build(cfg);
        const merged = WindowedAggregation.build(cfg);
        for (const rows of input) {
          const expected = fromRows.processBatch(rows);
          upstream.processBatch(rows);
          // A shard sees only some of the rows, and the progress of all of them from upstream.
          const some = rows.filter((_, i) => i % 2 === 0);
          const result = merged.processBatch(some, { progress: upstream.eventTimeProgress });
          expect(result.watermark).toBe(expected.watermark);
        }
      }),
    );
  });

  it('reports in the last update of each window the values append mode emits for it', () => {
    fc.assert(
      fc.property(anyConfig, batches, (generated, input) => {
        const cfg: AggregationConfig = { ...generated, outputModes: ['append', 'update'] };
        const lastUpdate = new Map<string, WindowResult>();
        for (const result of runAll(cfg, input)) {
          for (const u of result.updated) lastUpdate.set(windowId(u), u);
          for (const e of result.emitted) {
            expect(lastUpdate.get(windowId(e))?.aggregates).toEqual(e.aggregates);
          }
        }
      }),
    );
  });
});

import { AggregationConfigError, validateAggregationConfig, type AggregationConfig } from './aggregation-config';

const valid: AggregationConfig = {
  windows: [
    { name: 'per_minute', sizeMs: 60_000, slideMs: 60_000 },
    { name: 'last_5m', sizeMs: 300_000, slideMs: 60_000 },
  ],
  groupBy: ['device_id'],
  aggregates: [
    { name: 'readings', fn: 'count' },
    { name: 'avg_temperature', fn: 'avg', column: 'temperature' },
  ],
  watermarkDelayMs: 30_000,
};

function problemsOf(config: AggregationConfig): string[] {
  try {
    validateAggregationConfig(config);
  } catch (error) {
    if (error instanceof AggregationConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateAggregationConfig', () => {
  it('accepts tumbling and hopping windows and defaults to computing both output modes', () => {
    const { logic, outputModes } = validateAggregationConfig(valid);
    expect(logic).toEqual({
      windows: valid.windows,
      groupBy: valid.groupBy,
      aggregates: valid.aggregates,
      watermarkDelayMs: 30_000,
      watermarkIdleTimeoutMs: null,
      partitionColumn: null,
      captureTimeColumn: null,
    });
    expect([...outputModes]).toEqual(['append', 'update']);
  });

  it('lists every problem at once, each with its fix', () => {
    const problems = problemsOf({
      windows: [
        { name: 'a', sizeMs: 0, slideMs: 10 },
        { name: 'b', sizeMs: 60_000, slideMs: 25_000, offsetMs: 25_000 },
        { name: 'b', sizeMs: 60_000, slideMs: 60_000 },
      ],
      groupBy: ['k', 'k'],
      aggregates: [
        { name: 's', fn: 'sum' },
        { name: 'c', fn: 'count', column: 'x' },
        { name: 's', fn: 'max', column: 'x' },
        { name: 'm', fn: 'median' as never, column: 'x' },
      ],
      watermarkDelayMs: undefined as unknown as number,
    });
    expect(problems).toEqual([
      'windows[0] (a): sizeMs must be a positive whole number of milliseconds, got 0',
      'windows[1] (b): offsetMs 25000 is not shorter than slideMs 25000; an offset of 0 gives the same windows',
      'window name "b" appears more than once; give each a distinct name',
      'groupBy column "k" appears more than once; give each a distinct name',
      'aggregates[0] (s): sum needs the column it reads; add column',
      'aggregates[1] (c): count counts rows and takes no column; remove column (or use count_distinct)',
      'aggregates[3] (m): fn must be one of count, sum, min, max, avg, count_distinct, got "median"',
      'aggregate name "s" appears more than once; give each a distinct name',
      'watermarkDelayMs must be stated as a whole number of milliseconds ≥ 0 (0 for no delay), got undefined',
    ]);
  });

  it('accepts a slide that does not divide the size and an offset below the slide, and keeps a zero offset out of the logic', () => {
    const { logic } = validateAggregationConfig({
      ...valid,
      windows: [
        { name: 'uneven', sizeMs: 10_000, slideMs: 3_000, offsetMs: 2_000 },
        { name: 'aligned', sizeMs: 60_000, slideMs: 60_000, offsetMs: 0 },
      ],
    });
    expect(logic.windows).toEqual([
      { name: 'uneven', sizeMs: 10_000, slideMs: 3_000, offsetMs: 2_000 },
      { name: 'aligned', sizeMs: 60_000, slideMs: 60_000 },
    ]);
  });

  it('rejects a negative or fractional offset, and a slide longer than the size', () => {
    expect(problemsOf({ ...valid, windows: [{ name: 'w', sizeMs: 10, slideMs: 10, offsetMs: -5 }] })).toEqual([
      'windows[0] (w): offsetMs must be a whole number of milliseconds ≥ 0 (0 or absent aligns windows to the epoch), got -5',
    ]);
    expect(problemsOf({ ...valid, windows: [{ name: 'w', sizeMs: 10, slideMs: 10, offsetMs: 0.5 }] })).toHaveLength(1);
    expect(problemsOf({ ...valid, windows: [{ name: 'w', sizeMs: 10, slideMs: 20 }] })).toEqual([
      'windows[0] (w): slideMs 20 is longer than sizeMs 10: windows would leave gaps; use a slide no longer than the size',
    ]);
  });

  it('requires at least one window and one aggregate', () => {
    expect(problemsOf({ ...valid, windows: [], aggregates: [] })).toEqual([
      'windows is empty; define at least one window, e.g. { name: "per_minute", sizeMs: 60000, slideMs: 60000 }',
      'aggregates is empty; define at least one, e.g. { name: "rows", fn: "count" }',
    ]);
  });

  it('rejects an empty or unknown list of output modes', () => {
    expect(problemsOf({ ...valid, outputModes: [] })).toEqual([expect.stringMatching(/^outputModes must be a non-empty list of "append" and\/or "update"/)]);
    expect(problemsOf({ ...valid, outputModes: ['complete' as never] })).toHaveLength(1);
  });

  it('names the problems in the error message', () => {
    expect(() => validateAggregationConfig({ ...valid, watermarkDelayMs: -1 })).toThrow(
      /Invalid windowed aggregation configuration \(1 problem\):\n {2}- watermarkDelayMs must be stated/,
    );
  });
});

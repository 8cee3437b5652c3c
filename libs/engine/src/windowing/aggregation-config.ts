/**
 * What a windowed aggregation computes, as plain data: window definitions, grouping columns,
 * aggregates and the watermark delay (always stated, never defaulted). `validateAggregationConfig`
 * lists every problem at once and returns a normalised copy the engine can trust.
 */
import { sessionDefinitionProblems, type SessionWindowDefinition } from './session-windows';
import { windowDefinitionProblems } from './window';

export type AggregateFn = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'count_distinct';

export const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'min', 'max', 'avg', 'count_distinct'];

/** append: final windows, once. update: every window a batch changed. */
export type AggregationOutputMode = 'append' | 'update';

export interface AggregationConfig {
  /** Tumbling: `slideMs` = `sizeMs`. Any slide up to the size; `offsetMs` (0 ≤ offset < slide) shifts the windows from the epoch. */
  windows: Array<{ name: string; sizeMs: number; slideMs: number; offsetMs?: number }>;
  /** Session windows (session-windows.ts); their names share one namespace with `windows`. */
  sessions?: SessionWindowDefinition[];
  groupBy: string[];
  /** `column` is required for every function but `count`, which counts rows. */
  aggregates: Array<{ name: string; fn: AggregateFn; column?: string }>;
  /** How far behind the latest event time the watermark trails (0 for no delay). */
  watermarkDelayMs: number;
  /**
   * How much capture time without rows makes a source partition idle, so it stops holding the
   * watermark (see partition-watermarks.ts); null or absent: partitions never go idle.
   */
  watermarkIdleTimeoutMs?: number | null;
  /** The row field naming the row's source partition; absent: every row is of one partition. */
  partitionColumn?: string;
  /** The row field holding the row's capture time (epoch ms), which measures idleness. */
  captureTimeColumn?: string;
  /** Which outputs to compute (default both); state is evicted the same way either way. */
  outputModes?: AggregationOutputMode[];
}

/** The validated configuration, as stored in snapshots (output modes do not change state). */
export interface AggregationLogic {
  /** `offsetMs` only when not 0, so snapshots of epoch-aligned windows read the same as before offsets existed. */
  windows: Array<{ name: string; sizeMs: number; slideMs: number; offsetMs?: number }>;
  /** Present only when there are session windows, so the logic of the others reads as before. */
  sessions?: SessionWindowDefinition[];
  groupBy: string[];
  aggregates: Array<{ name: string; fn: AggregateFn; column?: string }>;
  watermarkDelayMs: number;
  watermarkIdleTimeoutMs: number | null;
  partitionColumn: string | null;
  captureTimeColumn: string | null;
}

export class AggregationConfigError extends Error {
  override readonly name = 'AggregationConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid windowed aggregation configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

function checkUnique(names: unknown[], what: string, problems: string[]): void {
  const seen = new Set<unknown>();
  for (const name of names) {
    if (seen.has(name)) problems.push(`${what} ${JSON.stringify(name)} appears more than once; give each a distinct name`);
    seen.add(name);
  }
}

/** Validates `config`, throwing an `AggregationConfigError` that lists every problem. */
export function validateAggregationConfig(config: AggregationConfig): { logic: AggregationLogic; outputModes: ReadonlySet<AggregationOutputMode> } {
  const problems: string[] = [];
  const windows = Array.isArray(config.windows) ? config.windows : [];
  const groupBy = Array.isArray(config.groupBy) ? config.groupBy : [];
  const aggregates = Array.isArray(config.aggregates) ? config.aggregates : [];
  const sessions = Array.isArray(config.sessions) ? config.sessions : [];
  if (config.sessions !== undefined && !Array.isArray(config.sessions)) problems.push('sessions must be a list of { name, gapMs } or { name, gapColumn }');
  if (!Array.isArray(config.windows)) problems.push('windows must be a list of { name, sizeMs, slideMs, offsetMs? }');
  else if (windows.length === 0 && sessions.length === 0) problems.push('windows is empty; define at least one window, e.g. { name: "per_minute", sizeMs: 60000, slideMs: 60000 }');
  if (!Array.isArray(config.groupBy)) problems.push('groupBy must be a list of column names ([] for one global group)');
  if (!Array.isArray(config.aggregates)) problems.push('aggregates must be a list of { name, fn, column }');
  else if (aggregates.length === 0) problems.push('aggregates is empty; define at least one, e.g. { name: "rows", fn: "count" }');

  windows.forEach((w, i) => {
    if (!isNonEmptyString(w.name)) problems.push(`windows[${i}].name must be a non-empty string`);
    for (const p of windowDefinitionProblems(w)) problems.push(`windows[${i}] (${String(w.name)}): ${p}`);
  });
  sessions.forEach((s, i) => {
    if (!isNonEmptyString(s.name)) problems.push(`sessions[${i}].name must be a non-empty string`);
    for (const p of sessionDefinitionProblems(s)) problems.push(`sessions[${i}] (${String(s.name)}): ${p}`);
  });
  checkUnique([...windows.map((w) => w.name), ...sessions.map((s) => s.name)], 'window name', problems);

  groupBy.forEach((column, i) => {
    if (!isNonEmptyString(column)) problems.push(`groupBy[${i}] must be a non-empty column name`);
    else if (column === 'event_time') problems.push('groupBy cannot use event_time; group by the window instead');
  });
  checkUnique(groupBy, 'groupBy column', problems);

  aggregates.forEach((a, i) => {
    const label = `aggregates[${i}] (${String(a.name)})`;
    if (!isNonEmptyString(a.name)) problems.push(`aggregates[${i}].name must be a non-empty string`);
    if (!AGGREGATE_FNS.includes(a.fn)) problems.push(`${label}: fn must be one of ${AGGREGATE_FNS.join(', ')}, got ${JSON.stringify(a.fn)}`);
    else if (a.fn === 'count') {
      if (a.column !== undefined) problems.push(`${label}: count counts rows and takes no column; remove column (or use count_distinct)`);
    } else if (!isNonEmptyString(a.column)) problems.push(`${label}: ${a.fn} needs the column it reads; add column`);
  });
  checkUnique(
    aggregates.map((a) => a.name),
    'aggregate name',
    problems,
  );

  if (typeof config.watermarkDelayMs !== 'number' || !Number.isSafeInteger(config.watermarkDelayMs) || config.watermarkDelayMs < 0) {
    problems.push(`watermarkDelayMs must be stated as a whole number of milliseconds ≥ 0 (0 for no delay), got ${String(config.watermarkDelayMs)}`);
  }

  const idle = config.watermarkIdleTimeoutMs;
  if (idle !== undefined && idle !== null && (typeof idle !== 'number' || !Number.isSafeInteger(idle) || idle < 0)) {
    problems.push(`watermarkIdleTimeoutMs must be a whole number of milliseconds ≥ 0, or null for partitions that never go idle, got ${String(idle)}`);
  }
  for (const key of ['partitionColumn', 'captureTimeColumn'] as const) {
    const column = config[key];
    if (column !== undefined && !isNonEmptyString(column)) problems.push(`${key} must be a non-empty column name when given, got ${JSON.stringify(column)}`);
  }

  const modes = config.outputModes ?? ['append', 'update'];
  if (!Array.isArray(modes) || modes.length === 0 || modes.some((m) => m !== 'append' && m !== 'update')) {
    problems.push(`outputModes must be a non-empty list of "append" and/or "update" (or left out for both), got ${JSON.stringify(config.outputModes)}`);
  }

  if (problems.length > 0) throw new AggregationConfigError(problems);
  return {
    logic: {
      windows: windows.map((w) =>
        w.offsetMs === undefined || w.offsetMs === 0
          ? { name: w.name, sizeMs: w.sizeMs, slideMs: w.slideMs }
          : { name: w.name, sizeMs: w.sizeMs, slideMs: w.slideMs, offsetMs: w.offsetMs },
      ),
      ...(sessions.length === 0
        ? {}
        : { sessions: sessions.map((s) => (s.gapColumn === undefined ? { name: s.name, gapMs: s.gapMs } : { name: s.name, gapColumn: s.gapColumn })) }),
      groupBy: [...groupBy],
      aggregates: aggregates.map((a) => (a.column === undefined ? { name: a.name, fn: a.fn } : { name: a.name, fn: a.fn, column: a.column })),
      watermarkDelayMs: config.watermarkDelayMs,
      watermarkIdleTimeoutMs: idle ?? null,
      partitionColumn: config.partitionColumn ?? null,
      captureTimeColumn: config.captureTimeColumn ?? null,
    },
    outputModes: new Set(modes),
  };
}

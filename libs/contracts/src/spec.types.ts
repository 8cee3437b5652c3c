/**
 * The pipeline spec: the one YAML file a user writes for their data. `parseSpec` turns text into a
 * `PipelineSpec` (all durations in milliseconds, all defaults filled in) or throws a
 * `SpecValidationError` that lists every problem at once.
 */

export type ColumnType = 'string' | 'long' | 'double' | 'boolean' | 'timestamp';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** A row whose value is empty/missing for a non-nullable column is quarantined by silver. */
  nullable: boolean;
}

export interface SourceSpec {
  /** Stable source name: part of derived event ids and the `source` event property. */
  name: string;
  format: 'csv';
  delimiter: string;
  /** Whether the first CSV record is a header (its names must match `columns`, in any order). */
  header: boolean;
  columns: ColumnSpec[];
}

/**
 * How to read event time from the `column`:
 * - `iso8601`: e.g. `2026-01-01T00:00:10Z`; a value without an offset is read in `timeZone`.
 * - `epoch_millis` / `epoch_seconds`: numbers (seconds may have a fraction).
 * - any other string is a pattern of `yyyy MM dd HH mm ss SSS` and literal characters, read in `timeZone`.
 */
export interface EventTimeSpec {
  column: string;
  format: string;
  /** IANA time zone name, e.g. `UTC` or `Europe/Paris`. */
  timeZone: string;
}

export type EventIdSpec =
  | { kind: 'column'; column: string }
  /** Deterministic id from the source name and the row number: the same row always gets the same id. */
  | { kind: 'derived' };

export type AggregateFunction = 'count' | 'sum' | 'min' | 'max' | 'avg' | 'count_distinct';

export interface AggregateSpec {
  /** Output column name. */
  name: string;
  fn: AggregateFunction;
  /** Input column; absent only for `count` (counts rows). */
  column?: string;
}

/**
 * `slideMs` is any duration up to the size; `offsetMs` (0 < offset < slide, Spark's startTime) shifts
 * the window starts from the epoch grid, and is absent for an offset of 0.
 */
export type WindowSpec =
  | { name: string; kind: 'tumbling'; sizeMs: number; offsetMs?: number }
  | { name: string; kind: 'hopping'; sizeMs: number; slideMs: number; offsetMs?: number };

/**
 * A session window (Spark's `session_window`): a key's events closer than the gap form one
 * session, from the first event to the last event + gap. The gap is one duration (`gapMs`) or each
 * row's value of a long column, in milliseconds (`gapColumn`).
 */
export type SessionWindowSpec = { name: string; kind: 'session'; gapMs: number } | { name: string; kind: 'session'; gapColumn: string };

export type OutputMode = 'append' | 'update';

export interface PipelineSpec {
  version: 1;
  /** Pipeline name: lowercase letters, digits and dashes; used in lake paths and entity names. */
  name: string;
  source: SourceSpec;
  eventTime: EventTimeSpec;
  eventId: EventIdSpec;
  /** Column whose value is the event hub partition key. */
  partitionKey: string;
  /** Grouping key columns of the gold aggregates (may be empty: one global group). */
  groupBy: string[];
  /** Fixed (tumbling, hopping) and session windows, in spec order. */
  windows: Array<WindowSpec | SessionWindowSpec>;
  aggregates: AggregateSpec[];
  /**
   * delayMs: how far the watermark trails each partition's newest event time. idleTimeoutMs: how
   * much capture time without rows makes a partition idle, so it no longer holds the watermark.
   */
  watermark: { delayMs: number; idleTimeoutMs: number };
  gold: { shards: number; outputModes: OutputMode[] };
}

/** One problem found in a spec file: where, what was expected, what was found. */
export interface SpecProblem {
  /** Path inside the document, e.g. `windows[1].slide`. Empty for the document itself. */
  path: string;
  /** 1-based line and column in the file, when known. */
  line?: number;
  column?: number;
  expected: string;
  /** What the file has there (`missing` when absent). */
  found: string;
}

export class SpecValidationError extends Error {
  override readonly name = 'SpecValidationError';
  constructor(
    readonly file: string,
    readonly problems: SpecProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the pipeline spec:\n` +
        problems
          .map(
            (p) =>
              `  - ${p.line !== undefined ? `line ${p.line}${p.column !== undefined ? `:${p.column}` : ''} ` : ''}${p.path || '(document)'}: expected ${p.expected}, found ${p.found}`,
          )
          .join('\n'),
    );
  }
}

/**
 * `pipeline simulate`: runs gold's event-time engine over hand-written batches, without services or
 * a lake, to see what a spec's windows, watermark and output mode do with late and out-of-order
 * rows. One input line is one batch; one output line per batch says what the batch emitted.
 *
 * Rows may name their source partition (`partition`) and capture time (`capture_time`), so the
 * per-partition watermark and idleness can be tried too. Each of the two fields is on every row or
 * on none (without partitions the input is one partition, Spark's rule): unnamed rows among named
 * ones would form a partition of their own, and a partition without capture times would count as
 * silent since the stream started, so a mix would move the watermark for no visible reason.
 *
 * Rows are typed as silver types them: each value of a spec column is cast to the column's type with
 * silver's own caster (libs/transform cast.ts), so `1` and `"1"` in a string column are one key, as
 * they are in the silver table, and a value silver would quarantine (`cast_error`, or
 * `missing_value` for an absent non-nullable column) stops the run naming the row and the reason.
 * The event-time column (read from `event_time`, as above) and an event id column are not cast:
 * the simulator neither reads the spec's event-time format nor de-duplicates.
 * Session windows print like the others, one line per (key, session), with the session's
 * `duration`; in update mode a batch also lists the sessions it `superseded` (a merge moved their
 * start or absorbed them), so the sessions per key can be followed batch by batch.
 *
 * Each input line is checked whole before the engine sees it, so a batch is processed entirely or
 * not at all; the first bad line stops the run with exit code 1 and a message naming the line and
 * the fix (the lines before it have been printed, as a stream would have processed them).
 */
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import {
  aggregationConfigOf,
  compileEventTimeParser,
  timestampMillis,
  formatDuration,
  sessionWindowsOf,
  isEventTimeError,
  MAX_EPOCH_MS,
  SpecValidationError,
  type EventTimeColumns,
  type EventTimeParser,
  type PipelineSpec,
} from '@pipeline/contracts';
import { loadSpecFile, SpecFileError } from '@pipeline/config';
import { InvalidRowError, WindowedAggregation, type AggregationConfig, type EngineRow, type EngineValue, type WindowResult } from '@pipeline/engine';
import { CastFailure, columnCaster, type ColumnCaster } from '@pipeline/transform';

export interface SimulateOptions {
  /** Pipeline spec (YAML): windows, groupBy, aggregates, watermark. */
  specFile: string;
  /** JSONL, one batch per line: `{"rows": [{"event_time": …, …}]}`. */
  inputFile: string;
  mode: 'append' | 'update';
}

type JsonRow = Record<string, EngineValue>;

const BATCH_EXAMPLE = '{"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}]}';

/** The row fields that hold a row's source partition and capture time in the simulator's input. */
export const SIMULATE_EVENT_TIME_COLUMNS: EventTimeColumns = { partitionColumn: 'partition', captureTimeColumn: 'capture_time' };

export const simulateCommandHelp = `
Each line of the input file is one batch, as gold would receive it:
  {"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}, ...]}
event_time is ISO-8601 (without an offset it is read in the spec's eventTime.timeZone) or epoch
milliseconds; the other fields are the columns the spec groups by and aggregates, cast to the spec's
column types as silver casts them (1 and "1" in a string column are one key; a value silver would
quarantine, such as "hot" in a double column, stops the run). {"rows": []} is a no-data batch. Rows may also give their source partition, "partition": "0" (a string or a number;
without it the input is one partition), and their "capture_time" (written like event_time), the time
the spec's watermark.idleTimeout is measured in: each field on every row or on none. Each output
line is one batch:
  {"batch": 0, "watermark": "<ISO-8601>", "emitted": [...], "late": [...], "rowsDroppedByWatermark": 0, "numRowsDroppedByWatermark": 0}
The watermark is, at the end of each batch, the lowest (max event time − delay) over the partitions
that are not idle; it starts at 0 and never goes back. With partitions, each line also says
  "partitions": {"0": {"maxEventTime": "<ISO-8601>", "captureTime": "<ISO-8601>"}, ...}, "holdingPartition": "0", "idlePartitions": []
(captureTime null for rows without capture_time); a partition is idle after idleTimeout of capture
time without rows. append mode emits each window once, when the watermark passes its end; update
mode emits every window the batch changed. Late rows (window end ≤ the previous batch's watermark)
are listed as given and not aggregated: rowsDroppedByWatermark counts them, numRowsDroppedByWatermark
the (window, key) aggregates they would have updated (Spark's metric). examples/simulate/partitions.jsonl,
with partitions.spec.yaml, shows two partitions, one running ahead, then idle.

Example (examples/simulate: a 1-minute tumbling window per device, a 10s watermark delay):
  $ cat examples/simulate/batches.jsonl
  {"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}, {"event_time": "2026-01-01T00:01:05Z", "device_id": "d1", "temperature": 21}]}
  {"rows": [{"event_time": "2026-01-01T00:01:20Z", "device_id": "d1", "temperature": 22}]}
  {"rows": [{"event_time": "2026-01-01T00:00:50Z", "device_id": "d1", "temperature": 30}]}
  $ pipeline simulate --spec examples/simulate/spec.yaml --input examples/simulate/batches.jsonl
  {"batch":0,"watermark":"2026-01-01T00:00:55.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0}
  {"batch":1,"watermark":"2026-01-01T00:01:10.000Z","emitted":[{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d1","readings":1,"avg_temperature":20,"max_temperature":20}],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0}
  {"batch":2,"watermark":"2026-01-01T00:01:10.000Z","emitted":[],"late":[{"event_time":"2026-01-01T00:00:50Z","device_id":"d1","temperature":30}],"rowsDroppedByWatermark":1,"numRowsDroppedByWatermark":1}
`;

/** The engine configuration of a spec, as gold builds it, reading partitions and capture times from the simulator's fields. */
export function simulationConfig(spec: PipelineSpec, mode: SimulateOptions['mode']): AggregationConfig {
  return aggregationConfigOf(spec, [mode], SIMULATE_EVENT_TIME_COLUMNS);
}

class InputError extends Error {}

/** Output columns of one window, in order; a name used twice would make a row ambiguous. */
function outputColumns(spec: PipelineSpec): string[] {
  const duration = sessionWindowsOf(spec).length > 0 ? ['duration'] : [];
  return ['window_start', 'window_end', ...duration, ...(spec.windows.length > 1 ? ['window'] : []), ...spec.groupBy, ...spec.aggregates.map((a) => a.name)];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** Row `i`'s event_time or capture_time, given as ISO-8601 or epoch milliseconds, as epoch milliseconds. */
function readTime(raw: string | number, i: number, column: 'event_time' | 'capture_time', parseTime: EventTimeParser): number {
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) throw new InputError(`rows[${i}].${column} ${raw} is not a finite number of epoch milliseconds`);
    // A time a Date can hold (±8.64e15 ms, about ±275,000 years), as silver's epoch-millisecond reading requires.
    if (Math.abs(raw) > MAX_EPOCH_MS) throw new InputError(`rows[${i}].${column} ${raw} is out of range: epoch milliseconds go from ${-MAX_EPOCH_MS} to ${MAX_EPOCH_MS}`);
    return raw;
  }
  const parsed = parseTime(raw);
  if (isEventTimeError(parsed)) {
    const message = column === 'event_time' ? parsed.message : parsed.message.replace(/^the event time/, 'the capture time');
    throw new InputError(`rows[${i}].${column}: ${message}, nor epoch milliseconds such as 1767225610000`);
  }
  return parsed;
}

type OptionalField = 'partition' | 'capture_time';

/** A spec column's name and silver's caster for it. */
type ColumnType = { name: string; cast: ColumnCaster };

/**
 * Silver's casters for the spec columns the simulator takes as given: every column but the
 * event-time column (read from `event_time`) and an event id column (nothing is de-duplicated).
 */
export function simulatedColumnTypes(spec: PipelineSpec): ColumnType[] {
  const skipped = new Set(['event_time', spec.eventTime.column, ...(spec.eventId.kind === 'column' ? [spec.eventId.column] : [])]);
  return spec.source.columns.filter((c) => !skipped.has(c.name)).map((c) => ({ name: c.name, cast: columnCaster(c, spec.eventTime.timeZone) }));
}

/**
 * `row` with each spec column's value cast as silver casts it; an error with silver's quarantine
 * reason (that of the first failing column, as silver decides) and every failing column otherwise.
 */
function typedRow(row: EngineRow, i: number, columns: readonly ColumnType[]): EngineRow {
  const typed: Record<string, unknown> = { ...row };
  const failures: CastFailure[] = [];
  for (const { name, cast } of columns) {
    const value = cast(row[name]);
    if (value instanceof CastFailure) failures.push(value);
    // Gold reads silver's timestamps as epoch milliseconds.
    else typed[name] = typeof value === 'bigint' ? timestampMillis(value) : value;
  }
  if (failures.length > 0) {
    throw new InputError(`rows[${i}] would be quarantined by silver as ${failures[0].reason}: ${failures.map((f) => f.message).join('; ')}`);
  }
  return typed as EngineRow;
}

/**
 * Reads input lines into batches, and holds what the first row decided: whether rows have a
 * partition and a capture_time (then every row must).
 */
class BatchReader {
  private readonly decided = new Map<OptionalField, { given: boolean; line: number }>();

  constructor(
    private readonly parseTime: EventTimeParser,
    private readonly columns: readonly ColumnType[],
  ) {}

  /** Whether the rows so far name their partitions. */
  get partitioned(): boolean {
    return this.decided.get('partition')?.given === true;
  }

  /** Parses one input line into the rows as given and the rows the engine takes. */
  read(text: string, lineNumber: number): { given: JsonRow[]; rows: EngineRow[] } {
    let batch: unknown;
    try {
      batch = JSON.parse(text);
    } catch (error) {
      throw new InputError(`is not valid JSON (${(error as Error).message}). Write each batch on one line, e.g. ${BATCH_EXAMPLE}`);
    }
    if (!isPlainObject(batch) || !Array.isArray(batch['rows'])) {
      throw new InputError(`must be an object with a "rows" list, e.g. ${BATCH_EXAMPLE} ({"rows": []} for a batch without data)`);
    }
    const given = batch['rows'] as unknown[];
    const rows = given.map((row, i): EngineRow => {
      if (!isPlainObject(row)) throw new InputError(`rows[${i}] must be an object of column values, e.g. {"event_time": "2026-01-01T00:00:10Z", "device_id": "d1"}`);
      for (const [column, value] of Object.entries(row)) {
        if (value !== null && typeof value === 'object')
          throw new InputError(`rows[${i}].${column} is a nested ${Array.isArray(value) ? 'list' : 'object'}; give a string, number, boolean or null`);
      }
      const raw = row['event_time'];
      if (typeof raw !== 'number' && typeof raw !== 'string') {
        throw new InputError(
          `rows[${i}].event_time is ${raw === undefined ? 'missing' : JSON.stringify(raw)}; every row needs an event_time, e.g. "2026-01-01T00:00:10Z" or epoch milliseconds such as 1767225610000`,
        );
      }
      const eventTime = readTime(raw, i, 'event_time', this.parseTime);
      const partition = row['partition'];
      if (partition !== undefined && !((typeof partition === 'string' && partition !== '') || (typeof partition === 'number' && Number.isFinite(partition)))) {
        throw new InputError(`rows[${i}].partition is ${JSON.stringify(partition)}; name the source partition with a string or a number, e.g. "0" or 0`);
      }
      this.checkPresence('partition', row, i, lineNumber);
      const capture = row['capture_time'];
      if (capture !== undefined && typeof capture !== 'number' && typeof capture !== 'string') {
        throw new InputError(
          `rows[${i}].capture_time is ${JSON.stringify(capture)}; give the time the row was captured like an event_time, e.g. "2026-01-01T00:00:12Z" or epoch milliseconds`,
        );
      }
      const captureTime = capture === undefined ? undefined : readTime(capture, i, 'capture_time', this.parseTime);
      this.checkPresence('capture_time', row, i, lineNumber);
      // The engine reads capture times as epoch milliseconds, like event times.
      return captureTime === undefined ? { ...(row as JsonRow), event_time: eventTime } : { ...(row as JsonRow), event_time: eventTime, capture_time: captureTime };
    });
    // Types after the shape of every row is checked, so a batch's first problem is reported first.
    return { given: given as JsonRow[], rows: rows.map((row, i) => typedRow(row, i, this.columns)) };
  }

  /** The first row decides whether rows have `field`; every later row must agree. */
  private checkPresence(field: OptionalField, row: Record<string, unknown>, i: number, lineNumber: number): void {
    const given = row[field] !== undefined;
    const first = this.decided.get(field) ?? { given, line: lineNumber };
    this.decided.set(field, first);
    if (given === first.given) return;
    const without = field === 'partition' ? 'none, which makes them one partition' : 'none';
    throw new InputError(
      given
        ? `rows[${i}].${field} is ${JSON.stringify(row[field])}, but the rows from line ${first.line} on have ${without}; give every row a ${field}, or none`
        : `rows[${i}] has no ${field}, but the rows from line ${first.line} on have one; give every row a ${field}, or none`,
    );
  }
}

function windowLine(spec: PipelineSpec, w: WindowResult, sessions: ReadonlySet<string>): Record<string, EngineValue> {
  const line: Record<string, EngineValue> = { window_start: iso(w.windowStart), window_end: iso(w.windowEnd) };
  if (sessions.has(w.window)) line['duration'] = durationText(w.windowEnd - w.windowStart);
  if (spec.windows.length > 1) line['window'] = w.window;
  for (const column of spec.groupBy) line[column] = w.key[column] ?? null;
  for (const a of spec.aggregates) line[a.name] = w.aggregates[a.name] ?? null;
  return line;
}

/** A session's length in the spec's duration syntax (`7m30s`); a gap column may give fractions of a millisecond. */
function durationText(ms: number): string {
  return Number.isSafeInteger(ms) ? formatDuration(ms) : `${ms}ms`;
}

interface EventTimeLine {
  partitions: Record<string, { maxEventTime: string | null; captureTime: string | null }>;
  holdingPartition: string | null;
  idlePartitions: string[];
}

/** Each partition's progress, the partition holding the watermark back and the idle ones. */
function eventTimeLine(engine: WindowedAggregation): EventTimeLine {
  const partitions: EventTimeLine['partitions'] = {};
  for (const [id, p] of Object.entries(engine.eventTimeProgress.partitions)) partitions[id] = { maxEventTime: isoOrNull(p.maxEventTime), captureTime: isoOrNull(p.captureTime) };
  const { holdingPartition, idlePartitions } = engine.eventTimeStatus;
  return { partitions, holdingPartition, idlePartitions };
}

async function write(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/**
 * Runs the batches of `inputFile` through the engine built from `specFile` and writes one JSON line
 * per batch to `out`. Returns the exit code: 0, or 1 after writing the problem to `err`.
 */
export async function simulate(options: SimulateOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let spec: PipelineSpec;
  try {
    spec = await loadSpecFile(options.specFile);
  } catch (error) {
    if (error instanceof SpecValidationError || error instanceof SpecFileError) {
      err.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const columns = outputColumns(spec);
  const clash = columns.find((c, i) => columns.indexOf(c) !== i);
  if (clash !== undefined) {
    err.write(`${options.specFile}: "${clash}" would be two columns of the simulated output (${columns.join(', ')}); rename the groupBy column, aggregate or window.\n`);
    return 1;
  }

  let file: FileHandle;
  try {
    file = await open(options.inputFile, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    err.write(
      code === 'ENOENT'
        ? `Input ${options.inputFile} does not exist. Pass --input with a JSONL file of batches, one per line: ${BATCH_EXAMPLE}\n`
        : `Cannot read input ${options.inputFile}: ${(error as Error).message}\n`,
    );
    return 1;
  }

  const engine = WindowedAggregation.build(simulationConfig(spec, options.mode));
  const sessions = new Set(sessionWindowsOf(spec).map((w) => w.name));
  const reader = new BatchReader(compileEventTimeParser({ format: 'iso8601', timeZone: spec.eventTime.timeZone }), simulatedColumnTypes(spec));
  const lines = createInterface({ input: file.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const text of lines) {
      lineNumber++;
      // Blank lines (e.g. a trailing one) separate nothing and are skipped; {"rows": []} is a no-data batch.
      if (text.trim() === '') continue;
      const { given, rows } = reader.read(text, lineNumber);
      const byRow = new Map<EngineRow, JsonRow>(rows.map((row, i) => [row, given[i]]));
      let result;
      try {
        result = engine.processBatch(rows);
      } catch (error) {
        if (error instanceof InvalidRowError) throw new InputError(`rows[${error.rowIndex}]: ${error.reason}`);
        throw error;
      }
      const windows = options.mode === 'append' ? result.emitted : result.updated;
      const line: Record<string, unknown> = {
        batch: result.batch,
        watermark: iso(result.watermark),
        emitted: windows.map((w) => windowLine(spec, w, sessions)),
        late: result.late.map((l) => byRow.get(l.row)),
        rowsDroppedByWatermark: result.rowsDroppedByWatermark,
        numRowsDroppedByWatermark: result.numRowsDroppedByWatermark,
      };
      if (options.mode === 'update' && sessions.size > 0) {
        line['superseded'] = (result.superseded ?? []).map((s) => {
          const entry: Record<string, EngineValue> = { window_start: iso(s.windowStart) };
          if (spec.windows.length > 1) entry['window'] = s.window;
          for (const column of spec.groupBy) entry[column] = s.key[column] ?? null;
          return entry;
        });
      }
      // Without partitions the line stays as it was: the one partition is the watermark.
      if (reader.partitioned) Object.assign(line, eventTimeLine(engine));
      await write(out, `${JSON.stringify(line)}\n`);
    }
  } catch (error) {
    if (error instanceof InputError) {
      err.write(`${options.inputFile}:${lineNumber}: ${error.message.replace(/\.$/, '')}. Nothing from line ${lineNumber} on was processed; fix the line and run again.\n`);
      return 1;
    }
    if (typeof (error as NodeJS.ErrnoException).code === 'string') {
      err.write(`Cannot read input ${options.inputFile}: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  } finally {
    lines.close();
    await file.close();
  }
  return 0;
}

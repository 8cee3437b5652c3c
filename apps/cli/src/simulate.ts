/**
 * `pipeline simulate`: runs gold's event-time engine over hand-written batches, without services or
 * a lake, to see what a spec's windows, watermark and output mode do with late and out-of-order
 * rows. One input line is one batch; one output line per batch says what the batch emitted.
 *
 * Each input line is checked whole before the engine sees it, so a batch is processed entirely or
 * not at all; the first bad line stops the run with exit code 1 and a message naming the line and
 * the fix (the lines before it have been printed, as a stream would have processed them).
 */
import { once } from 'node:events';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { aggregationConfigOf, compileEventTimeParser, isEventTimeError, SpecValidationError, type EventTimeParser, type PipelineSpec } from '@pipeline/contracts';
import { loadSpecFile, SpecFileError } from '@pipeline/config';
import { InvalidRowError, WindowedAggregation, type AggregationConfig, type EngineRow, type EngineValue, type WindowResult } from '@pipeline/engine';

export interface SimulateOptions {
  /** Pipeline spec (YAML): windows, groupBy, aggregates, watermark. */
  specFile: string;
  /** JSONL, one batch per line: `{"rows": [{"event_time": …, …}]}`. */
  inputFile: string;
  mode: 'append' | 'update';
}

type JsonRow = Record<string, EngineValue>;

const BATCH_EXAMPLE = '{"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}]}';

export const simulateCommandHelp = `
Each line of the input file is one batch, as gold would receive it:
  {"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}, ...]}
event_time is ISO-8601 (without an offset it is read in the spec's eventTime.timeZone) or epoch
milliseconds; the other fields are the columns the spec groups by and aggregates. {"rows": []} is a
no-data batch. Each output line is one batch:
  {"batch": 0, "watermark": "<ISO-8601>", "emitted": [...], "late": [...], "rowsDroppedByWatermark": 0}
append mode emits each window once, when the watermark (max event time − delay) passes its end;
update mode emits every window the batch changed. Late rows (window end ≤ the previous batch's
watermark) are listed as given and not aggregated.

Example (examples/simulate: a 1-minute tumbling window per device, a 10s watermark delay):
  $ cat examples/simulate/batches.jsonl
  {"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}, {"event_time": "2026-01-01T00:01:05Z", "device_id": "d1", "temperature": 21}]}
  {"rows": [{"event_time": "2026-01-01T00:01:20Z", "device_id": "d1", "temperature": 22}]}
  {"rows": [{"event_time": "2026-01-01T00:00:50Z", "device_id": "d1", "temperature": 30}]}
  $ pipeline simulate --spec examples/simulate/spec.yaml --input examples/simulate/batches.jsonl
  {"batch":0,"watermark":"2026-01-01T00:00:55.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0}
  {"batch":1,"watermark":"2026-01-01T00:01:10.000Z","emitted":[{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d1","readings":1,"avg_temperature":20,"max_temperature":20}],"late":[],"rowsDroppedByWatermark":0}
  {"batch":2,"watermark":"2026-01-01T00:01:10.000Z","emitted":[],"late":[{"event_time":"2026-01-01T00:00:50Z","device_id":"d1","temperature":30}],"rowsDroppedByWatermark":1}
`;

/** The engine configuration of a spec, as gold builds it. */
export function simulationConfig(spec: PipelineSpec, mode: SimulateOptions['mode']): AggregationConfig {
  return aggregationConfigOf(spec, [mode]);
}

class InputError extends Error {}

/** Output columns of one window, in order; a name used twice would make a row ambiguous. */
function outputColumns(spec: PipelineSpec): string[] {
  return ['window_start', 'window_end', ...(spec.windows.length > 1 ? ['window'] : []), ...spec.groupBy, ...spec.aggregates.map((a) => a.name)];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Parses one input line into the rows as given and the rows the engine takes. */
function parseBatch(text: string, parseTime: EventTimeParser): { given: JsonRow[]; rows: EngineRow[] } {
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
    let eventTime: number;
    if (typeof raw === 'number') {
      if (!Number.isFinite(raw)) throw new InputError(`rows[${i}].event_time ${raw} is not a finite number of epoch milliseconds`);
      eventTime = raw;
    } else if (typeof raw === 'string') {
      const parsed = parseTime(raw);
      if (isEventTimeError(parsed)) throw new InputError(`rows[${i}].event_time: ${parsed.message}, nor epoch milliseconds such as 1767225610000`);
      eventTime = parsed;
    } else {
      throw new InputError(
        `rows[${i}].event_time is ${raw === undefined ? 'missing' : JSON.stringify(raw)}; every row needs an event_time, e.g. "2026-01-01T00:00:10Z" or epoch milliseconds such as 1767225610000`,
      );
    }
    return { ...(row as JsonRow), event_time: eventTime };
  });
  return { given: given as JsonRow[], rows };
}

function windowLine(spec: PipelineSpec, w: WindowResult): Record<string, EngineValue> {
  const line: Record<string, EngineValue> = { window_start: iso(w.windowStart), window_end: iso(w.windowEnd) };
  if (spec.windows.length > 1) line['window'] = w.window;
  for (const column of spec.groupBy) line[column] = w.key[column] ?? null;
  for (const a of spec.aggregates) line[a.name] = w.aggregates[a.name] ?? null;
  return line;
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
  const parseTime = compileEventTimeParser({ format: 'iso8601', timeZone: spec.eventTime.timeZone });
  const lines = createInterface({ input: file.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const text of lines) {
      lineNumber++;
      // Blank lines (e.g. a trailing one) separate nothing and are skipped; {"rows": []} is a no-data batch.
      if (text.trim() === '') continue;
      const { given, rows } = parseBatch(text, parseTime);
      const byRow = new Map<EngineRow, JsonRow>(rows.map((row, i) => [row, given[i]]));
      let result;
      try {
        result = engine.processBatch(rows);
      } catch (error) {
        if (error instanceof InvalidRowError) throw new InputError(`rows[${error.rowIndex}]: ${error.reason}`);
        throw error;
      }
      const windows = options.mode === 'append' ? result.emitted : result.updated;
      await write(
        out,
        `${JSON.stringify({
          batch: result.batch,
          watermark: iso(result.watermark),
          emitted: windows.map((w) => windowLine(spec, w)),
          late: result.late.map((l) => byRow.get(l.row)),
          rowsDroppedByWatermark: result.rowsDroppedByWatermark,
        })}\n`,
      );
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

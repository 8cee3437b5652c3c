/**
 * Silver's per-event logic: a captured hub event in, a typed silver row or a quarantine row out.
 * Compile once per spec; the returned function is pure (no clock, no I/O) and never throws for bad
 * event data (only for an invalid `enqueuedTime`, which the caller supplies), so every event ends
 * in exactly one of the two tables (DESIGN invariant 9).
 *
 * Checks run in this order, and the first that fails decides the quarantine reason:
 * 1. the producer's `malformed` marker → its reason (`csv_column_count`, `csv_quote`, …);
 * 2. the body by `content_type`: absent/`json` → a JSON object, flattened (see flatten.ts; the
 *    common flat body is read straight from its bytes to the same values, see flat-json.ts);
 *    `csv` → one CSV line in the spec's column order; anything else → `unknown_shape`;
 * 3. a spec column that two body fields flatten to → `unknown_shape`;
 * 4. the event id: the `event_id` property, else (for `eventId: { column }`) the id column's raw
 *    text in the body → `missing_event_id`; an id column value that is a JSON number beyond
 *    ±(2^53 − 1) → `cast_error` (JSON.parse may have rounded it, so two ids could become one);
 * 5. the event time from the spec's column, read with the spec's format and time zone →
 *    `missing_event_time` / `unparseable_event_time` (also outside the years 0001 to 9999);
 * 6. every spec column cast to its type (cast.ts) → the first failing column's reason
 *    (`missing_value` / `cast_error`), the message listing every failing column.
 * Body fields the spec does not declare are ignored. A timestamp event-time column holds the event
 * time as read in step 5. A column named exactly `event_id` that is the id column, or `event_time`
 * that is the event-time column, is cast (so a bad value is still quarantined) but written once,
 * as silver's own column: the id as text, the event time as read in step 5 (see silverSchema).
 * Timestamps (`event_time` and timestamp columns) keep the microseconds the value states (a lake
 * timestamp, see lake-timestamp.ts); the outcome's `eventTime`, `event_date` and the shard of a
 * timestamp grouping value use its millisecond rounded down, which is what gold reads.
 */
import {
  compileTimestampParser,
  EventProperty,
  groupKeyText,
  identityColumnsOf,
  MAX_DOCUMENT_ID_BYTES,
  MAX_PARTITION_KEY_BYTES,
  servingKeyProblem,
  SILVER_ADDED_COLUMNS,
  silverOwnColumnType,
  isEventTimeError,
  timestampMillis,
  type ColumnSpec,
  type KeyValue,
  type PipelineSpec,
  type TableRow,
  type TableValue,
  type TimestampParser,
} from '@pipeline/contracts';
import { CastFailure, columnCaster, previewValue, scalarText, type ColumnCaster } from './cast';
import { parseCsvLine } from './csv-line';
import { FlatJsonFields, type NumberText } from './flat-json';
import { bodyFields, isJsonObject, type ArrayRule } from './flatten';
import { isMalformedReason, QUARANTINE_REASONS, type QuarantineReason } from './quarantine-reason';
import { assertNoReservedColumns } from './silver-schema';
import { shardOf } from './shard';
import { bodyEncoding, propertyText, sourceRow, type SourceEvent } from './source-event';
import { isLakeTimestamp, utcDate } from './utc-date';

export interface SilverTransformOptions {
  /** How JSON arrays flatten (default `json`: the array as JSON text under its name). */
  arrays?: ArrayRule;
}

/** `eventTime` is epoch milliseconds rounded down; the row's `event_time` keeps the microseconds. */
export type SilverOutcome = { kind: 'row'; row: TableRow; eventId: string; eventTime: number } | { kind: 'quarantine'; row: TableRow; reason: QuarantineReason };

export type SilverTransform = (event: SourceEvent) => SilverOutcome;

/** Column problems listed in one quarantine message, at most. */
const MAX_LISTED_PROBLEMS = 5;
/** The largest integer every JSON reader (IEEE double) holds exactly: 2^53 − 1. */
const MAX_EXACT_JSON_INTEGER = Number.MAX_SAFE_INTEGER;
const BODY_PREVIEW_CHARS = 60;

// Read once: a name read through the library's re-exports per event costs a lookup each time.
const EVENT_ID = EventProperty.eventId;
const MALFORMED = EventProperty.malformed;
const RECORD_BYTES = EventProperty.recordBytes;

interface ColumnPlan {
  column: ColumnSpec;
  /** Where the column's body value is (see `fields`). */
  slot: number;
  cast: ColumnCaster;
  /** The event-time column of type timestamp: takes the event time as read. */
  isEventTimeTimestamp: boolean;
  /** False for a column silver writes as its own `event_id` or `event_time`. */
  written: boolean;
}

interface BodyProblem {
  reason: QuarantineReason;
  message: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Compiles the silver transform of a spec.
 * @throws ReservedColumnError when a spec column takes a name silver adds (see silverSchema).
 */
export function compileSilverTransform(spec: PipelineSpec, options: SilverTransformOptions = {}): SilverTransform {
  assertNoReservedColumns(spec);
  const arrays: ArrayRule = options.arrays ?? 'json';
  const columns = spec.source.columns;
  const timeColumn = spec.eventTime.column;
  const identity = identityColumnsOf(spec);
  const plans: ColumnPlan[] = columns.map((column, slot) => ({
    column,
    slot,
    cast: columnCaster(column, spec.eventTime.timeZone),
    isEventTimeTimestamp: column.name === timeColumn && column.type === 'timestamp',
    written: silverOwnColumnType(column.name, identity) === undefined,
  }));
  const readEventTime: TimestampParser = compileTimestampParser(spec.eventTime);
  const idColumn = spec.eventId.kind === 'column' ? spec.eventId.column : undefined;
  const groupBy = spec.groupBy;
  const windowNames = spec.windows.map((w) => w.name);
  // A bound that clears short keys without building their text: a UTF-16 unit URI-encodes to at
  // most 9 characters, a number or boolean to at most 24 units; the id adds the window name, two
  // separators and at most 16 digits of start.
  const keyTextFixed = groupBy.reduce((n, c) => n + encodeURIComponent(c).length + 2, 0);
  const keyTextRoom = Math.min(MAX_PARTITION_KEY_BYTES, MAX_DOCUMENT_ID_BYTES - 18 - Math.max(0, ...windowNames.map((w) => w.length)));
  const mayBeTooLong = (values: readonly unknown[]): boolean => {
    if (values.length === 0) return false;
    let bound = keyTextFixed;
    for (const value of values) bound += 9 * (typeof value === 'string' ? value.length : 24);
    return bound > keyTextRoom;
  };
  const shards = spec.gold.shards;
  const delimiter = spec.source.delimiter;
  const columnNames = columns.map((c) => c.name);

  // The body's values by column (index of `columns`), filled anew for each event: the transform
  // runs to its end before the next event, and keeps none of them but as row values.
  // The id and event-time columns are declared columns in a valid spec; a spec built otherwise
  // reads them from the body too (a CSV body has declared columns only).
  const fieldNames = [...new Set([...columnNames, ...(idColumn === undefined ? [] : [idColumn]), timeColumn])];
  const fields: unknown[] = fieldNames.map(() => undefined);
  // Long and double columns take plain number text as its number, as their casts read it; the id
  // and event-time values are read as text (their text is what the row and messages keep).
  const numberTexts = fieldNames.map((name): NumberText | undefined => {
    const type = name === idColumn || name === timeColumn ? undefined : columns.find((c) => c.name === name)?.type;
    return type === 'long' ? 'whole' : type === 'double' ? 'decimal' : undefined;
  });
  const flatJson = new FlatJsonFields(fieldNames, numberTexts);
  const idSlot = idColumn === undefined ? -1 : fieldNames.indexOf(idColumn);
  const timeSlot = fieldNames.indexOf(timeColumn);
  // Every row has these keys in this order: the values are gathered in `cells`, by the key's index,
  // and the row is made from them at once.
  const rowNames = [...plans.filter((p) => p.written).map((p) => p.column.name), ...SILVER_ADDED_COLUMNS.map((c) => c.name)];
  const makeRow = rowMakerOf(rowNames);
  const cells: unknown[] = rowNames.map(() => null);
  // A first row of nulls: V8 then keeps every field as a reference, so a number a row holds is the
  // one already made, not a new box per field (as it would be for a field that only ever saw numbers).
  makeRow(cells);
  const cellOf = (name: string): number => rowNames.indexOf(name);
  // Silver's own cells, by name.
  const idCell = cellOf('event_id');
  const timeCell = cellOf('event_time');
  const dateCell = cellOf('event_date');
  const enqueuedCell = cellOf('enqueued_time');
  const partitionCell = cellOf('partition_id');
  const sequenceCell = cellOf('sequence_number');
  const fileCell = cellOf('capture_file');
  const rowCell = cellOf('source_row');
  const shardCell = cellOf('shard');
  // Per plan, its cell (−1: the column is silver's own, written from the event's id or time).
  const planCells = plans.map((p) => (p.written ? cellOf(p.column.name) : -1));
  // Per grouping column, its cell (−1: no such column, so no value).
  const groupCells = groupBy.map(cellOf);
  // The grouping values of the row at hand, for its shard and key length (kept by neither).
  const groupValues: unknown[] = groupBy.map(() => undefined);

  /** Fills `fields` from the body; the reason the body cannot be read, if it cannot. */
  const readBody = (event: SourceEvent): BodyProblem | undefined => {
    const { encoding, contentType } = bodyEncoding(event.properties);
    if (encoding === 'other') {
      const hint = contentType?.trim().toLowerCase() === 'raw' ? ' without a malformed reason' : '';
      return unknownShape(`the content type ${JSON.stringify(contentType)}${hint} cannot be read; silver reads "json" (the default) and "csv" bodies`);
    }
    if (event.body === null) return unknownShape('the event has no body');
    // The common body (flat, plain keys, well-formed UTF-8) is read from its bytes; any other as before.
    if (encoding === 'json' && flatJson.read(event.body, fields)) return undefined;
    let text: string;
    try {
      text = strictUtf8.decode(event.body);
    } catch {
      return encoding === 'csv' ? { reason: 'csv_utf8', message: 'the CSV body is not valid UTF-8 text' } : unknownShape('the JSON body is not valid UTF-8 text');
    }
    return encoding === 'csv' ? readCsvBody(text) : readJsonBody(text);
  };

  const readCsvBody = (text: string): BodyProblem | undefined => {
    const parsed = parseCsvLine(text, delimiter);
    if (!parsed.ok) return { reason: parsed.reason, message: parsed.message };
    if (parsed.fields.length !== columnNames.length) {
      return {
        reason: 'csv_column_count',
        message: `the CSV line has ${parsed.fields.length} field${parsed.fields.length === 1 ? '' : 's'} but the spec declares ${columnNames.length} column${columnNames.length === 1 ? '' : 's'} (${columnNames.join(', ')})`,
      };
    }
    for (let i = 0; i < fieldNames.length; i++) fields[i] = i < columnNames.length ? parsed.fields[i] : undefined;
    return undefined;
  };

  const readJsonBody = (text: string): BodyProblem | undefined => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      return unknownShape(`the body is not valid JSON (${detail}): ${previewText(text)}`);
    }
    if (!isJsonObject(parsed)) return unknownShape(`the body is JSON ${jsonKind(parsed)}, not an object: ${previewText(text)}`);
    const flat = bodyFields(parsed, arrays);
    if (flat.ambiguous !== undefined) {
      for (const name of columnNames) {
        const paths = flat.ambiguous.get(name);
        if (paths !== undefined) {
          return unknownShape(`column "${name}" is ambiguous: body fields ${paths.map((p) => JSON.stringify(p)).join(' and ')} all flatten to it`);
        }
      }
    }
    for (let i = 0; i < fieldNames.length; i++) fields[i] = flat.values.get(fieldNames[i] as string);
    return undefined;
  };

  return (event) => {
    // Lineage comes from the Capture reader, not from the data: a bad value is a caller bug.
    if (!Number.isFinite(event.enqueuedTime)) throw new RangeError(`SourceEvent.enqueuedTime must be epoch milliseconds, got ${String(event.enqueuedTime)} (${event.captureFile})`);
    const properties = event.properties;
    const propertyId = propertyText(properties, EVENT_ID);

    const malformed = propertyText(properties, MALFORMED);
    if (malformed !== undefined) {
      if (isMalformedReason(malformed)) {
        const recordBytes = properties[RECORD_BYTES];
        return quarantine(event, malformed, malformedMessage(malformed, sourceRow(properties), typeof recordBytes === 'number' ? recordBytes : undefined), propertyId);
      }
      return quarantine(event, 'unknown_shape', `the producer marked the record malformed with the unknown reason ${JSON.stringify(malformed)}`, propertyId);
    }

    const problem = readBody(event);
    if (problem !== undefined) return quarantine(event, problem.reason, problem.message, propertyId);

    const rawId = idSlot < 0 ? undefined : fields[idSlot];
    if (propertyId === undefined && idColumn !== undefined && typeof rawId === 'number' && Math.abs(rawId) > MAX_EXACT_JSON_INTEGER) {
      return quarantine(event, 'cast_error', inexactIdMessage(idColumn, rawId), undefined);
    }
    const bodyId = scalarText(rawId);
    // The id column's text when it is the id property's (the producer's way): rows keep one string.
    const eventId = propertyId !== undefined ? (rawId === propertyId ? rawId : propertyId) : bodyId !== undefined && bodyId.trim() !== '' ? bodyId : undefined;
    if (eventId === undefined) {
      const where = idColumn === undefined ? '' : ` and the id column "${idColumn}" is empty or absent`;
      return quarantine(event, 'missing_event_id', `the event has no "${EventProperty.eventId}" property${where}`, undefined);
    }

    const rawTime = fields[timeSlot];
    const timeValue = readEventTime(scalarText(rawTime));
    if (isEventTimeError(timeValue)) {
      return timeValue.reason === 'missing'
        ? quarantine(
            event,
            'missing_event_time',
            `the event time column "${timeColumn}" is ${rawTime === undefined ? 'absent from the body' : rawTime === null ? 'null' : 'empty'}`,
            eventId,
          )
        : quarantine(event, 'unparseable_event_time', `column "${timeColumn}": ${timeValue.message}`, eventId);
    }
    const eventTime = timestampMillis(timeValue);
    if (!isLakeTimestamp(eventTime)) {
      return quarantine(event, 'unparseable_event_time', `column "${timeColumn}": the event time ${previewValue(rawTime)} lies outside the years 0001 to 9999`, eventId);
    }

    let failures: CastFailure[] | undefined;
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p] as ColumnPlan;
      const value: TableValue | CastFailure = plan.isEventTimeTimestamp ? timeValue : plan.cast(fields[plan.slot]);
      if (value instanceof CastFailure) (failures ??= []).push(value);
      else if (planCells[p] !== -1) cells[planCells[p] as number] = value;
    }
    if (failures !== undefined) return quarantine(event, failures[0].reason, listProblems(failures), eventId);

    cells[idCell] = eventId;
    cells[timeCell] = timeValue;
    cells[dateCell] = utcDate(eventTime);
    cells[enqueuedCell] = event.enqueuedTime;
    cells[partitionCell] = event.partitionId;
    cells[sequenceCell] = event.sequenceNumber;
    cells[fileCell] = event.captureFile;
    cells[rowCell] = sourceRow(properties);
    // After event_id and event_time: a grouping column may be silver's own, as gold reads it. Gold
    // reads timestamps as milliseconds, so a group's shard is that of its millisecond.
    for (let i = 0; i < groupBy.length; i++) {
      const cell = groupCells[i] as number;
      const value = cell === -1 ? undefined : cells[cell];
      groupValues[i] = typeof value === 'bigint' ? timestampMillis(value) : value;
    }
    cells[shardCell] = shardOf(groupValues, shards);
    // The key as gold serves it: a key whose windows the serving store cannot name would fail every upsert.
    if (mayBeTooLong(groupValues)) {
      const key: Record<string, KeyValue> = {};
      groupBy.forEach((name, i) => (key[name] = (groupValues[i] ?? null) as KeyValue));
      const problem = servingKeyProblem(groupKeyText(key, groupBy), windowNames);
      if (problem !== undefined) return quarantine(event, 'key_too_long', `${problem}; shorten the values of ${groupBy.map((c) => `"${c}"`).join(', ')}`, eventId);
    }
    const row = makeRow(cells);
    return { kind: 'row', row, eventId, eventTime };
  };
}

/**
 * Makes a row with `names` as its keys, in that order, `cells[i]` the value of `names[i]`: one
 * object literal compiled for the names. A fixed key costs a field store where a computed one costs
 * a lookup per value; and rows mostly outlive their batch, which V8 sees at a literal, allocating
 * its objects where long-lived ones go instead of copying each there later. The names enter the
 * source only as JSON string literals, never as code; `__proto__`, which a literal would take for
 * the prototype, is no column name (`assertNoReservedColumns`).
 */
function rowMakerOf(names: readonly string[]): (cells: readonly unknown[]) => TableRow {
  if (names.includes('__proto__')) throw new Error('A silver row cannot have a "__proto__" column (assertNoReservedColumns refuses it).');
  return new Function('cells', `return { ${names.map((name, i) => `${JSON.stringify(name)}: cells[${i}]`).join(', ')} };`) as (cells: readonly unknown[]) => TableRow;
}

function quarantineRow(event: SourceEvent, reason: QuarantineReason, message: string, eventId: string | undefined): TableRow {
  return {
    reason,
    message,
    raw_body: event.body,
    event_id: eventId ?? null,
    enqueued_time: event.enqueuedTime,
    enqueued_date: utcDate(event.enqueuedTime),
    partition_id: event.partitionId,
    sequence_number: event.sequenceNumber,
    capture_file: event.captureFile,
    source_row: sourceRow(event.properties),
  };
}

function unknownShape(message: string): BodyProblem {
  return { reason: 'unknown_shape', message };
}

function quarantine(event: SourceEvent, reason: QuarantineReason, message: string, eventId: string | undefined): SilverOutcome {
  return { kind: 'quarantine', reason, row: quarantineRow(event, reason, message, eventId) };
}

function malformedMessage(reason: QuarantineReason, row: number | null, recordBytes: number | undefined): string {
  const record = row === null ? 'the source record' : `source row ${row}`;
  if (reason === 'record_too_large') {
    const size = recordBytes === undefined ? '' : ` (${recordBytes} bytes)`;
    return `the producer did not send ${record}${size} (${reason}): ${QUARANTINE_REASONS[reason]} raw_body holds the first bytes; raise --max-record-size, within the event hub's limit, to send such records.`;
  }
  return `the producer could not read ${record} as CSV (${reason}): ${QUARANTINE_REASONS[reason]} The raw record is kept in raw_body.`;
}

function inexactIdMessage(idColumn: string, value: number): string {
  return (
    `the id column "${idColumn}" is the JSON number ${previewValue(value)} (as read), beyond ±${MAX_EXACT_JSON_INTEGER} (2^53 − 1): JSON numbers that large are rounded ` +
    `when read, so different ids could become one and an event be dropped as a duplicate. Send the id as a JSON string, e.g. "${idColumn}": "<digits>"`
  );
}

function listProblems(failures: readonly CastFailure[]): string {
  const listed = failures.slice(0, MAX_LISTED_PROBLEMS).map((f) => f.message);
  const more = failures.length - listed.length;
  return listed.join('; ') + (more > 0 ? `; and ${more} more column${more === 1 ? '' : 's'}` : '');
}

function previewText(text: string): string {
  return JSON.stringify(text.length > BODY_PREVIEW_CHARS ? `${text.slice(0, BODY_PREVIEW_CHARS - 3)}...` : text);
}

/** What a parsed JSON value that is not an object is, for messages. */
function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

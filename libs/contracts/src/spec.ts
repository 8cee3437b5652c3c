/**
 * `parseSpec`: pipeline spec YAML → a validated `PipelineSpec` (durations in ms, defaults filled),
 * or a `SpecValidationError` listing every problem in the file at once, in file order, each with
 * its path and line:column. Besides each section's own checks, the names the spec puts in the
 * pipeline's tables must fit beside the columns the pipeline adds (`findNameClashes` in
 * table-columns.ts): this is the one check `validate`, `start` and every service run.
 *
 * Defaults (everything else is required, notably `watermark.delay`, `eventId`, `partitionKey` and
 * `groupBy`, because they change results): source.format `csv`, source.delimiter `,`,
 * source.header `true`, columns[].nullable `false`, eventTime.format `iso8601`, eventTime.timeZone
 * `UTC`, watermark.idleTimeout `15m`, gold.shards `1`, gold.outputModes `[append]`.
 */
import { isMap, isScalar, LineCounter, parseDocument, type YAMLError } from 'yaml';
import { DURATION_EXAMPLES, formatDuration, parseDuration } from './duration';
import { checkEventTimeFormat, isEventTimePattern } from './event-time';
import { isKnownTimeZone } from './time-zone';
import { findNameClashes, silverOwnColumnType, type SpecName } from './table-columns';
import { closest, listOf, ProblemLog, quote, YamlValue } from './yaml-reader';
import {
  SpecValidationError,
  type AggregateFunction,
  type AggregateSpec,
  type ColumnSpec,
  type ColumnType,
  type EventIdSpec,
  type EventTimeSpec,
  type OutputMode,
  type PipelineSpec,
  type SourceSpec,
  type SessionWindowSpec,
  type WindowSpec,
} from './spec.types';

export const COLUMN_TYPES: readonly ColumnType[] = ['string', 'long', 'double', 'boolean', 'timestamp'];
export const AGGREGATE_FUNCTIONS: readonly AggregateFunction[] = ['count', 'sum', 'min', 'max', 'avg', 'count_distinct'];
export const OUTPUT_MODES: readonly OutputMode[] = ['append', 'update'];
export const MAX_GOLD_SHARDS = 1024;
/**
 * How long (in capture time) a source partition may go without rows before it stops holding the
 * watermark back: as long as the longest Event Hubs Capture window (15 minutes), so a partition
 * whose file is simply not written yet is not taken for idle.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000;

export const PIPELINE_NAME_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
/** Column, window and aggregate names: safe as Delta column names, JSON keys and URL segments. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Source names: part of derived event ids and the `source` event property. */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const TOP_KEYS = ['version', 'name', 'source', 'eventTime', 'eventId', 'partitionKey', 'groupBy', 'windows', 'aggregates', 'watermark', 'gold'];
const IDENTIFIER_EXPECTED = 'a name of letters, digits and "_" that starts with a letter or "_" (at most 128 characters)';
const NUMERIC_TYPES: readonly ColumnType[] = ['long', 'double'];

/** The column types that can hold event time in `format`. */
export function eventTimeColumnTypes(format: string): readonly ColumnType[] {
  switch (format) {
    case 'epoch_millis':
      return ['long', 'timestamp'];
    case 'epoch_seconds':
      return ['long', 'double', 'timestamp'];
    default:
      return ['string', 'timestamp']; // iso8601 and patterns
  }
}

/** The column types an aggregate function accepts; `undefined` when any type will do. */
export function aggregateColumnTypes(fn: AggregateFunction): readonly ColumnType[] | undefined {
  switch (fn) {
    case 'sum':
    case 'avg':
      return NUMERIC_TYPES;
    case 'min':
    case 'max':
      return [...NUMERIC_TYPES, 'timestamp'];
    case 'count':
    case 'count_distinct':
      return undefined;
  }
}

/**
 * Parses and validates a pipeline spec.
 * @param fileName used in the error message only.
 * @throws SpecValidationError with every problem found, YAML syntax errors included.
 */
export function parseSpec(text: string, fileName: string): PipelineSpec {
  const lineCounter = new LineCounter();
  // Duplicate keys are reported by the reader, with the path, instead of as syntax errors.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const log = new ProblemLog(lineCounter);
  if (doc.errors.length > 0) {
    // The tree after a syntax error is a guess; validating it would only add noise.
    for (const error of doc.errors) log.add('', error.pos[0], syntaxExpectation(error), syntaxFinding(error));
    throw new SpecValidationError(fileName, log.sorted());
  }
  const spec = new SpecReader(log).read(YamlValue.root(doc, log));
  if (spec === undefined || log.problems.length > 0) throw new SpecValidationError(fileName, log.sorted());
  return spec;
}

function syntaxExpectation(error: YAMLError): string {
  if (error.code === 'MULTIPLE_DOCS') return 'a single YAML document (remove the "---" separator)';
  if (error.code === 'TAB_AS_INDENT') return 'valid YAML indented with spaces, not tabs';
  return 'valid YAML';
}

function syntaxFinding(error: YAMLError): string {
  if (error.code === 'MULTIPLE_DOCS') return 'another document after "---"';
  return error.message.replace(/\s+/g, ' ').trim();
}

/** A column as far as it could be read: the type is absent when it was invalid. */
interface DeclaredColumn {
  name: string;
  type?: ColumnType;
  nullable?: boolean;
}

/** Reads the whole spec; `undefined` or problems in the log when it is not valid. */
class SpecReader {
  /** Declared columns by name; `undefined` when `source.columns` could not be read at all. */
  private columns: Map<string, DeclaredColumn> | undefined;
  /** The groupBy columns that could be read, even when others could not. */
  private readonly groupNames: string[] = [];
  /** Every name the spec puts in a table, where it is, and the value to report a clash at. */
  private readonly names = { columns: [] as SpecName[], groupBy: [] as SpecName[], aggregates: [] as SpecName[] };
  private readonly nameValues = new Map<string, YamlValue>();
  private eventTimeColumn: string | undefined;
  private eventIdColumn: string | undefined;

  constructor(private readonly log: ProblemLog) {}

  read(root: YamlValue): PipelineSpec | undefined {
    const top = root.map(TOP_KEYS, `a pipeline spec: a mapping with ${listOf(TOP_KEYS, 'and')}`);
    if (top === undefined) return undefined;

    const versionValue = top.required('version', 'version: 1');
    if (versionValue !== undefined && versionValue.scalar !== 1) versionValue.report('1 (the only spec version so far)');
    const name = top
      .required('name', 'the pipeline name')
      ?.matching(PIPELINE_NAME_PATTERN, 'a pipeline name of 2 to 63 lowercase letters, digits and "-" that starts with a letter');
    const source = this.readSource(top.required('source', 'the source: { name, columns, ... }'));
    const eventTime = this.readEventTime(top.required('eventTime', 'the event time: { column, format, timeZone }'));
    const eventId = this.readEventId(top.required('eventId', 'how to identify events: { column: <id column> } or { derive: source-row }'));
    const partitionKey = this.readColumnRef(top.required('partitionKey', 'the column whose value is the event hub partition key'));
    const groupBy = this.readGroupBy(top.required('groupBy', 'the grouping columns, e.g. [device_id] (or [] for one global group)'));
    const windows = this.readWindows(top.required('windows', 'a list of windows, e.g. [{ name: per_minute, type: tumbling, size: 1m }]'));
    const aggregates = this.readAggregates(top.required('aggregates', 'a list of aggregates, e.g. [{ name: readings, fn: count }]'));
    const watermark = this.readWatermark(top.required('watermark', 'the watermark: { delay: 30s } (how late events may arrive; stated, never defaulted)'));
    const gold = this.readGold(top.field('gold'));
    this.checkNameClashes();

    if (this.log.problems.length > 0) return undefined;
    return {
      version: 1,
      name: need(name),
      source: need(source),
      eventTime: need(eventTime),
      eventId: need(eventId),
      partitionKey: need(partitionKey).name,
      groupBy: need(groupBy),
      windows: need(windows),
      aggregates: need(aggregates),
      watermark: need(watermark),
      gold: need(gold),
    };
  }

  // ------------------------------------------------------------ source

  private readSource(value: YamlValue | undefined): SourceSpec | undefined {
    const map = value?.map(['name', 'format', 'delimiter', 'header', 'columns'], 'the source: a mapping with name, columns and optionally format, delimiter, header');
    if (map === undefined) return undefined;
    const name = map.required('name', 'the source name')?.matching(SOURCE_NAME_PATTERN, 'a source name of letters, digits, ".", "_" and "-" (at most 128 characters)');
    const formatValue = map.field('format');
    const format = formatValue === undefined ? 'csv' : formatValue.oneOf(['csv'] as const);
    const delimiterValue = map.field('delimiter');
    let delimiter: string | undefined = ',';
    if (delimiterValue !== undefined) {
      const text = delimiterValue.scalar;
      const expected = 'one character other than a quote or a line break, e.g. "," or ";" or "\\t"';
      delimiter = typeof text === 'string' && text.length === 1 && !/["\r\n]/.test(text) ? text : undefined;
      if (delimiter === undefined) delimiterValue.report(expected);
    }
    const headerValue = map.field('header');
    const header = headerValue === undefined ? true : headerValue.boolean();
    const columns = this.readColumns(map.required('columns', 'a list of columns, e.g. [{ name: id, type: string }]'));
    if (name === undefined || format === undefined || delimiter === undefined || header === undefined || columns === undefined) return undefined;
    return { name, format, delimiter, header, columns };
  }

  private readColumns(value: YamlValue | undefined): ColumnSpec[] | undefined {
    const items = value?.list('a list of columns, e.g. [{ name: id, type: string }]');
    if (value === undefined || items === undefined) return undefined;
    this.columns = new Map();
    if (items.length === 0) value.report('at least one column', 'an empty list');
    const columns: ColumnSpec[] = [];
    let complete = items.length > 0;
    const firstLine = new Map<string, number | undefined>();
    for (const item of items) {
      const map = item.map(['name', 'type', 'nullable'], 'a column: { name, type, nullable }');
      if (map === undefined) {
        complete = false;
        continue;
      }
      const nameValue = map.required('name', 'the column name');
      const name = nameValue?.matching(IDENTIFIER_PATTERN, IDENTIFIER_EXPECTED);
      const type = map.required('type', `the column type: ${listOf(COLUMN_TYPES)}`)?.oneOf(COLUMN_TYPES);
      const nullableValue = map.field('nullable');
      const nullable = nullableValue === undefined ? false : nullableValue.boolean();
      if (name !== undefined && nameValue !== undefined) {
        if (firstLine.has(name)) {
          nameValue.report('column names used once', `"${name}" again (first on line ${firstLine.get(name) ?? '?'})`);
          complete = false;
          continue;
        }
        firstLine.set(name, this.log.lineOf(nameValue.offset));
        this.columns.set(name, { name, type, nullable });
        this.noteName('columns', nameValue, name);
      }
      if (name === undefined || type === undefined || nullable === undefined) complete = false;
      else columns.push({ name, type, nullable });
    }
    return complete ? columns : undefined;
  }

  /** A reference to a declared column; the declared column when known. */
  private readColumnRef(value: YamlValue | undefined, what = 'a column declared in source.columns'): DeclaredColumn | undefined {
    if (value === undefined) return undefined;
    const name = value.string(what);
    if (name === undefined) return undefined;
    if (this.columns === undefined) return { name }; // the columns could not be read: nothing to check against
    const column = this.columns.get(name);
    if (column !== undefined) return column;
    const suggestion = closest(name, [...this.columns.keys()]);
    value.report(`${what}${suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ` (declared: ${listOf([...this.columns.keys()], 'and')})`}`);
    return undefined;
  }

  // ------------------------------------------------------------ event time and id

  private readEventTime(value: YamlValue | undefined): EventTimeSpec | undefined {
    const map = value?.map(['column', 'format', 'timeZone'], 'the event time: { column, format, timeZone }');
    if (map === undefined) return undefined;
    const columnValue = map.required('column', 'the column that holds event time');
    const column = this.readColumnRef(columnValue);
    this.eventTimeColumn = column?.name;
    const formatValue = map.field('format');
    let format: string | undefined = 'iso8601';
    if (formatValue !== undefined) {
      const expected = '"iso8601", "epoch_millis", "epoch_seconds" or a pattern of yyyy MM dd HH mm ss SSS and literal text, e.g. "dd/MM/yyyy HH:mm:ss"';
      format = formatValue.string(expected);
      const problem = format === undefined ? undefined : checkEventTimeFormat(format);
      if (format !== undefined && problem !== undefined) {
        formatValue.report(expected, `${formatValue.found}, which has ${problem}`);
        format = undefined;
      }
    }
    const zoneValue = map.field('timeZone');
    let timeZone: string | undefined = 'UTC';
    if (zoneValue !== undefined) {
      timeZone = zoneValue.string('an IANA time zone name like "UTC" or "Europe/Paris"');
      if (timeZone !== undefined && !isKnownTimeZone(timeZone)) {
        const suggestion = closest(timeZone, ['UTC', ...Intl.supportedValuesOf('timeZone')]);
        zoneValue.report(
          `an IANA time zone name like "UTC" or "Europe/Paris"${suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ''}`,
          `the unknown time zone ${quote(timeZone)}`,
        );
        timeZone = undefined;
      }
    }
    if (column?.type !== undefined && format !== undefined && columnValue !== undefined) {
      const allowed = eventTimeColumnTypes(format);
      if (!allowed.includes(column.type)) {
        const formatName = isEventTimePattern(format) ? `the pattern "${format}"` : `format "${format}"`;
        columnValue.report(`a column of type ${listOf(allowed)} for ${formatName}`, `"${column.name}", a ${column.type} column`);
      }
    }
    if (column === undefined || format === undefined || timeZone === undefined) return undefined;
    return { column: column.name, format, timeZone };
  }

  private readEventId(value: YamlValue | undefined): EventIdSpec | undefined {
    const expected = 'how to identify events: { column: <id column> } or { derive: source-row }';
    const map = value?.map(['column', 'derive'], expected);
    if (value === undefined || map === undefined) return undefined;
    if (map.has('column') && map.has('derive')) {
      value.report('either column or derive, not both', 'both');
      return undefined;
    }
    const deriveValue = map.field('derive');
    if (deriveValue !== undefined) return deriveValue.oneOf(['source-row'] as const) === undefined ? undefined : { kind: 'derived' };
    const columnValue = map.required('column', expected);
    const column = this.readColumnRef(columnValue, 'an id column declared in source.columns');
    if (column === undefined || columnValue === undefined) return undefined;
    this.eventIdColumn = column.name;
    if (column.type !== undefined && column.type !== 'string' && column.type !== 'long') {
      columnValue.report('a string or long column for event ids', `"${column.name}", a ${column.type} column`);
      return undefined;
    }
    if (column.nullable === true) {
      columnValue.report('a column that is not nullable (every event needs an id; or use { derive: source-row })', `"${column.name}", a nullable column`);
      return undefined;
    }
    return { kind: 'column', column: column.name };
  }

  // ------------------------------------------------------------ grouping, windows, aggregates

  private readGroupBy(value: YamlValue | undefined): string[] | undefined {
    const items = value?.list('a list of grouping columns, e.g. [device_id] (or [] for one global group)');
    if (items === undefined) return undefined;
    const names = this.groupNames;
    let complete = true;
    for (const item of items) {
      const column = this.readColumnRef(item);
      if (column === undefined) complete = false;
      else if (names.includes(column.name)) {
        item.report('each grouping column once', `"${column.name}" again`);
        complete = false;
      } else {
        names.push(column.name);
        this.noteName('groupBy', item, column.name);
      }
    }
    return complete ? [...names] : undefined;
  }

  private readWindows(value: YamlValue | undefined): Array<WindowSpec | SessionWindowSpec> | undefined {
    const items = value?.list('a list of windows, e.g. [{ name: per_minute, type: tumbling, size: 1m }]');
    if (value === undefined || items === undefined) return undefined;
    if (items.length === 0) value.report('at least one window', 'an empty list');
    const windows: Array<WindowSpec | SessionWindowSpec> = [];
    const seen = new Map<string, number | undefined>();
    let complete = items.length > 0;
    for (const item of items) {
      if (isSessionWindow(item)) {
        const session = this.readSessionWindow(item, seen);
        if (session === undefined) complete = false;
        else windows.push(session);
        continue;
      }
      const map = item.map(['name', 'type', 'size', 'slide', 'offset'], 'a window: { name, type: tumbling | hopping | session, size, slide (hopping only), offset (optional) }');
      if (map === undefined) {
        complete = false;
        continue;
      }
      const nameValue = map.required('name', 'the window name');
      const name = nameValue?.matching(IDENTIFIER_PATTERN, IDENTIFIER_EXPECTED);
      if (name !== undefined && nameValue !== undefined) {
        if (seen.has(name)) {
          nameValue.report('window names used once', `"${name}" again (first on line ${seen.get(name) ?? '?'})`);
          complete = false;
        } else seen.set(name, this.log.lineOf(nameValue.offset));
      }
      // "session" is read above; listed here so a misspelt type is told every type there is.
      const type = map.required('type', 'the window type: "tumbling", "hopping" or "session"')?.oneOf(['tumbling', 'hopping', 'session'] as const);
      const kind = type === 'session' ? undefined : type;
      const size = readDuration(map.required('size', `the window size, ${DURATION_EXAMPLES}`), 1);
      const slideValue = map.field('slide');
      let slide: number | undefined;
      if (kind === 'tumbling' && slideValue !== undefined) {
        slideValue.report('no slide for a tumbling window (use type: hopping for overlapping windows)', slideValue.found);
        complete = false;
      } else if (kind === 'hopping') {
        slide = readDuration(map.required('slide', `the slide of a hopping window, ${DURATION_EXAMPLES}`), 1);
        // Any slide up to the size, as Spark allows: a longer one would leave times in no window.
        if (slide !== undefined && size !== undefined && slideValue !== undefined && slide > size) {
          slideValue.report(`a slide no longer than the size ${formatDuration(size)}`, slideValue.found);
          slide = undefined;
        }
      }
      const offset = readWindowOffset(map.field('offset'), kind === 'tumbling' ? size : slide);
      if (name === undefined || kind === undefined || size === undefined || offset === null) complete = false;
      else if (kind === 'tumbling') windows.push({ name, kind, sizeMs: size, ...offset });
      else if (slide === undefined) complete = false;
      else windows.push({ name, kind, sizeMs: size, slideMs: slide, ...offset });
    }
    return complete ? windows : undefined;
  }

  /** `{ name, type: session, gap }` or `{ name, type: session, gapColumn }`; `seen` holds the window names read so far. */
  private readSessionWindow(item: YamlValue, seen: Map<string, number | undefined>): SessionWindowSpec | undefined {
    const map = item.map(['name', 'type', 'gap', 'gapColumn'], 'a session window: { name, type: session, gap } or { name, type: session, gapColumn }');
    if (map === undefined) return undefined;
    const nameValue = map.required('name', 'the window name');
    let name = nameValue?.matching(IDENTIFIER_PATTERN, IDENTIFIER_EXPECTED);
    if (name !== undefined && nameValue !== undefined) {
      if (seen.has(name)) {
        nameValue.report('window names used once', `"${name}" again (first on line ${seen.get(name) ?? '?'})`);
        name = undefined;
      } else seen.set(name, this.log.lineOf(nameValue.offset));
    }
    const gapValue = map.field('gap');
    const columnValue = map.field('gapColumn');
    const gapExpected = `the gap that closes a session, ${DURATION_EXAMPLES}, or gapColumn: a long column holding each row's gap in milliseconds`;
    if (gapValue !== undefined && columnValue !== undefined) {
      columnValue.report('either gap or gapColumn, not both', columnValue.found);
      return undefined;
    }
    if (columnValue === undefined) {
      const gapMs = readDuration(map.required('gap', gapExpected), 1);
      return name === undefined || gapMs === undefined ? undefined : { name, kind: 'session', gapMs };
    }
    // Whole milliseconds: session bounds are whole milliseconds in the gold table and the serving store.
    const expected = "a long column holding each row's session gap in milliseconds";
    const declared = this.readColumnRef(columnValue, `${expected}, declared in source.columns`);
    if (declared === undefined) return undefined;
    const ownType = silverOwnColumnType(declared.name, { eventIdColumn: this.eventIdColumn, eventTimeColumn: this.eventTimeColumn });
    const type = ownType ?? declared.type;
    if (type !== undefined && type !== 'long') {
      columnValue.report(expected, `"${declared.name}", a ${type} column`);
      return undefined;
    }
    return name === undefined ? undefined : { name, kind: 'session', gapColumn: declared.name };
  }

  private readAggregates(value: YamlValue | undefined): AggregateSpec[] | undefined {
    const items = value?.list('a list of aggregates, e.g. [{ name: readings, fn: count }]');
    if (value === undefined || items === undefined) return undefined;
    if (items.length === 0) value.report('at least one aggregate', 'an empty list');
    const aggregates: AggregateSpec[] = [];
    const seen = new Map<string, number | undefined>();
    let complete = items.length > 0;
    for (const item of items) {
      const map = item.map(['name', 'fn', 'column'], 'an aggregate: { name, fn, column }');
      if (map === undefined) {
        complete = false;
        continue;
      }
      const nameValue = map.required('name', 'the output column name of the aggregate');
      let name = nameValue?.matching(IDENTIFIER_PATTERN, IDENTIFIER_EXPECTED);
      if (name !== undefined && nameValue !== undefined) {
        if (seen.has(name)) {
          nameValue.report('aggregate names used once', `"${name}" again (first on line ${seen.get(name) ?? '?'})`);
          name = undefined;
        } else {
          seen.set(name, this.log.lineOf(nameValue.offset));
          this.noteName('aggregates', nameValue, name);
        }
      }
      const fn = map.required('fn', `the aggregate function: ${listOf(AGGREGATE_FUNCTIONS)}`)?.oneOf(AGGREGATE_FUNCTIONS);
      const columnValue = map.field('column');
      let column: string | undefined;
      let columnOk = true;
      if (fn === 'count') {
        if (columnValue !== undefined) {
          columnValue.report('no column for count, which counts rows (use count_distinct to count distinct values)');
          columnOk = false;
        }
      } else if (fn !== undefined) {
        const allowed = aggregateColumnTypes(fn);
        const what = allowed === undefined ? `the column for ${fn}` : `a ${listOf(allowed)} column for ${fn}`;
        const declared = this.readColumnRef(map.required('column', what), allowed === undefined ? 'a column declared in source.columns' : `${what}, declared in source.columns`);
        column = declared?.name;
        // Gold reads silver: the event id or event time column that is silver's own has its type there.
        const ownType = declared === undefined ? undefined : silverOwnColumnType(declared.name, { eventIdColumn: this.eventIdColumn, eventTimeColumn: this.eventTimeColumn });
        const type = ownType ?? declared?.type;
        if (declared === undefined) columnOk = false;
        else if (allowed !== undefined && type !== undefined && !allowed.includes(type)) {
          const found =
            ownType === undefined
              ? `"${declared.name}", a ${type} column`
              : `"${declared.name}", the ${declared.name === 'event_id' ? 'event id, which silver holds as text' : 'event time, which silver holds as a timestamp'}`;
          columnValue?.report(what, found);
          columnOk = false;
        }
      }
      if (name === undefined || fn === undefined || !columnOk) complete = false;
      else aggregates.push(column === undefined ? { name, fn } : { name, fn, column });
    }
    return complete ? aggregates : undefined;
  }

  // ------------------------------------------------------------ names in the tables

  private noteName(kind: 'columns' | 'groupBy' | 'aggregates', value: YamlValue, name: string): void {
    this.names[kind].push({ name, path: value.path });
    this.nameValues.set(value.path, value);
  }

  /** Names that would clash in a table the pipeline writes, with the names it adds or with each other. */
  private checkNameClashes(): void {
    const clashes = findNameClashes({ ...this.names, eventIdColumn: this.eventIdColumn, eventTimeColumn: this.eventTimeColumn });
    for (const clash of clashes) this.nameValues.get(clash.path)?.report(clash.expected, clash.found);
  }

  // ------------------------------------------------------------ watermark and gold

  private readWatermark(value: YamlValue | undefined): PipelineSpec['watermark'] | undefined {
    const map = value?.map(['delay', 'idleTimeout'], 'the watermark: { delay: 30s, idleTimeout: 15m }');
    if (map === undefined) return undefined;
    const delayMs = readDuration(map.required('delay', `the watermark delay, ${DURATION_EXAMPLES} (how late events may arrive; "0s" for none)`), 0);
    const idleValue = map.field('idleTimeout');
    const idleTimeoutMs = idleValue === undefined ? DEFAULT_IDLE_TIMEOUT_MS : readDuration(idleValue, 1);
    return delayMs === undefined || idleTimeoutMs === undefined ? undefined : { delayMs, idleTimeoutMs };
  }

  private readGold(value: YamlValue | undefined): PipelineSpec['gold'] | undefined {
    if (value === undefined) return { shards: 1, outputModes: ['append'] };
    const map = value.map(['shards', 'outputModes'], 'the gold settings: { shards, outputModes }');
    if (map === undefined) return undefined;
    const shardsValue = map.field('shards');
    let shards: number | undefined = 1;
    if (shardsValue !== undefined) {
      const expected = `a whole number of shards from 1 to ${MAX_GOLD_SHARDS}`;
      shards = shardsValue.integer(expected);
      if (shards !== undefined && (shards < 1 || shards > MAX_GOLD_SHARDS)) {
        shardsValue.report(expected);
        shards = undefined;
      }
    }
    const modesValue = map.field('outputModes');
    let outputModes: OutputMode[] | undefined = ['append'];
    if (modesValue !== undefined) {
      const expected = `a non-empty list of ${listOf(OUTPUT_MODES, 'and/or')}`;
      const items = modesValue.list(expected);
      outputModes = items === undefined ? undefined : [];
      if (items !== undefined && items.length === 0) {
        modesValue.report(expected, 'an empty list');
        outputModes = undefined;
      }
      for (const item of items ?? []) {
        const mode = item.oneOf(OUTPUT_MODES);
        if (mode === undefined) outputModes = undefined;
        else if (outputModes?.includes(mode) === true) {
          item.report('each output mode once', `"${mode}" again`);
          outputModes = undefined;
        } else outputModes?.push(mode);
      }
    }
    return shards === undefined || outputModes === undefined ? undefined : { shards, outputModes };
  }
}

/** A duration of at least `min` ms (0 or 1). */
function readDuration(value: YamlValue | undefined, min: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  const text = value.scalar;
  const ms = typeof text === 'string' ? parseDuration(text) : undefined;
  if (ms === undefined) {
    value.report(DURATION_EXAMPLES);
    return undefined;
  }
  if (ms < min) {
    value.report(`a duration greater than 0, like "1m"`);
    return undefined;
  }
  return ms;
}

/**
 * A window's `offset` (Spark's startTime): 0 ≤ offset < slide (the size for a tumbling window),
 * as `{ offsetMs }`; `{}` when absent or 0, so a spec without offsets keeps its fingerprint; `null`
 * after reporting a problem. `step` is undefined when the slide is itself invalid (reported there).
 */
function readWindowOffset(value: YamlValue | undefined, step: number | undefined): { offsetMs?: number } | null {
  if (value === undefined) return {};
  const text = value.scalar;
  if (typeof text === 'string' && text.trim().startsWith('-')) {
    value.report(`an offset of 0 or more, shorter than the slide (${step === undefined ? 'the slide' : formatDuration(step)}); a negative offset −x is the offset slide − x`);
    return null;
  }
  const ms = readDuration(value, 0);
  if (ms === undefined) return null;
  if (step !== undefined && ms >= step) {
    value.report(
      `an offset shorter than the ${formatDuration(step)} between window starts (0 ≤ offset < slide; ${formatDuration(ms)} gives the same windows as ${formatDuration(ms % step)})`,
      value.found,
    );
    return null;
  }
  return ms === 0 ? {} : { offsetMs: ms };
}

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('parseSpec: a spec section was invalid without a recorded problem');
  return value;
}

/**
 * JSON with object keys sorted at every level (arrays keep their order; `undefined` members are
 * left out), so equal values always give the same text: the input of logic fingerprints.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`canonicalJson cannot represent ${value}`);
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol' || value === undefined) {
      throw new TypeError(`canonicalJson cannot represent a ${typeof value}`);
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(',')}}`;
}

/** The canonical text of a whole spec (see `canonicalJson`). */
export function canonicalSpecJson(spec: PipelineSpec): string {
  return canonicalJson(spec);
}

/** Whether a windows entry is a session window (`type: session`): those have their own fields. */
function isSessionWindow(item: YamlValue): boolean {
  const node = item.node;
  return isMap(node) && node.items.some((pair) => isScalar(pair.key) && pair.key.value === 'type' && isScalar(pair.value) && pair.value.value === 'session');
}

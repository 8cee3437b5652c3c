/**
 * Reading a Delta table (any writer's, protocol reader version 1) from the `Lake` port.
 *
 * Invariants:
 * - A snapshot is the log replayed up to a version: the latest `metaData` gives the schema and
 *   partitioning, the live files are `add`s minus `remove`s.
 * - Rows follow the snapshot's schema: columns a file lacks (written before a schema change) are
 *   null, columns the schema no longer has are dropped, partition values come from the log typed
 *   by the schema (`__HIVE_DEFAULT_PARTITION__`/null → null).
 * - Values are pipeline values (see `TableValue`): long/integer/double as numbers, timestamps as
 *   epoch ms rounded down (or, with `timestamps: 'micros'`, as lake timestamps that keep the
 *   microseconds: see parquet-file.ts), dates as `YYYY-MM-DD`, binary as Buffer. Types outside
 *   `TableColumnType` come as hyparquet decodes them (decimals as numbers; structs, arrays and maps
 *   as plain objects/arrays).
 */
import type { TableColumn, TableRow, TableSchema, TableValue } from '@pipeline/contracts';
import type { Lake } from '@pipeline/ports';
import { assertReadable, catchUp, DeltaLogError, DeltaLogState, followLog, type AddFile } from './delta-log';
import { canBuildRows, rowsOfColumns } from './column-rows';
import { decodeParquet, decodeParquetColumns, parquetShape, type TimestampPrecision } from './parquet-file';
import { dateOfDays, decodeAddPath, describeValue, parsePartitionValue } from './partition-values';
import { describeSparkType, parseSparkSchema, type SparkDataType, type SparkStructType } from './spark-schema';

export interface DeltaSnapshot {
  readonly version: number;
  readonly schema: SparkStructType;
  readonly partitionColumns: readonly string[];
  /** Live data files, in the order they were added. */
  readonly files: readonly AddFile[];
}

export interface ReadDeltaOptions {
  /** Table version to read (default: the latest). */
  readonly version?: number;
  /** Timestamps as epoch ms rounded down (the default) or as lake timestamps keeping microseconds. */
  readonly timestamps?: TimestampPrecision;
}

export interface ReadTableFileOptions {
  /** Timestamps as epoch ms rounded down (the default) or as lake timestamps keeping microseconds. */
  readonly timestamps?: TimestampPrecision;
  /** Only these columns (the others are not decoded, and rows have no field for them); default: every column. */
  readonly columns?: readonly string[];
}

/** Replay the log of the table at `root` up to `options.version` (or the latest). */
export async function readDeltaSnapshot(lake: Lake, root: string, options: ReadDeltaOptions = {}): Promise<DeltaSnapshot> {
  const { version } = options;
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) throw new RangeError(`version must be a non-negative integer, got ${version}.`);
  const state = new DeltaLogState({ trackFiles: true });
  await catchUp(lake, root, state, version);
  const where = `${lake.location}/${root}`;
  if (state.version < 0) throw new DeltaLogError(`No Delta table at ${where}: ${root}/_delta_log/ has no log entries.`);
  if (version !== undefined && state.version < version) throw new DeltaLogError(`Delta table at ${where} has no version ${version}; its latest version is ${state.version}.`);
  assertReadable(state.protocol, where);
  if (!state.metadata) throw new DeltaLogError(`Delta table at ${where} has no metaData action up to version ${state.version}.`);
  return {
    version: state.version,
    schema: parseSparkSchema(state.metadata.schemaString),
    partitionColumns: state.metadata.partitionColumns,
    files: [...(state.files?.values() ?? [])],
  };
}

/** The rows of the table at `root` at `options.version` (or the latest), file by file. */
export async function* readDeltaRows(lake: Lake, root: string, options: ReadDeltaOptions = {}): AsyncIterable<TableRow> {
  const snapshot = await readDeltaSnapshot(lake, root, options);
  for (const file of snapshot.files) {
    const path = `${root}/${decodeAddPath(file.path)}`;
    yield* await decodeSnapshotFile(snapshot, file, await lake.read(path), path, { timestamps: options.timestamps });
  }
}

export interface DecodeSnapshotFileOptions extends ReadTableFileOptions {
  /** First row of the file to decode (default 0). */
  readonly rowStart?: number;
  /** Row after the last one to decode (default: the file's row count). */
  readonly rowEnd?: number;
  /** Only these rows of the file (indices, in the order wanted): the span they cover is decoded, only they become rows. */
  readonly rows?: readonly number[];
}

/**
 * The rows of one data file of `snapshot` (`bytes`, read from `path`), shaped by the snapshot's
 * schema as `readDeltaRows` gives them; with `columns`, only those (partition columns included).
 */
export async function decodeSnapshotFile(snapshot: DeltaSnapshot, file: AddFile, bytes: Buffer, path: string, options: DecodeSnapshotFileOptions = {}): Promise<TableRow[]> {
  const timestamps = options.timestamps ?? 'millis';
  const partitions = new Set(snapshot.partitionColumns);
  const shape = parquetShape(bytes);
  const present = new Set(shape.columns);
  const fields = options.columns === undefined ? snapshot.schema.fields : snapshot.schema.fields.filter((field) => options.columns?.includes(field.name));
  const dataFields = fields.filter((field) => !partitions.has(field.name) && present.has(field.name));
  const partitionValues: TableRow = {};
  for (const field of fields) {
    if (partitions.has(field.name)) partitionValues[field.name] = parsePartitionValue(field.type, file.partitionValues[field.name], field.name);
  }
  const picked = options.rows?.filter((index) => Number.isInteger(index) && index >= 0 && index < shape.numRows);
  const rowStart = picked ? Math.min(...picked) : Math.max(0, options.rowStart ?? 0);
  const rowEnd = picked ? Math.max(...picked) + 1 : Math.min(shape.numRows, options.rowEnd ?? shape.numRows);
  if (picked?.length === 0) return [];
  // A file holding none of the wanted data columns still has rows: they read as nulls.
  const records =
    dataFields.length > 0
      ? await decodeParquet(
          bytes,
          dataFields.map((field) => field.name),
          timestamps,
          { rowStart, rowEnd },
        )
      : Array.from({ length: Math.max(0, rowEnd - rowStart) }, (): Record<string, unknown> => ({}));
  const chosen = picked ? picked.map((index) => records[index - rowStart] as Record<string, unknown>) : records;
  return chosen.map((record) => {
    const row: TableRow = {};
    for (const field of fields) {
      if (partitions.has(field.name)) row[field.name] = partitionValues[field.name];
      else if (present.has(field.name)) row[field.name] = toTableValue(field.type, record[field.name], field.name, path, timestamps);
      else row[field.name] = null;
    }
    return row;
  });
}

/**
 * A table's latest snapshot, kept in memory and brought up to date on each `latest()` by reading
 * only the log entries committed since the last call (and probing the next version, without
 * listing): the cost of a call grows with what was committed in between, not with the table's
 * history. The first call replays the whole log (checkpoints are not read).
 */
export class DeltaSnapshotFollower {
  private readonly state = new DeltaLogState({ trackFiles: true });
  private snapshot?: DeltaSnapshot;
  private pending?: Promise<DeltaSnapshot | undefined>;

  constructor(
    private readonly lake: Lake,
    readonly root: string,
  ) {}

  /** The latest snapshot, or `undefined` while the table has no log entry. Concurrent calls share one catch-up. */
  latest(): Promise<DeltaSnapshot | undefined> {
    this.pending ??= this.catchUp().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async catchUp(): Promise<DeltaSnapshot | undefined> {
    // The first time, list the log (it may not exist yet); then read only the versions after the last one.
    if (this.state.version < 0) await catchUp(this.lake, this.root, this.state);
    else await followLog(this.lake, this.root, this.state);
    if (this.state.version < 0) return undefined;
    if (this.snapshot?.version === this.state.version) return this.snapshot;
    const where = `${this.lake.location}/${this.root}`;
    assertReadable(this.state.protocol, where);
    if (!this.state.metadata) throw new DeltaLogError(`Delta table at ${where} has no metaData action up to version ${this.state.version}.`);
    this.snapshot = {
      version: this.state.version,
      schema: parseSparkSchema(this.state.metadata.schemaString),
      partitionColumns: this.state.metadata.partitionColumns,
      files: [...(this.state.files?.values() ?? [])],
    };
    return this.snapshot;
  }
}

/**
 * A decoded Parquet value as the pipeline value for a column of Spark type `type`. `timestamps`
 * says how the value was decoded: with `micros`, a bigint timestamp is epoch microseconds.
 */
export function toTableValue(type: SparkDataType, value: unknown, column: string, where: string, timestamps: TimestampPrecision = 'millis'): TableValue {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
      break;
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') {
        if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
        throw new DeltaLogError(`Column "${column}" in ${where} holds ${value}, beyond the safe integer range of pipeline numbers.`);
      }
      break;
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'date':
      if (typeof value === 'string') return value;
      if (typeof value === 'number') return dateOfDays(value);
      if (value instanceof Date) return value.toISOString().slice(0, 10);
      break;
    case 'timestamp':
    case 'timestamp_ntz':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return timestamps === 'micros' ? value : Number(value);
      if (value instanceof Date) return value.getTime();
      break;
    case 'binary':
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      break;
    default:
      if (typeof value === 'bigint') return Number(value);
      return value as TableValue; // decimals and nested types: as hyparquet decodes them
  }
  throw new DeltaLogError(`Column "${column}" in ${where} is ${describeSparkType(type)} but holds ${describeValue(value)}.`);
}

/**
 * The rows of one data file of a table with `schema` (its lake path, as manifests name it).
 * Partition columns are not stored in data files; they read as null here. The columns are decoded
 * whole and the rows built from them (`column-rows.ts`), about a fifth less CPU per row than
 * hyparquet's rows; the rows are those of `readTableFileRows`, which reads the rest.
 */
export async function readTableFile(lake: Lake, path: string, schema: TableSchema, options: ReadTableFileOptions = {}): Promise<TableRow[]> {
  const timestamps = options.timestamps ?? 'millis';
  const bytes = await lake.read(path);
  const wanted = options.columns === undefined ? schema.columns : schema.columns.filter((c) => options.columns?.includes(c.name));
  const fields = wanted.map((c) => c.name);
  // Whole columns, converted as arrays, then one row literal per row (column-rows.ts); the rows
  // are those of the row-wise read below (a property test compares them).
  if (canBuildRows(fields)) {
    const decoded = await decodeParquetColumns(bytes, fields, timestamps);
    if (decoded !== undefined) {
      if (decoded.values.every((values) => values === null)) return [];
      const values = decoded.values.map((column, c) => column && convertValues(column, wanted[c].type, wanted[c].name, path, timestamps));
      return rowsOfColumns(fields, values, decoded.numRows) as TableRow[];
    }
  }
  return readTableFileRows(bytes, path, wanted, timestamps);
}

/** `readTableFile` through hyparquet's rows: for field names a row literal cannot take, or chunks that do not cover the rows. */
export async function readTableFileRows(bytes: Buffer, path: string, wanted: readonly TableColumn[], timestamps: TimestampPrecision): Promise<TableRow[]> {
  const inFile = parquetShape(bytes).columns;
  const present = new Set(inFile);
  const columns = wanted.filter((c) => present.has(c.name));
  const records =
    columns.length > 0
      ? await decodeParquet(
          bytes,
          columns.map((c) => c.name),
          timestamps,
        )
      : [];
  // The decoded records already have exactly the wanted fields, in the wanted order, when the file
  // holds them all in that order: they become the rows, with only the values that differ converted.
  const sameFields = columns.length === wanted.length && inFile.filter((name) => columns.some((c) => c.name === name)).every((name, i) => name === columns[i].name);
  if (sameFields) {
    for (const column of columns) convertColumnInPlace(records, column.name, column.type, path, timestamps);
    return records as TableRow[];
  }
  return records.map((record) => {
    const row: TableRow = {};
    for (const column of wanted) row[column.name] = present.has(column.name) ? toTableValue(column.type, record[column.name], column.name, path, timestamps) : null;
    return row;
  });
}

/** The JS type a decoded value of a column already has when it needs no conversion (see `toTableValue`). */
const UNCONVERTED_TYPE: Partial<Record<string, string>> = {
  string: 'string',
  double: 'number',
  float: 'number',
  boolean: 'boolean',
  long: 'number',
  integer: 'number',
  short: 'number',
  byte: 'number',
  timestamp: 'number',
  timestamp_ntz: 'number',
};

/**
 * `toTableValue` over one decoded column: the column itself when no value needs converting, else a
 * copy (a typed array cannot hold what some values become) with those values converted.
 */
function convertValues(values: ArrayLike<unknown>, type: SparkDataType, name: string, path: string, timestamps: TimestampPrecision): ArrayLike<unknown> {
  const unconverted = typeof type === 'string' ? UNCONVERTED_TYPE[type] : undefined;
  // A long read as a bigint: its Number is a safe integer exactly when the bigint is in the safe
  // range (rounding keeps magnitudes ≥ 2^53 at or above 2^53), as toTableValue requires.
  const integral = unconverted === 'number' && type !== 'double' && type !== 'float' && type !== 'timestamp' && type !== 'timestamp_ntz';
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || typeof value === unconverted) continue;
    out ??= Array.from(values);
    if (integral && typeof value === 'bigint') {
      const number = Number(value);
      if (Number.isSafeInteger(number)) {
        out[i] = number;
        continue;
      }
    }
    out[i] = toTableValue(type, value, name, path, timestamps);
  }
  return out ?? values;
}

/** `toTableValue` over one column of decoded records, writing back only the values it changes. */
function convertColumnInPlace(records: Array<Record<string, unknown>>, name: string, type: SparkDataType, path: string, timestamps: TimestampPrecision): void {
  const unconverted = typeof type === 'string' ? UNCONVERTED_TYPE[type] : undefined;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const value = record[name];
    if (value === null || typeof value === unconverted) continue;
    record[name] = toTableValue(type, value, name, path, timestamps);
  }
}

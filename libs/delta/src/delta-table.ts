/**
 * Appending to a Delta Lake table on the `Lake` port.
 *
 * Invariants:
 * - Every object is created with `createIfAbsent` (DESIGN invariant 3): data files, and log
 *   entries, whose creation is the commit. Nothing is overwritten or deleted.
 * - Deterministic output (invariant 2): data file names come from the caller's `filePrefix`, file
 *   bytes from the rows alone, and times from the caller (`commitTime`, `createdTime`), never the
 *   wall clock. Re-running a batch rewrites the same bytes at the same paths; an existing file
 *   with other bytes is an error, never silently accepted.
 * - Idempotent commits (invariant 4): a commit carries `txn {appId, version}`; when the log already
 *   holds a txn of that app with a version ≥ it, nothing is written. A commit attempt that finds
 *   its log version taken replays the new entries and re-checks the txn before trying the next
 *   version, so any number of writers append without losing or duplicating a batch.
 * - The in-memory snapshot (latest version, txn per app, metadata) only moves forward, reading
 *   only log entries newer than the last one seen.
 */
import { createHash } from 'node:crypto';
import { settleAll, type TableColumn, type TableRow, type TableSchema, BACKUP_SOURCES } from '@pipeline/contracts';
import { assertLakePath, FatalBackendError, type Lake } from '@pipeline/ports';
import {
  assertWritable,
  catchUp,
  DeltaLogError,
  DeltaLogState,
  logEntryPath,
  parseLogEntry,
  serializeActions,
  type AddFile,
  type DeltaAction,
  type DeltaMetadata,
} from './delta-log';
import { compareCodePoints, serializeFileStats } from './file-stats';
import { encodeDataFile, PARQUET_WRITER_VERSION, parquetWriterOf, type ParquetWriterVersion } from './parquet-writers';
import { encodeAddPath, partitionFolder, serializePartitionValue } from './partition-values';
import { DeltaSchemaError, describeSchemaDifferences, parseSparkSchema, toSparkSchema, type SparkStructType } from './spark-schema';

export interface DeltaTableOptions {
  /** `metaData.name` of a new table. */
  readonly tableName?: string;
  /** `metaData.createdTime` of a new table; fixed (default 0) so re-creating a table gives the same bytes. */
  readonly createdTime?: number;
  /** Most rows in one data file (default 1,000,000); a partition with more rows gets several files. */
  readonly maxRowsPerFile?: number;
}

export interface WriteFilesOptions {
  /** Names this batch's files, e.g. `part-00000042-shard-003`; letters, digits, `.`, `_`, `-`. */
  readonly filePrefix: string;
  /** `modificationTime` of the add actions (epoch ms), the batch's commit time, not the wall clock. */
  readonly commitTime: number;
  /** Overrides `DeltaTableOptions.maxRowsPerFile` for this call. */
  readonly maxRowsPerFile?: number;
  /** `add.tags` of each file from its rows (e.g. a key filter); they must depend on the rows alone. */
  readonly fileTags?: (rows: readonly TableRow[]) => Readonly<Record<string, string>>;
  /**
   * The Parquet writer, as the batch's offsets record it (see `parquet-writers.ts`); default the
   * current one. A batch re-run must use the writer it first ran with, or its files are refused.
   */
  readonly parquetWriter?: ParquetWriterVersion;
}

export interface CommitOptions {
  /** The batch identity: the commit is skipped when the log has a txn of `appId` with version ≥ `version`. */
  readonly txn: { readonly appId: string; readonly version: number };
  /** `commitInfo.timestamp` and `txn.lastUpdated` (epoch ms). */
  readonly commitTime: number;
  /** `commitInfo.operation` (default `WRITE`). */
  readonly operation?: string;
  /** `commitInfo.operationParameters` (default `{mode: 'Append', partitionBy: '[…]'}`). */
  readonly operationParameters?: Readonly<Record<string, unknown>>;
  /**
   * The writer commits every txn version of `appId` in turn (a stage's batches): version N > 0 is
   * committed only while the log holds N − 1, else `DeltaLogGapError`.
   */
  readonly consecutive?: boolean;
}

export interface CommitResult {
  /** The table version holding this batch's txn (the new one, or the earlier one when already committed). */
  readonly version: number;
  readonly alreadyCommitted: boolean;
}

export class DeltaConflictError extends Error {
  override readonly name = 'DeltaConflictError';
}

/**
 * A writer whose txn versions are consecutive (one commit per batch) found the one before its
 * next missing from the log: a log entry that held it is gone (deleted, or not restored with the
 * rest). Committing now would take the version of the lost entry for good, so nothing is committed.
 */
export class DeltaLogGapError extends FatalBackendError {
  override readonly name = 'DeltaLogGapError';
}

/** What to do when log entries a writer committed are gone (see `DeltaLogGapError`). */
const LOST_ENTRIES_FIX = `put the missing entries back (${BACKUP_SOURCES}), then start again.`;

const DEFAULT_MAX_ROWS_PER_FILE = 1_000_000;
/** Data files being stored at once by one `writeDataFiles` (a disk or a network round trip each). */
const STORES_IN_FLIGHT = 4;
/** Each failed attempt means another writer committed; this bounds a pathological pile-up. */
const MAX_COMMIT_ATTEMPTS = 1000;
const FILE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ENGINE_INFO = 'pipeline-delta';

/** A data file `writeDataFiles` wrote: its add action, where it is in the lake, its bytes' SHA-256 and its rows. */
export interface WrittenDataFile {
  add: AddFile;
  /** The file's path in the lake (the table root, then the add's path decoded). */
  lakePath: string;
  sha256: string;
  rows: readonly TableRow[];
}

export class DeltaTable {
  private readonly dataColumns: readonly TableColumn[];
  private readonly columnsByName: ReadonlyMap<string, TableColumn>;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly lake: Lake,
    /** Lake path of the table folder (holds `_delta_log/`). */
    readonly root: string,
    readonly schema: TableSchema,
    private readonly sparkSchema: SparkStructType,
    private readonly state: DeltaLogState,
    private readonly options: DeltaTableOptions,
  ) {
    const partitions = new Set(schema.partitionBy);
    this.dataColumns = schema.columns.filter((column) => !partitions.has(column.name));
    this.columnsByName = new Map(schema.columns.map((column) => [column.name, column]));
  }

  /**
   * Open the table at `root`, creating version 0 when the table is new. Throws `DeltaSchemaError`
   * when an existing table's schema or partitioning differs from `schema`.
   */
  static async open(lake: Lake, root: string, schema: TableSchema, options: DeltaTableOptions = {}): Promise<DeltaTable> {
    assertLakePath(root);
    validateSchema(schema, root);
    const maxRows = options.maxRowsPerFile ?? DEFAULT_MAX_ROWS_PER_FILE;
    if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRowsPerFile must be a positive integer, got ${maxRows}.`);
    const createdTime = options.createdTime ?? 0;
    if (!Number.isSafeInteger(createdTime)) throw new RangeError(`createdTime must be epoch milliseconds, got ${createdTime}.`);

    const sparkSchema = toSparkSchema(schema);
    const state = new DeltaLogState({ trackFiles: false });
    await catchUp(lake, root, state);
    if (state.version < 0) {
      const actions = initialActions(root, schema, sparkSchema, options.tableName, createdTime);
      const path = logEntryPath(root, 0);
      // Another opener may create version 0 at the same time: whoever wins, catch up and check it.
      if (await lake.createIfAbsent(path, serializeActions(actions))) state.apply(0, actions, path);
      else await catchUp(lake, root, state);
    }
    const table = new DeltaTable(lake, root, schema, sparkSchema, state, { ...options, maxRowsPerFile: maxRows });
    table.assertCompatible();
    return table;
  }

  /** The latest table version this instance has seen. */
  get version(): number {
    return this.state.version;
  }

  /**
   * Throws `DeltaLogGapError` when the log ends before `version`, which `committedBy` (a stage's
   * commit record, read before this call) says it committed: entries were lost, and the next commit
   * would take their place. The log is read again first when this instance has not seen that version.
   */
  async assertHoldsVersion(version: number, committedBy: string): Promise<void> {
    if (version <= this.state.version) return;
    // Another writer may have committed since this instance read the log: the record was read first, so the log holds it by now.
    await this.refresh();
    if (version <= this.state.version) return;
    throw new DeltaLogGapError(
      `${this.describe()} ends at version ${this.state.version}, but ${committedBy} says it committed version ${version}: ` +
        `${version === this.state.version + 1 ? `the entry ${logEntryPath(this.root, version)} is` : `the entries ${this.state.version + 1}–${version} of ${this.root}/_delta_log are`} missing. ` +
        `Nothing was committed, so the versions stay free: ${LOST_ENTRIES_FIX}`,
      `Delta table ${this.root}`,
    );
  }

  /** The latest committed txn version of `appId` this instance has seen (call `refresh` first for news). */
  lastTxnVersion(appId: string): number | undefined {
    return this.state.txns.get(appId)?.version;
  }

  /** Read log entries committed since this instance last looked. */
  async refresh(): Promise<void> {
    await this.exclusive(async () => {
      await catchUp(this.lake, this.root, this.state);
      this.assertCompatible();
    });
  }

  /**
   * Write `rows` as Parquet data files, Hive-partitioned by the schema's partition columns and
   * split into files of at most `maxRowsPerFile` rows. Nothing is visible to readers until the
   * returned add actions are committed. Re-running with the same rows and options is safe.
   */
  async writeFiles(rows: readonly TableRow[], options: WriteFilesOptions): Promise<AddFile[]> {
    return (await this.writeDataFiles(rows, options)).map((file) => file.add);
  }

  /**
   * `writeFiles`, telling also each file's SHA-256 and its rows: the lake holds exactly these bytes
   * (a file already there with other bytes is refused), so a caller need not read them back.
   */
  async writeDataFiles(rows: readonly TableRow[], options: WriteFilesOptions): Promise<WrittenDataFile[]> {
    if (typeof options.filePrefix !== 'string' || !FILE_PREFIX.test(options.filePrefix)) {
      throw new Error(`filePrefix must be letters, digits, '.', '_' or '-' (e.g. "part-00000042-shard-003"), got ${JSON.stringify(options.filePrefix)}.`);
    }
    if (!Number.isSafeInteger(options.commitTime)) throw new RangeError(`commitTime must be epoch milliseconds, got ${options.commitTime}.`);
    const maxRows = options.maxRowsPerFile ?? this.options.maxRowsPerFile ?? DEFAULT_MAX_ROWS_PER_FILE;
    if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRowsPerFile must be a positive integer, got ${maxRows}.`);
    const writer = parquetWriterOf(options.parquetWriter ?? PARQUET_WRITER_VERSION);

    const files: WrittenDataFile[] = [];
    // Files are stored while the next ones are encoded: a store mostly waits on the disk (or the
    // network), the encoding on the CPU. A few stores are in flight at once (each is a
    // create-if-absent of its own path, so their order changes nothing); the encoder waits for the
    // oldest when that many are.
    const storing: Promise<void>[] = [];
    try {
      for (const group of this.partitionGroups(rows)) {
        for (let start = 0, index = 0; start < group.rows.length; start += maxRows, index++) {
          const chunk = group.rows.slice(start, start + maxRows);
          const fileName = `${options.filePrefix}.c${String(index).padStart(3, '0')}.snappy.parquet`;
          const storedPath = group.folder === '' ? fileName : `${group.folder}/${fileName}`;
          const { bytes, stats } = encodeDataFile(this.dataColumns, chunk, writer);
          if (storing.length >= STORES_IN_FLIGHT) await storing.shift();
          const stored = this.createDataFile(`${this.root}/${storedPath}`, bytes);
          // Handled at once: a store that fails while the encoder works is awaited (and thrown) below.
          stored.catch(() => undefined);
          storing.push(stored);
          const add: AddFile = {
            path: encodeAddPath(storedPath),
            partitionValues: group.values,
            size: bytes.length,
            modificationTime: options.commitTime,
            dataChange: true,
            stats: serializeFileStats(stats()),
            ...(options.fileTags ? { tags: sortedTags(options.fileTags(chunk)) } : {}),
          };
          files.push({ add, lakePath: `${this.root}/${storedPath}`, sha256: createHash('sha256').update(bytes).digest('hex'), rows: chunk });
        }
      }
    } catch (error) {
      // Nothing is left being stored when this returns: a store that fails too is not what failed first.
      await Promise.allSettled(storing);
      throw error;
    }
    // Every store settles before this returns, and the first failure (in file order) is thrown.
    await settleAll(storing);
    return files;
  }

  /**
   * Commit `adds` as the next table version with `txn`, unless that txn is already in the log.
   * Safe to call again after a crash, and from several writers at once.
   */
  async commit(adds: readonly AddFile[], options: CommitOptions): Promise<CommitResult> {
    const { appId, version: txnVersion } = options.txn ?? {};
    if (typeof appId !== 'string' || appId === '') throw new Error(`commit needs txn.appId, a non-empty string, got ${JSON.stringify(appId)}.`);
    if (!Number.isSafeInteger(txnVersion) || txnVersion < 0) throw new RangeError(`txn.version must be a non-negative integer, got ${txnVersion}.`);
    if (!Number.isSafeInteger(options.commitTime)) throw new RangeError(`commitTime must be epoch milliseconds, got ${options.commitTime}.`);
    const text = serializeActions(this.commitActions(adds, options));

    return this.exclusive(async () => {
      let caughtUp = false;
      for (let attempt = 1; ; attempt++) {
        const committed = this.state.txns.get(appId);
        if (committed && committed.version >= txnVersion) return { version: committed.committedIn, alreadyCommitted: true };
        if (options.consecutive === true && txnVersion > 0 && (committed === undefined || committed.version < txnVersion - 1)) {
          if (!caughtUp) {
            // Batch N − 1 may have been committed by another instance (the writer moved here since): read the log again first.
            caughtUp = true;
            await catchUp(this.lake, this.root, this.state);
            this.assertCompatible();
            continue;
          }
          throw new DeltaLogGapError(
            `${this.describe()} has no commit of batch ${txnVersion - 1} of ${appId} (its newest there is ${committed === undefined ? 'none' : `batch ${committed.version}, in version ${committed.committedIn}`}), ` +
              `though batch ${txnVersion} comes after it: a log entry of ${this.root}/_delta_log is missing (the log ends at version ${this.state.version}, so the entries after it are the first to look for). ` +
              `Nothing was committed, so the version stays free: ${LOST_ENTRIES_FIX}`,
            `Delta table ${this.root}`,
          );
        }
        const version = this.state.version + 1;
        const path = logEntryPath(this.root, version);
        if (await this.lake.createIfAbsent(path, text)) {
          this.state.apply(version, parseLogEntry(text, path), path);
          return { version, alreadyCommitted: false };
        }
        if (attempt >= MAX_COMMIT_ATTEMPTS) {
          throw new DeltaConflictError(`Gave up committing txn ${appId}@${txnVersion} to ${this.describe()} after ${attempt} attempts: every version was taken by another writer.`);
        }
        // Another writer took this version: learn what it committed (maybe this very txn) and retry.
        await catchUp(this.lake, this.root, this.state);
        this.assertCompatible();
      }
    });
  }

  private commitActions(adds: readonly AddFile[], options: CommitOptions): DeltaAction[] {
    let rows = 0;
    let bytes = 0;
    for (const add of adds) {
      bytes += add.size;
      if (add.stats) rows += (JSON.parse(add.stats) as { numRecords?: number }).numRecords ?? 0;
    }
    return [
      { txn: { appId: options.txn.appId, version: options.txn.version, lastUpdated: options.commitTime } },
      ...adds.map((add) => ({ add })),
      {
        commitInfo: {
          timestamp: options.commitTime,
          operation: options.operation ?? 'WRITE',
          operationParameters: options.operationParameters ?? { mode: 'Append', partitionBy: JSON.stringify(this.schema.partitionBy) },
          isBlindAppend: true,
          operationMetrics: { numFiles: String(adds.length), numOutputRows: String(rows), numOutputBytes: String(bytes) },
          engineInfo: ENGINE_INFO,
        },
      },
    ];
  }

  /** Rows grouped by partition folder, groups in byte order of folder, rows in input order. */
  private partitionGroups(rows: readonly TableRow[]): { folder: string; values: Record<string, string | null>; rows: TableRow[] }[] {
    const groups = new Map<string, { folder: string; values: Record<string, string | null>; rows: TableRow[] }>();
    const bySingleValue = new Map<TableRow[string], { folder: string; values: Record<string, string | null>; rows: TableRow[] }>();
    const names = this.schema.columns.map((column) => column.name);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      // Rows mostly hold their columns in schema order: a key equal to the next name is known without a lookup.
      let next = 0;
      for (const key in row) {
        if (key === names[next]) {
          next++;
          continue;
        }
        if (!this.columnsByName.has(key)) {
          throw new Error(`Row ${i} has column "${key}" that ${this.describe()} does not have; columns are ${[...this.columnsByName.keys()].join(', ')}.`);
        }
      }
      // Rows of one batch mostly share their partition values: one partition column is looked up by its raw value.
      const single = this.schema.partitionBy.length === 1 ? (row[this.schema.partitionBy[0] as string] ?? null) : undefined;
      const known = single === undefined ? undefined : bySingleValue.get(single);
      if (known) {
        known.rows.push(row);
        continue;
      }
      const values: Record<string, string | null> = {};
      for (const name of this.schema.partitionBy) {
        const column = this.columnsByName.get(name) as TableColumn;
        const value = row[name] ?? null;
        if (value === null && !column.nullable) throw new Error(`Row ${i}: partition column "${name}" is not nullable but the value is null.`);
        try {
          values[name] = serializePartitionValue(column.type, value, name);
        } catch (error) {
          throw new Error(`Row ${i}: ${(error as Error).message}`);
        }
      }
      const folder = partitionFolder(this.schema.partitionBy, values);
      let group = groups.get(folder);
      if (!group) groups.set(folder, (group = { folder, values, rows: [] }));
      if (single !== undefined) bySingleValue.set(single, group);
      group.rows.push(row);
    }
    return [...groups.values()].sort((a, b) => compareCodePoints(a.folder, b.folder));
  }

  /** Create a data file; a file left by an interrupted earlier attempt is accepted only with the same bytes. */
  private async createDataFile(path: string, bytes: Buffer): Promise<void> {
    if (await this.lake.createIfAbsent(path, bytes)) return;
    const existing = await this.lake.read(path);
    if (!existing.equals(bytes)) {
      throw new DeltaConflictError(
        `Data file ${path} in ${this.lake.location} already exists with other content (${existing.length} bytes, this batch wrote ${bytes.length}). ` +
          'Nothing was overwritten. Most often a stage runs again from batch 0 over the tables of an earlier run: its checkpoint was removed or replaced while its tables were kept. ' +
          'Keep a checkpoint and its tables together: put the checkpoint back, or start the stage under new names (another --checkpoint name and tables root; docs/runbook.md, "Roll out a logic change"). ' +
          '(For a writer of this table: two different batches used the same filePrefix, or a batch is not deterministic.)',
      );
    }
  }

  private assertCompatible(): void {
    const where = this.describe();
    assertWritable(this.state.protocol, where);
    const metadata: DeltaMetadata | undefined = this.state.metadata;
    if (!metadata) throw new DeltaLogError(`Delta table at ${where} has no metaData action in its log.`);
    const differences = describeSchemaDifferences(
      { schema: parseSparkSchema(metadata.schemaString), partitionColumns: metadata.partitionColumns },
      { schema: this.sparkSchema, partitionColumns: this.schema.partitionBy },
    );
    if (differences.length > 0) {
      throw new DeltaSchemaError(
        `Delta table at ${where} (version ${this.state.version}) does not match the expected schema: ${differences.join('; ')}. ` +
          'Write to a new table path, or migrate the table and update the schema together.',
      );
    }
  }

  private describe(): string {
    return `${this.lake.location}/${this.root}`;
  }

  /** Run `task` after every earlier snapshot-changing task of this instance (commits do not interleave). */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Tags in byte order of their names, so equal tags give equal log bytes. */
function sortedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(tags).sort(compareCodePoints)) {
    const value = tags[name];
    if (typeof value !== 'string') throw new TypeError(`File tag "${name}" must be a string, got ${typeof value}.`);
    out[name] = value;
  }
  return out;
}

function initialActions(root: string, schema: TableSchema, sparkSchema: SparkStructType, tableName: string | undefined, createdTime: number): DeltaAction[] {
  return [
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    {
      metaData: {
        id: tableId(root),
        name: tableName,
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify(sparkSchema),
        partitionColumns: [...schema.partitionBy],
        configuration: {},
        createdTime,
      },
    },
    {
      commitInfo: {
        timestamp: createdTime,
        operation: 'CREATE TABLE',
        operationParameters: { isManaged: 'false', partitionBy: JSON.stringify(schema.partitionBy), properties: '{}' },
        isBlindAppend: true,
        engineInfo: ENGINE_INFO,
      },
    },
  ];
}

/** A UUID (version-5 layout) derived from the table root, so re-creating a table gives the same id. */
export function tableId(root: string): string {
  const hash = createHash('sha256').update(`delta-table:${root}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function validateSchema(schema: TableSchema, root: string): void {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const column of schema.columns ?? []) {
    if (typeof column.name !== 'string' || column.name === '') problems.push(`a column has no name`);
    else if (names.has(column.name)) problems.push(`column "${column.name}" appears twice`);
    names.add(column.name);
  }
  if (names.size === 0) problems.push('it has no columns');
  for (const name of schema.partitionBy ?? []) {
    if (!names.has(name)) problems.push(`partition column "${name}" is not a column`);
  }
  if ((schema.partitionBy ?? []).length >= names.size && names.size > 0) problems.push('every column is a partition column; Parquet files need at least one data column');
  if (problems.length > 0) throw new DeltaSchemaError(`Invalid schema for the Delta table at ${root}: ${problems.join('; ')}.`);
}

/**
 * The Delta transaction log: actions, their serialisation, and log replay.
 *
 * Invariants:
 * - A log entry is `_delta_log/{version:020}.json`, one JSON action per line, each line ending in
 *   `\n`. Entries are only ever created with `createIfAbsent` (DESIGN invariant 3), so an entry is
 *   seen whole or not at all and a version is taken by exactly one writer.
 * - Serialisation is deterministic: every action is written with a fixed key order, so the same
 *   actions give the same bytes.
 * - Replay applies entries in version order and requires them contiguous from 0 (checkpoints are
 *   not read): the latest `protocol` and `metaData` win, files are `add`s minus `remove`s, and each
 *   app's latest `txn` version is kept.
 */
import { LakeNotFoundError, type Lake } from '@pipeline/ports';
import { BACKUP_SOURCES } from '@pipeline/contracts';

export interface AddFile {
  /** URI path relative to the table root (see `decodeAddPath`). */
  readonly path: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly size: number;
  readonly modificationTime: number;
  readonly dataChange: boolean;
  /** `{"numRecords":…,"minValues":…,"maxValues":…,"nullCount":…}` as a JSON string. */
  readonly stats?: string;
  /** Metadata about the file that readers may use and must otherwise ignore (e.g. a key filter). */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface RemoveFile {
  readonly path: string;
  readonly deletionTimestamp?: number;
  readonly dataChange: boolean;
  readonly partitionValues?: Readonly<Record<string, string | null>>;
  readonly size?: number;
}

export interface DeltaProtocol {
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures?: readonly string[];
  readonly writerFeatures?: readonly string[];
}

export interface DeltaMetadata {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly format: { readonly provider: string; readonly options: Readonly<Record<string, string>> };
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
  readonly createdTime?: number;
}

export interface DeltaTxn {
  readonly appId: string;
  readonly version: number;
  readonly lastUpdated?: number;
}

export type DeltaCommitInfo = Readonly<Record<string, unknown>>;

export type DeltaAction =
  | { readonly protocol: DeltaProtocol }
  | { readonly metaData: DeltaMetadata }
  | { readonly txn: DeltaTxn }
  | { readonly add: AddFile }
  | { readonly remove: RemoveFile }
  | { readonly commitInfo: DeltaCommitInfo };

export class DeltaLogError extends Error {
  override readonly name = 'DeltaLogError';
}

const LOG_ENTRY = /^(\d{20})\.json$/;

/** What to do about a log entry that is not what a writer wrote: no reader or writer of the table can go on past it. */
const DAMAGED_ENTRY_FIX = `The entry is damaged (cut short, or changed since it was committed): put a good copy back (${BACKUP_SOURCES}); until then the table can be neither read nor written.`;

export function logFolder(root: string): string {
  return `${root}/_delta_log/`;
}

export function logEntryPath(root: string, version: number): string {
  return `${logFolder(root)}${String(version).padStart(20, '0')}.json`;
}

/** One action per line, fixed key order, each line ending in a newline. */
export function serializeActions(actions: readonly DeltaAction[]): string {
  return actions.map((action) => `${JSON.stringify(ordered(action))}\n`).join('');
}

function ordered(action: DeltaAction): object {
  if ('protocol' in action) {
    const p = action.protocol;
    return { protocol: pick(p, ['minReaderVersion', 'minWriterVersion', 'readerFeatures', 'writerFeatures']) };
  }
  if ('metaData' in action) {
    const m = action.metaData;
    return {
      metaData: {
        ...pick(m, ['id', 'name', 'description']),
        format: { provider: m.format.provider, options: m.format.options },
        ...pick(m, ['schemaString', 'partitionColumns', 'configuration', 'createdTime']),
      },
    };
  }
  if ('txn' in action) return { txn: pick(action.txn, ['appId', 'version', 'lastUpdated']) };
  if ('add' in action) return { add: pick(action.add, ['path', 'partitionValues', 'size', 'modificationTime', 'dataChange', 'stats', 'tags']) };
  if ('remove' in action) return { remove: pick(action.remove, ['path', 'deletionTimestamp', 'dataChange', 'partitionValues', 'size']) };
  return { commitInfo: action.commitInfo };
}

function pick<T extends object>(source: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

/** Parse a log entry's text into actions; unknown action kinds (cdc, domainMetadata…) are skipped. */
export function parseLogEntry(text: string, where: string): DeltaAction[] {
  const actions: DeltaAction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      throw new DeltaLogError(`Delta log entry ${where} line ${i + 1} is not JSON (${(error as Error).message}). ${DAMAGED_ENTRY_FIX}`);
    }
    if (typeof json !== 'object' || json === null) throw new DeltaLogError(`Delta log entry ${where} line ${i + 1} is not an action object. ${DAMAGED_ENTRY_FIX}`);
    const record = json as Record<string, unknown>;
    for (const kind of ['protocol', 'metaData', 'txn', 'add', 'remove', 'commitInfo'] as const) {
      if (record[kind] !== undefined) actions.push({ [kind]: record[kind] } as DeltaAction);
    }
  }
  return actions;
}

/** The state of a table after replaying its log up to `version`. */
export class DeltaLogState {
  version = -1;
  protocol?: DeltaProtocol;
  metadata?: DeltaMetadata;
  /** Last committed txn per appId, with the table version that committed it. */
  readonly txns = new Map<string, { version: number; committedIn: number }>();
  /** Live files by path, in the order they were added; kept only when asked for. */
  readonly files?: Map<string, AddFile>;
  /** Path of the newest log entry applied, for incremental listing. */
  lastEntryPath?: string;

  constructor(options: { trackFiles: boolean }) {
    if (options.trackFiles) this.files = new Map();
  }

  apply(version: number, actions: readonly DeltaAction[], entryPath: string): void {
    if (version !== this.version + 1) {
      throw new DeltaLogError(
        this.version === -1
          ? `Delta log starts at version ${version}, not 0 (${entryPath}); tables whose early log was removed after a checkpoint are not supported.`
          : `Delta log entry ${entryPath} follows version ${this.version}; version ${this.version + 1} is missing.`,
      );
    }
    for (const action of actions) {
      if ('protocol' in action) this.protocol = action.protocol;
      else if ('metaData' in action) this.metadata = action.metaData;
      else if ('txn' in action) this.txns.set(action.txn.appId, { version: action.txn.version, committedIn: version });
      else if ('add' in action) {
        if (this.files) {
          this.files.delete(action.add.path); // a re-added path moves to the end, as its newest add wins
          this.files.set(action.add.path, action.add);
        }
      } else if ('remove' in action) this.files?.delete(action.remove.path);
    }
    this.version = version;
    this.lastEntryPath = entryPath;
  }
}

/**
 * Apply the log entries newer than `state.version` (up to `untilVersion` when given), listing
 * only past the last entry already applied.
 */
export async function catchUp(lake: Lake, root: string, state: DeltaLogState, untilVersion?: number): Promise<void> {
  const folder = logFolder(root);
  for await (const entry of lake.list(folder, state.lastEntryPath ? { startAfter: state.lastEntryPath } : undefined)) {
    const match = LOG_ENTRY.exec(entry.path.slice(folder.length));
    if (!match) continue; // checkpoints, .crc files, _last_checkpoint
    const version = Number(match[1]);
    if (version <= state.version) continue;
    if (untilVersion !== undefined && version > untilVersion) break;
    const text = (await lake.read(entry.path)).toString('utf8');
    state.apply(version, parseLogEntry(text, `${lake.location}/${entry.path}`), entry.path);
  }
}

/**
 * Apply the log entries after `state.version` by reading the next versions in turn until one is
 * absent. Nothing is listed, so the cost is the new entries plus one read, however long the log
 * is; entries are contiguous and created whole (`createIfAbsent`), so the first absent version is
 * the end. For a state that has applied version 0 already (`catchUp` finds where the log starts).
 */
export async function followLog(lake: Lake, root: string, state: DeltaLogState): Promise<void> {
  if (state.version < 0) throw new DeltaLogError(`followLog needs a state that has applied version 0 of ${root}; call catchUp first.`);
  for (;;) {
    const version = state.version + 1;
    const path = logEntryPath(root, version);
    let bytes: Buffer;
    try {
      bytes = await lake.read(path);
    } catch (error) {
      if (error instanceof LakeNotFoundError) return;
      throw error;
    }
    state.apply(version, parseLogEntry(bytes.toString('utf8'), `${lake.location}/${path}`), path);
  }
}

/** Reader features whose data this library reads correctly without doing anything for them. */
const READABLE_FEATURES = new Set(['timestampNtz']);

/** Throw unless this library can read a table with `protocol` (reader version 1, or 3 with harmless features). */
export function assertReadable(protocol: DeltaProtocol | undefined, where: string): void {
  if (!protocol) throw new DeltaLogError(`Delta table at ${where} has no protocol action in its log; it is not a Delta table.`);
  const columnMapping = protocol.minReaderVersion === 2;
  const unsupported = (protocol.readerFeatures ?? []).filter((feature) => !READABLE_FEATURES.has(feature));
  if (protocol.minReaderVersion > 3 || columnMapping || unsupported.length > 0) {
    throw new DeltaLogError(
      `Delta table at ${where} needs reader version ${protocol.minReaderVersion}${unsupported.length ? ` with features [${unsupported.join(', ')}]` : ''}; this reader supports version 1 (and 3 with [${[...READABLE_FEATURES].join(', ')}]). Read it with a full Delta engine (Spark, delta-rs).`,
    );
  }
}

/** Throw unless this library may append to a table with `protocol` (writer version ≤ 2, no invariants used). */
export function assertWritable(protocol: DeltaProtocol | undefined, where: string): void {
  assertReadable(protocol, where);
  if (protocol && protocol.minWriterVersion > 2) {
    throw new DeltaLogError(
      `Delta table at ${where} needs writer version ${protocol.minWriterVersion}; this writer supports up to 2. Write it with a full Delta engine, or use a new table path.`,
    );
  }
}

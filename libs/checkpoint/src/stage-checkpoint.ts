/**
 * A stage's checkpoint in the lake, one folder per stage and query (Spark's layout):
 *   {root}/metadata       query id and the fingerprint of the stage's logic (and what it was made of)
 *   {root}/offsets/{N}    what batch N consumes, written BEFORE it is processed
 *   {root}/state/{N}      the stage's state after batch N (a stateless stage, e.g. capture, has none)
 *   {root}/commits/{N}    written AFTER every output of batch N is durable
 * Every entry is created only if absent (DESIGN invariant 3). A batch with offsets but no commit is
 * re-run after a restart, from the same offsets, to the same outputs (invariant 2). A checkpoint is
 * bound to the logic that wrote it (invariant 5): a different fingerprint refuses to start.
 * A commit costs the lake only what it must: the commit itself, then the deletes of the one batch
 * that crossed the retention line, of the records the stage writes (its configuration says whether
 * it keeps state, so no absent `state/N` is ever probed or deleted).
 */
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson, BACKUP_SOURCES } from '@pipeline/contracts';
import { FatalBackendError, isFatalBackendError, type Lake } from '@pipeline/ports';

export const CHECKPOINT_FORMAT_VERSION = 1;

export interface CheckpointMetadata {
  formatVersion: number;
  stage: string;
  queryId: string;
  fingerprint: string;
  /** What the fingerprint was computed from: the stage's part of the spec and its logic version. */
  logic: Record<string, unknown>;
}

export class FingerprintMismatchError extends Error {
  override readonly name = 'FingerprintMismatchError';
  constructor(
    readonly root: string,
    readonly changes: string[],
  ) {
    super(
      `The checkpoint at ${root} was written by different logic; refusing to start, since its offsets and state would not match.\n` +
        `What changed:\n${changes.map((c) => `  - ${c}`).join('\n')}\n` +
        'Two ways out: start the stage (and the stages after it) under new names — another --checkpoint name, and new tables and manifests roots where the stage has them ' +
        '(docs/runbook.md, "Roll out a logic change") — or, if this checkpoint never committed a batch, reset it (`pipeline checkpoint reset` with its name).',
    );
  }
}

/**
 * A checkpoint record that does not hold the JSON its writer wrote (cut short, or changed since):
 * the stage cannot tell where it stands from it. The record is left as it is. No retry fixes it, so
 * it is a `FatalBackendError`: a service stops on it (and is restarted, failing again, until the
 * record is put back) rather than retrying one batch for good.
 */
export class DamagedCheckpointError extends FatalBackendError {
  override readonly name = 'DamagedCheckpointError';
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(
      `The checkpoint record ${path} is damaged (${problem}), so the stage cannot tell where it stands from it. ` +
        `Put a good copy back (${BACKUP_SOURCES}), then start the stage again.`,
      `checkpoint record ${path}`,
    );
  }
}

/**
 * A checkpoint record's JSON, read from its bytes: an object, as every record is written.
 * `where` names the record in messages (the lake's location and the record's path).
 * @throws DamagedCheckpointError when the bytes are not JSON, or not an object.
 */
export function parseCheckpointRecord<T>(bytes: Uint8Array, where: string): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (error) {
    throw new DamagedCheckpointError(where, `${bytes.length} bytes that are not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new DamagedCheckpointError(where, `it holds ${JSON.stringify(value)?.slice(0, 40)}, not an object`);
  return value as T;
}

const batchName = (n: number) => String(n).padStart(20, '0');

/** The fingerprint of a stage's logic: a hash of its canonical JSON. */
export function fingerprintOf(logic: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(logic)).digest('hex').slice(0, 32);
}

/** Paths whose values differ between two JSON values, as `path: before → after`. */
export function describeChanges(before: unknown, after: unknown, path = ''): string[] {
  if (before === undefined || after === undefined) return before === after ? [] : [`${path || '(everything)'}: ${short(before)} → ${short(after)}`];
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const bothObjects = before && after && typeof before === 'object' && typeof after === 'object' && Array.isArray(before) === Array.isArray(after);
  if (!bothObjects) return [`${path || '(everything)'}: ${short(before)} → ${short(after)}`];
  const keys = Array.isArray(before)
    ? Array.from({ length: Math.max((before as unknown[]).length, (after as unknown[]).length) }, (_, i) => i)
    : [...new Set([...Object.keys(before as object), ...Object.keys(after as object)])].sort();
  return keys.flatMap((key) => {
    const next = Array.isArray(before) ? `${path}[${key}]` : path ? `${path}.${key}` : String(key);
    return describeChanges((before as Record<string, unknown>)[key as string], (after as Record<string, unknown>)[key as string], next);
  });
}

function short(value: unknown): string {
  if (value === undefined) return '(absent)';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export interface StageCheckpointOptions {
  /** Batches whose offsets and state are kept after a commit (100 unless said); commits are kept for the audit. */
  retainBatches?: number;
  /** Whether commits are kept for good (the audit reads them; the default) or expire with the offsets. */
  keepCommits?: boolean;
  /** Whether the stage writes `state/N` (the default); a stateless stage's position is its last offsets. */
  holdsState?: boolean;
}

export class StageCheckpoint<Offsets, Commit = unknown, State = unknown> {
  private metadata: CheckpointMetadata | undefined;
  private readonly retainBatches: number;
  private readonly keepCommits: boolean;
  /** Whether the stage writes `state/N`; when not, no state record is written, read, probed or deleted. */
  readonly holdsState: boolean;

  constructor(
    private readonly lake: Lake,
    /** e.g. `checkpoints/silver` */
    readonly root: string,
    options: StageCheckpointOptions = {},
  ) {
    this.retainBatches = options.retainBatches ?? 100;
    this.keepCommits = options.keepCommits ?? true;
    this.holdsState = options.holdsState ?? true;
  }

  get queryId(): string {
    if (!this.metadata) throw new Error(`checkpoint ${this.root} is not bound yet: call bind() first`);
    return this.metadata.queryId;
  }

  /** Creates the metadata on first use; refuses a checkpoint written by other logic. */
  async bind(stage: string, logic: Record<string, unknown>): Promise<CheckpointMetadata> {
    const path = `${this.root}/metadata`;
    const wanted: CheckpointMetadata = { formatVersion: CHECKPOINT_FORMAT_VERSION, stage, queryId: randomUUID(), fingerprint: fingerprintOf(logic), logic };
    if (!(await this.lake.createIfAbsent(path, JSON.stringify(wanted, null, 2)))) {
      const found = parseCheckpointRecord<CheckpointMetadata>(await this.lake.read(path), `${this.lake.location}/${path}`);
      if (found.stage !== stage) throw new FingerprintMismatchError(`${this.lake.location}/${this.root}`, [`stage: ${short(found.stage)} → ${short(stage)}`]);
      if (found.fingerprint !== wanted.fingerprint) throw new FingerprintMismatchError(`${this.lake.location}/${this.root}`, describeChanges(found.logic, logic));
      this.metadata = found;
    } else {
      this.metadata = wanted;
    }
    return this.metadata;
  }

  private entry(kind: 'offsets' | 'commits' | 'state', batch: number): string {
    return `${this.root}/${kind}/${batchName(batch)}`;
  }

  private async readJson<T>(path: string): Promise<T | undefined> {
    if (!(await this.lake.exists(path))) return undefined;
    return parseCheckpointRecord<T>(await this.lake.read(path), `${this.lake.location}/${path}`);
  }

  private async lastBatch(kind: 'offsets' | 'commits'): Promise<number | undefined> {
    let last: string | undefined;
    for await (const entry of this.lake.list(`${this.root}/${kind}/`)) last = entry.path;
    return last === undefined ? undefined : Number(last.slice(last.lastIndexOf('/') + 1));
  }

  /** The newest batch with offsets, and whether it was committed; `undefined` before the first batch. */
  async latest(): Promise<{ batch: number; offsets: Offsets; committed: boolean } | undefined> {
    const batch = await this.lastBatch('offsets');
    if (batch === undefined) return undefined;
    const offsets = (await this.readJson<Offsets>(this.entry('offsets', batch))) as Offsets;
    return { batch, offsets, committed: await this.lake.exists(this.entry('commits', batch)) };
  }

  /** The newest committed batch number, or `undefined`. */
  async lastCommitted(): Promise<number | undefined> {
    return this.lastBatch('commits');
  }

  /**
   * Records what batch N consumes. Returns the offsets that hold for N: these, or the ones already
   * recorded (by an earlier attempt, or another instance), which the caller must then process.
   */
  async writeOffsets(batch: number, offsets: Offsets): Promise<Offsets> {
    if (await this.recordOffsets(batch, offsets)) return offsets;
    return (await this.readOffsets(batch)) as Offsets;
  }

  /** Records what batch N consumes, create-if-absent: `false` when offsets/N were there already (nothing written). */
  recordOffsets(batch: number, offsets: Offsets): Promise<boolean> {
    return this.lake.createIfAbsent(this.entry('offsets', batch), JSON.stringify(offsets));
  }

  readOffsets(batch: number): Promise<Offsets | undefined> {
    return this.readJson<Offsets>(this.entry('offsets', batch));
  }

  /** State after batch N (create-if-absent: a re-run writes the same state, so the first one stands). */
  async writeState(batch: number, state: State): Promise<void> {
    if (!this.holdsState)
      throw new Error(`The checkpoint ${this.root} is of a stateless stage: it keeps no state/${batchName(batch)}. Write state only to a checkpoint made with holdsState.`);
    await this.lake.createIfAbsent(this.entry('state', batch), JSON.stringify(state));
  }

  /** Where offsets/N is kept. */
  offsetsPath(batch: number): string {
    return this.entry('offsets', batch);
  }

  /** Where commits/N is kept. */
  commitPath(batch: number): string {
    return this.entry('commits', batch);
  }

  /** Where state/N is kept. */
  statePath(batch: number): string {
    return this.entry('state', batch);
  }

  /** State after batch N, `undefined` when absent; a stateless stage has none, and the lake is not asked. */
  readState(batch: number): Promise<State | undefined> {
    if (!this.holdsState) return Promise.resolve(undefined);
    return this.readJson<State>(this.entry('state', batch));
  }

  /**
   * Commits batch N, then expires the one batch that crossed the retention line with it: only the
   * records this stage writes (no `state/N` for a stateless stage), one delete each. Each commit
   * expires exactly one batch, so the records kept are always the newest `retainBatches`.
   */
  async commit(batch: number, commit: Commit): Promise<void> {
    await this.lake.createIfAbsent(this.entry('commits', batch), JSON.stringify(commit));
    const expired = batch - this.retainBatches;
    if (expired < 0) return;
    if (!this.keepCommits) await this.lake.delete(this.entry('commits', expired));
    await this.lake.delete(this.entry('offsets', expired));
    if (this.holdsState) await this.lake.delete(this.entry('state', expired));
  }

  readCommit(batch: number): Promise<Commit | undefined> {
    return this.readJson<Commit>(this.entry('commits', batch));
  }

  /** Every committed batch number, in order (for audits). */
  async *committedBatches(): AsyncIterable<number> {
    for await (const entry of this.lake.list(`${this.root}/commits/`)) yield Number(entry.path.slice(entry.path.lastIndexOf('/') + 1));
  }
}

/** A reset refused: the checkpoint's stage committed batches whose outputs a fresh run would collide with. */
export class CheckpointInUseError extends Error {
  override readonly name = 'CheckpointInUseError';
  constructor(
    readonly root: string,
    readonly committedBatches: number,
  ) {
    super(
      `${root} has ${committedBatches} committed batch${committedBatches === 1 ? '' : 'es'}: their manifests and table commits stay in the lake, and a stage starting over ` +
        'under this name would collide with them (its manifest log refuses a different batch under a number already written). To roll out a logic change, start the ' +
        'changed stage and the stages after it under new names — a new checkpoint name and new tables and manifests roots, e.g. SILVER_CHECKPOINT=silver-v2 ' +
        'SILVER_TABLES_ROOT=tables/v2 SILVER_MANIFESTS_ROOT=manifests/v2 (docs/runbook.md, "Roll out a logic change") — or build the new output beside the live one with `pipeline replay`.',
    );
  }
}

/**
 * Deletes a checkpoint whose stage committed no batch yet (a first start with a wrong spec or
 * setting), so the stage can bind new logic under the same name. A checkpoint with committed
 * batches is refused (`CheckpointInUseError`). Returns how many entries went.
 */
export async function resetCheckpoint(lake: Lake, root: string): Promise<number> {
  let committed = 0;
  for await (const _commit of lake.list(`${root}/commits/`)) committed++;
  if (committed > 0) throw new CheckpointInUseError(root, committed);
  let deleted = 0;
  const paths: string[] = [];
  for await (const entry of lake.list(`${root}/`)) paths.push(entry.path);
  for (const path of paths) {
    await lake.delete(path);
    deleted++;
  }
  return deleted;
}

/** A table a stage commits to, as `assertTablesHoldLastCommit` sees it (DeltaTable is one). */
export interface VersionedTable {
  assertHoldsVersion(version: number, committedBy: string): Promise<void>;
}

/**
 * Checks, before a stage commits anything, that each table holds the version the stage's last
 * committed batch recorded for it: a log entry lost since would otherwise have its version taken
 * by the next commit (of this stage, or of another writer of the same table), for good.
 * @throws what the table's `assertHoldsVersion` throws (DeltaLogGapError for a DeltaTable).
 */
export async function assertTablesHoldLastCommit<Commit>(
  checkpoint: StageCheckpoint<unknown, Commit, unknown>,
  tables: ReadonlyArray<{ table: VersionedTable; version: (commit: Commit) => unknown }>,
): Promise<void> {
  const batch = await checkpoint.lastCommitted();
  if (batch === undefined) return;
  const commit = await checkpoint.readCommit(batch);
  if (commit === undefined) return;
  for (const { table, version } of tables) {
    const committed = version(commit);
    if (typeof committed === 'number') await table.assertHoldsVersion(committed, `batch ${batch} of ${checkpoint.root} (${checkpoint.commitPath(batch)})`);
  }
}

/**
 * The exit code of a stage that cannot start on the lake as it stands, once it has said why: 2 for
 * a checkpoint written by other logic (what changed, on stderr), 1 for what no retry fixes (a lost
 * Delta log entry, a damaged record: logged with the fix). `undefined` for any other failure.
 */
export function startupRefusal(error: unknown, stage: string, logger: { error(fields: object, message: string): void }): number | undefined {
  if (error instanceof FingerprintMismatchError) {
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (isFatalBackendError(error)) {
    logger.error({ err: error }, `${stage} cannot start: ${error.message}`);
    return 1;
  }
  return undefined;
}

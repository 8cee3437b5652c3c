/**
 * The rejected-file log: capture files a stage set aside instead of stopping on them (DESIGN
 * invariant 9: a bad file is set aside with a recorded reason, and nothing blocks silently), and
 * the operator's way to put one back once it has been re-copied.
 *
 * One folder per capture file, at the file's own lake path under `rejected/`:
 *   rejected/{capture path}/{B}.json           a rejection: bronze set the file aside in its batch B
 *                                              (the file is in no manifest of B), or silver found that
 *                                              the bytes bronze referenced in batch B have changed
 *   rejected/{capture path}/{B}.restored.json  `pipeline rejected restore`: the file is readable again
 *   rejected/{capture path}/{B}.taken.json     bronze took the restored file into its batch M:
 *                                              referenced again, or set aside again (rejection M)
 * (B zero-padded to 20 digits.) Every record is created only if absent (invariant 3); what a stage
 * writes is a function of its batch and the file's bytes, so a re-run writes the same record and
 * the first one stands. A rejection's state follows from which of the three exist, so a listing
 * alone tells what is set aside, restored and waiting for bronze, or back in the pipeline.
 */

export const REJECTED_ROOT = 'rejected';
export const REJECTED_RECORD_VERSION = 1;

/**
 * Why a capture file was set aside:
 * - `empty`: zero bytes. Event Hubs Capture never writes one (an empty window is a file with an
 *   Avro header and no records, or no file with skip-empty), so it is a failed upload or copy;
 * - `unreadable`: not a readable Event Hubs Capture Avro file (truncated, corrupt);
 * - `missing`: listed (bronze) or referenced (silver), then gone from the lake;
 * - `checksum`: its bytes differ from those bronze referenced (silver), so the raw record changed.
 */
export type RejectionReason = 'empty' | 'unreadable' | 'missing' | 'checksum';
export type RejectingStage = 'bronze' | 'silver';

/** What a stage found when it read the file: its size and SHA-256, or `null` when it was not there. */
export interface FileFingerprint {
  bytes: number;
  sha256: string;
}

export interface CaptureFileRejection {
  version: typeof REJECTED_RECORD_VERSION;
  kind: 'rejected';
  /** The capture file (lake path). */
  path: string;
  partitionId: string;
  stage: RejectingStage;
  /** Bronze's batch: the one that set the file aside, or (silver) the one whose manifest references the bytes that changed. */
  bronzeBatch: number;
  /** Silver's batch that counted the file's records as rejected (silver rejections only). */
  silverBatch?: number;
  reason: RejectionReason;
  /** What was wrong, as the reader or the check said it (with the byte offset where it applies). */
  problem: string;
  found: FileFingerprint | null;
  /** What bronze referenced (silver rejections only): the records silver counted as rejected. */
  referenced?: FileFingerprint & { rows: number };
}

export interface CaptureFileRestore {
  version: typeof REJECTED_RECORD_VERSION;
  kind: 'restored';
  path: string;
  /** The rejection it answers. */
  bronzeBatch: number;
  /** The file as `pipeline rejected restore` checked it. */
  found: FileFingerprint & { records: number };
}

export interface CaptureFileTaken {
  version: typeof REJECTED_RECORD_VERSION;
  kind: 'taken';
  path: string;
  /** The rejection whose restore bronze took. */
  bronzeBatch: number;
  /** The bronze batch that took it. */
  takenBy: number;
  /** `referenced`: it is in that batch's manifest; `rejected`: set aside again, as rejection `takenBy`. */
  outcome: 'referenced' | 'rejected';
}

export type RejectedLogRecord = CaptureFileRejection | CaptureFileRestore | CaptureFileTaken;

/**
 * - `set-aside`: rejected, not restored: its records are in no table until it is re-copied and restored;
 * - `restored`: restored, waiting for bronze's next batch;
 * - `taken`: bronze took it back (see the taken record for how it went).
 */
export type RejectionState = 'set-aside' | 'restored' | 'taken';

/** A rejection as a listing of the log shows it (no record read). */
export interface RejectionEntry {
  path: string;
  bronzeBatch: number;
  state: RejectionState;
  /** The rejection record's lake path. */
  record: string;
}

const batchName = (n: number) => String(n).padStart(20, '0');
const RECORD = /^(.+)\/(\d{20})(|\.restored|\.taken)\.json$/;

export function rejectionRecordPath(capturePath: string, bronzeBatch: number, kind: RejectedLogRecord['kind'] = 'rejected'): string {
  const suffix = kind === 'rejected' ? '' : `.${kind}`;
  return `${REJECTED_ROOT}/${capturePath}/${batchName(bronzeBatch)}${suffix}.json`;
}

/** The folder of the log that holds the rejections of capture files under `capturePrefix` (e.g. `raw/ns/hub/`). */
export function rejectedLogPrefix(capturePrefix = ''): string {
  return `${REJECTED_ROOT}/${capturePrefix}`;
}

/** The capture file, bronze batch and kind a log path stands for, or `undefined` for anything else. */
export function parseRejectedLogPath(path: string): { path: string; bronzeBatch: number; kind: RejectedLogRecord['kind'] } | undefined {
  if (!path.startsWith(`${REJECTED_ROOT}/`)) return undefined;
  const m = RECORD.exec(path.slice(REJECTED_ROOT.length + 1));
  if (!m) return undefined;
  const [, capture, batch, suffix] = m as unknown as [string, string, string, string];
  const kind = suffix === '' ? 'rejected' : suffix === '.restored' ? 'restored' : 'taken';
  return { path: capture, bronzeBatch: Number(batch), kind };
}

/**
 * The rejections among `paths` (a listing of the log, any order) and the state of each, ordered by
 * capture file, then bronze batch. Restore and taken records without their rejection are ignored.
 */
export function rejectionsOf(paths: Iterable<string>): RejectionEntry[] {
  const byKey = new Map<string, { path: string; bronzeBatch: number; kinds: Set<string> }>();
  for (const p of paths) {
    const parsed = parseRejectedLogPath(p);
    if (!parsed) continue;
    const key = `${parsed.path}\0${batchName(parsed.bronzeBatch)}`;
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { path: parsed.path, bronzeBatch: parsed.bronzeBatch, kinds: new Set() }));
    entry.kinds.add(parsed.kind);
  }
  return [...byKey.entries()]
    .filter(([, e]) => e.kinds.has('rejected'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => ({
      path: e.path,
      bronzeBatch: e.bronzeBatch,
      state: e.kinds.has('taken') ? 'taken' : e.kinds.has('restored') ? 'restored' : 'set-aside',
      record: rejectionRecordPath(e.path, e.bronzeBatch),
    }));
}

/** How to put a set-aside file back, in one sentence that names the command. */
export function restoreAdvice(rejection: Pick<CaptureFileRejection, 'path' | 'reason' | 'referenced'>): string {
  const command = `\`pipeline rejected restore ${rejection.path}\``;
  const copy =
    rejection.reason === 'checksum' && rejection.referenced
      ? `put back the bytes bronze referenced (${rejection.referenced.bytes} bytes, SHA-256 ${rejection.referenced.sha256}) or another intact copy of the file at ${rejection.path}`
      : `copy an intact copy of the file to ${rejection.path} (for Azure Capture: from a backup, or the blob's previous version or soft-deleted copy)`;
  return `${copy}, then run ${command}: bronze references it in its next batch and silver reads it after that, once.`;
}

/** One line for logs, the audit and the API: who set what aside, why, and the fix. */
export function describeRejection(rejection: CaptureFileRejection): string {
  const who =
    rejection.stage === 'bronze'
      ? `bronze set ${rejection.path} (partition ${rejection.partitionId}) aside in its batch ${rejection.bronzeBatch}`
      : `silver set ${rejection.path} (partition ${rejection.partitionId}) aside in its batch ${rejection.silverBatch ?? '?'}, counting the ${rejection.referenced?.rows ?? 0} records bronze batch ${rejection.bronzeBatch} referenced as rejected`;
  return `${who} (${rejection.reason}): ${sentence(rejection.problem)} To put it back: ${restoreAdvice(rejection)}`;
}

/** The lake operations the log needs: a structural subset of the `Lake` port (contracts sit below ports). */
export interface RejectedLogLake {
  createIfAbsent(path: string, data: Uint8Array | string): Promise<boolean>;
  read(path: string): Promise<Uint8Array>;
  list(prefix: string, options?: { startAfter?: string; limit?: number }): AsyncIterable<{ readonly path: string }>;
}

export class RejectedFileLog {
  constructor(private readonly lake: RejectedLogLake) {}

  /** Every rejection of capture files under `capturePrefix` (e.g. `raw/` or `raw/ns/hub/`), with its state. */
  async list(capturePrefix = ''): Promise<RejectionEntry[]> {
    const paths: string[] = [];
    for await (const entry of this.lake.list(rejectedLogPrefix(capturePrefix))) paths.push(entry.path);
    return rejectionsOf(paths);
  }

  async read(capturePath: string, bronzeBatch: number): Promise<CaptureFileRejection> {
    return this.readRecord<CaptureFileRejection>(rejectionRecordPath(capturePath, bronzeBatch));
  }

  async readTaken(capturePath: string, bronzeBatch: number): Promise<CaptureFileTaken> {
    return this.readRecord<CaptureFileTaken>(rejectionRecordPath(capturePath, bronzeBatch, 'taken'));
  }

  /** Records a rejection; the one already there (a re-run, or another run) stands and is returned. */
  async reject(rejection: CaptureFileRejection): Promise<CaptureFileRejection> {
    return this.create(rejection);
  }

  /** Records the operator's restore of a rejection; `false` when it was already restored. */
  async restore(restore: CaptureFileRestore): Promise<boolean> {
    return this.lake.createIfAbsent(rejectionRecordPath(restore.path, restore.bronzeBatch, 'restored'), JSON.stringify(restore, null, 2));
  }

  /** Records that bronze took a restored file into a batch. */
  async taken(taken: CaptureFileTaken): Promise<void> {
    await this.create(taken);
  }

  private async create<T extends RejectedLogRecord>(record: T): Promise<T> {
    const path = rejectionRecordPath(record.path, record.bronzeBatch, record.kind);
    if (await this.lake.createIfAbsent(path, JSON.stringify(record, null, 2))) return record;
    return this.readRecord<T>(path);
  }

  private async readRecord<T>(path: string): Promise<T> {
    return JSON.parse(new TextDecoder().decode(await this.lake.read(path))) as T;
  }
}

/** `text` ending as a sentence does, so the advice after it reads as the next one. */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`;
}

/**
 * `pipeline audit`: reconciles the layers (DESIGN invariant 9) and never says "Reconciled" while
 * work is pending, a stage is stuck or a capture file is set aside. Per source partition:
 *   captured records = bronze records = silver rows + quarantined + duplicates + rejected,
 * checked batch by batch, plus the Delta tables' own row counts against the stages' commits. Then:
 * - each capture file against the bytes bronze last referenced (records and SHA-256), so a raw
 *   record that changed, shrank or went away is named with the bytes to put back;
 * - the rejected-file log: a file set aside is a problem (with the fix), a restored one is pending
 *   work for bronze; a file bronze referenced again after a restore counts once;
 * - pending work at every layer: capture files in no committed bronze batch, bronze manifests after
 *   silver's last committed batch, silver manifests after each gold shard's last committed batch,
 *   and any checkpoint whose newest batch was started but not committed (a stage still running,
 *   or failing on every retry: the lake cannot tell which);
 * - gold accounts for silver: each silver batch's rows are in its shard manifests, and each gold
 *   batch's rows are the rows of the silver manifests it committed (audit-gold.ts);
 * - no event id in silver twice unless gold found the repeats late for every window (audit-event-ids.ts).
 * Pending work is a problem unless `allowPending` (auditing a running pipeline); it is listed
 * either way, and a report with pending work never reads "Reconciled". Whatever cannot be read —
 * a damaged capture file, a manifest or commit that does not parse — is a problem naming where it
 * is and what to do; the audit itself does not stop on it.
 */
import { CaptureFormatError, scanCaptureFile } from '@pipeline/capture-format';
import { readHashing, sha256Hex, StageCheckpoint } from '@pipeline/checkpoint';
import {
  DEFAULT_MANIFEST_ROOT,
  describeRejection,
  manifestPath,
  manifestSessionPrefix,
  RejectedFileLog,
  restoreAdvice,
  type BronzeManifest,
  type CaptureFileRejection,
  type RejectionReason,
  type SilverCommit,
  type RejectionState,
  BACKUP_SOURCES,
} from '@pipeline/contracts';
import { readDeltaSnapshot } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';
import { CheckpointIndex } from './audit-checkpoints';
import { auditEventIds, eventIdProblems, type EventIdSummary } from './audit-event-ids';
import { auditSilverToGold, goldWindowsPerRow, readManifestOrReport, type GoldShardAudit, type SilverToGold } from './audit-gold';

/** The fields of silver's commits the audit reads. */
type SilverCommitCounts = Pick<SilverCommit, 'bronze' | 'counts' | 'rejectedFiles'>;

export interface AuditRow {
  partition: string;
  captured: number;
  /** Records of capture files in no committed bronze batch yet. */
  pending: number;
  /** Records bronze referenced (a file referenced again after a restore counts once). */
  bronze: number;
  /** Records silver took from bronze: silver + quarantined + duplicates + rejected. */
  silverIn: number;
  silver: number;
  quarantined: number;
  duplicates: number;
  /** Records of capture files silver set aside and nobody restored yet (bronze's count). */
  rejected: number;
}

/** Work the pipeline has not done yet: a problem unless pending work is allowed. */
export interface PendingWork {
  /**
   * What waits: capture files for bronze, bronze manifests for silver, silver manifests for gold,
   * a batch started and not committed, or a restored file bronze has not taken back yet.
   */
  kind: 'capture-files' | 'bronze-manifests' | 'silver-manifests' | 'uncommitted-batch' | 'restored-file';
  /** The stage that has it to do: `bronze`, `silver`, `gold shard-001`, `capture partition 0 (capture-events)`. */
  stage: string;
  /** Where: the first waiting file or manifest, or the offsets record without a commit. */
  location: string;
  /** Files, manifests or batches waiting. */
  count: number;
  message: string;
}

/** A capture file in the rejected-file log that is not back in the pipeline. */
export interface AuditRejectedFile {
  path: string;
  partitionId: string;
  stage: 'bronze' | 'silver';
  bronzeBatch: number;
  silverBatch?: number;
  reason: RejectionReason;
  problem: string;
  /** `set-aside` is a problem; `restored` is pending work for bronze. */
  state: Exclude<RejectionState, 'taken'>;
  /** The rejection record. */
  record: string;
  /** How to put it back (set-aside files). */
  fix?: string;
}

export interface AuditReport {
  rows: AuditRow[];
  /** Everything that fails the audit, pending work included unless it was allowed. */
  problems: string[];
  tables: { silverRows: number; quarantineRows: number; lateRows?: number; goldRows?: number } | undefined;
  /** Pending work at every layer, allowed or not. */
  pending: PendingWork[];
  pendingAllowed: boolean;
  /** Capture files set aside, or restored and waiting for bronze. */
  rejected: AuditRejectedFile[];
  /** Per gold shard: silver rows its committed batches read against the rows gold reports. */
  gold: GoldShardAudit[];
  /** Event ids in the silver table and their repeats; absent before silver wrote its table. */
  eventIds: EventIdSummary | undefined;
  /** No problems and no pending work. */
  reconciled: boolean;
}

export interface AuditOptions {
  rawPrefix: string;
  silverCheckpoint: string;
  /** Default `bronze`. */
  bronzeCheckpoint?: string;
  /** Default `gold` (one sub-folder per shard). */
  goldCheckpoint?: string;
  /** Report pending work without failing (auditing a running pipeline). */
  allowPending?: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A capture file as the audit read it. */
interface CapturedFile {
  partition: string;
  /** Records read (before the damage, when it cannot be read). */
  records: number;
  bytes: number;
  sha256: string;
  /** Why it cannot be read, when it cannot. */
  unreadable?: string;
}

/** A file's references in committed bronze manifests, oldest first. */
interface Reference {
  batch: number;
  rows: number;
  bytes: number;
  sha256: string;
}

/** Why a table holds other rows than its stage's commits say, and the fix: a lost log entry, or another writer. */
function lostEntry(inTable: number, committed: number, root: string): string {
  return inTable < committed
    ? `: a log entry of ${root}/_delta_log is missing or was replaced; put the original back (${BACKUP_SOURCES})`
    : ': a writer other than the pipeline committed to it';
}

export async function audit(lake: Lake, options: AuditOptions): Promise<AuditReport> {
  const names = { bronze: options.bronzeCheckpoint ?? 'bronze', silver: options.silverCheckpoint, gold: options.goldCheckpoint ?? 'gold' };
  const problems: string[] = [];
  const pending: PendingWork[] = [];
  const rows = new Map<string, AuditRow>();
  const row = (partition: string) => {
    let r = rows.get(partition);
    if (!r) rows.set(partition, (r = { partition, captured: 0, pending: 0, bronze: 0, silverIn: 0, silver: 0, quarantined: 0, duplicates: 0, rejected: 0 }));
    return r;
  };
  /** Runs one check; what it cannot read becomes a problem naming the check, never a crash. */
  const check = async <T>(what: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      problems.push(`${what} could not be checked: ${messageOf(error)}`);
      return undefined;
    }
  };
  const checkpoints = (await check('the checkpoints (checkpoints/)', () => CheckpointIndex.read(lake))) ?? CheckpointIndex.empty();

  // Captured: every capture file, counted and hashed from the Avro itself.
  const captured = new Map<string, CapturedFile>();
  await check(`the capture files (${options.rawPrefix}/)`, async () => {
    for await (const entry of lake.list(`${options.rawPrefix}/`)) {
      if (!entry.path.endsWith('.avro')) continue;
      const file = await readCaptured(lake, entry.path, entry.size).catch((error: unknown) => {
        problems.push(`capture file ${entry.path} could not be read: ${messageOf(error)}`);
        return undefined;
      });
      if (!file) continue;
      captured.set(entry.path, file);
      row(file.partition).captured += file.records;
    }
  });

  // The rejected-file log: what is set aside, restored, or taken back.
  const log = new RejectedFileLog(lake);
  const rejections = (await check(`the rejected-file log (rejected/${options.rawPrefix}/)`, () => log.list(`${options.rawPrefix}/`))) ?? [];
  const rejected: AuditRejectedFile[] = [];
  /** Rejections taken back, by `path@batch`: the bronze batch that took each. */
  const takenBy = new Map<string, number>();
  const setAsideByBronze = new Set<string>();
  const openSilverRejections = new Set<string>();
  for (const entry of rejections) {
    await check(`the rejection ${entry.record}`, async () => {
      const rejection = await log.read(entry.path, entry.bronzeBatch);
      if (entry.state === 'taken') {
        takenBy.set(`${entry.path}@${entry.bronzeBatch}`, (await log.readTaken(entry.path, entry.bronzeBatch)).takenBy);
        return;
      }
      if (rejection.stage === 'bronze') setAsideByBronze.add(entry.path);
      else openSilverRejections.add(`${entry.path}@${entry.bronzeBatch}`);
      rejected.push(auditRejectedFile(rejection, entry.state, entry.record));
      if (entry.state === 'set-aside') problems.push(`capture partition ${rejection.partitionId}: ${describeRejection(rejection)}`);
      else {
        pending.push({
          kind: 'restored-file',
          stage: 'bronze',
          location: entry.path,
          count: 1,
          message: `capture partition ${rejection.partitionId}: ${entry.path} was restored after ${rejection.stage} set it aside (${rejection.reason}) and waits for bronze's next batch`,
        });
      }
    });
  }

  // Bronze: each captured file in committed manifests once (or again after a restore), and the
  // bytes bronze referenced last are the bytes in the lake. Only committed bronze batches count as
  // bronze; every manifest in the lake counts for silver, which may read one before bronze commits it.
  const bronzeCommitted = new Set(checkpoints.get(`checkpoints/${names.bronze}`).commits);
  const bronzeRecords = new Map<number, Record<string, number>>();
  const references = new Map<string, Reference[]>();
  const partitionOf = new Map<string, string>();
  const unreadableBronze = new Set<number>();
  const unknownReferences = new Set<string>();
  await check(`the bronze manifests (${manifestSessionPrefix('bronze', 'bronze')})`, async () => {
    let expected = 0;
    for await (const entry of lake.list(manifestSessionPrefix('bronze', 'bronze'))) {
      const manifest = (await readManifestOrReport(lake, entry.path, 'bronze', problems)) as BronzeManifest | undefined;
      if (!manifest) {
        // Its problem is reported: what it holds is unknown, so the checks that need it are skipped.
        unreadableBronze.add(expected++);
        for (const path of await pathsNamedIn(lake, entry.path)) unknownReferences.add(path);
        continue;
      }
      if (manifest.sequence !== expected) {
        const missing = manifestPath('bronze', 'bronze', expected);
        problems.push(`bronze manifest ${missing} is missing before ${entry.path}: silver stops there for good. Put the original back at ${missing} (${BACKUP_SOURCES}).`);
      }
      expected = manifest.sequence + 1;
      const perPartition: Record<string, number> = {};
      const committed = bronzeCommitted.has(manifest.batch);
      for (const file of manifest.files) {
        const partition = file.partitionId ?? 'unknown';
        perPartition[partition] = (perPartition[partition] ?? 0) + file.rows;
        partitionOf.set(file.path, partition);
        if (committed) references.set(file.path, [...(references.get(file.path) ?? []), { batch: manifest.sequence, rows: file.rows, bytes: file.bytes, sha256: file.sha256 }]);
      }
      bronzeRecords.set(manifest.sequence, perPartition);
    }
  });
  for (const [path, refs] of references) {
    const partition = partitionOf.get(path) ?? 'unknown';
    // A file is referenced again only when bronze took it back after silver set the earlier reference aside.
    refs.forEach((ref, i) => {
      const next = refs[i + 1];
      if (next && takenBy.get(`${path}@${ref.batch}`) !== next.batch)
        problems.push(`bronze batch ${next.batch}, partition ${partition}: ${path} is already in bronze batch ${ref.batch} (counted twice)`);
    });
    const last = refs[refs.length - 1] as Reference;
    row(partition).bronze += last.rows;
    problems.push(...referenceProblems(path, partition, last, captured.get(path), openSilverRejections.has(`${path}@${last.batch}`)));
  }
  const waitingFiles = new Map<string, { files: string[]; records: number }>();
  for (const [path, file] of captured) {
    if (references.has(path) || setAsideByBronze.has(path) || unknownReferences.has(path)) continue;
    row(file.partition).pending += file.records;
    const waiting = waitingFiles.get(file.partition) ?? { files: [], records: 0 };
    waiting.files.push(path);
    waiting.records += file.records;
    waitingFiles.set(file.partition, waiting);
    if (file.unreadable) {
      problems.push(
        `capture partition ${file.partition}: ${path} cannot be read: ${file.unreadable} Bronze sets it aside when it reads it; copy an intact copy to ${path} before that, or after it with \`pipeline rejected restore ${path}\`.`,
      );
    }
  }
  for (const [partition, waiting] of [...waitingFiles].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    const first = waiting.files[0] as string;
    pending.push({
      kind: 'capture-files',
      stage: 'bronze',
      location: first,
      count: waiting.files.length,
      message: `capture partition ${partition}: ${plural(waiting.files.length, 'capture file')} (${plural(waiting.records, 'record')}) in no committed bronze batch yet, the first ${first}`,
    });
  }

  // Silver: each batch's records = rows + quarantined + duplicates + rejected, and = what its bronze batches hold.
  const silverToGold: SilverToGold = (await check('gold against silver', () =>
    auditSilverToGold(lake, checkpoints, { goldCheckpoint: names.gold, manifestsRoot: DEFAULT_MANIFEST_ROOT }),
  )) ?? { shards: [], silverRowsByBatch: new Map(), problems: [], pending: [] };
  const checkpoint = new StageCheckpoint<unknown, SilverCommitCounts>(lake, `checkpoints/${names.silver}`);
  let silverRows = 0;
  let quarantineRows = 0;
  let anySilver = false;
  let lastSilver: { batch: number; bronzeTo: number } | undefined;
  for (const batch of checkpoints.get(checkpoint.root).commits) {
    anySilver = true;
    const commitPath = `${checkpoint.root}/commits/${String(batch).padStart(20, '0')}`;
    const commit = await checkpoint.readCommit(batch).catch((error: unknown) => {
      problems.push(`silver batch ${batch}: its commit ${commitPath} cannot be read (${messageOf(error)})`);
      return undefined;
    });
    if (!commit?.bronze || !commit.counts) {
      if (commit) problems.push(`silver batch ${batch}: its commit ${commitPath} does not say which bronze batches it read and what became of their records`);
      continue;
    }
    lastSilver = { batch, bronzeTo: commit.bronze.to };
    const unknown = [...unreadableBronze].some((s) => s >= commit.bronze.from && s <= commit.bronze.to);
    const expected: Record<string, number> = {};
    for (let s = commit.bronze.from; s <= commit.bronze.to; s++) for (const [p, n] of Object.entries(bronzeRecords.get(s) ?? {})) expected[p] = (expected[p] ?? 0) + n;
    const rejectedRows: Record<string, number> = {};
    for (const f of commit.rejectedFiles ?? []) {
      // A file silver set aside and bronze took back is counted where silver read it again.
      const resolved = takenBy.has(`${f.path}@${f.bronzeBatch}`);
      rejectedRows[f.partitionId] = (rejectedRows[f.partitionId] ?? 0) + f.rows;
      if (resolved) row(f.partitionId).silverIn -= f.rows;
      else row(f.partitionId).rejected += f.rows;
    }
    let batchRows = 0;
    for (const partition of [...new Set([...Object.keys(expected), ...Object.keys(commit.counts), ...Object.keys(rejectedRows)])].sort()) {
      const c = commit.counts[partition] ?? { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
      const setAside = rejectedRows[partition] ?? 0;
      const r = row(partition);
      r.silverIn += c.records + setAside;
      r.silver += c.rows;
      r.quarantined += c.quarantined;
      r.duplicates += c.duplicates;
      silverRows += c.rows;
      batchRows += c.rows;
      quarantineRows += c.quarantined;
      if (!unknown && (expected[partition] ?? 0) !== c.records + setAside) {
        const read = setAside > 0 ? `read ${c.records} records and set ${setAside} aside` : `read ${c.records} records`;
        problems.push(`silver batch ${batch}, partition ${partition}: ${read}, bronze batches ${commit.bronze.from}–${commit.bronze.to} hold ${expected[partition] ?? 0}`);
      }
      if (c.rows + c.quarantined + c.duplicates !== c.records) {
        problems.push(
          `silver batch ${batch}, partition ${partition}: ${c.records} records in, but ${c.rows} rows + ${c.quarantined} quarantined + ${c.duplicates} duplicates = ${c.rows + c.quarantined + c.duplicates}`,
        );
      }
    }
    // Gold reads silver only through the shard manifests: rows missing from them are never aggregated.
    const inManifests = silverToGold.silverRowsByBatch.get(batch) ?? 0;
    if (inManifests !== batchRows)
      problems.push(`silver batch ${batch}: committed ${batchRows} rows, its shard manifests (${DEFAULT_MANIFEST_ROOT}/silver/shard-*/) hold ${inManifests}`);
  }

  // Bronze manifests silver has not committed yet.
  const silverNext = lastSilver === undefined ? 0 : lastSilver.bronzeTo + 1;
  const bronzeWaiting = [...bronzeRecords.keys()].filter((s) => s >= silverNext);
  if (bronzeWaiting.length > 0) {
    const first = manifestPath('bronze', 'bronze', bronzeWaiting[0] as number);
    const after =
      lastSilver === undefined ? 'silver has committed no batch' : `after silver's last committed batch ${lastSilver.batch}, which ended at bronze manifest ${lastSilver.bronzeTo}`;
    pending.push({
      kind: 'bronze-manifests',
      stage: 'silver',
      location: first,
      count: bronzeWaiting.length,
      message: `bronze: ${plural(bronzeWaiting.length, 'manifest')} not in a committed silver batch yet: ${after} (${first})`,
    });
  }
  problems.push(...silverToGold.problems);
  pending.push(...silverToGold.pending);

  for (const u of checkpoints.uncommitted(names)) {
    pending.push({
      kind: 'uncommitted-batch',
      stage: u.stage,
      location: u.path,
      count: 1,
      message: `batch ${u.batch} of ${u.stage} was started but not committed: the stage is failing or still running (${u.path} has no commit)`,
    });
  }

  let tables: AuditReport['tables'];
  const tableRoots = { silver: 'tables/silver', quarantine: 'tables/quarantine', late: 'tables/late', gold: 'tables/gold' };
  if (anySilver) {
    const count = async (root: string) => {
      const snapshot = await readDeltaSnapshot(lake, root);
      return snapshot.files.reduce((n, f) => n + (f.stats ? ((JSON.parse(f.stats) as { numRecords?: number }).numRecords ?? 0) : 0), 0);
    };
    await check('the Delta tables (tables/)', async () => {
      tables = { silverRows: await count(tableRoots.silver), quarantineRows: await count(tableRoots.quarantine) };
      if (tables.silverRows !== silverRows)
        problems.push(
          `silver table: ${tables.silverRows} rows in its Delta log, silver's batches committed ${silverRows}${lostEntry(tables.silverRows, silverRows, tableRoots.silver)}`,
        );
      if (tables.quarantineRows !== quarantineRows)
        problems.push(`quarantine table: ${tables.quarantineRows} rows in its Delta log, silver's batches quarantined ${quarantineRows}`);
      const goldBatches = silverToGold.shards.reduce((n, s) => n + s.batches, 0);
      if (goldBatches > 0) {
        const lateRows = silverToGold.shards.reduce((n, s) => n + s.lateRows, 0);
        tables.lateRows = await count(tableRoots.late);
        if (tables.lateRows !== lateRows) problems.push(`late table: ${tables.lateRows} rows in its Delta log, gold's batches found ${lateRows} late`);
        // Each final window gold's commits emitted is one gold table row: a lost log entry shows here.
        const emitted = silverToGold.shards.reduce((n, s) => n + s.windowsEmitted, 0);
        tables.goldRows = await count(tableRoots.gold);
        if (tables.goldRows !== emitted)
          problems.push(
            `gold table: ${tables.goldRows} rows in its Delta log, gold's batches emitted ${emitted} final windows${lostEntry(tables.goldRows, emitted, tableRoots.gold)}`,
          );
      }
    });
  }

  const eventIds = await check('the event ids of the silver and late tables', async () => {
    const windowsPerRow = await goldWindowsPerRow(lake, checkpoints, names.gold);
    return auditEventIds(lake, tableRoots, windowsPerRow);
  });
  if (eventIds) problems.push(...eventIdProblems(eventIds, tableRoots));

  const allowPending = options.allowPending === true;
  if (!allowPending) problems.push(...pending.map((p) => p.message));
  return {
    rows: [...rows.values()].sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true })),
    problems,
    tables,
    pending,
    pendingAllowed: allowPending,
    rejected,
    gold: silverToGold.shards,
    eventIds,
    reconciled: problems.length === 0 && pending.length === 0,
  };
}

/** The file paths a manifest that does not parse still names, as far as they can be read. */
async function pathsNamedIn(lake: Lake, manifest: string): Promise<string[]> {
  try {
    const files = (JSON.parse((await lake.read(manifest)).toString('utf8')) as { files?: unknown }).files;
    return Array.isArray(files) ? files.flatMap((f: { path?: unknown }) => (typeof f?.path === 'string' ? [f.path] : [])) : [];
  } catch {
    return [];
  }
}

/** Reads a capture file through: records, size and SHA-256, and why it cannot be read if it cannot. */
async function readCaptured(lake: Lake, path: string, listedBytes: number): Promise<CapturedFile> {
  const partition = path.split('/')[3] ?? 'unknown';
  let records = 0;
  const read = await readHashing(lake, path, listedBytes);
  try {
    // Counted, not decoded: every record is still checked, and a damaged file fails where a full read does.
    records = (await scanCaptureFile(read.chunks, path, { counted: (n) => (records = n) })).records;
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    const whole = read.whole ?? (await lake.read(path));
    const unreadable =
      whole.byteLength === 0 ? 'it has 0 bytes, and Event Hubs Capture never writes an empty file: a failed upload or copy.' : `${records} records, then: ${error.message}.`;
    return { partition, records, bytes: whole.byteLength, sha256: sha256Hex(whole), unreadable };
  }
  return { partition, records, bytes: read.bytes, sha256: read.sha256() };
}

/** What is wrong between a file's last committed bronze reference and the file in the lake. */
function referenceProblems(path: string, partition: string, ref: Reference, file: CapturedFile | undefined, setAsideBySilver: boolean): string[] {
  // Silver set this reference aside: the rejection says what to do.
  if (setAsideBySilver) return [];
  const putBack = `Put the bytes bronze referenced (${ref.bytes} bytes, SHA-256 ${ref.sha256}) back at ${path}, ${BACKUP_SOURCES}.`;
  const where = `bronze batch ${ref.batch}, partition ${partition}: ${path}`;
  if (!file) return [`${where} is referenced but not in the lake. ${putBack}`];
  if (file.unreadable) return [`${where} cannot be read any more (${file.unreadable}) ${putBack}`];
  if (file.records !== ref.rows) return [`${where} has ${file.records} records, the manifest says ${ref.rows}. ${putBack}`];
  if (file.sha256 !== ref.sha256)
    return [`${where} is not the bytes bronze referenced (found ${file.bytes} bytes, SHA-256 ${file.sha256}): the raw record changed after bronze referenced it. ${putBack}`];
  return [];
}

function auditRejectedFile(rejection: CaptureFileRejection, state: Exclude<RejectionState, 'taken'>, record: string): AuditRejectedFile {
  const { path, partitionId, stage, bronzeBatch, silverBatch, reason, problem } = rejection;
  return {
    path,
    partitionId,
    stage,
    bronzeBatch,
    ...(silverBatch === undefined ? {} : { silverBatch }),
    reason,
    problem,
    state,
    record,
    ...(state === 'set-aside' ? { fix: restoreAdvice(rejection) } : {}),
  };
}

function formatTable(header: string[], body: string[][]): string[] {
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

export function formatAudit(report: AuditReport): string {
  const header = ['partition', 'captured', 'pending', 'bronze', 'silver in', 'silver', 'quarantined', 'duplicates', 'rejected'];
  const body = report.rows.map((r) => [r.partition, r.captured, r.pending, r.bronze, r.silverIn, r.silver, r.quarantined, r.duplicates, r.rejected].map(String));
  const totals = ['total', ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => String(body.reduce((n, cells) => n + Number(cells[i]), 0)))];
  const out = formatTable(header, [...body, totals]);
  if (report.tables) {
    const late = report.tables.lateRows === undefined ? '' : `, late ${report.tables.lateRows} rows`;
    out.push('', `Delta tables: silver ${report.tables.silverRows} rows, quarantine ${report.tables.quarantineRows} rows${late}.`);
  }
  if (report.gold.length > 0) {
    out.push(
      '',
      ...formatTable(
        ['gold shard', 'batches', 'silver rows read', 'gold rows', 'late', 'pending manifests'],
        report.gold.map((s) => [s.shard, s.batches, s.silverRows, s.goldRows, s.lateRows, s.pendingManifests].map(String)),
      ),
    );
  }
  if (report.rejected.length > 0) {
    const setAside = report.rejected.filter((f) => f.state === 'set-aside').length;
    out.push('', `Capture files set aside: ${setAside}; restored and waiting for bronze: ${report.rejected.length - setAside} (\`pipeline rejected list\`).`);
  }
  const ids = report.eventIds;
  if (ids) {
    out.push(
      '',
      `Event ids in silver: ${ids.silverRows} rows, ${ids.distinct} distinct; ${ids.repeated} repeated, of which ${ids.repeatedLate} with every repeat in the late table, late for every window.`,
    );
  }
  out.push('');
  if (report.reconciled) {
    out.push(
      'Reconciled: captured = bronze, bronze = silver + quarantined + duplicates for every batch, every capture file is the bytes bronze referenced and none is set aside, gold read every silver row, nothing is pending or in flight, and no event id is in silver twice unless gold found the repeat late for every window.',
    );
  } else if (report.problems.length === 0) {
    out.push(`Not reconciled yet: ${plural(report.pending.length, 'item')} of pending work, allowed by --allow-pending (a stage still running looks the same as one failing):`);
  } else {
    out.push(`${report.problems.length} problem(s):`);
  }
  for (const p of report.problems) out.push(`  - ${p}`);
  if (report.pendingAllowed && report.pending.length > 0) {
    if (report.problems.length > 0) out.push(`Pending work, allowed by --allow-pending:`);
    for (const p of report.pending) out.push(`  - ${p.message}`);
  }
  return `${out.join('\n')}\n`;
}

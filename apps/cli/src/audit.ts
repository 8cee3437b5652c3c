/**
 * `pipeline audit`: reconciles the layers (DESIGN invariant 9) and never says "Reconciled" while
 * work is pending or a stage is stuck. Per source partition:
 *   captured records = bronze records = silver rows + quarantined + duplicates,
 * checked batch by batch, plus the Delta tables' own row counts against the stages' commits. Then:
 * - pending work at every layer: capture files in no committed bronze batch, bronze manifests after
 *   silver's last committed batch, silver manifests after each gold shard's last committed batch,
 *   and any checkpoint whose newest batch was started but not committed (a stage still running,
 *   or failing on every retry: the lake cannot tell which);
 * - gold accounts for silver: each silver batch's rows are in its shard manifests, and each gold
 *   batch's rows are the rows of the silver manifests it committed (audit-gold.ts);
 * - no event id in silver twice unless gold found the repeats late for every window (audit-event-ids.ts).
 * Pending work is a problem unless `allowPending` (auditing a running pipeline); it is listed
 * either way, and a report with pending work never reads "Reconciled".
 */
import { readCaptureFile } from '@pipeline/capture-format';
import { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { DEFAULT_MANIFEST_ROOT, type BronzeManifest } from '@pipeline/contracts';
import { readDeltaSnapshot } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';
import { CheckpointIndex } from './audit-checkpoints';
import { auditEventIds, eventIdProblems, type EventIdSummary } from './audit-event-ids';
import { auditSilverToGold, goldWindowsPerRow, type GoldShardAudit } from './audit-gold';

/** The fields of silver's commits the audit reads (silver's `SilverCommit`). */
interface SilverCommitCounts {
  bronze: { from: number; to: number };
  counts: Record<string, { records: number; rows: number; quarantined: number; duplicates: number }>;
}

export interface AuditRow {
  partition: string;
  captured: number;
  /** Records of capture files in no committed bronze batch yet. */
  pending: number;
  bronze: number;
  silverIn: number;
  silver: number;
  quarantined: number;
  duplicates: number;
}

/** Work the pipeline has not done yet: a problem unless pending work is allowed. */
export interface PendingWork {
  /** What waits: capture files for bronze, bronze manifests for silver, silver manifests for gold, or a batch started and not committed. */
  kind: 'capture-files' | 'bronze-manifests' | 'silver-manifests' | 'uncommitted-batch';
  /** The stage that has it to do: `bronze`, `silver`, `gold shard-001`, `capture partition 0 (capture-events)`. */
  stage: string;
  /** Where: the first waiting file or manifest, or the offsets record without a commit. */
  location: string;
  /** Files, manifests or batches waiting. */
  count: number;
  message: string;
}

export interface AuditReport {
  rows: AuditRow[];
  /** Everything that fails the audit, pending work included unless it was allowed. */
  problems: string[];
  tables: { silverRows: number; quarantineRows: number; lateRows?: number } | undefined;
  /** Pending work at every layer, allowed or not. */
  pending: PendingWork[];
  pendingAllowed: boolean;
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

export async function audit(lake: Lake, options: AuditOptions): Promise<AuditReport> {
  const names = { bronze: options.bronzeCheckpoint ?? 'bronze', silver: options.silverCheckpoint, gold: options.goldCheckpoint ?? 'gold' };
  const problems: string[] = [];
  const pending: PendingWork[] = [];
  const rows = new Map<string, AuditRow>();
  const row = (partition: string) => {
    let r = rows.get(partition);
    if (!r) rows.set(partition, (r = { partition, captured: 0, pending: 0, bronze: 0, silverIn: 0, silver: 0, quarantined: 0, duplicates: 0 }));
    return r;
  };
  const checkpoints = await CheckpointIndex.read(lake);

  // Captured: every capture file, counted from the Avro itself.
  const captured = new Map<string, { partition: string; records: number; readable: boolean }>();
  for await (const entry of lake.list(`${options.rawPrefix}/`)) {
    if (!entry.path.endsWith('.avro')) continue;
    const partition = entry.path.split('/')[3] ?? 'unknown';
    let records = 0;
    let readable = true;
    try {
      for await (const _record of readCaptureFile(await lake.readStream(entry.path), entry.path)) records++;
    } catch (error) {
      readable = false;
      problems.push(`capture partition ${partition}: ${entry.path} cannot be read after ${records} records: ${error instanceof Error ? error.message : String(error)}`);
    }
    captured.set(entry.path, { partition, records, readable });
    row(partition).captured += records;
  }

  // Bronze: each captured file in exactly one manifest, with the same record count. Only committed
  // bronze batches count as bronze; every manifest in the lake counts for silver, which may read one
  // before bronze commits it.
  const bronzeCommitted = new Set(checkpoints.get(`checkpoints/${names.bronze}`).commits);
  const manifests = new ManifestLog(lake);
  const bronzeRecords = new Map<number, Record<string, number>>();
  const referenced = new Map<string, number>();
  const committedFiles = new Set<string>();
  for await (const manifest of manifests.after('bronze', 'bronze', -1)) {
    const perPartition: Record<string, number> = {};
    const committed = bronzeCommitted.has(manifest.batch);
    for (const file of (manifest as BronzeManifest).files) {
      const partition = file.partitionId ?? 'unknown';
      perPartition[partition] = (perPartition[partition] ?? 0) + file.rows;
      if (committed) {
        row(partition).bronze += file.rows;
        committedFiles.add(file.path);
      }
      const earlier = referenced.get(file.path);
      if (earlier !== undefined) problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} is already in bronze batch ${earlier} (counted twice)`);
      referenced.set(file.path, manifest.sequence);
      const seen = captured.get(file.path);
      if (!seen) problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} is referenced but not in the lake`);
      else if (seen.readable && seen.records !== file.rows)
        problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} has ${seen.records} records, the manifest says ${file.rows}`);
    }
    bronzeRecords.set(manifest.sequence, perPartition);
  }
  const waitingFiles = new Map<string, { files: string[]; records: number }>();
  for (const [path, file] of captured) {
    if (committedFiles.has(path)) continue;
    row(file.partition).pending += file.records;
    const waiting = waitingFiles.get(file.partition) ?? { files: [], records: 0 };
    waiting.files.push(path);
    waiting.records += file.records;
    waitingFiles.set(file.partition, waiting);
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

  // Silver: each batch's records = rows + quarantined + duplicates, and = what its bronze batches hold.
  const silverToGold = await auditSilverToGold(lake, checkpoints, { goldCheckpoint: names.gold, manifestsRoot: DEFAULT_MANIFEST_ROOT });
  const checkpoint = new StageCheckpoint<unknown, SilverCommitCounts>(lake, `checkpoints/${names.silver}`);
  let silverRows = 0;
  let quarantineRows = 0;
  let anySilver = false;
  let lastSilver: { batch: number; bronzeTo: number } | undefined;
  for (const batch of checkpoints.get(checkpoint.root).commits) {
    anySilver = true;
    const commit = (await checkpoint.readCommit(batch)) as SilverCommitCounts;
    lastSilver = { batch, bronzeTo: commit.bronze.to };
    const expected: Record<string, number> = {};
    for (let s = commit.bronze.from; s <= commit.bronze.to; s++) for (const [p, n] of Object.entries(bronzeRecords.get(s) ?? {})) expected[p] = (expected[p] ?? 0) + n;
    let batchRows = 0;
    for (const partition of [...new Set([...Object.keys(expected), ...Object.keys(commit.counts)])].sort()) {
      const c = commit.counts[partition] ?? { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
      const r = row(partition);
      r.silverIn += c.records;
      r.silver += c.rows;
      r.quarantined += c.quarantined;
      r.duplicates += c.duplicates;
      silverRows += c.rows;
      batchRows += c.rows;
      quarantineRows += c.quarantined;
      if ((expected[partition] ?? 0) !== c.records) {
        problems.push(
          `silver batch ${batch}, partition ${partition}: read ${c.records} records, bronze batches ${commit.bronze.from}–${commit.bronze.to} hold ${expected[partition] ?? 0}`,
        );
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
    const first = manifests.pathOf('bronze', 'bronze', bronzeWaiting[0] as number);
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
  const tableRoots = { silver: 'tables/silver', quarantine: 'tables/quarantine', late: 'tables/late' };
  if (anySilver) {
    const count = async (root: string) => {
      const snapshot = await readDeltaSnapshot(lake, root);
      return snapshot.files.reduce((n, f) => n + (f.stats ? ((JSON.parse(f.stats) as { numRecords?: number }).numRecords ?? 0) : 0), 0);
    };
    tables = { silverRows: await count(tableRoots.silver), quarantineRows: await count(tableRoots.quarantine) };
    if (tables.silverRows !== silverRows) problems.push(`silver table: ${tables.silverRows} rows in its Delta log, silver's batches committed ${silverRows}`);
    if (tables.quarantineRows !== quarantineRows) problems.push(`quarantine table: ${tables.quarantineRows} rows in its Delta log, silver's batches quarantined ${quarantineRows}`);
    const goldBatches = silverToGold.shards.reduce((n, s) => n + s.batches, 0);
    if (goldBatches > 0) {
      const lateRows = silverToGold.shards.reduce((n, s) => n + s.lateRows, 0);
      tables.lateRows = await count(tableRoots.late);
      if (tables.lateRows !== lateRows) problems.push(`late table: ${tables.lateRows} rows in its Delta log, gold's batches found ${lateRows} late`);
    }
  }

  const eventIds = await auditEventIds(lake, tableRoots, await goldWindowsPerRow(lake, checkpoints, names.gold));
  if (eventIds) problems.push(...eventIdProblems(eventIds, tableRoots));

  const allowPending = options.allowPending === true;
  if (!allowPending) problems.push(...pending.map((p) => p.message));
  return {
    rows: [...rows.values()].sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true })),
    problems,
    tables,
    pending,
    pendingAllowed: allowPending,
    gold: silverToGold.shards,
    eventIds,
    reconciled: problems.length === 0 && pending.length === 0,
  };
}

function formatTable(header: string[], body: string[][]): string[] {
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

export function formatAudit(report: AuditReport): string {
  const header = ['partition', 'captured', 'pending', 'bronze', 'silver in', 'silver', 'quarantined', 'duplicates'];
  const body = report.rows.map((r) => [r.partition, r.captured, r.pending, r.bronze, r.silverIn, r.silver, r.quarantined, r.duplicates].map(String));
  const totals = ['total', ...[1, 2, 3, 4, 5, 6, 7].map((i) => String(body.reduce((n, cells) => n + Number(cells[i]), 0)))];
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
      'Reconciled: captured = bronze, bronze = silver + quarantined + duplicates for every batch, gold read every silver row, nothing is pending or in flight, and no event id is in silver twice unless gold found the repeat late for every window.',
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

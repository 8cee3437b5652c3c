/**
 * `pipeline audit`: reconciles the layers so far (DESIGN invariant 9). Per source partition:
 *   captured records = bronze records = silver rows + quarantined + duplicates,
 * checked batch by batch, plus the Delta tables' own row counts against silver's commits.
 * Captured files that bronze has not reached yet are reported as pending, not as a failure.
 */
import { readCaptureFile } from '@pipeline/capture-format';
import { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import type { BronzeManifest } from '@pipeline/contracts';
import { readDeltaSnapshot } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';

interface SilverCommitCounts {
  bronze: { from: number; to: number };
  counts: Record<string, { records: number; rows: number; quarantined: number; duplicates: number }>;
}

export interface AuditRow {
  partition: string;
  captured: number;
  pending: number;
  bronze: number;
  silverIn: number;
  silver: number;
  quarantined: number;
  duplicates: number;
}

export interface AuditReport {
  rows: AuditRow[];
  problems: string[];
  tables: { silverRows: number; quarantineRows: number } | undefined;
}

export interface AuditOptions {
  rawPrefix: string;
  silverCheckpoint: string;
}

export async function audit(lake: Lake, options: AuditOptions): Promise<AuditReport> {
  const problems: string[] = [];
  const rows = new Map<string, AuditRow>();
  const row = (partition: string) => {
    let r = rows.get(partition);
    if (!r) rows.set(partition, (r = { partition, captured: 0, pending: 0, bronze: 0, silverIn: 0, silver: 0, quarantined: 0, duplicates: 0 }));
    return r;
  };

  // Captured: every capture file, counted from the Avro itself.
  const captured = new Map<string, { partition: string; records: number }>();
  for await (const entry of lake.list(`${options.rawPrefix}/`)) {
    if (!entry.path.endsWith('.avro')) continue;
    const partition = entry.path.split('/')[3] ?? 'unknown';
    let records = 0;
    for await (const _record of readCaptureFile(await lake.readStream(entry.path), entry.path)) records++;
    captured.set(entry.path, { partition, records });
    row(partition).captured += records;
  }

  // Bronze: each captured file in exactly one manifest, with the same record count.
  const manifests = new ManifestLog(lake);
  const bronzeRecords = new Map<number, Record<string, number>>();
  const referenced = new Map<string, number>();
  for await (const manifest of manifests.after('bronze', 'bronze', -1)) {
    const perPartition: Record<string, number> = {};
    for (const file of (manifest as BronzeManifest).files) {
      const partition = file.partitionId ?? 'unknown';
      perPartition[partition] = (perPartition[partition] ?? 0) + file.rows;
      row(partition).bronze += file.rows;
      const earlier = referenced.get(file.path);
      if (earlier !== undefined) problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} is already in bronze batch ${earlier} (counted twice)`);
      referenced.set(file.path, manifest.sequence);
      const seen = captured.get(file.path);
      if (!seen) problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} is referenced but not in the lake`);
      else if (seen.records !== file.rows)
        problems.push(`bronze batch ${manifest.sequence}, partition ${partition}: ${file.path} has ${seen.records} records, the manifest says ${file.rows}`);
    }
    bronzeRecords.set(manifest.sequence, perPartition);
  }
  for (const [path, file] of captured) if (!referenced.has(path)) row(file.partition).pending += file.records;

  // Silver: each batch's records = rows + quarantined + duplicates, and = what its bronze batches hold.
  const checkpoint = new StageCheckpoint<unknown, SilverCommitCounts>(lake, `checkpoints/${options.silverCheckpoint}`);
  let silverRows = 0;
  let quarantineRows = 0;
  let anySilver = false;
  for await (const batch of checkpoint.committedBatches()) {
    anySilver = true;
    const commit = (await checkpoint.readCommit(batch)) as SilverCommitCounts;
    const expected: Record<string, number> = {};
    for (let s = commit.bronze.from; s <= commit.bronze.to; s++) for (const [p, n] of Object.entries(bronzeRecords.get(s) ?? {})) expected[p] = (expected[p] ?? 0) + n;
    for (const partition of [...new Set([...Object.keys(expected), ...Object.keys(commit.counts)])].sort()) {
      const c = commit.counts[partition] ?? { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
      const r = row(partition);
      r.silverIn += c.records;
      r.silver += c.rows;
      r.quarantined += c.quarantined;
      r.duplicates += c.duplicates;
      silverRows += c.rows;
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
  }

  let tables: AuditReport['tables'];
  if (anySilver) {
    const count = async (root: string) => {
      const snapshot = await readDeltaSnapshot(lake, root);
      return snapshot.files.reduce((n, f) => n + (f.stats ? ((JSON.parse(f.stats) as { numRecords?: number }).numRecords ?? 0) : 0), 0);
    };
    tables = { silverRows: await count('tables/silver'), quarantineRows: await count('tables/quarantine') };
    if (tables.silverRows !== silverRows) problems.push(`silver table: ${tables.silverRows} rows in its Delta log, silver's batches committed ${silverRows}`);
    if (tables.quarantineRows !== quarantineRows) problems.push(`quarantine table: ${tables.quarantineRows} rows in its Delta log, silver's batches quarantined ${quarantineRows}`);
  }
  return { rows: [...rows.values()].sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true })), problems, tables };
}

export function formatAudit(report: AuditReport): string {
  const header = ['partition', 'captured', 'pending', 'bronze', 'silver in', 'silver', 'quarantined', 'duplicates'];
  const body = report.rows.map((r) => [r.partition, r.captured, r.pending, r.bronze, r.silverIn, r.silver, r.quarantined, r.duplicates].map(String));
  const totals = ['total', ...[1, 2, 3, 4, 5, 6, 7].map((i) => String(body.reduce((n, cells) => n + Number(cells[i]), 0)))];
  const all = [header, ...body, totals];
  const widths = header.map((_, i) => Math.max(...all.map((cells) => (cells[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), line(totals)];
  if (report.tables) out.push('', `Delta tables: silver ${report.tables.silverRows} rows, quarantine ${report.tables.quarantineRows} rows.`);
  out.push(
    '',
    report.problems.length === 0
      ? 'Reconciled: captured = bronze + pending, and bronze = silver + quarantined + duplicates for every batch.'
      : `${report.problems.length} problem(s):`,
  );
  for (const p of report.problems) out.push(`  - ${p}`);
  return `${out.join('\n')}\n`;
}

/**
 * Gold accounts for silver, shard by shard: gold's committed batches of a shard read its silver
 * manifests in one unbroken run from sequence 0 (no manifest skipped, none read twice), and each
 * batch's commit reports exactly the rows its manifests hold. Manifests after the shard's last
 * committed batch are pending work for gold; a missing manifest is a hole gold can never pass.
 */
import { StageCheckpoint } from '@pipeline/checkpoint';
import {
  manifestLayerPrefix,
  manifestPath,
  ManifestValidationError,
  parseManifestBytes,
  type GoldCommit,
  type Manifest,
  type ManifestLayer,
  BACKUP_SOURCES,
} from '@pipeline/contracts';
import { windowDefinitionProblems, windowsOf, type WindowDefinition } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import type { CheckpointIndex } from './audit-checkpoints';
import type { PendingWork } from './audit';

/** The fields of gold's shard commits the audit reads, each checked before use (a damaged lake may lack them). */
type GoldCommitRecord = Partial<Pick<GoldCommit, 'silver' | 'rows' | 'lateRows' | 'windowsEmitted'>>;

export interface GoldShardAudit {
  /** The shard's session, e.g. `shard-002`. */
  shard: string;
  /** Gold batches committed for the shard. */
  batches: number;
  /** Silver manifests of the shard in the lake. */
  silverManifests: number;
  /** Rows in the silver manifests gold's committed batches read. */
  silverRows: number;
  /** Rows gold's commits report (aggregated or late). */
  goldRows: number;
  lateRows: number;
  /** Final windows gold's commits emitted: the rows they added to the gold table (none in update mode alone). */
  windowsEmitted: number;
  /** Silver manifests after the shard's last committed gold batch, and their rows. */
  pendingManifests: number;
  pendingRows: number;
}

export interface SilverToGold {
  shards: GoldShardAudit[];
  /** Rows of the silver manifests in the lake per silver batch, over every shard. */
  silverRowsByBatch: Map<number, number>;
  problems: string[];
  pending: PendingWork[];
}

const range = (from: number, to: number) => (from === to ? `${from}` : `${from}–${to}`);

/** Silver manifests per session: sequence → rows and the silver batch that wrote it; a manifest that does not parse is a problem. */
async function readSilverManifests(lake: Lake, root: string, problems: string[]): Promise<Map<string, Map<number, { rows: number; batch: number }>>> {
  const sessions = new Map<string, Map<number, { rows: number; batch: number }>>();
  const prefix = manifestLayerPrefix('silver', root);
  for await (const entry of lake.list(prefix)) {
    if (!entry.path.endsWith('.json')) continue;
    const manifest = await readManifestOrReport(lake, entry.path, 'silver', problems);
    if (!manifest) continue;
    let bySequence = sessions.get(manifest.session);
    if (!bySequence) sessions.set(manifest.session, (bySequence = new Map()));
    bySequence.set(manifest.sequence, { rows: manifest.files.reduce((n, f) => n + f.rows, 0), batch: manifest.batch });
  }
  return sessions;
}

export async function auditSilverToGold(lake: Lake, checkpoints: CheckpointIndex, options: { goldCheckpoint: string; manifestsRoot: string }): Promise<SilverToGold> {
  const problems: string[] = [];
  const pending: PendingWork[] = [];
  const manifests = await readSilverManifests(lake, options.manifestsRoot, problems);
  const goldShards = checkpoints.goldShards(options.goldCheckpoint);
  const silverRowsByBatch = new Map<number, number>();
  for (const bySequence of manifests.values()) for (const m of bySequence.values()) silverRowsByBatch.set(m.batch, (silverRowsByBatch.get(m.batch) ?? 0) + m.rows);

  const shards: GoldShardAudit[] = [];
  for (const session of [...new Set([...manifests.keys(), ...goldShards.keys()])].sort()) {
    const bySequence = manifests.get(session) ?? new Map<number, { rows: number; batch: number }>();
    const pathOf = (sequence: number) => manifestPath('silver', session, sequence, options.manifestsRoot);
    const shard: GoldShardAudit = {
      shard: session,
      batches: 0,
      silverManifests: bySequence.size,
      silverRows: 0,
      goldRows: 0,
      lateRows: 0,
      windowsEmitted: 0,
      pendingManifests: 0,
      pendingRows: 0,
    };
    shards.push(shard);

    // A hole in a session's sequence stops gold there for good (it reads in order).
    const sequences = [...bySequence.keys()].sort((a, b) => a - b);
    const holes = sequences.filter((s, i) => s !== (i === 0 ? 0 : (sequences[i - 1] as number) + 1));
    for (const after of holes) {
      const before = sequences[sequences.indexOf(after) - 1];
      const from = before === undefined ? 0 : before + 1;
      problems.push(`silver ${session}: manifest${from === after - 1 ? '' : 's'} ${range(from, after - 1)} missing before ${pathOf(after)}, so gold can never read past them`);
    }

    const entries = goldShards.get(session);
    const checkpoint = new StageCheckpoint<unknown, GoldCommitRecord>(lake, `checkpoints/${options.goldCheckpoint}/${session}`);
    let next = 0;
    let lastBatch: number | undefined;
    for (const batch of entries?.commits ?? []) {
      const commit = await checkpoint.readCommit(batch).catch(() => undefined);
      const silver = commit?.silver;
      if (!commit || !silver || typeof silver.from !== 'number' || typeof silver.to !== 'number' || typeof commit.rows !== 'number') {
        problems.push(`gold ${session} batch ${batch}: its commit ${checkpoint.root}/commits/${batch} does not say which silver manifests it read and how many rows they held`);
        continue;
      }
      shard.batches++;
      lastBatch = batch;
      if (silver.from > next) {
        problems.push(
          `gold ${session} batch ${batch} read silver manifests ${range(silver.from, silver.to)}, but the batches before it ended at ${next - 1}: manifests ${range(next, silver.from - 1)} were never aggregated`,
        );
      } else if (silver.from < next) {
        problems.push(
          `gold ${session} batch ${batch} read silver manifests ${range(silver.from, silver.to)}, but manifests ${range(silver.from, Math.min(silver.to, next - 1))} were read by an earlier batch (counted twice)`,
        );
      }
      let rows = 0;
      const missing: number[] = [];
      for (let sequence = silver.from; sequence <= silver.to; sequence++) {
        const manifest = bySequence.get(sequence);
        if (manifest) rows += manifest.rows;
        else missing.push(sequence);
      }
      if (missing.length > 0) {
        problems.push(
          `gold ${session} batch ${batch} committed silver manifest${missing.length === 1 ? '' : 's'} ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not in the lake (${pathOf(missing[0] as number)})`,
        );
      } else if (rows !== commit.rows) {
        problems.push(`gold ${session} batch ${batch}: silver manifests ${range(silver.from, silver.to)} hold ${rows} rows, gold's commit reports ${commit.rows}`);
      }
      shard.silverRows += rows;
      shard.goldRows += commit.rows;
      shard.lateRows += commit.lateRows ?? 0;
      shard.windowsEmitted += commit.windowsEmitted ?? 0;
      next = Math.max(next, silver.to + 1);
    }

    const waiting = sequences.filter((s) => s >= next);
    if (waiting.length > 0) {
      shard.pendingManifests = waiting.length;
      shard.pendingRows = waiting.reduce((n, s) => n + (bySequence.get(s)?.rows ?? 0), 0);
      const first = waiting[0] as number;
      const last = waiting[waiting.length - 1] as number;
      const after =
        lastBatch === undefined ? 'gold has committed no batch of this shard' : `after gold's last committed batch ${lastBatch} of the shard, which ended at manifest ${next - 1}`;
      pending.push({
        kind: 'silver-manifests',
        stage: `gold ${session}`,
        location: pathOf(first),
        count: waiting.length,
        message: `silver ${session}: ${waiting.length === 1 ? `manifest ${first}` : `${waiting.length} manifests (${range(first, last)})`} with ${shard.pendingRows} rows not aggregated yet: ${after} (${pathOf(first)})`,
      });
    }
  }
  return { shards, silverRowsByBatch, problems, pending };
}

/**
 * A manifest as the audit reads it: `undefined`, with the problem reported (its path, what is wrong
 * and the fix), when it cannot be read, is not JSON or is not a valid manifest. A stage writes each manifest once
 * and never changes it, so the fix is the original bytes.
 */
export async function readManifestOrReport(lake: Lake, path: string, layer: ManifestLayer, problems: string[]): Promise<Manifest | undefined> {
  try {
    return parseManifestBytes(await lake.read(path), path);
  } catch (error) {
    // Bytes that are not JSON are an invalid manifest too (parseManifestBytes); anything else failed to read.
    const what = error instanceof ManifestValidationError ? error.problems.join('; ') : (error as Error).message.replace(/\.$/, '');
    problems.push(
      `${layer} manifest ${path} cannot be read: ${what}. ${layer === 'bronze' ? 'Bronze' : 'Silver'} writes each manifest once and never changes it, and the next stage stops at it: put the original back at ${path} (${BACKUP_SOURCES}).`,
    );
    return undefined;
  }
}

/** The fields of gold's checkpoint metadata the audit reads: its window definitions. */
interface GoldMetadataRecord {
  logic?: { aggregation?: { windows?: Array<{ sizeMs?: unknown; slideMs?: unknown; offsetMs?: unknown }>; sessions?: unknown[] } };
}

/**
 * How many windows a row belongs to, over every window definition gold aggregates: a number when
 * it is the same for every row (each slide divides its size S, putting a row in S / L windows, and
 * a session window puts it in one session), else the count at a row's event time (a slide L that
 * does not divide S puts a row in ⌊S / L⌋ or ⌈S / L⌉ windows, by where it falls). Read from the
 * logic recorded in gold's checkpoint.
 */
export type WindowsPerRow = number | ((eventTime: number) => number);

/** Gold's windows per row (see `WindowsPerRow`); `undefined` when no shard's checkpoint says. */
export async function goldWindowsPerRow(lake: Lake, checkpoints: CheckpointIndex, goldCheckpoint: string): Promise<WindowsPerRow | undefined> {
  for (const session of [...checkpoints.goldShards(goldCheckpoint).keys()].sort()) {
    const path = `checkpoints/${goldCheckpoint}/${session}/metadata`;
    if (!(await lake.exists(path))) continue;
    let aggregation: NonNullable<GoldMetadataRecord['logic']>['aggregation'];
    try {
      aggregation = (JSON.parse((await lake.read(path)).toString('utf8')) as GoldMetadataRecord).logic?.aggregation;
    } catch {
      continue;
    }
    const windows = aggregation?.windows;
    const sessions = Array.isArray(aggregation?.sessions) ? aggregation.sessions.length : 0;
    if (!Array.isArray(windows) || windows.length + sessions === 0) continue;
    const definitions: WindowDefinition[] = [];
    for (const w of windows) {
      const definition = { sizeMs: w.sizeMs, slideMs: w.slideMs, offsetMs: w.offsetMs ?? 0 } as WindowDefinition;
      if (windowDefinitionProblems(definition).length > 0) return undefined;
      definitions.push(definition);
    }
    if (definitions.every((d) => d.sizeMs % d.slideMs === 0)) return definitions.reduce((n, d) => n + d.sizeMs / d.slideMs, sessions);
    return (eventTime) => definitions.reduce((n, d) => n + windowsOf(eventTime, d).length, sessions);
  }
  return undefined;
}

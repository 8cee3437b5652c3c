/**
 * The checkpoints in the lake as the audit sees them, from one listing of `checkpoints/`: per
 * checkpoint folder, its newest `offsets/N` and its committed batches. Stage checkpoints (bronze,
 * silver, each gold shard) keep `{root}/offsets/N` and `{root}/commits/N`; capture keeps the same
 * pair per partition under `{root}/partitions/{p}`. An `offsets/N` without `commits/N` is a batch
 * started and not finished: its stage is still running, or failing on every retry.
 */
import type { Lake } from '@pipeline/ports';

const ENTRY = /^(checkpoints\/.+)\/(offsets|commits)\/(\d{20})$/;
const CAPTURE_PARTITION = /^checkpoints\/([^/]+)\/partitions\/([^/]+)$/;

export interface CheckpointEntries {
  root: string;
  /** The newest batch with an offsets record, if any (older ones are deleted after their commit). */
  latestOffsets: number | undefined;
  /** Committed batches, ascending (commits are kept for the audit). */
  commits: number[];
}

export interface UncommittedBatch {
  /** What the checkpoint belongs to: `bronze`, `silver`, `gold shard-002`, `capture partition 1`. */
  stage: string;
  batch: number;
  /** The offsets record without a commit. */
  path: string;
}

export const batchEntryName = (batch: number): string => String(batch).padStart(20, '0');

export class CheckpointIndex {
  private constructor(private readonly roots: ReadonlyMap<string, CheckpointEntries>) {}

  static async read(lake: Lake): Promise<CheckpointIndex> {
    const roots = new Map<string, CheckpointEntries>();
    for await (const entry of lake.list('checkpoints/')) {
      const m = ENTRY.exec(entry.path);
      if (!m) continue;
      const [, root, kind, batch] = m as unknown as [string, string, 'offsets' | 'commits', string];
      let entries = roots.get(root);
      if (!entries) roots.set(root, (entries = { root, latestOffsets: undefined, commits: [] }));
      // Listings are in ascending path order: the last offsets entry seen is the newest.
      if (kind === 'offsets') entries.latestOffsets = Number(batch);
      else entries.commits.push(Number(batch));
    }
    return new CheckpointIndex(roots);
  }

  /** No checkpoints (when `checkpoints/` cannot be listed). */
  static empty(): CheckpointIndex {
    return new CheckpointIndex(new Map());
  }

  /** The entries of one checkpoint folder (empty when it has none). */
  get(root: string): CheckpointEntries {
    return this.roots.get(root) ?? { root, latestOffsets: undefined, commits: [] };
  }

  /** Gold's per-shard checkpoints under `checkpoints/{name}/`, by session (`shard-000`, …). */
  goldShards(name: string): Map<string, CheckpointEntries> {
    const prefix = `checkpoints/${name}/`;
    const shards = new Map<string, CheckpointEntries>();
    for (const [root, entries] of this.roots) {
      const session = root.slice(prefix.length);
      if (root.startsWith(prefix) && /^shard-\d+$/.test(session)) shards.set(session, entries);
    }
    return shards;
  }

  /**
   * The newest batch of each of the pipeline's checkpoints that was started but not committed:
   * bronze's, silver's, each gold shard's and each capture partition's. Other folders (a replay's
   * checkpoints) belong to other runs and are not the pipeline's pending work.
   */
  uncommitted(names: { bronze: string; silver: string; gold: string }): UncommittedBatch[] {
    const found: UncommittedBatch[] = [];
    for (const [root, entries] of [...this.roots].sort(([a], [b]) => a.localeCompare(b))) {
      const stage = this.stageOf(root, names);
      const batch = entries.latestOffsets;
      if (stage === undefined || batch === undefined) continue;
      // Batches are committed in order, so the newest commit is the one that could match.
      if (entries.commits[entries.commits.length - 1] === batch) continue;
      found.push({ stage, batch, path: `${root}/offsets/${batchEntryName(batch)}` });
    }
    return found;
  }

  private stageOf(root: string, names: { bronze: string; silver: string; gold: string }): string | undefined {
    if (root === `checkpoints/${names.bronze}`) return 'bronze';
    if (root === `checkpoints/${names.silver}`) return 'silver';
    const goldPrefix = `checkpoints/${names.gold}/`;
    if (root.startsWith(goldPrefix) && /^shard-\d+$/.test(root.slice(goldPrefix.length))) return `gold ${root.slice(goldPrefix.length)}`;
    const capture = CAPTURE_PARTITION.exec(root);
    if (capture) return `capture partition ${capture[2] as string} (${capture[1] as string})`;
    return undefined;
  }
}

/**
 * The last committed batches of each stage (bronze, silver, each gold shard), read from the stages'
 * own checkpoints (libs/contracts stage-records.ts): what each batch took in and put out, its batch
 * time, when it was committed and how long it took.
 *
 * A batch's duration is from its offsets record (written when the batch was planned) to its commit
 * record, by the lake's modification times: the time the stage spent on it, planning to commit.
 * Checkpoint retention deletes old offsets; a batch whose offsets are gone has no duration.
 */
import { StageCheckpoint } from '@pipeline/checkpoint';
import type { BronzeCommit, BronzeOffsets, GoldCommit, GoldOffsets, SilverCommit, SilverOffsets } from '@pipeline/contracts';
import type { Lake } from '@pipeline/ports';
import type { GoldShardBatchesDto, StageBatchDto, StageBatchesDto } from './status-history.dto';

export interface StageCheckpointNames {
  bronzeCheckpoint: string;
  silverCheckpoint: string;
  goldCheckpoint: string;
}

const SHARD_FOLDER = /^shard-(\d+)$/;

/** How many batches per stage (and per gold shard) the endpoint answers with at most. */
export const MAX_STAGE_BATCHES = 50;

export class StageBatches {
  /** Per checkpoint: the newest commit entries seen, so each read lists only the commits added since. */
  private readonly tails = new Map<string, CommitTail>();

  constructor(
    private readonly lake: Lake,
    private readonly names: StageCheckpointNames,
  ) {}

  async read(limit: number): Promise<StageBatchesDto> {
    const { lake, names } = this;
    if (!(limit >= 1 && limit <= MAX_STAGE_BATCHES)) throw new RangeError(`stage batches: limit must be 1 to ${MAX_STAGE_BATCHES}, got ${limit}`);
    const [bronze, silver, gold] = await Promise.all([
      this.lastBatches<BronzeOffsets, BronzeCommit>(`checkpoints/${names.bronzeCheckpoint}`, limit, (offsets, commit) => ({
        batchTime: offsets?.createdAt ?? null,
        counts: { files: commit.files, records: commit.records, rejectedFiles: commit.rejected?.length ?? 0 },
        watermarkMs: null,
      })),
      this.lastBatches<SilverOffsets, SilverCommit>(`checkpoints/${names.silverCheckpoint}`, limit, (offsets, commit) => {
        const counts = { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
        for (const c of Object.values(commit.counts)) {
          counts.records += c.records;
          counts.rows += c.rows;
          counts.quarantined += c.quarantined;
          counts.duplicates += c.duplicates;
        }
        return { batchTime: offsets?.batchTime ?? null, counts: { ...counts, rejectedFiles: commit.rejectedFiles?.length ?? 0 }, watermarkMs: null };
      }),
      this.goldBatches(lake, `checkpoints/${names.goldCheckpoint}`, limit),
    ]);
    return { bronze, silver, gold };
  }

  private async goldBatches(lake: Lake, root: string, limit: number): Promise<GoldShardBatchesDto[]> {
    const shards = new Map<number, string>();
    // One entry per shard is enough: each shard folder holds a metadata record.
    for await (const entry of lake.list(`${root}/`)) {
      const folder = entry.path.slice(root.length + 1).split('/')[0] ?? '';
      const match = SHARD_FOLDER.exec(folder);
      if (match) shards.set(Number(match[1]), `${root}/${folder}`);
    }
    return Promise.all(
      [...shards]
        .sort(([a], [b]) => a - b)
        .map(async ([shard, shardRoot]) => ({
          shard,
          batches: await this.lastBatches<GoldOffsets, GoldCommit>(shardRoot, limit, (offsets, commit) => ({
            batchTime: offsets?.batchTime ?? null,
            counts: { rows: commit.rows, lateRows: commit.lateRows, windowsEmitted: commit.windowsEmitted },
            watermarkMs: Number.isFinite(commit.watermark) ? commit.watermark : null,
          })),
        })),
    );
  }

  /** The `limit` newest committed batches of one checkpoint, newest first. */
  private async lastBatches<Offsets, Commit>(root: string, limit: number, figures: (offsets: Offsets | undefined, commit: Commit) => BatchFigures): Promise<StageBatchDto[]> {
    const tail = this.tails.get(root) ?? { last: undefined, entries: [] };
    this.tails.set(root, tail);
    for await (const entry of this.lake.list(`${root}/commits/`, tail.last === undefined ? {} : { startAfter: tail.last })) {
      tail.entries.push({ batch: Number(entry.path.slice(entry.path.lastIndexOf('/') + 1)), committedAt: entry.modifiedAt });
      if (tail.entries.length > MAX_STAGE_BATCHES) tail.entries.shift();
      tail.last = entry.path;
    }
    const checkpoint = new StageCheckpoint<Offsets, Commit>(this.lake, root);
    const batches = await Promise.all(
      tail.entries.slice(-limit).map(async ({ batch, committedAt }): Promise<StageBatchDto | undefined> => {
        const [offsets, commit, planned] = await Promise.all([checkpoint.readOffsets(batch), checkpoint.readCommit(batch), this.lake.stat(checkpoint.offsetsPath(batch))]);
        // Deleted since it was listed (a reset checkpoint): the next read lists the checkpoint anew.
        if (commit === undefined) {
          this.tails.delete(root);
          return undefined;
        }
        return { batch, committedAt, durationMs: planned === undefined ? null : Math.max(0, committedAt - planned.modifiedAt), ...figures(offsets, commit) };
      }),
    );
    return batches.filter((b): b is StageBatchDto => b !== undefined).reverse();
  }
}

interface CommitTail {
  /** The last commit path listed. */
  last: string | undefined;
  entries: Array<{ batch: number; committedAt: number }>;
}

type BatchFigures = Pick<StageBatchDto, 'batchTime' | 'counts' | 'watermarkMs'>;

/**
 * The actor of one gold shard: processes the shard's silver manifests strictly in sequence, batch
 * by batch, resuming from the shard's last committed state. Any gold instance can own any shard;
 * ownership is the bus session lock of the shard, and the lake holds everything needed to resume.
 */
import type { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { shardSession } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Logger } from '@pipeline/telemetry';
import { runGoldBatch, type GoldBatchDeps } from './gold-batch';
import type { GoldCommit, GoldOffsets, GoldState } from './gold-offsets';

export class ShardActor {
  private position = -1;
  private nextBatch = 0;
  private recovered = false;
  private running: Promise<number> | undefined;

  constructor(
    readonly shard: number,
    private readonly deps: GoldBatchDeps,
    private readonly checkpoint: StageCheckpoint<GoldOffsets, GoldCommit, GoldState>,
    private readonly queryId: string,
    private readonly manifests: ManifestLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly maxManifestsPerBatch: number,
    /** Silver rows per gold batch, at most (a single larger manifest still makes one batch): a batch is held in memory. */
    private readonly maxBatchRows: number,
  ) {}

  get silverPosition(): number {
    return this.position;
  }

  private async recover(): Promise<void> {
    const latest = await this.checkpoint.latest();
    if (latest) {
      if (!latest.committed) {
        this.logger.info({ shard: this.shard, batch: latest.batch }, 're-running the gold batch that was interrupted');
        await this.execute(latest.batch, latest.offsets);
      }
      this.position = latest.offsets.silver.to;
      this.nextBatch = latest.batch + 1;
    }
    this.recovered = true;
  }

  /**
   * The end of a bounded input (a drain or a replay that finishes its input): one batch that moves
   * the watermark past every open window, so the last windows are final and emitted. Recorded like
   * any batch (offsets first), and done once: a shard already finished is left as it is.
   */
  async finishInput(): Promise<boolean> {
    await this.catchUp();
    const last = await this.checkpoint.latest();
    if (last?.offsets.endOfInput === true && last.offsets.silver.to === this.position) return false;
    const batch = this.nextBatch;
    const offsets = await this.checkpoint.writeOffsets(batch, { silver: { from: this.position + 1, to: this.position }, batchTime: this.clock.now(), endOfInput: true });
    await this.execute(batch, offsets);
    this.nextBatch = batch + 1;
    return true;
  }

  /** Processes every silver manifest of the shard available in the lake; concurrent calls share one run. */
  catchUp(): Promise<number> {
    this.running ??= this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  private async loop(): Promise<number> {
    if (!this.recovered) await this.recover();
    let batches = 0;
    for (;;) {
      const available: number[] = [];
      let rows = 0;
      for await (const manifest of this.manifests.after('silver', shardSession(this.shard), this.position, this.maxManifestsPerBatch)) {
        const manifestRows = manifest.files.reduce((n, f) => n + f.rows, 0);
        if (available.length > 0 && rows + manifestRows > this.maxBatchRows) break;
        available.push(manifest.sequence);
        rows += manifestRows;
      }
      if (available.length === 0) return batches;
      const batch = this.nextBatch;
      const offsets = await this.checkpoint.writeOffsets(batch, {
        silver: { from: available[0] as number, to: available[available.length - 1] as number },
        batchTime: this.clock.now(),
      });
      await this.execute(batch, offsets);
      this.position = offsets.silver.to;
      this.nextBatch = batch + 1;
      batches++;
    }
  }

  private async execute(batch: number, offsets: GoldOffsets): Promise<void> {
    const previous = batch > 0 ? await this.checkpoint.readState(batch - 1) : undefined;
    if (batch > 0 && !previous) throw new Error(`The gold checkpoint ${this.checkpoint.root} has no state for batch ${batch - 1}; it cannot resume batch ${batch} exactly.`);
    const { state, commit } = await runGoldBatch(this.deps, this.shard, this.queryId, batch, offsets, previous);
    await this.checkpoint.writeState(batch, state);
    await this.checkpoint.commit(batch, commit);
    this.logger.info(
      {
        shard: this.shard,
        batch,
        rows: commit.rows,
        late: commit.lateRows,
        windows: commit.windowsEmitted,
        watermark: Number.isFinite(commit.watermark) ? new Date(commit.watermark).toISOString() : null,
        held_by_partition: commit.holdingPartition,
        ...(commit.endOfInput === true ? { end_of_input: true } : {}),
      },
      'gold batch committed',
    );
  }
}

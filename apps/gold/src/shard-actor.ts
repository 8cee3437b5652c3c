/**
 * The actor of one gold shard: processes the shard's silver manifests strictly in sequence, batch
 * by batch, resuming from the shard's last committed state. Any gold instance can own any shard;
 * ownership is the bus session lock of the shard, and the lake holds everything needed to resume.
 */
import { MicroBatchRuntime, type ManifestLog, type StageCheckpoint } from '@pipeline/checkpoint';
import { shardSession } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import { goldMeasure, type Logger } from '@pipeline/telemetry';
import { restoreGoldState, runGoldBatch, type GoldBatchDeps, type GoldLiveState } from './gold-batch';
import type { GoldCommit, GoldOffsets, GoldState } from './gold-offsets';

export class ShardActor {
  private readonly runtime: MicroBatchRuntime<GoldOffsets, GoldOffsets, GoldState, GoldCommit, GoldLiveState>;
  private running: Promise<number> | undefined;

  constructor(
    readonly shard: number,
    deps: GoldBatchDeps,
    checkpoint: StageCheckpoint<GoldOffsets, GoldCommit, GoldState>,
    queryId: string,
    private readonly manifests: ManifestLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly maxManifestsPerBatch: number,
    /** Silver rows per gold batch, at most (a single larger manifest still makes one batch): a batch is held in memory. */
    private readonly maxBatchRows: number,
  ) {
    this.runtime = new MicroBatchRuntime(
      checkpoint,
      {
        restore: (snapshot) => restoreGoldState(deps.config, snapshot),
        execute: (batch, input, live) => {
          if (input.kind === 'recorded') this.logger.info({ shard, batch }, 're-running the gold batch that was interrupted');
          return runGoldBatch(deps, shard, queryId, batch, input, live);
        },
        committed: (batch, outcome) => this.log(batch, outcome.commit),
        measure: (outcome, live) =>
          goldMeasure(outcome.commit, { partitions: live.engine.eventTimeProgress.partitions, openWindows: live.engine.openWindows, stateRows: live.engine.stateRows }),
      },
      { stage: 'gold', stateHolds: 'which windows are open and what they hold', shard },
    );
  }

  get silverPosition(): number {
    return this.runtime.lastOffsets?.silver.to ?? -1;
  }

  /**
   * The end of a bounded input (a drain or a replay that finishes its input): one batch that moves
   * the watermark past every open window, so the last windows are final and emitted. Recorded like
   * any batch (offsets first), and done once: a shard already finished is left as it is.
   */
  async finishInput(): Promise<boolean> {
    await this.catchUp();
    const ran = await this.runtime.runNext((last) => {
      if (last?.endOfInput === true) return undefined;
      const position = last?.silver.to ?? -1;
      return { silver: { from: position + 1, to: position }, batchTime: this.clock.now(), endOfInput: true };
    });
    return ran !== undefined;
  }

  /**
   * Processes every silver manifest of the shard available in the lake; concurrent calls share one
   * run. `owned` is asked before each batch: once it says no, the run ends after the batch in hand.
   */
  catchUp(owned: () => boolean = () => true): Promise<number> {
    this.running ??= this.loop(owned).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once no batch is running (a failed run counts as ended). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async loop(owned: () => boolean): Promise<number> {
    let batches = 0;
    while (owned() && (await this.runtime.runNext((last) => this.plan(last?.silver.to ?? -1)))) batches++;
    return batches;
  }

  /** The shard's silver manifests after `position` the next batch takes, within the batch limits; `undefined` when there are none. */
  private async plan(position: number): Promise<GoldOffsets | undefined> {
    const available: number[] = [];
    let rows = 0;
    for await (const manifest of this.manifests.after('silver', shardSession(this.shard), position, this.maxManifestsPerBatch)) {
      const manifestRows = manifest.files.reduce((n, f) => n + f.rows, 0);
      if (available.length > 0 && rows + manifestRows > this.maxBatchRows) break;
      available.push(manifest.sequence);
      rows += manifestRows;
    }
    if (available.length === 0) return undefined;
    return { silver: { from: available[0] as number, to: available[available.length - 1] as number }, batchTime: this.clock.now() };
  }

  private log(batch: number, commit: GoldCommit): void {
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

/**
 * Runs silver batches over the bronze manifests in the lake, in sequence order. The bus only
 * wakes it up: what to read is always decided from the lake and the checkpoint, so a lost or
 * repeated message changes nothing and an empty bus still catches up.
 */
import { restoreAdvice } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import { MicroBatchRuntime, type ManifestLog, type StageCheckpoint } from '@pipeline/checkpoint';
import { silverMeasure, type Logger } from '@pipeline/telemetry';
import { EVERY_CAPTURE_FILE, inCaptureTimeRange } from './capture-time-range';
import { restoreSilverState, runSilverBatch, type SilverBatchDeps, type SilverBatchResult, type SilverLiveState, type SilverPlan } from './silver-batch';
import type { SilverCommit, SilverOffsets, SilverState } from './silver-offsets';

export interface SilverServiceOptions {
  /** Most bronze manifests per silver batch. */
  maxManifestsPerBatch: number;
  /** Capture bytes per silver batch, at most (a single larger bronze manifest still makes one batch): a batch's rows are held in memory. */
  maxBatchBytes: number;
  pollIntervalMs: number;
}

export class SilverService {
  private readonly runtime: MicroBatchRuntime<SilverPlan, SilverOffsets, SilverState, SilverCommit, SilverLiveState, SilverBatchResult>;
  private running: Promise<number> | undefined;

  constructor(
    private readonly deps: SilverBatchDeps,
    checkpoint: StageCheckpoint<SilverOffsets, SilverCommit, SilverState>,
    private readonly manifests: ManifestLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: SilverServiceOptions,
  ) {
    this.runtime = new MicroBatchRuntime(
      checkpoint,
      {
        restore: (snapshot) => restoreSilverState(deps, snapshot),
        execute: (batch, input, live, saveState) => {
          if (input.kind === 'recorded') this.logger.info({ batch }, 're-running the batch that was interrupted');
          return runSilverBatch(deps, batch, input, live, saveState);
        },
        committed: (batch, result) => this.log(batch, result),
        measure: (result, live) =>
          silverMeasure(result.commit, {
            watermark: result.state.eventTime.eventTime.watermark,
            partitions: result.state.eventTime.eventTime.partitions,
            remembered: live.eventTime.remembered,
          }),
      },
      { stage: 'silver', stateHolds: 'which event ids it already saw or how far event time got' },
    );
  }

  /** Last bronze sequence consumed by a committed batch. */
  get bronzePosition(): number {
    return this.runtime.lastOffsets?.bronze.to ?? -1;
  }

  /**
   * Processes every bronze manifest available in the lake, batch by batch. Concurrent calls share
   * one run (a wake-up during a run is served by that run's next loop). Returns batches run.
   */
  catchUp(): Promise<number> {
    this.running ??= this.drainLoop().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drainLoop(): Promise<number> {
    let batches = 0;
    while (await this.runtime.runNext((last) => this.plan(last?.bronze.to ?? -1))) batches++;
    return batches;
  }

  /** The bronze manifests after `position` the next batch takes, within the batch limits; `undefined` when there are none. */
  private async plan(position: number): Promise<SilverPlan | undefined> {
    const range = this.deps.captureRange ?? EVERY_CAPTURE_FILE;
    const available: number[] = [];
    let bytes = 0;
    for await (const manifest of this.manifests.after('bronze', 'bronze', position, this.options.maxManifestsPerBatch)) {
      // Only files in the capture-time range are read, so only they weigh on the batch's memory.
      const size = manifest.files.reduce((n, f) => (inCaptureTimeRange(range, f.path) ? n + f.bytes : n), 0);
      if (available.length > 0 && bytes + size > this.options.maxBatchBytes) break;
      available.push(manifest.sequence);
      bytes += size;
    }
    if (available.length === 0) return undefined;
    return { bronze: { from: available[0] as number, to: available[available.length - 1] as number }, batchTime: this.clock.now() };
  }

  private log(batch: number, result: SilverBatchResult): void {
    const c = Object.values(result.commit.counts).reduce(
      (a, b) => ({ rows: a.rows + b.rows, quarantined: a.quarantined + b.quarantined, duplicates: a.duplicates + b.duplicates }),
      { rows: 0, quarantined: 0, duplicates: 0 },
    );
    for (const f of result.commit.rejectedFiles ?? []) {
      this.logger.warn(
        { batch, path: f.path, reason: f.reason, rows: f.rows },
        `capture file set aside: the ${f.rows} records bronze batch ${f.bronzeBatch} referenced in ${f.path} count as rejected (${f.reason}: not the bytes bronze referenced). To put it back: ${restoreAdvice(f)}`,
      );
    }
    this.logger.info(
      { batch, bronze: result.offsets.bronze, ...c, silver_version: result.commit.silverVersion, watermark: new Date(result.state.eventTime.eventTime.watermark).toISOString() },
      'silver batch committed',
    );
  }
}

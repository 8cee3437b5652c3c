/**
 * Runs silver batches over the bronze manifests in the lake, in sequence order. The bus only
 * wakes it up: what to read is always decided from the lake and the checkpoint, so a lost or
 * repeated message changes nothing and an empty bus still catches up.
 */
import { restoreAdvice } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import type { Logger } from '@pipeline/telemetry';
import { EVERY_CAPTURE_FILE, inCaptureTimeRange } from './capture-time-range';
import { runSilverBatch, type SilverBatchDeps, type SilverBatchInput } from './silver-batch';
import type { SilverCommit, SilverOffsets, SilverState } from './silver-offsets';

export interface SilverServiceOptions {
  /** Most bronze manifests per silver batch. */
  maxManifestsPerBatch: number;
  /** Capture bytes per silver batch, at most (a single larger bronze manifest still makes one batch): a batch's rows are held in memory. */
  maxBatchBytes: number;
  pollIntervalMs: number;
}

export class SilverService {
  private position = -1;
  private nextBatch = 0;
  private recovered = false;
  private running: Promise<number> | undefined;

  constructor(
    private readonly deps: SilverBatchDeps,
    private readonly checkpoint: StageCheckpoint<SilverOffsets, SilverCommit, SilverState>,
    private readonly manifests: ManifestLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: SilverServiceOptions,
  ) {}

  /** Last bronze sequence consumed by a committed batch. */
  get bronzePosition(): number {
    return this.position;
  }

  private async recover(): Promise<void> {
    const latest = await this.checkpoint.latest();
    if (latest) {
      if (!latest.committed) {
        this.logger.info({ batch: latest.batch }, 're-running the batch that was interrupted');
        await this.execute(latest.batch, { kind: 'recorded', offsets: latest.offsets });
      }
      this.position = latest.offsets.bronze.to;
      this.nextBatch = latest.batch + 1;
    }
    this.recovered = true;
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
    if (!this.recovered) await this.recover();
    const range = this.deps.captureRange ?? EVERY_CAPTURE_FILE;
    let batches = 0;
    for (;;) {
      const available: number[] = [];
      let bytes = 0;
      for await (const manifest of this.manifests.after('bronze', 'bronze', this.position, this.options.maxManifestsPerBatch)) {
        // Only files in the capture-time range are read, so only they weigh on the batch's memory.
        const size = manifest.files.reduce((n, f) => (inCaptureTimeRange(range, f.path) ? n + f.bytes : n), 0);
        if (available.length > 0 && bytes + size > this.options.maxBatchBytes) break;
        available.push(manifest.sequence);
        bytes += size;
      }
      if (available.length === 0) return batches;
      const batch = this.nextBatch;
      const offsets = await this.execute(batch, {
        kind: 'planned',
        bronze: { from: available[0] as number, to: available[available.length - 1] as number },
        batchTime: this.clock.now(),
        record: (planned) => this.checkpoint.writeOffsets(batch, planned),
      });
      this.position = offsets.bronze.to;
      this.nextBatch = batch + 1;
      batches++;
    }
  }

  private async execute(batch: number, input: SilverBatchInput): Promise<SilverOffsets> {
    const previous = batch > 0 ? await this.checkpoint.readState(batch - 1) : undefined;
    if (batch > 0 && !previous) throw new Error(`The silver checkpoint ${this.checkpoint.root} has no state for batch ${batch - 1}; it cannot resume batch ${batch} exactly.`);
    const result = await runSilverBatch(this.deps, batch, input, previous);
    const offsets = result.offsets;
    await this.checkpoint.writeState(batch, result.state);
    await this.checkpoint.commit(batch, result.commit);
    const c = Object.values(result.commit.counts).reduce(
      (a, b) => ({ rows: a.rows + b.rows, quarantined: a.quarantined + b.quarantined, duplicates: a.duplicates + b.duplicates }),
      {
        rows: 0,
        quarantined: 0,
        duplicates: 0,
      },
    );
    for (const f of result.commit.rejectedFiles ?? []) {
      this.logger.warn(
        { batch, path: f.path, reason: f.reason, rows: f.rows },
        `capture file set aside: the ${f.rows} records bronze batch ${f.bronzeBatch} referenced in ${f.path} count as rejected (${f.reason}: not the bytes bronze referenced). To put it back: ${restoreAdvice(f)}`,
      );
    }
    this.logger.info(
      { batch, bronze: offsets.bronze, ...c, silver_version: result.commit.silverVersion, watermark: new Date(result.state.eventTime.eventTime.watermark).toISOString() },
      'silver batch committed',
    );
    return offsets;
  }
}

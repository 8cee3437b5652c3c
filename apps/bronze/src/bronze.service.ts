/**
 * `pipeline bronze`: discovers new capture files per partition, cuts them into batches and runs
 * each batch (see bronze-batch.ts), one at a time, in batch order.
 *
 * The checkpoint is the only memory that matters: on start, the cursors come from the last state,
 * and a batch with offsets but no commit is re-done first, from its offsets. Files discovered but
 * not yet in a batch are only held in memory; after a restart they are discovered again.
 *
 * New files are found by listing the lake's lookback window, or — with a notice reader — from
 * Event Grid notices on every step and by listing only every `listIntervalMs`, as the safety net
 * for notices that never come and for files Capture back-fills. The first step after a start always
 * lists, which also finds the files whose notices were completed before their batch committed.
 * Without notices and with `sweepIntervalMs`, the whole window is listed that often, and every
 * other step lists only past each partition's newest known file (one call per partition, however
 * many files the window holds); without it, every step lists the whole window.
 * Noticed and listed files pass the same checks (`whyNotNew`), so each is batched once.
 *
 * A file a batch sets aside counts as consumed, so listing and notices never take it again; every
 * listing also reads the rejected-file log, and a file restored there (`pipeline rejected restore`)
 * and not yet taken joins the pending files, whatever its age, until a batch takes it.
 */
import { MicroBatchRuntime, StageCheckpoint, type ManifestLog } from '@pipeline/checkpoint';
import { describeRejection, RejectedFileLog } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { bronzeMeasure, type Logger } from '@pipeline/telemetry';
import { BatchPlanner } from './batch-planner';
import { runBronzeBatch, type BronzeBatchDeps, type BronzeBatchResult, type BronzePlan } from './bronze-batch';
import { BRONZE_STAGE, bronzeLogic, type BronzeCommit, type BronzeOffsets, type BronzeState } from './bronze-checkpoint';
import { captureFileTime, type CaptureLayout } from '@pipeline/contracts';
import { PartitionCursor } from './partition-cursor';
import type { CaptureNoticeReader } from './capture-notice-reader';
import { PartitionDiscovery, whyNotNew, type DiscoveredFile } from './partition-discovery';
import { abortableSleep, type Sleep } from '@pipeline/config';

export interface BronzeServiceOptions {
  layout: CaptureLayout;
  /** Partition ids are 0 … partitions − 1. */
  partitions: number;
  /** The manifests' `pipeline` field. */
  pipeline: string;
  /** e.g. `checkpoints/bronze` */
  checkpointRoot: string;
  lookbackMs: number;
  maxBatchFiles: number;
  maxBatchBytes: number;
  maxBatchDelayMs: number;
  pollMs: number;
  /** Takes new files from Event Grid notices; then listing runs only every `listIntervalMs`. */
  notices?: { reader: CaptureNoticeReader; listIntervalMs: number };
  /** Without notices: how often the whole lookback window is listed; in between, only past the newest files. */
  sweepIntervalMs?: number;
}

export interface BronzeSummary {
  batches: number;
  files: number;
  records: number;
  bytes: number;
  /** Files set aside (see the rejected-file log). */
  rejected: number;
  /** The last committed batch, if any. */
  lastBatch: number | undefined;
}

export class BronzeService {
  private readonly checkpoint: StageCheckpoint<BronzeOffsets, BronzeCommit, BronzeState>;
  private readonly runtime: MicroBatchRuntime<BronzePlan, BronzeOffsets, BronzeState, BronzeCommit, Map<string, PartitionCursor>, BronzeBatchResult>;
  private readonly planner: BatchPlanner;
  private readonly discoveries: PartitionDiscovery[];
  private readonly deps: BronzeBatchDeps;
  private readonly rejected: RejectedFileLog;
  private bound = false;
  /** When the lake was last listed; `undefined` until the first listing. */
  private listedAt: number | undefined;
  private readonly summary: BronzeSummary = { batches: 0, files: 0, records: 0, bytes: 0, rejected: 0, lastBatch: undefined };

  constructor(
    lake: Lake,
    manifests: ManifestLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: BronzeServiceOptions,
    private readonly sleep: Sleep = abortableSleep,
  ) {
    this.checkpoint = new StageCheckpoint(lake, options.checkpointRoot);
    this.planner = new BatchPlanner({ maxFiles: options.maxBatchFiles, maxBytes: options.maxBatchBytes, maxDelayMs: options.maxBatchDelayMs });
    this.discoveries = Array.from({ length: options.partitions }, (_, i) => new PartitionDiscovery(String(i), options.layout, lake, logger, options.lookbackMs));
    this.rejected = new RejectedFileLog(lake);
    this.deps = { lake, manifests, rejected: this.rejected, layout: options.layout, pipeline: options.pipeline, lookbackMs: options.lookbackMs };
    this.runtime = new MicroBatchRuntime(
      this.checkpoint,
      {
        restore: (snapshot) => new Map(Object.entries(snapshot?.partitions ?? {}).map(([id, cursor]) => [id, PartitionCursor.restore(cursor, this.options.layout, id)])),
        execute: (batch, input, cursors) => {
          if (input.kind === 'recorded') this.logger.info({ batch, files: input.offsets.files.length }, 're-doing the batch that was interrupted, from its offsets');
          return runBronzeBatch(this.deps, batch, input, cursors);
        },
        committed: (batch, result) => this.committed(batch, result),
        measure: (result) => bronzeMeasure(result.commit),
      },
      { stage: 'bronze', stateHolds: 'which capture files it consumed' },
    );
  }

  /** Each partition's cursor after the last committed batch. */
  private get cursors(): ReadonlyMap<string, PartitionCursor> {
    return this.runtime.state;
  }

  /**
   * Runs until `signal` aborts (the batch in progress is finished first), or — with `drain` — until
   * every file present at start-up is in a committed batch.
   */
  async run(signal: AbortSignal, drain = false): Promise<BronzeSummary> {
    await this.start();
    const startup = drain ? await this.discover() : undefined;
    while (!signal.aborted) {
      const ran = await this.step(drain, signal);
      if (startup && [...startup].every((path) => !this.planner.has(path))) break;
      if (ran === 0) await this.sleep(this.options.pollMs, signal);
    }
    return { ...this.summary };
  }

  /** Binds the checkpoint, restores the cursors and re-does an interrupted batch. Idempotent. */
  async start(): Promise<void> {
    if (!this.bound) {
      await this.checkpoint.bind(BRONZE_STAGE, bronzeLogic(this.options.layout));
      this.bound = true;
    }
    await this.runtime.recover();
  }

  /** One poll: takes notices, lists the lake when due, then runs every batch that is due. Returns the batches run. */
  async step(draining: boolean, signal?: AbortSignal): Promise<number> {
    await this.start();
    const noticesFailed = await this.readNotices();
    if (noticesFailed || this.listingDue()) await this.discover();
    else if (!this.options.notices) await this.discoverNewest();
    let ran = 0;
    while (!signal?.aborted) {
      const result = await this.runtime.runNext(() => {
        const files = this.planner.next(this.clock.now(), draining);
        if (!files) return undefined;
        return {
          files: files.map(({ path, partitionId, bytes, restore }) => (restore ? { path, partitionId, bytes, restore } : { path, partitionId, bytes })),
          createdAt: this.clock.now(),
          partitions: this.discoveries.map((d) => d.partitionId),
        };
      });
      if (!result) break;
      ran++;
    }
    return ran;
  }

  private listingDue(): boolean {
    const interval = this.options.notices ? this.options.notices.listIntervalMs : this.options.sweepIntervalMs;
    return interval === undefined || this.listedAt === undefined || this.clock.now() - this.listedAt >= interval;
  }

  /** Adds the files announced on the notices queue to the pending files; `true` when the bus failed. */
  private async readNotices(): Promise<boolean> {
    const reader = this.options.notices?.reader;
    if (!reader) return false;
    const now = this.clock.now();
    const drain = await reader.drain((file) => this.admit(file, now));
    const { messages, taken, ignored, malformed } = drain;
    if (messages > 0) this.logger.debug({ queue: reader.queue, messages, taken, ignored, malformed }, 'capture-file notices read');
    return drain.failed !== undefined;
  }

  /** Adds a noticed file to the pending files, or says why not (the checks listing applies). */
  private admit(file: DiscoveredFile, now: number): string | undefined {
    const id = Number(file.partitionId);
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.options.partitions || String(id) !== file.partitionId) {
      return `partition ${file.partitionId} is not one of the partitions read, 0…${this.options.partitions - 1} (PIPELINE_EVENT_HUB_PARTITIONS)`;
    }
    const reason = whyNotNew(file, this.cursors.get(file.partitionId), (path) => this.planner.has(path));
    if (reason === undefined) this.planner.add([file], now);
    return reason;
  }

  /** Adds every new file of every partition, and every restored file, to the pending files; returns the paths pending now. */
  private async discover(): Promise<Set<string>> {
    const now = this.clock.now();
    this.listedAt = now;
    for (const discovery of this.discoveries) {
      const found = await discovery.discover(this.cursors.get(discovery.partitionId), (path) => this.planner.has(path), now);
      this.planner.add(found, now);
    }
    await this.admitRestored(now);
    return this.planner.paths();
  }

  /** Adds what capture wrote past each partition's newest consumed or pending file. */
  private async discoverNewest(): Promise<void> {
    const now = this.clock.now();
    for (const discovery of this.discoveries) {
      const cursor = this.cursors.get(discovery.partitionId);
      const pending = this.planner.newest(discovery.partitionId);
      const after = pending !== undefined && (cursor === undefined || pending > cursor.position) ? pending : cursor?.position;
      const known = (path: string) => this.planner.has(path);
      const found = after === undefined ? await discovery.discover(cursor, known, now) : await discovery.discoverAfter(after, cursor, known);
      this.planner.add(found, now);
    }
  }

  /** Files restored in the rejected-file log and not taken yet: pending, past any cursor or horizon. */
  private async admitRestored(now: number): Promise<void> {
    const { layout, partitions } = this.options;
    const hubPrefix = `${layout.prefix}/${layout.namespace}/${layout.eventHub}/`;
    for (const entry of await this.rejected.list(hubPrefix)) {
      if (entry.state !== 'restored' || this.planner.has(entry.path)) continue;
      const partitionId = entry.path.slice(hubPrefix.length).split('/')[0] as string;
      const time = captureFileTime(layout, partitionId, entry.path);
      if (time === undefined || !(Number(partitionId) < partitions)) {
        this.logger.warn({ path: entry.path, partitions }, 'ignoring a restored file that is not a capture file of a partition bronze reads');
        continue;
      }
      const { stage } = await this.rejected.read(entry.path, entry.bronzeBatch);
      const size = (await this.deps.lake.stat(entry.path))?.size ?? 0;
      this.planner.add([{ path: entry.path, partitionId, time, bytes: size, restore: { rejection: entry.bronzeBatch, stage } }], now);
      this.logger.info({ path: entry.path, rejection: entry.bronzeBatch }, 'taking a restored capture file');
    }
  }

  private committed(batch: number, result: BronzeBatchResult): void {
    this.runtime.state.clear();
    for (const [id, cursor] of result.cursors) this.runtime.state.set(id, cursor);
    this.planner.remove(result.offsets.files.map((f) => f.path));
    this.summary.batches++;
    this.summary.files += result.commit.files;
    this.summary.records += result.commit.records;
    this.summary.bytes += result.commit.bytes;
    this.summary.rejected += result.rejections.length;
    this.summary.lastBatch = batch;
    for (const rejection of result.rejections)
      this.logger.warn({ batch, path: rejection.path, reason: rejection.reason }, `capture file set aside: ${describeRejection(rejection)}`);
    this.logger.info(
      {
        batch,
        manifest: result.commit.manifest,
        files: result.commit.files,
        records: result.commit.records,
        partitions: result.commit.partitions,
        ...(result.commit.rejected ? { rejected: result.commit.rejected } : {}),
        ...(result.commit.restored ? { restored: result.commit.restored } : {}),
      },
      'bronze batch committed',
    );
  }
}

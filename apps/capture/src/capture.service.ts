/**
 * Runs partition captures for the partitions this instance owns. Ownership is balanced in the
 * hub's checkpoint store (as Azure's load-balancing consumers do, see `OwnershipBalancer`), scoped
 * to the capture checkpoint: each instance claims free or expired partitions up to its fair share
 * of the live instances, renews its claims, and gives a partition up when above the share (or when
 * it is the busiest and another instance is under it), writing the partition's open file first so
 * the next owner starts where it stopped. A partition lost without a release (its claim expired
 * while this instance stalled) is dropped at once: its open file is abandoned and the new owner
 * re-reads from the lake's record. A dead instance's partitions are owned again within expiry +
 * interval.
 *
 * A drain (`--drain`) balances like any instance, so it works beside running or draining ones: it
 * is done when every partition is captured up to where the hub was when it started, by whichever
 * instance owns the partition. Its own partitions it closes early (the partial file is written);
 * the others it reads from the lake's per-partition logs, where their owners commit. An owner that
 * died leaves its partitions to be claimed within the bound, by the drain if need be, so a drain
 * never waits on an instance that is gone; and every file is still one create-if-absent intent, so
 * none is written twice.
 */
import type { CapturePartition } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import { captureProgress, OwnershipBalancer, type OwnershipScope } from '@pipeline/checkpoint';
import type { CheckpointStore, EventHubConsumer, Lake } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { CAPTURE_LOG_VERSION, CaptureLog } from './capture-log';
import { PartitionCapture, type CapturedFile, type PartitionCaptureOptions } from './partition-capture';
import { abortableSleep, type Sleep } from '@pipeline/config';

export interface CaptureServiceOptions extends PartitionCaptureOptions {
  namespace: string;
  prefix: string;
  checkpointName: string;
  ownerId: string;
  pollWaitMs: number;
  ownershipIntervalMs: number;
  ownershipExpiryMs: number;
}

export interface CaptureSummary {
  files: number;
  events: number;
  bytes: number;
  partitions: string[];
  /** Draining: the partitions found captured up to their target by other instances (which owned them then). */
  drainedByOthers: string[];
}

export class CaptureService {
  private readonly workers = new Map<string, PartitionCapture>();
  private readonly log: CaptureLog;
  private readonly summary: CaptureSummary = { files: 0, events: 0, bytes: 0, partitions: [], drainedByOthers: [] };
  private balancer: OwnershipBalancer | undefined;
  private lastBalance = Number.NEGATIVE_INFINITY;
  /** Draining: partitions whose target is captured, here or elsewhere (positions only grow). */
  private readonly drainedPartitions = new Set<string>();
  private lastElsewhereCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly hub: EventHubConsumer,
    private readonly lake: Lake,
    private readonly checkpoints: CheckpointStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: CaptureServiceOptions,
    private readonly sleep: Sleep = abortableSleep,
  ) {
    this.log = new CaptureLog(lake, `checkpoints/${options.checkpointName}`);
  }

  get ownedPartitions(): string[] {
    return [...this.workers.keys()];
  }

  /**
   * Captures until `signal` aborts, or — with `drain` — until every partition is captured up to
   * where the hub was when the run started. Open files are flushed and ownership released either way.
   */
  async run(signal: AbortSignal, drain = false): Promise<CaptureSummary> {
    await this.log.bind({ version: CAPTURE_LOG_VERSION, namespace: this.options.namespace, eventHub: this.hub.hubName, consumerGroup: this.hub.consumerGroup });
    const partitionIds = await this.hub.getPartitionIds();
    const targets = new Map<string, number>();
    if (drain) for (const id of partitionIds) targets.set(id, (await this.hub.getPartitionProperties(id)).lastSequenceNumber);
    try {
      while (!signal.aborted) {
        if (this.clock.now() - this.lastBalance >= this.options.ownershipIntervalMs) await this.balance(partitionIds);
        const received = await this.pollAll();
        if (drain && (await this.drained(targets))) break;
        // An idle hub is asked again at least four times per window, so a short window's file closes on time.
        if (received === 0) await this.sleep(Math.min(this.options.pollWaitMs, Math.max(10, Math.floor(this.options.windowMs / 4))), signal);
      }
      for (const worker of this.workers.values()) await worker.flush();
    } finally {
      await this.release();
    }
    this.summary.partitions = partitionIds;
    this.summary.drainedByOthers.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return this.summary;
  }

  /**
   * Polls every owned partition at once, so one partition's file is written to the lake while the
   * next encodes its events. Partitions share nothing but the service's counters. Waits for all
   * of them before reporting the first failure, so none is still writing when the run stops.
   */
  private async pollAll(): Promise<number> {
    const results = await Promise.allSettled([...this.workers.values()].map((worker) => worker.poll(0)));
    let received = 0;
    for (const result of results) {
      if (result.status === 'rejected') throw result.reason;
      received += result.value;
    }
    return received;
  }

  /**
   * Whether every partition is captured up to its target. Owned partitions are judged by their
   * worker; the others by the lake's log of the partition, read at most once per poll wait.
   */
  private async drained(targets: Map<string, number>): Promise<boolean> {
    const now = this.clock.now();
    const checkElsewhere = now - this.lastElsewhereCheck >= this.options.pollWaitMs;
    if (checkElsewhere) this.lastElsewhereCheck = now;
    for (const [id, target] of targets) {
      if (this.drainedPartitions.has(id)) continue;
      const worker = this.workers.get(id);
      if (worker) {
        // Everything up to the target was read: close the partial file instead of waiting out its window.
        if (worker.committedSequenceNumber < target && worker.committedSequenceNumber + worker.pendingEvents >= target) await worker.flush();
        if (worker.committedSequenceNumber >= target) this.drainedPartitions.add(id);
      } else if (checkElsewhere && ((await captureProgress(this.lake, this.log.root, id))?.toSequenceNumber ?? -1) >= target) {
        this.drainedPartitions.add(id);
        this.summary.drainedByOthers.push(id);
      }
    }
    return this.drainedPartitions.size === targets.size;
  }

  /** Where this checkpoint's ownership records live: the hub's consumer group, narrowed to the checkpoint. */
  get ownershipScope(): OwnershipScope {
    return {
      fullyQualifiedNamespace: this.hub.fullyQualifiedNamespace,
      eventHubName: this.hub.hubName,
      consumerGroup: `${this.hub.consumerGroup}.${this.options.checkpointName}`,
    };
  }

  /** Renews this instance's claims, releases above its fair share and claims free or expired partitions up to it. */
  async balance(partitionIds: string[]): Promise<void> {
    this.lastBalance = this.clock.now();
    this.balancer ??= new OwnershipBalancer(this.checkpoints, this.clock, {
      scope: this.ownershipScope,
      ownerId: this.options.ownerId,
      items: partitionIds,
      expiryMs: this.options.ownershipExpiryMs,
      stage: 'capture',
      stopping: async (id) => {
        const worker = this.workers.get(id);
        this.workers.delete(id);
        // The open file is written and committed first, so the next owner goes on from there.
        await worker?.flush();
        this.logger.info({ partition: id, owner: this.options.ownerId }, 'handing the partition over to balance the instances');
      },
    });
    const outcome = await this.balancer.balance();
    for (const id of outcome.lost) {
      if (!this.workers.has(id)) continue;
      this.logger.warn({ partition: id }, 'partition ownership lost to another instance; stopping its capture');
      this.workers.delete(id);
    }
    const parts: CapturePartition = { prefix: this.options.prefix, namespace: this.options.namespace, eventHub: this.hub.hubName, partitionId: '' };
    for (const id of outcome.owned) {
      if (this.workers.has(id)) continue;
      this.logger.info({ partition: id, owner: this.options.ownerId, instances: outcome.instances.length }, 'capturing partition');
      this.workers.set(
        id,
        new PartitionCapture(id, { ...parts, partitionId: id }, this.hub, this.lake, this.log, this.checkpoints, this.clock, this.logger, this.options, (file) => this.count(file)),
      );
    }
  }

  private count(file: CapturedFile): void {
    this.summary.files++;
    this.summary.events += file.eventCount;
    this.summary.bytes += file.bytes;
  }

  /** Gives owned partitions back (owner id emptied), so another instance can take them at once. */
  private async release(): Promise<void> {
    this.workers.clear();
    try {
      await this.balancer?.releaseAll();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release partition ownership; it expires on its own');
    }
  }
}

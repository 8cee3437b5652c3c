/**
 * Runs partition captures for the partitions this instance owns. Ownership is claimed in the
 * hub's checkpoint store (as Azure's load-balancing consumers do): free or expired partitions are
 * claimed up to a fair share, claims are renewed, and a partition lost to another instance is
 * dropped at once (its open file is abandoned; the new owner re-reads from the lake's record).
 */
import type { CapturePartition } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { CheckpointStore, EventHubConsumer, Lake, PartitionOwnership } from '@pipeline/ports';
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
}

export class CaptureService {
  private readonly workers = new Map<string, PartitionCapture>();
  private readonly log: CaptureLog;
  private readonly summary: CaptureSummary = { files: 0, events: 0, bytes: 0, partitions: [] };
  private ownerships = new Map<string, PartitionOwnership>();
  private lastBalance = Number.NEGATIVE_INFINITY;

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
        if (received === 0) await this.sleep(this.options.pollWaitMs, signal);
      }
      for (const worker of this.workers.values()) await worker.flush();
    } finally {
      await this.release();
    }
    this.summary.partitions = partitionIds;
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

  private async drained(targets: Map<string, number>): Promise<boolean> {
    let done = true;
    for (const [id, target] of targets) {
      const worker = this.workers.get(id);
      if (!worker) {
        done = false;
        continue;
      }
      if (worker.committedSequenceNumber >= target) continue;
      // Everything up to the target was read: close the partial file instead of waiting out its window.
      if (worker.committedSequenceNumber + worker.pendingEvents >= target) await worker.flush();
      if (worker.committedSequenceNumber < target) done = false;
    }
    return done;
  }

  /** Renews this instance's claims and claims free or expired partitions up to a fair share. */
  async balance(partitionIds: string[]): Promise<void> {
    this.lastBalance = this.clock.now();
    const { namespace } = this.options;
    const fqn = this.hub.fullyQualifiedNamespace;
    const all = await this.checkpoints.listOwnership(fqn, this.hub.hubName, this.hub.consumerGroup);
    const now = this.clock.now();
    const live = (o: PartitionOwnership) => o.ownerId !== '' && now - (o.lastModifiedTimeInMs ?? 0) < this.options.ownershipExpiryMs;
    const byPartition = new Map(all.map((o) => [o.partitionId, o]));
    const owners = new Set(all.filter(live).map((o) => o.ownerId));
    owners.add(this.options.ownerId);
    const fairShare = Math.ceil(partitionIds.length / owners.size);
    const mine = partitionIds.filter((id) => byPartition.get(id)?.ownerId === this.options.ownerId);
    const free = partitionIds.filter((id) => {
      const o = byPartition.get(id);
      return !o || !live(o);
    });
    const wanted = [...mine, ...free.filter((id) => !mine.includes(id)).slice(0, Math.max(0, fairShare - mine.length))];
    const claims: PartitionOwnership[] = wanted.map((partitionId) => ({
      fullyQualifiedNamespace: fqn,
      eventHubName: this.hub.hubName,
      consumerGroup: this.hub.consumerGroup,
      partitionId,
      ownerId: this.options.ownerId,
      etag: byPartition.get(partitionId)?.etag,
    }));
    const won = claims.length > 0 ? await this.checkpoints.claimOwnership(claims) : [];
    this.ownerships = new Map(won.map((o) => [o.partitionId, o]));
    for (const id of [...this.workers.keys()]) {
      if (!this.ownerships.has(id)) {
        this.logger.warn({ partition: id }, 'partition ownership lost to another instance; stopping its capture');
        this.workers.delete(id);
      }
    }
    const parts: CapturePartition = { prefix: this.options.prefix, namespace, eventHub: this.hub.hubName, partitionId: '' };
    for (const id of this.ownerships.keys()) {
      if (this.workers.has(id)) continue;
      this.logger.info({ partition: id, owner: this.options.ownerId }, 'capturing partition');
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
    const releases = [...this.ownerships.values()].map((o) => ({ ...o, ownerId: '' }));
    this.ownerships.clear();
    this.workers.clear();
    if (releases.length === 0) return;
    try {
      await this.checkpoints.claimOwnership(releases);
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release partition ownership; it expires on its own');
    }
  }
}

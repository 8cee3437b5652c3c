/**
 * Which gold shards this instance works on: balanced ownership records in the checkpoint store,
 * scoped to the gold checkpoint (two checkpoints never count or starve each other's instances).
 *
 * Invariants:
 * - Balancing runs on its own timer, every `intervalMs`, whatever the shards are doing, so a dead
 *   instance's shards are owned again at most `expiryMs + intervalMs` after its last renewal.
 * - A shard is released only after its batch in hand finished (`GoldService.stopShard`); a newly
 *   owned shard catches up from the lake at once, without waiting for a bus message (the session a
 *   dead owner held stays locked until its lock expires, and needs not be free for the work to go on).
 * - Every owned shard is caught up each `wakeIntervalMs` from the lake: the local timer replaces
 *   wake messages on the bus, so no message keeps a session busy. A shard gained less than
 *   `sessionLockMs` ago is also caught up at every balance: its session may still be locked by the
 *   dead owner, so no bus message reaches this instance for it until that lock expires.
 */
import { goldOwnershipScope, OwnershipBalancer, type BalanceOutcome } from '@pipeline/checkpoint';
import { shardSession } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { CheckpointStore } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import type { GoldService } from './gold.service';

export interface ShardOwnershipOptions {
  ownerId: string;
  checkpointName: string;
  /** Lake folder of the silver manifests: one gold pipeline per manifests root and checkpoint. */
  manifestsRoot: string;
  intervalMs: number;
  expiryMs: number;
  wakeIntervalMs: number;
  /** The bus queue's lock duration: how long a dead owner's session may stay locked. */
  sessionLockMs: number;
  /** A failure no retry fixes (a checkpoint bound to other logic): the service stops. */
  onFatal: (error: Error) => void;
  isFatal: (error: unknown) => boolean;
}

export class ShardOwnership {
  private readonly balancer: OwnershipBalancer;
  private owned = new Set<string>();
  /** When each owned shard was gained (clock time). */
  private readonly gainedAt = new Map<string, number>();
  private balanceTimer: NodeJS.Timeout | undefined;
  private wakeTimer: NodeJS.Timeout | undefined;
  /** The balance in progress; a tick that finds one running is skipped, so balances never queue up. */
  private balancing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    store: CheckpointStore,
    private readonly clock: Clock,
    private readonly gold: GoldService,
    private readonly logger: Logger,
    private readonly options: ShardOwnershipOptions,
  ) {
    const items = Array.from({ length: gold.shards }, (_, shard) => shardSession(shard));
    this.balancer = new OwnershipBalancer(store, clock, {
      scope: goldOwnershipScope(options.checkpointName, options.manifestsRoot),
      ownerId: options.ownerId,
      items,
      expiryMs: options.expiryMs,
      stage: 'gold',
      stopping: async (session) => {
        this.owned.delete(session);
        await this.gold.stopShard(shardOf(session));
      },
    });
    gold.ownedBy((shard) => this.owned.has(shardSession(shard)));
  }

  /** The shard sessions this instance owns now (the bus transport holds exactly these). */
  sessions(): string[] {
    return [...this.owned];
  }

  /** Balances once now, then every interval; wakes the owned shards every wake interval. */
  async start(): Promise<void> {
    await this.balanceOnce();
    this.balanceTimer = setInterval(() => {
      this.balancing ??= this.balanceOnce().finally(() => (this.balancing = undefined));
    }, this.options.intervalMs);
    this.wakeTimer = setInterval(() => {
      for (const session of this.owned) this.catchUp(session);
    }, this.options.wakeIntervalMs);
  }

  /** Stops balancing, lets the batches in hand finish, and gives every shard back at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.balanceTimer);
    clearInterval(this.wakeTimer);
    await this.balancing;
    const sessions = [...this.owned];
    this.owned.clear();
    await Promise.all(sessions.map((session) => this.gold.stopShard(shardOf(session))));
    try {
      await this.balancer.releaseAll();
    } catch (error) {
      this.logger.warn({ err: error }, 'could not release the gold shards; their ownership expires on its own');
    }
  }

  private async balanceOnce(): Promise<void> {
    if (this.stopped) return;
    let outcome: BalanceOutcome;
    try {
      outcome = await this.balancer.balance();
    } catch (error) {
      this.logger.error({ err: error }, 'balancing gold shard ownership failed; trying again at the next interval');
      return;
    }
    this.owned = new Set(outcome.owned);
    const now = this.clock.now();
    for (const session of outcome.gained) this.gainedAt.set(session, now);
    for (const session of this.gainedAt.keys()) if (!this.owned.has(session)) this.gainedAt.delete(session);
    if (outcome.gained.length + outcome.lost.length + outcome.released.length > 0) {
      this.logger.info(
        { owner: this.options.ownerId, owned: outcome.owned, gained: outcome.gained, lost: outcome.lost, released: outcome.released, instances: outcome.instances.length },
        'gold shard ownership changed',
      );
    }
    for (const [session, at] of this.gainedAt) {
      if (now - at < this.options.sessionLockMs) this.catchUp(session);
      else this.gainedAt.delete(session);
    }
  }

  private catchUp(session: string): void {
    this.gold.catchUpShard(shardOf(session)).catch((error: unknown) => {
      if (this.options.isFatal(error)) this.options.onFatal(error as Error);
      else this.logger.error({ err: error, shard: shardOf(session) }, 'a gold shard failed to catch up; trying again at the next wake-up');
    });
  }
}

function shardOf(session: string): number {
  return Number(/^shard-(\d+)$/.exec(session)?.[1]);
}

/**
 * Balanced ownership of a partitioned stage's work items (capture over hub partitions, gold over
 * shards) among the live instances, kept in a `CheckpointStore` as Event Hubs load balancers do:
 * one ownership record per item (owner, lastModified, etag) and one heartbeat record per instance,
 * all under one scope, so two checkpoints never see each other's records.
 *
 * Invariants:
 * - A record is live while its owner renewed it less than `expiryMs` ago. An instance is live while
 *   its heartbeat (or any record it owns) is; every instance renews its records each `intervalMs`,
 *   so an orphan (its owner died) is owned again at most `expiryMs + intervalMs` after the owner's
 *   last renewal, however busy the survivors are: balancing runs on its own timer, never behind work.
 * - Fair share: with `n` items and `k` live instances, nobody claims beyond ⌈n/k⌉; an instance above
 *   it releases the excess, and when someone is below ⌊n/k⌋ the busiest instance (ties: smallest
 *   owner id, so exactly one) releases one. Items move only by release then claim: the releasing
 *   instance stops its work on the item first, so two instances never work an item at once (short
 *   of a paused owner outliving its expiry, where the create-if-absent commits of the stages hold).
 * - Claims carry the etag last listed, so of two instances claiming one item one wins.
 * - An item this instance released is not claimed back by it within `expiryMs`, so the instance
 *   under its share gets it.
 * - Heartbeats of instances gone for good (killed, or stopped: every restart brings a new instance
 *   id) would pile up, listed at every balance: a live instance deletes a heartbeat record that
 *   nobody renewed for STALE_HEARTBEAT_EXPIRIES × `expiryMs`, on the etag it listed, so a record
 *   renewed meanwhile stays. An instance that comes back after that simply creates its record again.
 */
import type { Clock } from '@pipeline/engine';
import type { CheckpointStore, PartitionOwnership } from '@pipeline/ports';
import { OwnershipMetrics } from '@pipeline/telemetry';

/** Where a stage's ownership records live: one scope per checkpoint. */
export interface OwnershipScope {
  fullyQualifiedNamespace: string;
  eventHubName: string;
  consumerGroup: string;
}

/** The scope of a gold checkpoint's shard ownership records (one gold pipeline per manifests root and checkpoint). */
export function goldOwnershipScope(checkpointName: string, manifestsRoot: string): OwnershipScope {
  return { fullyQualifiedNamespace: 'pipeline-gold', eventHubName: manifestsRoot.replaceAll('/', '-'), consumerGroup: checkpointName };
}

/** The id of an instance's heartbeat record; work item ids never start with it. */
export const HEARTBEAT_PREFIX = 'instance.';

/** How many expiries a heartbeat record may go unrenewed before a live instance deletes it (left that long to be seen). */
export const STALE_HEARTBEAT_EXPIRIES = 10;

/** Heartbeat records of other instances unrenewed for STALE_HEARTBEAT_EXPIRIES × `expiryMs`: to delete. */
export function staleHeartbeats(records: readonly PartitionOwnership[], me: string, now: number, expiryMs: number): PartitionOwnership[] {
  return records.filter(
    (r) =>
      r.partitionId.startsWith(HEARTBEAT_PREFIX) &&
      r.partitionId !== `${HEARTBEAT_PREFIX}${me}` &&
      r.etag !== undefined &&
      now - (r.lastModifiedTimeInMs ?? now) >= STALE_HEARTBEAT_EXPIRIES * expiryMs,
  );
}

export interface OwnershipPlanInput {
  /** The work items (partition or shard ids). */
  items: readonly string[];
  records: readonly PartitionOwnership[];
  me: string;
  now: number;
  expiryMs: number;
  /** Items this instance released recently: not claimed back yet. */
  cooling?: ReadonlySet<string>;
}

export interface OwnershipPlan {
  /** Items this instance owns and keeps (renewed). */
  keep: string[];
  /** Items nobody live owns that this instance claims. */
  claim: string[];
  /** Items this instance owns and gives up, to bring everyone to a fair share. */
  release: string[];
  /** Live instances, this one included, sorted. */
  instances: string[];
}

/** Decides which items to keep, claim and release. Pure: the store and the clock are read by the caller. */
export function planOwnership(input: OwnershipPlanInput): OwnershipPlan {
  const { items, records, me, now, expiryMs } = input;
  const live = (r: PartitionOwnership) => r.ownerId !== '' && now - (r.lastModifiedTimeInMs ?? 0) < expiryMs;
  const itemSet = new Set(items);
  const instances = new Set<string>([me]);
  const owned = new Map<string, string[]>();
  for (const record of records) {
    if (!live(record)) continue;
    if (record.partitionId.startsWith(HEARTBEAT_PREFIX)) {
      instances.add(record.ownerId);
    } else if (itemSet.has(record.partitionId)) {
      instances.add(record.ownerId);
      owned.set(record.ownerId, [...(owned.get(record.ownerId) ?? []), record.partitionId]);
    }
  }
  const k = instances.size;
  const min = Math.floor(items.length / k);
  const max = Math.ceil(items.length / k);
  const mine = items.filter((id) => owned.get(me)?.includes(id));
  const count = (owner: string) => owned.get(owner)?.length ?? 0;
  let release: string[] = [];
  if (mine.length > max) {
    release = mine.slice(max);
  } else if (mine.length > min && [...instances].some((owner) => count(owner) < min)) {
    const busiest = [...instances].sort((a, b) => count(b) - count(a) || a.localeCompare(b))[0];
    if (busiest === me) release = mine.slice(-1);
  }
  const keep = mine.filter((id) => !release.includes(id));
  const taken = new Set([...owned.values()].flat());
  const orphans = items.filter((id) => !taken.has(id) && !(input.cooling?.has(id) ?? false));
  const claim = release.length > 0 ? [] : orphans.slice(0, Math.max(0, max - keep.length));
  return { keep, claim, release, instances: [...instances].sort() };
}

export interface OwnershipBalancerOptions {
  scope: OwnershipScope;
  ownerId: string;
  /** The work items, e.g. partition ids or `shard-0` … */
  items: readonly string[];
  expiryMs: number;
  /** Called before an owned item is released: stop working on it (finish the current batch) first. */
  stopping?: (item: string) => Promise<void>;
  /** The stage the `pipeline.ownership.*` gauges are recorded for; none recorded without it. */
  stage?: string;
}

export interface BalanceOutcome {
  owned: string[];
  gained: string[];
  lost: string[];
  released: string[];
  instances: string[];
}

/** One instance's side of balanced ownership: call `balance()` every interval, `releaseAll()` on the way out. */
export class OwnershipBalancer {
  private owned = new Map<string, PartitionOwnership>();
  private readonly cooling = new Map<string, number>();
  private readonly metrics: OwnershipMetrics | undefined;

  constructor(
    private readonly store: CheckpointStore,
    private readonly clock: Clock,
    private readonly options: OwnershipBalancerOptions,
  ) {
    this.metrics = options.stage === undefined ? undefined : new OwnershipMetrics(options.stage);
    if (!(options.expiryMs > 0)) throw new Error(`Ownership expiry must be a positive number of ms, got ${String(options.expiryMs)}.`);
    const bad = options.items.find((id) => id === '' || id.startsWith(HEARTBEAT_PREFIX));
    if (bad !== undefined) throw new Error(`Work item id ${JSON.stringify(bad)} is empty or starts with "${HEARTBEAT_PREFIX}", which heartbeat records use; rename the item.`);
  }

  get ownerId(): string {
    return this.options.ownerId;
  }

  /** The items this instance owned at the last balance. */
  ownedItems(): string[] {
    return [...this.owned.keys()];
  }

  owns(item: string): boolean {
    return this.owned.has(item);
  }

  /** Lists the records, releases above the fair share, renews what it keeps and claims orphans, with its heartbeat. */
  async balance(): Promise<BalanceOutcome> {
    const { scope, ownerId, items, expiryMs } = this.options;
    const records = await this.store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
    const now = this.clock.now();
    for (const [item, at] of this.cooling) if (now - at >= expiryMs) this.cooling.delete(item);
    const plan = planOwnership({ items, records, me: ownerId, now, expiryMs, cooling: new Set(this.cooling.keys()) });
    const byId = new Map(records.map((r) => [r.partitionId, r]));
    const released: string[] = [];
    for (const item of plan.release) {
      this.owned.delete(item);
      await this.options.stopping?.(item);
      const record = byId.get(item);
      if (record) {
        const done = await this.store.claimOwnership([{ ...record, ownerId: '' }]);
        if (done.length > 0) released.push(item);
      }
      this.cooling.set(item, now);
    }
    const heartbeat = `${HEARTBEAT_PREFIX}${ownerId}`;
    const claims = [...plan.keep, ...plan.claim, heartbeat].map((partitionId) => ({ ...scope, partitionId, ownerId, etag: byId.get(partitionId)?.etag }));
    const won = await this.store.claimOwnership(claims);
    const before = new Set(this.owned.keys());
    this.owned = new Map(won.filter((o) => o.partitionId !== heartbeat).map((o) => [o.partitionId, o]));
    const owned = items.filter((id) => this.owned.has(id));
    this.metrics?.balanced(owned.length, plan.instances.length);
    await this.deleteStaleHeartbeats(records, now);
    return {
      owned,
      gained: owned.filter((id) => !before.has(id)),
      lost: [...before].filter((id) => !this.owned.has(id)),
      released,
      instances: plan.instances,
    };
  }

  /**
   * Housekeeping after the claims: a failure leaves the records for the next balance and never
   * fails this one (the work goes on; the records only cost a longer listing).
   */
  private async deleteStaleHeartbeats(records: readonly PartitionOwnership[], now: number): Promise<void> {
    for (const record of staleHeartbeats(records, this.options.ownerId, now, this.options.expiryMs)) {
      try {
        await this.store.deleteOwnership(record);
      } catch {
        return;
      }
    }
  }

  /** Gives every item back (owner emptied) and ends the heartbeat, so others take over at once. */
  async releaseAll(): Promise<void> {
    const { scope, ownerId } = this.options;
    const records = await this.store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
    const mine = records.filter((r) => r.ownerId === ownerId && (this.owned.has(r.partitionId) || r.partitionId === `${HEARTBEAT_PREFIX}${ownerId}`));
    this.owned.clear();
    this.metrics?.balanced(0, 0);
    if (mine.length > 0) await this.store.claimOwnership(mine.map((r) => ({ ...r, ownerId: '' })));
  }
}

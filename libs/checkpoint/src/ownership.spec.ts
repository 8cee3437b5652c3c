import * as path from 'node:path';
import { LocalCheckpointStore } from '@pipeline/adapters';
import { TestClock } from '@pipeline/engine';
import type { PartitionOwnership } from '@pipeline/ports';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { HEARTBEAT_PREFIX, OwnershipBalancer, planOwnership, STALE_HEARTBEAT_EXPIRIES, staleHeartbeats } from './ownership';

const SCOPE = { fullyQualifiedNamespace: 'pipeline', eventHubName: 'gold', consumerGroup: 'checkpoint-a' };
const ITEMS = ['0', '1', '2', '3', '4', '5', '6', '7'];
const EXPIRY = 10_000;

const record = (partitionId: string, ownerId: string, lastModifiedTimeInMs = 1_000): PartitionOwnership => ({ ...SCOPE, partitionId, ownerId, lastModifiedTimeInMs, etag: 'e' });

describe('planOwnership', () => {
  it('claims every item when alone', () => {
    expect(planOwnership({ items: ITEMS, records: [], me: 'a', now: 1_000, expiryMs: EXPIRY })).toEqual({ keep: [], claim: ITEMS, release: [], instances: ['a'] });
  });

  it('releases above the fair share once another instance is seen by its heartbeat', () => {
    const records = [...ITEMS.map((id) => record(id, 'a')), record(`${HEARTBEAT_PREFIX}b`, 'b')];
    const plan = planOwnership({ items: ITEMS, records, me: 'a', now: 2_000, expiryMs: EXPIRY });
    expect(plan.release).toEqual(['4', '5', '6', '7']);
    expect(plan.keep).toEqual(['0', '1', '2', '3']);
    expect(plan.instances).toEqual(['a', 'b']);
  });

  it('claims the items of an owner whose records expired, up to the fair share', () => {
    const records = [...ITEMS.slice(0, 4).map((id) => record(id, 'a', 20_000)), ...ITEMS.slice(4).map((id) => record(id, 'dead', 1_000))];
    const plan = planOwnership({ items: ITEMS, records, me: 'a', now: 21_000, expiryMs: EXPIRY });
    expect(plan.claim).toEqual(['4', '5', '6', '7']);
    expect(plan.instances).toEqual(['a']);
  });

  it('never claims beyond the fair share, even when items are free', () => {
    const records = [record(`${HEARTBEAT_PREFIX}b`, 'b'), record(`${HEARTBEAT_PREFIX}c`, 'c')];
    expect(planOwnership({ items: ITEMS, records, me: 'a', now: 1_000, expiryMs: EXPIRY }).claim).toEqual(['0', '1', '2']);
  });

  it('lets only the busiest instance give one item to an instance under the share', () => {
    // 9 items, 4 instances: 3, 3, 3, 0 is under ⌈9/4⌉ everywhere, but d is under ⌊9/4⌋.
    const items = [...ITEMS, '8'];
    const records = [...items.map((id, i) => record(id, ['a', 'b', 'c'][Math.floor(i / 3)] as string)), record(`${HEARTBEAT_PREFIX}d`, 'd')];
    const plans = ['a', 'b', 'c'].map((me) => planOwnership({ items, records, me, now: 1_000, expiryMs: EXPIRY }));
    expect(plans.map((p) => p.release)).toEqual([['2'], [], []]);
  });

  it('does not claim back an item it released a moment ago', () => {
    const plan = planOwnership({ items: ['0', '1'], records: [record('0', ''), record('1', '')], me: 'a', now: 1_000, expiryMs: EXPIRY, cooling: new Set(['1']) });
    expect(plan.claim).toEqual(['0']);
  });
});

describe('staleHeartbeats', () => {
  const limit = STALE_HEARTBEAT_EXPIRIES * EXPIRY;

  it('picks other instances’ heartbeats unrenewed for the stale limit, never items, its own, or a record without an etag', () => {
    const records = [
      record(`${HEARTBEAT_PREFIX}gone`, 'gone', 1_000),
      record(`${HEARTBEAT_PREFIX}released`, '', 1_000),
      record(`${HEARTBEAT_PREFIX}recent`, 'recent', 2_000),
      record(`${HEARTBEAT_PREFIX}me`, 'me', 1_000),
      { ...record(`${HEARTBEAT_PREFIX}unversioned`, 'x', 1_000), etag: undefined },
      record('0', 'gone', 1_000),
    ];
    expect(staleHeartbeats(records, 'me', 1_000 + limit, EXPIRY).map((r) => r.partitionId)).toEqual([`${HEARTBEAT_PREFIX}gone`, `${HEARTBEAT_PREFIX}released`]);
    // Expired but younger than the limit: kept for a while, to be seen.
    expect(staleHeartbeats(records, 'me', limit, EXPIRY)).toEqual([]);
  });
});

describe('OwnershipBalancer', () => {
  let dir: TempDir;
  let store: LocalCheckpointStore;
  const clock = new TestClock(1_000);

  beforeEach(async () => {
    dir = await makeTempDir('ownership-');
    store = new LocalCheckpointStore(path.join(dir.path, 'checkpoints.db'), clock);
  });

  afterEach(async () => {
    await store.close();
    await dir.dispose();
  });

  const balancer = (ownerId: string, stopped: string[] = [], scope = SCOPE) =>
    new OwnershipBalancer(store, clock, { scope, ownerId, items: ITEMS, expiryMs: EXPIRY, stopping: async (item) => void stopped.push(item) });

  it('splits the items between two instances, the first stopping its work before it releases', async () => {
    const stopped: string[] = [];
    const a = balancer('a', stopped);
    const b = balancer('b');
    expect((await a.balance()).owned).toEqual(ITEMS);
    expect((await b.balance()).owned).toEqual([]);
    clock.advance(2_000);
    const outcome = await a.balance();
    expect(outcome.released).toEqual(['4', '5', '6', '7']);
    expect(stopped).toEqual(['4', '5', '6', '7']);
    // a does not take them back: they cool down for it, so b gets them.
    clock.advance(2_000);
    expect((await a.balance()).owned).toEqual(['0', '1', '2', '3']);
    expect((await b.balance()).gained).toEqual(['4', '5', '6', '7']);
  });

  it('takes over the items of an instance that died within expiry plus one interval', async () => {
    const a = balancer('a');
    const b = balancer('b');
    await a.balance();
    await b.balance();
    clock.advance(2_000);
    await a.balance();
    await b.balance();
    expect(b.ownedItems()).toHaveLength(4);
    // a dies now; b keeps balancing every 2 s.
    let waited = 0;
    while (b.ownedItems().length < ITEMS.length) {
      clock.advance(2_000);
      waited += 2_000;
      await b.balance();
      expect(waited).toBeLessThanOrEqual(EXPIRY + 2_000);
    }
    expect(b.ownedItems().sort()).toEqual(ITEMS);
  });

  it('keeps two checkpoints apart: an instance of one never counts or starves the other', async () => {
    const a = balancer('a');
    const other = balancer('x', [], { ...SCOPE, consumerGroup: 'checkpoint-b' });
    expect((await a.balance()).owned).toEqual(ITEMS);
    expect((await other.balance()).owned).toEqual(ITEMS);
  });

  it('gives everything back on release, so a newcomer owns it at once', async () => {
    const a = balancer('a');
    await a.balance();
    await a.releaseAll();
    expect((await balancer('b').balance()).owned).toEqual(ITEMS);
  });

  it('deletes the heartbeat of an instance gone for the stale limit, and not before; a returning instance records it again', async () => {
    const a = balancer('a');
    const gone = balancer('gone');
    await gone.balance();
    await a.balance();
    const heartbeats = async () =>
      (await store.listOwnership(SCOPE.fullyQualifiedNamespace, SCOPE.eventHubName, SCOPE.consumerGroup))
        .filter((r) => r.partitionId.startsWith(HEARTBEAT_PREFIX))
        .map((r) => r.ownerId)
        .sort();
    expect(await heartbeats()).toEqual(['a', 'gone']);
    // 'gone' was killed: expired after EXPIRY, still listed until the stale limit.
    clock.advance(STALE_HEARTBEAT_EXPIRIES * EXPIRY - 1);
    await a.balance();
    expect(await heartbeats()).toEqual(['a', 'gone']);
    clock.advance(1);
    await a.balance();
    expect(await heartbeats()).toEqual(['a']);
    await gone.balance();
    expect(await heartbeats()).toEqual(['a', 'gone']);
  });

  it('refuses item ids that would clash with heartbeat records', () => {
    expect(() => new OwnershipBalancer(store, clock, { scope: SCOPE, ownerId: 'a', items: [`${HEARTBEAT_PREFIX}x`], expiryMs: EXPIRY })).toThrow(/heartbeat records use/);
  });
});

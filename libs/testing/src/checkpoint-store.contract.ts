/**
 * The `CheckpointStore` contract (libs/ports/src/event-hub.ts), written once and run against every
 * adapter. Each test works in its own hub name, so a shared store (a blob container) does too.
 */
import { randomUUID } from 'node:crypto';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@pipeline/ports';

export interface CheckpointStoreUnderTest {
  store: CheckpointStore;
  dispose(): Promise<void>;
}

const NAMESPACE = 'contract.servicebus.windows.net';
const GROUP = '$Default';

export function describeCheckpointStoreContract(adapterName: string, makeStore: () => Promise<CheckpointStoreUnderTest>): void {
  describe(`Checkpoint store contract (${adapterName})`, () => {
    let subject: CheckpointStoreUnderTest;
    let store: CheckpointStore;
    let hub: string;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
      hub = `hub-${randomUUID()}`;
    });

    afterEach(async () => {
      await subject.dispose();
    });

    const claim = (partitionId: string, ownerId: string, etag?: string, eventHubName = hub): PartitionOwnership => ({
      fullyQualifiedNamespace: NAMESPACE,
      eventHubName,
      consumerGroup: GROUP,
      partitionId,
      ownerId,
      ...(etag === undefined ? {} : { etag }),
    });

    const checkpoint = (partitionId: string, sequenceNumber: number, consumerGroup = GROUP): Checkpoint => ({
      fullyQualifiedNamespace: NAMESPACE,
      eventHubName: hub,
      consumerGroup,
      partitionId,
      sequenceNumber,
      offset: String(sequenceNumber * 100),
    });

    /** Claim a partition that nobody owns yet and return the stored ownership. */
    async function firstClaim(partitionId: string, ownerId: string): Promise<PartitionOwnership> {
      const [granted] = await store.claimOwnership([claim(partitionId, ownerId)]);
      expect(granted).toBeDefined();
      return granted;
    }

    it('lists no ownership and no checkpoints for a hub never used', async () => {
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([]);
      await expect(store.listCheckpoints(NAMESPACE, hub, GROUP)).resolves.toEqual([]);
    });

    it('grants a first claim made without an etag, stamping an etag and the time', async () => {
      const granted = await firstClaim('0', 'owner-a');
      expect(granted).toMatchObject({ partitionId: '0', ownerId: 'owner-a', eventHubName: hub });
      expect(typeof granted.etag).toBe('string');
      expect(granted.etag).not.toBe('');
      expect(Number.isFinite(granted.lastModifiedTimeInMs)).toBe(true);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([expect.objectContaining({ partitionId: '0', ownerId: 'owner-a', etag: granted.etag })]);
    });

    it('refuses a claim without an etag once the partition is owned', async () => {
      await firstClaim('0', 'owner-a');
      await expect(store.claimOwnership([claim('0', 'owner-b')])).resolves.toEqual([]);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([expect.objectContaining({ ownerId: 'owner-a' })]);
    });

    it('grants a claim carrying the current etag and issues a new etag', async () => {
      const first = await firstClaim('0', 'owner-a');
      const [taken] = await store.claimOwnership([claim('0', 'owner-b', first.etag)]);
      expect(taken).toMatchObject({ partitionId: '0', ownerId: 'owner-b' });
      expect(taken.etag).not.toBe(first.etag);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([expect.objectContaining({ ownerId: 'owner-b', etag: taken.etag })]);
    });

    it('refuses a claim carrying a stale etag', async () => {
      const first = await firstClaim('0', 'owner-a');
      await store.claimOwnership([claim('0', 'owner-a', first.etag)]);
      await expect(store.claimOwnership([claim('0', 'owner-b', first.etag)])).resolves.toEqual([]);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([expect.objectContaining({ ownerId: 'owner-a' })]);
    });

    it('lets exactly one of several claims made with the same etag win', async () => {
      const first = await firstClaim('0', 'owner-a');
      const contenders = ['owner-b', 'owner-c', 'owner-d'];
      const results = await Promise.all(contenders.map((owner) => store.claimOwnership([claim('0', owner, first.etag)])));
      const winners = results.flat();
      expect(winners).toHaveLength(1);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([expect.objectContaining({ ownerId: winners[0].ownerId, etag: winners[0].etag })]);
    });

    it('returns only the claims that succeeded from a mixed request', async () => {
      await firstClaim('1', 'owner-a');
      const granted = await store.claimOwnership([claim('0', 'owner-b'), claim('1', 'owner-b'), claim('2', 'owner-b')]);
      expect(granted.map((o) => o.partitionId).sort()).toEqual(['0', '2']);
      const listed = await store.listOwnership(NAMESPACE, hub, GROUP);
      expect(Object.fromEntries(listed.map((o) => [o.partitionId, o.ownerId]))).toEqual({ '0': 'owner-b', '1': 'owner-a', '2': 'owner-b' });
    });

    it('releases a partition when its owner claims it with an empty owner id, as processors do on shutdown', async () => {
      const granted = await firstClaim('0', 'owner-a');
      const [released] = await store.claimOwnership([{ ...claim('0', ''), etag: granted.etag }]);
      expect(released).toMatchObject({ partitionId: '0', ownerId: '' });
      const [taken] = await store.claimOwnership([{ ...claim('0', 'owner-b'), etag: released?.etag }]);
      expect(taken).toMatchObject({ ownerId: 'owner-b' });
    });

    it('keeps ownership apart per event hub and consumer group', async () => {
      const otherHub = `${hub}-other`;
      await firstClaim('0', 'owner-a');
      await expect(store.claimOwnership([claim('0', 'owner-b', undefined, otherHub)])).resolves.toHaveLength(1);
      await expect(store.listOwnership(NAMESPACE, otherHub, GROUP)).resolves.toEqual([expect.objectContaining({ ownerId: 'owner-b' })]);
      await expect(store.listOwnership(NAMESPACE, hub, 'other-group')).resolves.toEqual([]);
    });

    it('keeps the records balanced ownership writes: heartbeat ids and checkpoint-scoped consumer groups with dots', async () => {
      const scoped = `${GROUP}.capture-events`;
      const heartbeat = { ...claim('instance.capture-1-abc', 'capture-1-abc'), consumerGroup: scoped };
      await expect(store.claimOwnership([heartbeat, { ...claim('0', 'capture-1-abc'), consumerGroup: scoped }])).resolves.toHaveLength(2);
      const listed = await store.listOwnership(NAMESPACE, hub, scoped);
      expect(listed.map((o) => [o.partitionId, o.ownerId]).sort()).toEqual([
        ['0', 'capture-1-abc'],
        ['instance.capture-1-abc', 'capture-1-abc'],
      ]);
      // The unscoped group sees none of them.
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([]);
    });

    it('deletes an ownership record only while it carries the etag given, and says whether it did', async () => {
      const first = await firstClaim('instance.gone', 'gone');
      const [renewed] = await store.claimOwnership([claim('instance.gone', 'gone', first.etag)]);
      // A stale etag (the record was renewed since) deletes nothing.
      await expect(store.deleteOwnership({ ...claim('instance.gone', 'gone'), etag: first.etag })).resolves.toBe(false);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toHaveLength(1);
      await expect(store.deleteOwnership({ ...claim('instance.gone', 'gone'), etag: renewed?.etag })).resolves.toBe(true);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toEqual([]);
      // Gone already: nothing to delete. Deleted, it can be claimed afresh without an etag.
      await expect(store.deleteOwnership({ ...claim('instance.gone', 'gone'), etag: renewed?.etag })).resolves.toBe(false);
      await expect(store.claimOwnership([claim('instance.gone', 'back')])).resolves.toHaveLength(1);
    });

    it('refuses to delete an ownership record without an etag, naming the partition', async () => {
      await firstClaim('3', 'owner-a');
      await expect(store.deleteOwnership(claim('3', 'owner-a'))).rejects.toThrow(/partition 3 needs the etag it was listed with/);
      await expect(store.listOwnership(NAMESPACE, hub, GROUP)).resolves.toHaveLength(1);
    });

    it('stores checkpoints per partition, the last update winning', async () => {
      await store.updateCheckpoint(checkpoint('0', 10));
      await store.updateCheckpoint(checkpoint('1', 5));
      await store.updateCheckpoint(checkpoint('0', 12));
      const listed = await store.listCheckpoints(NAMESPACE, hub, GROUP);
      expect([...listed].sort((a, b) => a.partitionId.localeCompare(b.partitionId))).toEqual([checkpoint('0', 12), checkpoint('1', 5)]);
    });

    it('keeps checkpoints apart per consumer group', async () => {
      await store.updateCheckpoint(checkpoint('0', 3, 'group-a'));
      await store.updateCheckpoint(checkpoint('0', 7, 'group-b'));
      await expect(store.listCheckpoints(NAMESPACE, hub, 'group-a')).resolves.toEqual([checkpoint('0', 3, 'group-a')]);
      await expect(store.listCheckpoints(NAMESPACE, hub, 'group-b')).resolves.toEqual([checkpoint('0', 7, 'group-b')]);
      await expect(store.listCheckpoints(NAMESPACE, hub, GROUP)).resolves.toEqual([]);
    });
  });
}

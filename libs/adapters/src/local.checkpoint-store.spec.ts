import * as path from 'node:path';
import { TestClock } from '@pipeline/engine';
import { describeCheckpointStoreContract, makeTempDir, type TempDir } from '@pipeline/testing';
import { LocalCheckpointStore } from './local.checkpoint-store';

describeCheckpointStoreContract('local', async () => {
  const dir = await makeTempDir('local-checkpoints-');
  const store = new LocalCheckpointStore(path.join(dir.path, 'checkpoints.db'));
  return {
    store,
    dispose: async () => {
      await store.close();
      await dir.dispose();
    },
  };
});

describe('LocalCheckpointStore', () => {
  let dir: TempDir;
  let file: string;
  const ownership = (ownerId: string, etag?: string) => ({
    fullyQualifiedNamespace: 'local',
    eventHubName: 'telemetry',
    consumerGroup: '$Default',
    partitionId: '0',
    ownerId,
    etag,
  });

  beforeEach(async () => {
    dir = await makeTempDir('local-checkpoints-');
    file = path.join(dir.path, 'state', 'checkpoints.db');
  });

  afterEach(async () => {
    await dir.dispose();
  });

  it('stamps claims with the injected clock', async () => {
    const clock = new TestClock(1_000);
    const store = new LocalCheckpointStore(file, clock);
    const [first] = await store.claimOwnership([ownership('a')]);
    clock.advance(250);
    const [renewed] = await store.claimOwnership([ownership('a', first.etag)]);
    expect([first.lastModifiedTimeInMs, renewed.lastModifiedTimeInMs]).toEqual([1_000, 1_250]);
    await store.close();
  });

  it('shares ownership between two stores on one file, so a stale etag fails across processes', async () => {
    const one = new LocalCheckpointStore(file);
    const two = new LocalCheckpointStore(file);
    const [claimed] = await one.claimOwnership([ownership('a')]);
    const [stolen] = await two.claimOwnership([ownership('b', claimed.etag)]);
    expect(stolen.ownerId).toBe('b');
    await expect(one.claimOwnership([ownership('a', claimed.etag)])).resolves.toEqual([]);
    await one.close();
    await two.close();
  });

  it('keeps checkpoints across close and reopen', async () => {
    const writer = new LocalCheckpointStore(file);
    await writer.updateCheckpoint({ fullyQualifiedNamespace: 'local', eventHubName: 'telemetry', consumerGroup: '$Default', partitionId: '2', sequenceNumber: 41, offset: '4096' });
    await writer.close();
    const reader = new LocalCheckpointStore(file);
    await expect(reader.listCheckpoints('local', 'telemetry', '$Default')).resolves.toEqual([
      { fullyQualifiedNamespace: 'local', eventHubName: 'telemetry', consumerGroup: '$Default', partitionId: '2', sequenceNumber: 41, offset: '4096' },
    ]);
    await reader.close();
  });

  it('lists partitions in numeric order', async () => {
    const store = new LocalCheckpointStore(file);
    for (const partitionId of ['10', '2', '1']) await store.claimOwnership([{ ...ownership('a'), partitionId }]);
    expect((await store.listOwnership('local', 'telemetry', '$Default')).map((o) => o.partitionId)).toEqual(['1', '2', '10']);
    await store.close();
  });

  it('rejects a checkpoint without a usable sequence number or offset', async () => {
    const store = new LocalCheckpointStore(file);
    const base = { fullyQualifiedNamespace: 'local', eventHubName: 'telemetry', consumerGroup: '$Default', partitionId: '0', offset: '0' };
    await expect(store.updateCheckpoint({ ...base, sequenceNumber: -1 })).rejects.toThrow(/sequenceNumber ≥ 0, got -1/);
    await expect(store.updateCheckpoint({ ...base, sequenceNumber: 1, offset: '' })).rejects.toThrow(/needs an offset/);
    await store.close();
  });
});

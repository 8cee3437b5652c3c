import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import type { CaptureIntent } from '@pipeline/contracts';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { captureProgress, captureProgressAll, capturedPartitionIds, capturePartitionCheckpoint } from './capture-progress';

const ROOT = 'checkpoints/capture-events';

function intent(partitionId: string, batch: number, toSequenceNumber: number): CaptureIntent {
  return {
    version: 1,
    batch,
    partitionId,
    fromSequenceNumber: 0,
    toSequenceNumber,
    eventCount: toSequenceNumber + 1,
    path: `raw/ns/events/${partitionId}/2026/01/01/00/00/${String(batch).padStart(2, '0')}.avro`,
    codec: 'null',
    blockTargetBytes: 512,
    lastOffset: String(toSequenceNumber),
  };
}

describe('capture progress', () => {
  let dir: TempDir;
  let lake: LocalLake;
  beforeEach(async () => {
    dir = await makeTempDir('capture-progress-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
  });
  afterEach(() => dir.dispose());

  async function file(partitionId: string, batch: number, to: number, owner?: string): Promise<void> {
    const log = capturePartitionCheckpoint(lake, ROOT, partitionId);
    await log.writeOffsets(batch, intent(partitionId, batch, to));
    await log.commit(batch, { batch, path: intent(partitionId, batch, to).path, bytes: 10, ...(owner === undefined ? {} : { owner }) });
  }

  it('finds every partition with a log, one listing step each, whatever the length of their ids', async () => {
    for (const id of ['2', '10', '1', '0', '11']) await file(id, 0, 3, 'a');
    // Many entries in one partition do not hide the next one.
    for (let batch = 1; batch < 5; batch++) await file('1', batch, 3 + batch, 'a');
    await lake.write(`${ROOT}/metadata`, '{}');
    expect(await capturedPartitionIds(lake, ROOT)).toEqual(['0', '1', '10', '11', '2']);
    expect(await capturedPartitionIds(lake, 'checkpoints/none')).toEqual([]);
  });

  it('reads a partition’s last committed file and the instance that committed it, not a file only started', async () => {
    await file('0', 0, 9, 'capture-a');
    await file('0', 1, 19, 'capture-b');
    await capturePartitionCheckpoint(lake, ROOT, '0').writeOffsets(2, intent('0', 2, 29));
    await file('1', 0, 4);
    expect(await captureProgress(lake, ROOT, '0')).toEqual({ partitionId: '0', batch: 1, toSequenceNumber: 19, path: intent('0', 1, 19).path, owner: 'capture-b' });
    // A commit from before owners were recorded has none.
    expect(await captureProgress(lake, ROOT, '1')).toEqual({ partitionId: '1', batch: 0, toSequenceNumber: 4, path: intent('1', 0, 4).path });
    expect(await captureProgress(lake, ROOT, '7')).toBeUndefined();
    expect((await captureProgressAll(lake, ROOT)).map((p) => p.partitionId)).toEqual(['0', '1']);
  });

  it('names the log and the way out when a committed file lost its offsets record', async () => {
    await file('3', 0, 4, 'capture-a');
    await lake.delete(`${ROOT}/partitions/3/offsets/${'0'.padStart(20, '0')}`);
    await expect(captureProgress(lake, ROOT, '3')).rejects.toThrow(/capture-events\/partitions\/3 has commits\/0 but not both of its records.*new checkpoint name/);
  });
});

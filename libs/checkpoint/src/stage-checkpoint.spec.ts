import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { CheckpointInUseError, DamagedCheckpointError, describeChanges, FingerprintMismatchError, resetCheckpoint, StageCheckpoint } from './stage-checkpoint';

describe('stage checkpoint', () => {
  let dir: TempDir;
  let lake: LocalLake;
  beforeEach(async () => {
    dir = await makeTempDir('checkpoint-spec-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
  });
  afterEach(() => dir.dispose());

  const logic = { logicVersion: 1, spec: { columns: [{ name: 'temperature', type: 'double' }], delimiter: ',' } };

  it('starts empty, then reports the newest batch and whether it was committed', async () => {
    const cp = new StageCheckpoint<{ files: string[] }>(lake, 'checkpoints/silver');
    await cp.bind('silver', logic);
    expect(await cp.latest()).toBeUndefined();
    await cp.writeOffsets(0, { files: ['a'] });
    expect(await cp.latest()).toEqual({ batch: 0, offsets: { files: ['a'] }, committed: false });
    await cp.commit(0, { rows: 1 });
    await cp.writeOffsets(1, { files: ['b'] });
    expect(await cp.latest()).toEqual({ batch: 1, offsets: { files: ['b'] }, committed: false });
    expect(await cp.lastCommitted()).toBe(0);
  });

  it('keeps the first offsets recorded for a batch, so a re-run processes exactly those', async () => {
    const cp = new StageCheckpoint<{ files: string[] }>(lake, 'checkpoints/silver');
    await cp.bind('silver', logic);
    expect(await cp.writeOffsets(0, { files: ['a'] })).toEqual({ files: ['a'] });
    expect(await cp.writeOffsets(0, { files: ['a', 'b'] })).toEqual({ files: ['a'] });
  });

  it('keeps the same query id across restarts', async () => {
    const first = await new StageCheckpoint(lake, 'checkpoints/silver').bind('silver', logic);
    const second = await new StageCheckpoint(lake, 'checkpoints/silver').bind('silver', logic);
    expect(second.queryId).toBe(first.queryId);
  });

  it('refuses to start on logic that changed, naming what changed and the two ways out', async () => {
    await new StageCheckpoint(lake, 'checkpoints/silver').bind('silver', logic);
    const changed = { logicVersion: 2, spec: { columns: [{ name: 'temperature', type: 'long' }], delimiter: ',' } };
    const attempt = new StageCheckpoint(lake, 'checkpoints/silver').bind('silver', changed);
    await expect(attempt).rejects.toBeInstanceOf(FingerprintMismatchError);
    await expect(attempt).rejects.toThrow(/logicVersion: 1 → 2/);
    await expect(attempt).rejects.toThrow(/spec\.columns\[0\]\.type: "double" → "long"/);
    await expect(attempt).rejects.toThrow(/another --checkpoint name, and new tables and manifests roots.*never committed a batch, reset it \(`pipeline checkpoint reset`/s);
  });

  it('starts afresh after an explicit reset of a checkpoint that never committed', async () => {
    const cp = new StageCheckpoint(lake, 'checkpoints/silver');
    await cp.bind('silver', logic);
    await cp.writeOffsets(0, {});
    expect(await resetCheckpoint(lake, 'checkpoints/silver')).toBe(2);
    const fresh = new StageCheckpoint(lake, 'checkpoints/silver');
    await fresh.bind('silver', { ...logic, logicVersion: 2 });
    expect(await fresh.latest()).toBeUndefined();
  });

  it('refuses to reset a checkpoint with committed batches, whose outputs a fresh run would collide with, and deletes nothing', async () => {
    const cp = new StageCheckpoint(lake, 'checkpoints/silver');
    await cp.bind('silver', logic);
    await cp.writeOffsets(0, {});
    await cp.commit(0, {});
    const refusal = resetCheckpoint(lake, 'checkpoints/silver');
    await expect(refusal).rejects.toBeInstanceOf(CheckpointInUseError);
    await expect(refusal).rejects.toThrow(/has 1 committed batch: .*SILVER_CHECKPOINT=silver-v2/s);
    expect(await new StageCheckpoint(lake, 'checkpoints/silver').latest()).toMatchObject({ batch: 0, committed: true });
  });

  it('deletes offsets and state beyond the retention but keeps every commit', async () => {
    const cp = new StageCheckpoint(lake, 'checkpoints/bronze', { retainBatches: 2 });
    await cp.bind('bronze', logic);
    for (let n = 0; n < 5; n++) {
      await cp.writeOffsets(n, { n });
      await cp.writeState(n, { n });
      await cp.commit(n, { n });
    }
    expect(await cp.readOffsets(2)).toBeUndefined();
    expect(await cp.readState(3)).toEqual({ n: 3 });
    const commits: number[] = [];
    for await (const n of cp.committedBatches()) commits.push(n);
    expect(commits).toEqual([0, 1, 2, 3, 4]);
  });

  it('names a damaged record and how to put it right instead of failing on its JSON, and leaves it as it is', async () => {
    const cp = new StageCheckpoint<{ files: string[] }, { rows: number }, { ids: string[] }>(lake, 'checkpoints/silver');
    await cp.bind('silver', logic);
    await cp.writeOffsets(0, { files: ['a'] });
    await cp.writeState(0, { ids: ['x'] });
    await cp.commit(0, { rows: 1 });
    const statePath = 'checkpoints/silver/state/00000000000000000000';
    for (const [bytes, problem] of [
      ['{"ids": ["x"', /\(12 bytes that are not JSON: .+\)/],
      ['', /\(0 bytes that are not JSON: .+\)/],
      ['null', /\(it holds null, not an object\)/],
    ] as const) {
      await lake.write(statePath, bytes);
      const failure = cp.readState(0);
      await expect(failure).rejects.toBeInstanceOf(DamagedCheckpointError);
      await expect(failure).rejects.toThrow(`The checkpoint record ${lake.location}/${statePath} is damaged (`);
      await expect(failure).rejects.toThrow(problem);
      await expect(failure).rejects.toThrow("Put a good copy back (from a backup, or the storage account's blob versions or soft-deleted blobs), then start the stage again.");
      expect((await lake.read(statePath)).toString('utf8')).toBe(bytes);
    }
    await lake.write('checkpoints/silver/offsets/00000000000000000000', '{"files": [');
    await expect(cp.latest()).rejects.toThrow(/checkpoints\/silver\/offsets\/00000000000000000000 is damaged/);
    await lake.write('checkpoints/silver/metadata', 'not json');
    await expect(new StageCheckpoint(lake, 'checkpoints/silver').bind('silver', logic)).rejects.toThrow(/checkpoints\/silver\/metadata is damaged/);
  });

  it('describes nested changes path by path', () => {
    expect(describeChanges({ a: [1, 2], b: { c: 'x' } }, { a: [1, 3], b: { c: 'x', d: true } })).toEqual(['a[1]: 2 → 3', 'b.d: (absent) → true']);
  });
});

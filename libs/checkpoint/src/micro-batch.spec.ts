import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';
import { MicroBatchRuntime, MissingStateError, type BatchInput, type MicroBatchStage } from './micro-batch';
import { StageCheckpoint } from './stage-checkpoint';

/** A counting stage: batch N sums the numbers `from..to`; its state is the running sum and the numbers seen. */
interface Offsets {
  from: number;
  to: number;
}
interface Snapshot {
  sum: number;
  seen: number[];
}
interface Commit {
  batch: number;
  sum: number;
}
interface Live {
  sum: number;
  seen: number[];
}

class CountingStage implements MicroBatchStage<Offsets, Offsets, Snapshot, Commit, Live> {
  restores: Array<Snapshot | undefined> = [];
  executed: Array<{ batch: number; kind: string; offsets?: Offsets }> = [];
  /** Throws after changing the live state, in the batch with this number. */
  failIn: number | undefined;

  restore(snapshot: Snapshot | undefined): Live {
    this.restores.push(snapshot);
    return { sum: snapshot?.sum ?? 0, seen: [...(snapshot?.seen ?? [])] };
  }

  async execute(batch: number, input: BatchInput<Offsets, Offsets>, live: Live) {
    const offsets = input.kind === 'recorded' ? input.offsets : await input.record(input.plan);
    this.executed.push({ batch, kind: input.kind, offsets });
    for (let n = offsets.from; n <= offsets.to; n++) {
      live.sum += n;
      live.seen.push(n);
    }
    if (this.failIn === batch) throw new Error(`batch ${batch} failed half-way`);
    return { offsets, state: { sum: live.sum, seen: [...live.seen] }, commit: { batch, sum: live.sum } };
  }
}

describe('MicroBatchRuntime', () => {
  let dir: TempDir;
  let lake: LocalLake;
  let checkpoint: StageCheckpoint<Offsets, Commit, Snapshot>;
  beforeEach(async () => {
    dir = await makeTempDir('micro-batch-spec-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
    checkpoint = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/count');
    await checkpoint.bind('count', { logicVersion: 1 });
  });
  afterEach(() => dir.dispose());

  const runtimeOf = (stage: CountingStage) => new MicroBatchRuntime(checkpoint, stage, { stage: 'count', stateHolds: 'the running sum' });
  /** Plans the next three numbers after the last batch, up to `end`. */
  const nextThree = (end: number) => (last: Offsets | undefined) => {
    const from = (last?.to ?? 0) + 1;
    return from > end ? undefined : { from, to: Math.min(from + 2, end) };
  };

  it('records offsets, then state, then the commit of every batch, and keeps the state in memory between batches', async () => {
    const stage = new CountingStage();
    const runtime = runtimeOf(stage);
    while (await runtime.runNext(nextThree(7)));
    expect(stage.executed.map((e) => e.offsets)).toEqual([
      { from: 1, to: 3 },
      { from: 4, to: 6 },
      { from: 7, to: 7 },
    ]);
    // Read from the lake once, at the start (nothing there yet), never between batches.
    expect(stage.restores).toEqual([undefined]);
    expect(await checkpoint.readOffsets(2)).toEqual({ from: 7, to: 7 });
    expect(await checkpoint.readState(2)).toEqual({ sum: 28, seen: [1, 2, 3, 4, 5, 6, 7] });
    expect(await checkpoint.readCommit(2)).toEqual({ batch: 2, sum: 28 });
    expect(runtime.nextBatch).toBe(3);
    expect(runtime.lastOffsets).toEqual({ from: 7, to: 7 });
    expect(runtime.state).toEqual({ sum: 28, seen: [1, 2, 3, 4, 5, 6, 7] });
  });

  it('writes nothing when the planner finds nothing to do', async () => {
    const stage = new CountingStage();
    await expect(runtimeOf(stage).runNext(() => undefined)).resolves.toBeUndefined();
    expect(await checkpoint.latest()).toBeUndefined();
    expect(stage.executed).toEqual([]);
  });

  it('on recovery re-runs a batch whose offsets were recorded but not committed, from those offsets and the state before it', async () => {
    const first = new CountingStage();
    const before = runtimeOf(first);
    await before.runNext(nextThree(9));
    // A crash after offsets/1 were recorded: the process is gone before anything else.
    await checkpoint.writeOffsets(1, { from: 4, to: 5 });

    const stage = new CountingStage();
    const after = runtimeOf(stage);
    const redone = await after.recover();
    expect(redone?.commit).toEqual({ batch: 1, sum: 15 });
    expect(stage.restores).toEqual([{ sum: 6, seen: [1, 2, 3] }]);
    expect(stage.executed).toEqual([{ batch: 1, kind: 'recorded', offsets: { from: 4, to: 5 } }]);
    while (await after.runNext(nextThree(9)));
    expect(await checkpoint.readState(3)).toEqual({ sum: 45, seen: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
  });

  it('drops the live state of a batch that failed half-way and recovers it from the checkpoint on the next call', async () => {
    const stage = new CountingStage();
    const runtime = runtimeOf(stage);
    await runtime.runNext(nextThree(9));
    stage.failIn = 1;
    await expect(runtime.runNext(nextThree(9))).rejects.toThrow('batch 1 failed half-way');
    expect(await checkpoint.readCommit(1)).toBeUndefined();
    stage.failIn = undefined;
    // The next call re-runs batch 1 from its recorded offsets on the state of batch 0, read again from the lake.
    while (await runtime.runNext(nextThree(9)));
    expect(stage.restores).toEqual([undefined, { sum: 6, seen: [1, 2, 3] }]);
    expect(stage.executed.map((e) => [e.batch, e.kind])).toEqual([
      [0, 'planned'],
      [1, 'planned'],
      [1, 'recorded'],
      [2, 'planned'],
    ]);
    expect(await checkpoint.readState(2)).toEqual({ sum: 45, seen: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
  });

  it('recovers before planning when another instance ran the next batches meanwhile, so its live state is never stale', async () => {
    const a = new CountingStage();
    const instanceA = runtimeOf(a);
    await instanceA.runNext(nextThree(12));
    // Instance B takes over and runs two batches.
    const instanceB = runtimeOf(new CountingStage());
    await instanceB.runNext(nextThree(12));
    await instanceB.runNext(nextThree(12));
    // A gets the stage back: it must continue after B's batches, from B's state.
    await instanceA.runNext(nextThree(12));
    expect(a.restores).toEqual([undefined, { sum: 45, seen: [1, 2, 3, 4, 5, 6, 7, 8, 9] }]);
    expect(await checkpoint.readOffsets(3)).toEqual({ from: 10, to: 12 });
    expect(await checkpoint.readState(3)).toEqual({ sum: 78, seen: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] });
  });

  it('runs a stateless stage (its position is its last offsets) without writing or reading state', async () => {
    const stage = new CountingStage();
    const runtime = new MicroBatchRuntime(checkpoint, stage, { stage: 'count', stateHolds: 'nothing', stateless: true });
    while (await runtime.runNext(nextThree(6)));
    expect(await checkpoint.readState(0)).toBeUndefined();
    expect(await checkpoint.readCommit(1)).toEqual({ batch: 1, sum: 21 });
    await checkpoint.writeOffsets(2, { from: 7, to: 7 });
    const again = new CountingStage();
    const resumed = new MicroBatchRuntime(checkpoint, again, { stage: 'count', stateHolds: 'nothing', stateless: true });
    expect((await resumed.recover())?.offsets).toEqual({ from: 7, to: 7 });
    expect(again.restores).toEqual([undefined]);
    expect(resumed.lastOffsets).toEqual({ from: 7, to: 7 });
  });

  it('expires commits with offsets when asked to, keeping the newest batches', async () => {
    const short = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/short', 2, false);
    const runtime = new MicroBatchRuntime(short, new CountingStage(), { stage: 'count', stateHolds: 'the running sum' });
    for (let n = 0; n < 5; n++) await runtime.runNext((last) => ({ from: (last?.to ?? 0) + 1, to: (last?.to ?? 0) + 1 }));
    expect((await collect(lake.list('checkpoints/short/commits/'))).length).toBe(2);
    expect((await collect(lake.list('checkpoints/short/offsets/'))).length).toBe(2);
  });

  it('refuses to resume without the state of the last committed batch, naming the file and how to put it back', async () => {
    const runtime = runtimeOf(new CountingStage());
    await runtime.runNext(nextThree(6));
    await runtime.runNext(nextThree(6));
    await lake.delete(checkpoint.statePath(1));
    const attempt = runtimeOf(new CountingStage()).recover();
    await expect(attempt).rejects.toBeInstanceOf(MissingStateError);
    await expect(attempt).rejects.toThrow(
      `The count checkpoint checkpoints/count has no state for its committed batch 1 (${checkpoint.statePath(1)} is missing), so count cannot tell the running sum. ` +
        `Put ${checkpoint.statePath(1)} back (from a backup, or the storage account's blob versions or soft-deleted blobs), then start count again.`,
    );
  });
});

import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { collect, CountingLake, makeTempDir, type TempDir } from '@pipeline/testing';
import { MicroBatchRuntime, MissingStateError, type BatchInput, type MicroBatchStage } from './micro-batch';
import { DamagedCheckpointError, StageCheckpoint } from './stage-checkpoint';

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

  it("drops an attempt whose offsets another instance recorded first, even after it planned, and plans again from that instance's state", async () => {
    const a = new CountingStage();
    const instanceA = runtimeOf(a);
    await instanceA.runNext(nextThree(12));
    const instanceB = runtimeOf(new CountingStage());
    let plans = 0;
    // B records and runs batch 1 between A's planning and A's recording of it.
    const ran = await instanceA.runNext(async (last) => {
      if (plans++ === 0) await instanceB.runNext(nextThree(12));
      return nextThree(12)(last);
    });
    expect(plans).toBe(2);
    expect(ran?.offsets).toEqual({ from: 7, to: 9 });
    expect(a.restores).toEqual([undefined, { sum: 21, seen: [1, 2, 3, 4, 5, 6] }]);
    // A's stale attempt at batch 1 never ran: only its batches 0 and 2 were executed.
    expect(a.executed.map((e) => [e.batch, e.offsets])).toEqual([
      [0, { from: 1, to: 3 }],
      [2, { from: 7, to: 9 }],
    ]);
    expect(await checkpoint.readState(2)).toEqual({ sum: 45, seen: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
  });

  it('runs a stateless stage (its position is its last offsets) without writing or reading state', async () => {
    const stage = new CountingStage();
    const stateless = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/count', { holdsState: false });
    const runtime = new MicroBatchRuntime(stateless, stage, { stage: 'count', stateHolds: 'nothing' });
    while (await runtime.runNext(nextThree(6)));
    expect(await checkpoint.readState(0)).toBeUndefined();
    expect(await collect(lake.list('checkpoints/count/state/'))).toEqual([]);
    expect(await checkpoint.readCommit(1)).toEqual({ batch: 1, sum: 21 });
    await checkpoint.writeOffsets(2, { from: 7, to: 7 });
    const again = new CountingStage();
    const resumed = new MicroBatchRuntime(stateless, again, { stage: 'count', stateHolds: 'nothing' });
    expect((await resumed.recover())?.offsets).toEqual({ from: 7, to: 7 });
    expect(again.restores).toEqual([undefined]);
    expect(resumed.lastOffsets).toEqual({ from: 7, to: 7 });
  });

  it('expires commits with offsets when asked to, keeping the newest batches', async () => {
    const short = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/short', { retainBatches: 2, keepCommits: false });
    const runtime = new MicroBatchRuntime(short, new CountingStage(), { stage: 'count', stateHolds: 'the running sum' });
    for (let n = 0; n < 5; n++) await runtime.runNext((last) => ({ from: (last?.to ?? 0) + 1, to: (last?.to ?? 0) + 1 }));
    expect((await collect(lake.list('checkpoints/short/commits/'))).length).toBe(2);
    expect((await collect(lake.list('checkpoints/short/offsets/'))).length).toBe(2);
  });

  it('refuses to resume from a state record that is JSON but no state the stage wrote, as a damaged record naming it', async () => {
    class StrictStage extends CountingStage {
      override restore(snapshot: Snapshot | undefined): Live {
        if (snapshot !== undefined && typeof snapshot.sum !== 'number') throw new RangeError('expected { sum, seen }');
        return super.restore(snapshot);
      }
    }
    const runtime = runtimeOf(new StrictStage());
    await runtime.runNext(nextThree(6));
    await lake.write(checkpoint.statePath(0), '{}');
    const attempt = runtimeOf(new StrictStage()).recover();
    await expect(attempt).rejects.toBeInstanceOf(DamagedCheckpointError);
    await expect(attempt).rejects.toThrow(
      `The checkpoint record ${checkpoint.statePath(0)} is damaged (it is not a state the count stage wrote: expected { sum, seen }), so the stage cannot tell where it stands from it.`,
    );
    // Any other failure of a stage's restore is its own.
    class FailingStage extends CountingStage {
      override restore(): Live {
        throw new Error('out of memory');
      }
    }
    await expect(runtimeOf(new FailingStage()).recover()).rejects.toThrow(/^out of memory$/);
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

  describe('a state saved early', () => {
    /** Saves its state before it writes its output (out/N, through `lake`); `misbehave` breaks the rule it names. */
    class EarlyStage extends CountingStage {
      misbehave: 'twice' | 'another' | undefined;
      constructor(private readonly output: CountingLake) {
        super();
      }
      override async execute(batch: number, input: BatchInput<Offsets, Offsets>, live: Live, saveState: (snapshot: Snapshot) => void = () => undefined) {
        const outcome = await super.execute(batch, input, live);
        saveState(outcome.state);
        if (this.misbehave === 'twice') saveState(outcome.state);
        await this.output.createIfAbsent(`out/${batch}`, JSON.stringify(outcome.commit));
        return this.misbehave === 'another' ? { ...outcome, state: { ...outcome.state } } : outcome;
      }
    }

    it('is written while the stage writes its last outputs, and before the commit', async () => {
      const counting = new CountingLake(lake);
      const early = new StageCheckpoint<Offsets, Commit, Snapshot>(counting, 'checkpoints/early');
      const stage = new EarlyStage(counting);
      const runtime = new MicroBatchRuntime(early, stage, { stage: 'count', stateHolds: 'the running sum' });
      await runtime.recover();
      counting.reset();
      await runtime.runNext(nextThree(3));
      // The state's write is under way before the output's: the stage's last output does not wait for it.
      expect(counting.operations.map((op) => op.replace(/\/0*(\d)/g, '/$1'))).toEqual([
        'createIfAbsent checkpoints/early/offsets/0',
        'createIfAbsent checkpoints/early/state/0',
        'createIfAbsent out/0',
        'createIfAbsent checkpoints/early/commits/0',
      ]);
      expect(await early.readState(0)).toEqual({ sum: 6, seen: [1, 2, 3] });
      expect(await early.readCommit(0)).toEqual({ batch: 0, sum: 6 });
    });

    it('is written again, the same, by the re-run of a batch that failed after saving it', async () => {
      const early = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/early');
      const stage = new EarlyStage(new CountingLake(lake));
      const runtime = new MicroBatchRuntime(early, stage, { stage: 'count', stateHolds: 'the running sum' });
      stage.misbehave = 'twice';
      await expect(runtime.runNext(nextThree(6))).rejects.toThrow('The count stage saved the state of batch 0 twice; save it once, when it is final.');
      // The first save was written; the batch is not committed.
      expect(await early.readState(0)).toEqual({ sum: 6, seen: [1, 2, 3] });
      expect(await early.readCommit(0)).toBeUndefined();
      stage.misbehave = undefined;
      while (await runtime.runNext(nextThree(6)));
      expect(stage.executed.map((e) => [e.batch, e.kind])).toEqual([
        [0, 'planned'],
        [0, 'recorded'],
        [1, 'planned'],
      ]);
      expect(await early.readState(0)).toEqual({ sum: 6, seen: [1, 2, 3] });
      expect(await early.readState(1)).toEqual({ sum: 21, seen: [1, 2, 3, 4, 5, 6] });
      expect(await early.readCommit(1)).toEqual({ batch: 1, sum: 21 });
    });

    it('must be the state the stage returns: another one fails the batch before its commit', async () => {
      const early = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/early');
      const stage = new EarlyStage(new CountingLake(lake));
      stage.misbehave = 'another';
      const runtime = new MicroBatchRuntime(early, stage, { stage: 'count', stateHolds: 'the running sum' });
      await expect(runtime.runNext(nextThree(3))).rejects.toThrow('The count stage returned another state for batch 0 than the one it saved; return the snapshot it saved.');
      expect(await early.readCommit(0)).toBeUndefined();
    });

    it('is not written by a stateless stage', async () => {
      const counting = new CountingLake(lake);
      const log = new StageCheckpoint<Offsets, Commit, Snapshot>(counting, 'checkpoints/log', { holdsState: false });
      const runtime = new MicroBatchRuntime(log, new EarlyStage(counting), { stage: 'count', stateHolds: 'nothing' });
      await runtime.runNext(nextThree(3));
      expect(counting.operations.filter((op) => op.includes('/state/'))).toEqual([]);
      expect(await log.readCommit(0)).toEqual({ batch: 0, sum: 6 });
    });
  });

  describe('lake operations per committed batch', () => {
    /** Runs batches 0..last of one number each on `stage`'s checkpoint; the lake operations of each batch, batch 0's recovery left out. */
    async function operationsPerBatch(counting: CountingLake, runtime: MicroBatchRuntime<Offsets, Offsets, Snapshot, Commit, Live>, last: number): Promise<string[][]> {
      await runtime.recover();
      const perBatch: string[][] = [];
      for (let n = 0; n <= last; n++) {
        counting.reset();
        await runtime.runNext((offsets) => ({ from: (offsets?.to ?? 0) + 1, to: (offsets?.to ?? 0) + 1 }));
        perBatch.push(counting.operations.map((op) => op.replace(/\/0*(\d)/g, '/$1')));
      }
      return perBatch;
    }

    it('a stateless stage records and commits each batch, and past retention deletes only the commit and offsets that crossed the line, never probing or touching a state record', async () => {
      const counting = new CountingLake(lake);
      const log = new StageCheckpoint<Offsets, Commit, Snapshot>(counting, 'checkpoints/log', { retainBatches: 2, keepCommits: false, holdsState: false });
      const runtime = new MicroBatchRuntime(log, new CountingStage(), { stage: 'count', stateHolds: 'nothing' });
      const perBatch = await operationsPerBatch(counting, runtime, 4);
      expect(perBatch[1]).toEqual(['createIfAbsent checkpoints/log/offsets/1', 'createIfAbsent checkpoints/log/commits/1']);
      // From batch 2 on, one batch crosses the retention line with each commit: two deletes, of records the stage wrote.
      expect(perBatch[4]).toEqual([
        'createIfAbsent checkpoints/log/offsets/4',
        'createIfAbsent checkpoints/log/commits/4',
        'delete checkpoints/log/commits/2',
        'delete checkpoints/log/offsets/2',
      ]);
      expect(perBatch.map((ops) => ops.length)).toEqual([2, 2, 4, 4, 4]);
      expect(perBatch.flat().filter((op) => op.includes('/state/'))).toEqual([]);
      // What is kept is unchanged: the newest two batches' offsets and commits.
      expect((await collect(lake.list('checkpoints/log/'))).map((e) => e.path.replace(/\/0*(\d)/g, '/$1'))).toEqual([
        'checkpoints/log/commits/3',
        'checkpoints/log/commits/4',
        'checkpoints/log/offsets/3',
        'checkpoints/log/offsets/4',
      ]);
    });

    it('a stateful stage adds its state to each batch and deletes the offsets and state that crossed the retention line, keeping every commit', async () => {
      const counting = new CountingLake(lake);
      const stateful = new StageCheckpoint<Offsets, Commit, Snapshot>(counting, 'checkpoints/sum', { retainBatches: 2 });
      const runtime = new MicroBatchRuntime(stateful, new CountingStage(), { stage: 'count', stateHolds: 'the running sum' });
      const perBatch = await operationsPerBatch(counting, runtime, 3);
      expect(perBatch[3]).toEqual([
        'createIfAbsent checkpoints/sum/offsets/3',
        'createIfAbsent checkpoints/sum/state/3',
        'createIfAbsent checkpoints/sum/commits/3',
        'delete checkpoints/sum/offsets/1',
        'delete checkpoints/sum/state/1',
      ]);
      expect(perBatch.map((ops) => ops.length)).toEqual([3, 3, 5, 5]);
      expect((await collect(lake.list('checkpoints/sum/'))).map((e) => e.path.replace(/\/0*(\d)/g, '/$1'))).toEqual([
        'checkpoints/sum/commits/0',
        'checkpoints/sum/commits/1',
        'checkpoints/sum/commits/2',
        'checkpoints/sum/commits/3',
        'checkpoints/sum/offsets/2',
        'checkpoints/sum/offsets/3',
        'checkpoints/sum/state/2',
        'checkpoints/sum/state/3',
      ]);
    });

    it('refuses to write state to the checkpoint of a stateless stage, naming the record', async () => {
      const stateless = new StageCheckpoint<Offsets, Commit, Snapshot>(lake, 'checkpoints/log', { holdsState: false });
      await expect(stateless.writeState(3, { sum: 1, seen: [1] })).rejects.toThrow(
        'The checkpoint checkpoints/log is of a stateless stage: it keeps no state/00000000000000000003. Write state only to a checkpoint made with holdsState.',
      );
      expect(await stateless.readState(3)).toBeUndefined();
    });
  });
});

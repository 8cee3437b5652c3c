/**
 * The micro-batch protocol every checkpointed stage runs, owned once:
 *   recover → plan → execute → state → commit.
 *
 * - Recover (on the first call, and again after a batch failed): the state after the last
 *   committed batch is read from the checkpoint and restored into the stage's live state; a batch
 *   whose offsets were recorded but never committed is re-run from exactly those offsets.
 * - Plan: the caller says what the next batch consumes (a stage-specific plan); the stage turns it
 *   into offsets and records them through `record` before writing anything else (invariant 3).
 *   Recording is create-if-absent: when offsets/N are already there, another instance ran batch N
 *   (and maybe more) since this one's live state was made, so the runtime drops the attempt,
 *   recovers from the checkpoint (re-running N if it is not committed) and plans again. The stage
 *   therefore never runs on stale state, and no batch costs an existence check beforehand.
 * - Execute: the stage writes its outputs, each a function of the offsets and the state before
 *   (invariant 2), and returns the snapshot of its new state and its commit record.
 * - State, then commit: state/N, then commits/N, each create-if-absent (a stateless stage, whose
 *   position is its last offsets, writes no state: its checkpoint says so, `holdsState`). A stage
 *   whose state is final before its last outputs are written may hand it over early (`saveState`):
 *   state/N is then written while the stage writes them, and still before commits/N. State/N is a
 *   function of the offsets and the state before, like every output, so a batch re-run after a
 *   crash writes the same state again (and finds it there).
 *
 * The live state stays in memory between batches: it is read from the lake only when recovering.
 * Metrics (docs/metrics.md) are recorded here, once per committed batch, from what the stage's
 * `measure` reads off its commit record and live state: the records `/v1/status` reads too.
 * A batch that throws may have changed the live state half-way, so the runtime drops it, and the
 * next call recovers from the checkpoint again, exactly as a restarted process would.
 */
import { StageMetrics, type BatchMeasure } from '@pipeline/telemetry';
import { DamagedCheckpointError, type StageCheckpoint } from './stage-checkpoint';
import { BACKUP_SOURCES } from '@pipeline/contracts';

/**
 * A batch to run: planned now (its offsets are recorded first) or recorded before a crash. `record`
 * returns the offsets it recorded; it throws, ending the attempt, when another instance recorded
 * batch N first (the runtime then catches up and plans again).
 */
export type BatchInput<Plan, Offsets> = { kind: 'planned'; plan: Plan; record: (offsets: Offsets) => Promise<Offsets> } | { kind: 'recorded'; offsets: Offsets };

export interface BatchOutcome<Offsets, Snapshot, Commit> {
  /** The offsets that held for the batch. */
  offsets: Offsets;
  /** The stage's state after the batch, as written to state/N. */
  state: Snapshot;
  commit: Commit;
}

/** A stage, as the runtime sees it: pure of the checkpoint, which only the runtime writes. */
export interface MicroBatchStage<Plan, Offsets, Snapshot, Commit, Live, Outcome extends BatchOutcome<Offsets, Snapshot, Commit> = BatchOutcome<Offsets, Snapshot, Commit>> {
  /** The live state from the snapshot after a committed batch (`undefined`: before the first batch). */
  restore(snapshot: Snapshot | undefined): Live;
  /**
   * Runs batch N on the live state, which it may change in place. It may call `saveState` once with
   * the snapshot it will return as `state`, as soon as it is final, to have state/N written while
   * it writes its last outputs.
   */
  execute(batch: number, input: BatchInput<Plan, Offsets>, live: Live, saveState: (snapshot: Snapshot) => void): Promise<Outcome>;
  /** Told once batch N is committed (e.g. to log it, or to acknowledge its input upstream). */
  committed?(batch: number, outcome: Outcome): void | Promise<void>;
  /** What batch N reports as metrics, from its outcome and the live state after it; no metrics without it. */
  measure?(outcome: Outcome, live: Live): BatchMeasure;
}

/** The checkpoint has offsets after a committed batch whose state is gone: the stage cannot resume exactly. */
export class MissingStateError extends Error {
  override readonly name = 'MissingStateError';
  constructor(
    readonly root: string,
    readonly batch: number,
    readonly path: string,
    stage: string,
    what: string,
  ) {
    // Neither another checkpoint name nor a reset would do: the stage's outputs are already written
    // under these batch numbers, and a reset refuses a checkpoint with commits.
    super(
      `The ${stage} checkpoint ${root} has no state for its committed batch ${batch} (${path} is missing), so ${stage} cannot tell ${what}. ` +
        `Put ${path} back (${BACKUP_SOURCES}), then start ${stage} again.`,
    );
  }
}

/** Batch N's offsets were recorded by another instance first: this attempt is dropped, and the runtime catches up. */
export class BatchTakenError extends Error {
  override readonly name = 'BatchTakenError';
  constructor(
    readonly root: string,
    readonly batch: number,
  ) {
    super(`Batch ${batch} of ${root} was recorded by another instance first; catching up from the checkpoint and planning again.`);
  }
}

export interface MicroBatchRuntimeOptions {
  /** The stage's name in messages, e.g. `bronze`. */
  stage: string;
  /** What the state holds, for the message when it is missing (e.g. "which capture files it consumed"). */
  stateHolds: string;
  /** The shard a partitioned stage's runtime runs (gold), as a metric attribute. */
  shard?: number;
}

export class MicroBatchRuntime<Plan, Offsets, Snapshot, Commit, Live, Outcome extends BatchOutcome<Offsets, Snapshot, Commit> = BatchOutcome<Offsets, Snapshot, Commit>> {
  private live: Live | undefined;
  private next = 0;
  private committedOffsets: Offsets | undefined;
  private recovery: Promise<Outcome | undefined> | undefined;
  private readonly metrics: StageMetrics;

  constructor(
    readonly checkpoint: StageCheckpoint<Offsets, Commit, Snapshot>,
    private readonly stage: MicroBatchStage<Plan, Offsets, Snapshot, Commit, Live, Outcome>,
    private readonly options: MicroBatchRuntimeOptions,
  ) {
    this.metrics = new StageMetrics(options.stage, options.shard);
  }

  /** The number the next batch gets. Call `recover` first. */
  get nextBatch(): number {
    return this.next;
  }

  /** The offsets of the last committed batch (`undefined` before the first). Call `recover` first. */
  get lastOffsets(): Offsets | undefined {
    return this.committedOffsets;
  }

  /** The live state after the last committed batch. Call `recover` first. */
  get state(): Live {
    if (this.live === undefined) throw new Error(`The stage of ${this.checkpoint.root} has not recovered yet: call recover() first.`);
    return this.live;
  }

  /**
   * Restores the state of the last committed batch and re-runs a batch that was interrupted; the
   * outcome of that re-run, if there was one. Idempotent until a batch fails.
   */
  recover(): Promise<Outcome | undefined> {
    this.recovery ??= this.load().catch((error: unknown) => {
      this.recovery = undefined;
      throw error;
    });
    return this.recovery;
  }

  /**
   * Runs the next batch, planned by `planner` from the offsets of the last committed batch
   * (`undefined` before the first): its offsets are recorded first, then it runs, then its state
   * and commit are written. Returns `undefined` when the planner finds nothing to do.
   *
   * Another instance may have run batches since (after a hand-over of the stage or shard): then
   * recording the next batch's offsets finds them there, the live state is stale, and the attempt
   * ends before the stage wrote anything; the state is recovered from the checkpoint and the
   * planner asked again (so a planner must only read: it may be asked twice for one batch).
   */
  async runNext(planner: (last: Offsets | undefined) => Promise<Plan | undefined> | Plan | undefined): Promise<Outcome | undefined> {
    await this.recover();
    for (;;) {
      const plan = await planner(this.committedOffsets);
      if (plan === undefined) return undefined;
      const batch = this.next;
      try {
        return await this.runBatch(batch, { kind: 'planned', plan, record: (offsets) => this.record(batch, offsets) });
      } catch (error) {
        if (!(error instanceof BatchTakenError)) throw error;
        // runBatch dropped the live state: recover it from the other instance's batches.
        await this.recover();
      }
    }
  }

  /** offsets/N, create-if-absent; there already, batch N belongs to another instance's run. */
  private async record(batch: number, offsets: Offsets): Promise<Offsets> {
    if (await this.checkpoint.recordOffsets(batch, offsets)) return offsets;
    throw new BatchTakenError(this.checkpoint.root, batch);
  }

  private async load(): Promise<Outcome | undefined> {
    this.live = undefined;
    const latest = await this.checkpoint.latest();
    if (!latest) {
      this.live = this.stage.restore(undefined);
      this.next = 0;
      this.committedOffsets = undefined;
      return undefined;
    }
    const committedBefore = latest.committed ? latest.batch : latest.batch - 1;
    this.live = committedBefore < 0 || !this.checkpoint.holdsState ? this.stage.restore(undefined) : this.restoreFrom(committedBefore, await this.readState(committedBefore));
    if (latest.committed) {
      this.next = latest.batch + 1;
      this.committedOffsets = latest.offsets;
      return undefined;
    }
    this.next = latest.batch;
    this.committedOffsets = committedBefore < 0 ? undefined : await this.checkpoint.readOffsets(committedBefore);
    return this.runBatch(latest.batch, { kind: 'recorded', offsets: latest.offsets });
  }

  /** The live state from state/N; a record that is JSON but no state this stage wrote is damaged too. */
  private restoreFrom(batch: number, snapshot: Snapshot): Live {
    try {
      return this.stage.restore(snapshot);
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError)
        throw new DamagedCheckpointError(this.checkpoint.statePath(batch), `it is not a state the ${this.options.stage} stage wrote: ${error.message}`);
      throw error;
    }
  }

  private async readState(batch: number): Promise<Snapshot> {
    const state = await this.checkpoint.readState(batch);
    if (state === undefined) throw new MissingStateError(this.checkpoint.root, batch, this.checkpoint.statePath(batch), this.options.stage, this.options.stateHolds);
    return state;
  }

  private async runBatch(batch: number, input: BatchInput<Plan, Offsets>): Promise<Outcome> {
    const started = performance.now();
    let early: { snapshot: Snapshot; written: Promise<void> } | undefined;
    const saveState = (snapshot: Snapshot): void => {
      if (!this.checkpoint.holdsState) return;
      if (early !== undefined) throw new Error(`The ${this.options.stage} stage saved the state of batch ${batch} twice; save it once, when it is final.`);
      const written = this.checkpoint.writeState(batch, snapshot);
      // Handled at once: a write that fails while the stage works is awaited (and thrown) below.
      written.catch(() => undefined);
      early = { snapshot, written };
    };
    try {
      const live = this.state;
      const outcome = await this.stage.execute(batch, input, live, saveState).catch(async (error: unknown) => {
        // Nothing is left writing when the batch fails.
        await early?.written.catch(() => undefined);
        throw error;
      });
      if (early === undefined) {
        if (this.checkpoint.holdsState) await this.checkpoint.writeState(batch, outcome.state);
      } else {
        await early.written;
        if (early.snapshot !== outcome.state) {
          throw new Error(`The ${this.options.stage} stage returned another state for batch ${batch} than the one it saved; return the snapshot it saved.`);
        }
      }
      await this.checkpoint.commit(batch, outcome.commit);
      this.next = batch + 1;
      this.committedOffsets = outcome.offsets;
      if (this.stage.measure) this.metrics.batchCommitted(performance.now() - started, this.stage.measure(outcome, live));
      await this.stage.committed?.(batch, outcome);
      return outcome;
    } catch (error) {
      // The live state may be half-way through the batch: recover it from the checkpoint next time.
      this.live = undefined;
      this.recovery = undefined;
      throw error;
    }
  }
}

/**
 * Event-time progress per source partition, combined into one watermark: Flink's per-partition
 * watermarks with idleness, on Spark's per-batch rule (with one partition it is exactly Spark's).
 *
 * Invariants:
 * - Each partition keeps the max event time of its rows and the latest capture time at which it
 *   had rows. Progress observed elsewhere is merged by taking maxima (the earliest capture time by
 *   minimum), so merging is idempotent and the order of merges does not matter.
 * - `advance()` (the end of a batch) sets watermark = max(previous watermark, min over active
 *   partitions of (max event time − delay)). It starts at 0 and never goes back.
 * - A partition is idle when the newest capture time seen in any partition is more than the idle
 *   timeout past its own latest capture time. A declared partition with no rows yet counts from the
 *   earliest capture time seen (the start of the stream), so it is idle from the start once that
 *   much capture time has passed. Idle partitions do not hold the watermark; new rows make a
 *   partition active again.
 * - A pause of the whole stream longer than the idle timeout (no row of any partition in it, as
 *   when the source or the pipeline was stopped) makes no partition idle that was running when it
 *   began: a partition with rows within the idle timeout before the pause counts its silence from
 *   the pause's end (`pause.to`, the first row after it). So after a stop, a partition whose files
 *   come a batch after the others' does not go idle for it, and its rows are not late for the
 *   others' backlog. A partition already idle, or without rows, when the pause began is not held
 *   back by it (a sparse stream's silent partitions still go idle).
 * - A pause is seen in the order rows are observed (files in capture-time order): a row more than
 *   the idle timeout past every capture time seen before. Where progress is merged in a batch
 *   (gold, from silver's manifests, which saw every partition), the merged pause alone counts: a
 *   gap in one shard's rows is no pause of the stream. Merging keeps the pause that ended last.
 * - An active partition without an event time yet holds the watermark where it is.
 * - Idleness is measured in capture time, never on the wall clock: a replay of the same input
 *   computes the same watermarks.
 */

export interface PartitionProgress {
  /** Max event time of the partition's rows so far (epoch ms); null before its first row. */
  maxEventTime: number | null;
  /** Latest capture (enqueued) time of the partition's rows; null before its first row. */
  captureTime: number | null;
}

/** Progress of every partition known so far: plain JSON, partitions in numeric-then-text order. */
export interface EventTimeProgress {
  /** The earliest capture time seen in any partition: when the stream started. */
  start: number | null;
  /**
   * The stream's latest pause longer than the idle timeout (no row of any partition in it): the
   * newest capture time before it and the first after it. Absent when it never paused.
   */
  pause?: StreamPause;
  partitions: Record<string, PartitionProgress>;
}

export interface StreamPause {
  from: number;
  to: number;
}

export interface WatermarkSnapshot extends EventTimeProgress {
  watermark: number;
}

export interface WatermarkStatus {
  watermark: number;
  /** The active partition with the lowest (max event time − delay): the one holding the watermark back. */
  holdingPartition: string | null;
  /** Partitions not holding the watermark because they had no rows for the idle timeout. */
  idlePartitions: string[];
}

interface PartitionClock {
  maxEventTime: number;
  captureTime: number;
}

/** Numeric partition ids in numeric order, then the others in text order. */
export function comparePartitions(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  const xNum = a !== '' && Number.isInteger(x);
  const yNum = b !== '' && Number.isInteger(y);
  if (xNum && yNum) return x - y;
  if (xNum !== yNum) return xNum ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class PartitionWatermarks {
  private readonly partitions = new Map<string, PartitionClock>();
  private start = Number.POSITIVE_INFINITY;
  private current = 0;
  /** See `EventTimeProgress.pause`. */
  private pause: StreamPause | undefined;
  /** The newest capture time observed so far: a row past it by more than the idle timeout ends a pause. */
  private newestObserved = Number.NEGATIVE_INFINITY;
  /** The latest pause observed in this batch's rows, kept by `advance()` unless progress was merged. */
  private observedPause: StreamPause | undefined;
  /** Whether progress was merged since the last `advance()`: then only the merged pause counts. */
  private merged = false;
  // The last partition observed: rows of one partition usually come together.
  private lastId: string | undefined;
  private lastClock: PartitionClock | undefined;

  constructor(
    readonly delayMs: number,
    /** null: partitions never go idle. */
    readonly idleTimeoutMs: number | null,
  ) {
    if (!Number.isSafeInteger(delayMs) || delayMs < 0) throw new RangeError(`The watermark delay must be whole milliseconds ≥ 0, got ${String(delayMs)}.`);
    if (idleTimeoutMs !== null && (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 0))
      throw new RangeError(`The idle timeout must be whole milliseconds ≥ 0 (or null for never), got ${String(idleTimeoutMs)}.`);
  }

  get watermark(): number {
    return this.current;
  }

  /** Partitions that exist before they have rows: each holds the watermark until it has rows or is idle. */
  declare(partitions: Iterable<string>): void {
    for (const id of partitions) this.clockOf(id);
  }

  /** A row of `partition` at `eventTime`, captured at `captureTime` when known. */
  observe(partition: string, eventTime: number, captureTime?: number): void {
    let clock = this.lastClock;
    if (this.lastId !== partition || clock === undefined) {
      clock = this.clockOf(partition);
      this.lastId = partition;
      this.lastClock = clock;
    }
    if (eventTime > clock.maxEventTime) clock.maxEventTime = eventTime;
    if (captureTime !== undefined) {
      if (captureTime > clock.captureTime) clock.captureTime = captureTime;
      if (captureTime < this.start) this.start = captureTime;
      if (captureTime > this.newestObserved) {
        // A row past every capture time seen by more than the idle timeout: the stream paused.
        if (this.idleTimeoutMs !== null && this.idleTimeoutMs > 0 && captureTime - this.newestObserved > this.idleTimeoutMs && Number.isFinite(this.newestObserved)) {
          this.observedPause = { from: this.newestObserved, to: captureTime };
        }
        this.newestObserved = captureTime;
      }
    }
  }

  /** Progress observed elsewhere (another stage, another shard), merged by maxima. */
  merge(progress: EventTimeProgress): void {
    this.merged = true;
    if (progress.start !== null && progress.start < this.start) this.start = progress.start;
    if (progress.pause !== undefined && (this.pause === undefined || progress.pause.to > this.pause.to)) this.pause = { from: progress.pause.from, to: progress.pause.to };
    for (const [id, p] of Object.entries(progress.partitions)) {
      const clock = this.clockOf(id);
      if (p.maxEventTime !== null && p.maxEventTime > clock.maxEventTime) clock.maxEventTime = p.maxEventTime;
      if (p.captureTime !== null && p.captureTime > clock.captureTime) clock.captureTime = p.captureTime;
    }
  }

  /** The end of a batch: moves the watermark to the minimum over active partitions, never back. */
  advance(): number {
    if (!this.merged && this.observedPause !== undefined && (this.pause === undefined || this.observedPause.to > this.pause.to)) this.pause = this.observedPause;
    this.merged = false;
    this.observedPause = undefined;
    const candidate = this.candidate().watermark;
    if (candidate > this.current) this.current = candidate;
    return this.current;
  }

  /** The end of a bounded input: moves the watermark to `to` (past every open window), never back. */
  finish(to: number): number {
    if (to > this.current) this.current = to;
    return this.current;
  }

  status(): WatermarkStatus {
    const { holding, idle } = this.candidate();
    return { watermark: this.current, holdingPartition: holding, idlePartitions: idle };
  }

  progress(): EventTimeProgress {
    const partitions: Record<string, PartitionProgress> = {};
    for (const id of [...this.partitions.keys()].sort(comparePartitions)) {
      const clock = this.partitions.get(id) as PartitionClock;
      partitions[id] = { maxEventTime: finiteOrNull(clock.maxEventTime), captureTime: finiteOrNull(clock.captureTime) };
    }
    return { start: finiteOrNull(this.start), ...(this.pause === undefined ? {} : { pause: { from: this.pause.from, to: this.pause.to } }), partitions };
  }

  snapshot(): WatermarkSnapshot {
    return { watermark: this.current, ...this.progress() };
  }

  /** @throws RangeError naming what is wrong with a snapshot `snapshot()` did not write. */
  restore(state: WatermarkSnapshot): void {
    const fail = (what: string): never => {
      throw new RangeError(`Not an event-time snapshot: ${what}`);
    };
    if (typeof state !== 'object' || state === null) fail('expected an object');
    if (typeof state.watermark !== 'number' || !Number.isFinite(state.watermark) || state.watermark < 0) fail(`watermark ${String(state.watermark)} is not a time ≥ 0`);
    if (state.start !== null && !Number.isFinite(state.start)) fail(`start ${String(state.start)} is not a time`);
    if (
      state.pause !== undefined &&
      (typeof state.pause !== 'object' || state.pause === null || !Number.isFinite(state.pause.from) || !Number.isFinite(state.pause.to) || state.pause.from > state.pause.to)
    )
      fail(`pause ${JSON.stringify(state.pause)} is not { from, to }, two capture times in order`);
    if (typeof state.partitions !== 'object' || state.partitions === null) fail('partitions is not an object');
    for (const [id, p] of Object.entries(state.partitions)) {
      const ok = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
      if (typeof p !== 'object' || p === null || !ok(p.maxEventTime) || !ok(p.captureTime)) fail(`partition ${JSON.stringify(id)} is not { maxEventTime, captureTime }`);
    }
    this.partitions.clear();
    this.lastId = undefined;
    this.lastClock = undefined;
    this.start = Number.POSITIVE_INFINITY;
    this.pause = undefined;
    this.merge(state);
    this.merged = false;
    this.observedPause = undefined;
    this.newestObserved = Number.NEGATIVE_INFINITY;
    for (const clock of this.partitions.values()) if (clock.captureTime > this.newestObserved) this.newestObserved = clock.captureTime;
    this.current = state.watermark;
  }

  private clockOf(id: string): PartitionClock {
    let clock = this.partitions.get(id);
    if (clock === undefined) {
      clock = { maxEventTime: Number.NEGATIVE_INFINITY, captureTime: Number.NEGATIVE_INFINITY };
      this.partitions.set(id, clock);
    }
    return clock;
  }

  private candidate(): { watermark: number; holding: string | null; idle: string[] } {
    let newestCapture = Number.NEGATIVE_INFINITY;
    for (const clock of this.partitions.values()) if (clock.captureTime > newestCapture) newestCapture = clock.captureTime;
    const pause = this.pause;
    const idle: string[] = [];
    let lowest = Number.POSITIVE_INFINITY;
    let holding: string | null = null;
    for (const id of [...this.partitions.keys()].sort(comparePartitions)) {
      const clock = this.partitions.get(id) as PartitionClock;
      let lastActive = Number.isFinite(clock.captureTime) ? clock.captureTime : this.start;
      // A partition that was running when the whole stream paused counts its silence from the pause's end.
      if (pause !== undefined && Number.isFinite(clock.captureTime) && lastActive < pause.to && pause.from - lastActive <= (this.idleTimeoutMs ?? 0)) lastActive = pause.to;
      if (this.idleTimeoutMs !== null && Number.isFinite(lastActive) && newestCapture - lastActive > this.idleTimeoutMs) {
        idle.push(id);
        continue;
      }
      const candidate = clock.maxEventTime - this.delayMs;
      if (candidate < lowest) {
        lowest = candidate;
        holding = id;
      }
    }
    // No active partition with rows: nothing moves the watermark.
    return { watermark: Number.isFinite(lowest) ? lowest : Number.NEGATIVE_INFINITY, holding, idle };
  }
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

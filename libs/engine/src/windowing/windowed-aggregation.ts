/**
 * Windowed aggregation over event time with a watermark, one instance per gold shard, with the
 * semantics of Spark Structured Streaming (append and update modes, no-data batches on) and
 * Flink's per-partition watermarks.
 *
 * Invariants:
 * - Event time advances per source partition (partition-watermarks.ts): at the end of each batch,
 *   watermark = max(previous watermark, min over active partitions of (max event time − delay)).
 *   It starts at 0 and never goes back. With one partition this is Spark's rule. Progress observed
 *   upstream (silver sees every row of a partition, a shard only its keys) is merged in before the
 *   watermark is computed.
 * - During a batch the late threshold is the watermark from the end of the previous batch. A row is
 *   late for each of its windows whose end ≤ threshold: it is not aggregated there and is returned
 *   once in `late`, listing those windows; it is aggregated into its other windows.
 * - At the end of a batch every window with end ≤ the new watermark is final: append output emits
 *   it and its state is evicted, so no row can reach it again (it would be late).
 * - The end of a bounded input moves the watermark past every open window, so every window is
 *   final and emitted (Flink's end-of-input watermark).
 * - A batch is checked before any state changes: a bad row rejects the whole batch.
 * - Outputs and snapshots are sorted (window start, window name, key), hence deterministic.
 * - Session windows (session-windows.ts) run beside the fixed ones under the same watermark, late
 *   threshold and output modes; their outputs join the same sorted lists.
 *
 * Group keys live in a trie of Maps per window (one Map level per grouping column) rather than in
 * concatenated strings, so the per-row cost is a few Map lookups and no allocation.
 */
import { AggregateSet, InvalidRowError, InvalidStateError, type AggregateSnapshot, type GroupState } from './aggregates';
import { validateAggregationConfig, type AggregationConfig, type AggregationLogic } from './aggregation-config';
import { compareKeys, describeValue, isEngineValue, type EngineRow, type EngineValue } from './engine-value';
import { PartitionWatermarks, type EventTimeProgress, type WatermarkSnapshot, type WatermarkStatus } from './partition-watermarks';
import { SessionLane, type Session, type SessionLateReason, type SessionStateSnapshot, type SupersededSession } from './session-windows';
import { firstWindowStart, isWindowStart, lastWindowStart, type WindowDefinition } from './window';

export interface WindowResult {
  window: string;
  windowStart: number;
  windowEnd: number;
  key: Record<string, EngineValue>;
  aggregates: Record<string, number | null>;
  /** Whether the watermark after this batch has passed the window's end (it will not change again). */
  final: boolean;
}

export interface LateWindow {
  window: string;
  windowStart: number;
  windowEnd: number;
  /** Session windows only: the row's own session [t, t + gap) had closed, or the row has no valid gap. */
  reason?: SessionLateReason;
}

export interface LateRow<R extends EngineRow = EngineRow> {
  row: R;
  /** The windows the row missed, in configuration order, earliest first. */
  windows: LateWindow[];
}

export interface BatchResult<R extends EngineRow = EngineRow> {
  /** 0, 1, 2 … per instance. */
  batch: number;
  /** The watermark in force during the batch. */
  lateThreshold: number;
  /** The watermark after the batch. */
  watermark: number;
  /** Append output: the windows final after this batch, sorted by window start, window name, then key. */
  emitted: WindowResult[];
  /**
   * Update output: the windows this batch aggregated rows into, same order. A window this batch
   * also closed is the same result object here as in `emitted`.
   */
  updated: WindowResult[];
  /** Rows late for at least one of their windows, in input order. */
  late: LateRow<R>[];
  /** Input rows late for at least one of their windows (the rows in `late`). */
  rowsDroppedByWatermark: number;
  /**
   * Spark's `numRowsDroppedByWatermark`: the (window, key) aggregate rows the late rows would have
   * updated, each counted once per batch, as Spark counts the partial aggregates its state store drops
   * (a session counted by the row's own start; a row without a valid session gap is not counted).
   */
  numRowsDroppedByWatermark: number;
  /** Max event time of this batch's rows, late ones included; null for a no-data batch. */
  maxEventTime: number | null;
  /**
   * With session windows only: the sessions earlier update outputs reported under a start they no
   * longer have (a merge moved the start or absorbed them), sorted like the outputs.
   */
  superseded?: SupersededSession[];
}

export interface GroupStateSnapshot {
  key: EngineValue[];
  rows: number;
  /** One entry per configured aggregate, in configuration order. */
  aggregates: AggregateSnapshot[];
}

export interface WindowStateSnapshot {
  window: string;
  windowStart: number;
  groups: GroupStateSnapshot[];
}

/** JSON-serialisable state of an instance; windows and groups sorted, so equal states are equal text. */
export interface AggregationState {
  format: 'windowed-aggregation/2';
  /** The configuration the state was built with; `build` refuses a state of another one. */
  logic: AggregationLogic;
  nextBatch: number;
  /** The watermark and each source partition's progress. */
  eventTime: WatermarkSnapshot;
  windows: WindowStateSnapshot[];
  /** With session windows only: every open session, sorted by window, key, start. */
  sessions?: SessionStateSnapshot[];
}

export interface BatchInput {
  /** Progress of the source partitions observed upstream, merged before the watermark moves. */
  progress?: EventTimeProgress;
  /** The input is complete: after this batch the watermark passes every open window. */
  endOfInput?: boolean;
}

type KeyTrie = Map<EngineValue, KeyTrie | GroupState>;

/** The groups of one window instance [start, end) of one window definition. */
interface WindowBucket {
  readonly lane: WindowLane;
  readonly start: number;
  readonly end: number;
  readonly trie: KeyTrie;
  readonly groups: GroupState[];
}

/** One window definition and its open windows by start. */
interface WindowLane extends Readonly<WindowDefinition> {
  readonly name: string;
  readonly offsetMs: number;
  readonly buckets: Map<number, WindowBucket>;
}

function compareBuckets(a: WindowBucket, b: WindowBucket): number {
  if (a.start !== b.start) return a.start - b.start;
  if (a.lane !== b.lane) return a.lane.name < b.lane.name ? -1 : 1;
  return 0;
}

const compareGroups = (a: GroupState, b: GroupState) => compareKeys(a.key, b.key);

/**
 * Groups of window instances in output order (window start, window name, key). A bucket's groups
 * are sorted apart from the others': the (start, name) comparison is made once per bucket, not per
 * pair of groups.
 */
function sortedByBucket(groupsOf: Map<WindowBucket, GroupState[]>): Array<{ bucket: WindowBucket; groups: GroupState[] }> {
  return [...groupsOf.keys()].sort(compareBuckets).map((bucket) => ({ bucket, groups: (groupsOf.get(bucket) as GroupState[]).sort(compareGroups) }));
}

function copyLogic(logic: AggregationLogic): AggregationLogic {
  return {
    windows: logic.windows.map((w) => ({ ...w })),
    ...(logic.sessions === undefined ? {} : { sessions: logic.sessions.map((w) => ({ ...w })) }),
    groupBy: [...logic.groupBy],
    aggregates: logic.aggregates.map((a) => ({ ...a })),
    watermarkDelayMs: logic.watermarkDelayMs,
    watermarkIdleTimeoutMs: logic.watermarkIdleTimeoutMs,
    partitionColumn: logic.partitionColumn,
    captureTimeColumn: logic.captureTimeColumn,
  };
}

export class WindowedAggregation {
  private readonly lanes: WindowLane[];
  private readonly sessionLanes: SessionLane[];
  private readonly aggregates: AggregateSet;
  private readonly groupBy: string[];
  private readonly computeAppend: boolean;
  private readonly computeUpdate: boolean;
  private readonly watermarks: PartitionWatermarks;
  private batchNumber = 0;
  private groupCount = 0;
  private bucketCount = 0;

  private constructor(
    private readonly logic: AggregationLogic,
    outputModes: ReadonlySet<string>,
  ) {
    this.lanes = logic.windows.map((w) => ({ name: w.name, sizeMs: w.sizeMs, slideMs: w.slideMs, offsetMs: w.offsetMs ?? 0, buckets: new Map() }));
    this.sessionLanes = (logic.sessions ?? []).map((w) => new SessionLane(w));
    this.aggregates = new AggregateSet(logic.aggregates);
    this.groupBy = logic.groupBy;
    this.watermarks = new PartitionWatermarks(logic.watermarkDelayMs, logic.watermarkIdleTimeoutMs);
    this.computeAppend = outputModes.has('append');
    this.computeUpdate = outputModes.has('update');
  }

  /** The aggregation for `config`, fresh or resumed from a `snapshot()` of the same configuration. */
  static build(config: AggregationConfig, resume?: AggregationState): WindowedAggregation {
    const { logic, outputModes } = validateAggregationConfig(config);
    const engine = new WindowedAggregation(logic, outputModes);
    if (resume !== undefined) engine.restore(resume);
    return engine;
  }

  /** The watermark after the last batch (0 before the first). */
  get watermark(): number {
    return this.watermarks.watermark;
  }

  /** The watermark, the partition holding it back and the idle partitions. */
  get eventTimeStatus(): WatermarkStatus {
    return this.watermarks.status();
  }

  /** Each source partition's progress as this instance knows it. */
  get eventTimeProgress(): EventTimeProgress {
    return this.watermarks.progress();
  }

  /** Open window instances (window definition × start) holding state. */
  get openWindows(): number {
    return this.bucketCount + this.openSessions();
  }

  /** Open (window instance, group key) states, like Spark's state rows. */
  get stateRows(): number {
    return this.groupCount + this.openSessions();
  }

  /** The number the next batch gets. */
  get nextBatch(): number {
    return this.batchNumber;
  }

  /** Aggregates one batch (an empty one is a no-data batch) and advances the watermark. */
  processBatch<R extends EngineRow>(rows: readonly R[], input: BatchInput = {}): BatchResult<R> {
    this.checkBatch(rows);
    const batch = this.batchNumber;
    const threshold = this.watermarks.watermark;
    const watermarks = this.watermarks;
    const partitionColumn = this.logic.partitionColumn;
    const captureColumn = this.logic.captureTimeColumn;
    let droppedAggregates: Set<string> | undefined;
    const keyWidth = this.groupBy.length;
    const key = new Array<EngineValue>(keyWidth);
    const inputs = new Array<EngineValue>(this.aggregates.size);
    const late: LateRow<R>[] = [];
    const touched = new Map<WindowBucket, GroupState[]>();
    let touchedSessions: Array<{ lane: SessionLane; session: Session }> | undefined;
    // Per session lane: the starts earlier update outputs reported that this batch's merges retire.
    const superseded: Array<Array<{ key: readonly EngineValue[]; start: number }>> = this.sessionLanes.map(() => []);
    let maxEventTime = -Infinity;

    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const eventTime = row.event_time;
      if (eventTime > maxEventTime) maxEventTime = eventTime;
      watermarks.observe(partitionColumn === null ? '' : String(row[partitionColumn]), eventTime, captureColumn === null ? undefined : (row[captureColumn] as number | undefined));
      for (let k = 0; k < keyWidth; k++) {
        const value = row[this.groupBy[k]] ?? null;
        key[k] = value === 0 ? 0 : value;
      }
      this.aggregates.readInputs(row, inputs);
      let missed: LateWindow[] | undefined;
      for (const lane of this.lanes) {
        const last = lastWindowStart(eventTime, lane.slideMs, lane.offsetMs);
        for (let start = firstWindowStart(eventTime, last, lane); start <= last; start += lane.slideMs) {
          const end = start + lane.sizeMs;
          if (end <= threshold) {
            (missed ??= []).push({ window: lane.name, windowStart: start, windowEnd: end });
            (droppedAggregates ??= new Set()).add(JSON.stringify([lane.name, start, key]));
            continue;
          }
          let bucket = lane.buckets.get(start);
          if (bucket === undefined) bucket = this.openBucket(lane, start);
          const group = this.groupFor(bucket, key);
          this.aggregates.add(group, inputs);
          if (this.computeUpdate && group.touchedIn !== batch) {
            group.touchedIn = batch;
            const groups = touched.get(bucket);
            if (groups === undefined) touched.set(bucket, [group]);
            else groups.push(group);
          }
        }
      }
      for (let l = 0; l < this.sessionLanes.length; l++) {
        const lane = this.sessionLanes[l];
        const added = lane.add(key, eventTime, lane.endOf(row, eventTime), threshold, this.aggregates, inputs, superseded[l]);
        if ('late' in added) {
          (missed ??= []).push({ window: lane.name, windowStart: added.late.start, windowEnd: added.late.end, reason: added.late.reason });
          // Spark filters rows without a valid gap before its state operator: they are not in its metric.
          if (added.late.reason === 'watermark') (droppedAggregates ??= new Set()).add(JSON.stringify([lane.name, added.late.start, key]));
        } else if (this.computeUpdate && added.session.group.touchedIn !== batch) {
          added.session.group.touchedIn = batch;
          (touchedSessions ??= []).push({ lane, session: added.session });
        }
      }
      if (missed !== undefined) late.push({ row, windows: missed });
    }

    if (input.progress !== undefined) watermarks.merge(input.progress);
    watermarks.advance();
    if (input.endOfInput === true) watermarks.finish(this.latestOpenWindowEnd());
    const watermark = watermarks.watermark;

    const finals = new Map<WindowBucket, GroupState[]>();
    for (const lane of this.lanes) {
      for (const [start, bucket] of lane.buckets) {
        if (bucket.end > watermark) continue;
        // The bucket is evicted here, so its groups can be sorted in place.
        if (this.computeAppend) finals.set(bucket, bucket.groups);
        lane.buckets.delete(start);
        this.bucketCount--;
        this.groupCount -= bucket.groups.length;
      }
    }

    let emitted: WindowResult[] = [];
    // A window this batch changed and closed is one result, in both lists.
    const finalResults = this.computeUpdate && this.computeAppend ? new Map<GroupState, WindowResult>() : undefined;
    for (const { bucket, groups } of sortedByBucket(finals)) {
      for (const group of groups) {
        const result = this.result(bucket, group, true);
        emitted.push(result);
        finalResults?.set(group, result);
      }
    }
    let updated: WindowResult[] = [];
    for (const { bucket, groups } of sortedByBucket(touched)) {
      const final = bucket.end <= watermark;
      for (const group of groups) updated.push((final ? finalResults?.get(group) : undefined) ?? this.result(bucket, group, final));
    }
    let supersededOut: SupersededSession[] | undefined;
    if (this.sessionLanes.length > 0) {
      // Updates first: a session updated and closed in this batch is reported with its final values.
      const sessionUpdates: WindowResult[] = [];
      for (const { lane, session } of touchedSessions ?? []) {
        if (session.absorbed) continue;
        session.reportedStart = session.start;
        sessionUpdates.push(this.sessionResult(lane, session.group.key, session, session.end <= watermark));
      }
      const sessionFinals: WindowResult[] = [];
      for (const lane of this.sessionLanes) {
        for (const { key, session } of lane.evict(watermark)) if (this.computeAppend) sessionFinals.push(this.sessionResult(lane, key, session, true));
      }
      emitted = this.sortResults([...emitted, ...sessionFinals]);
      updated = this.sortResults([...updated, ...sessionUpdates]);
      supersededOut = [];
      if (this.computeUpdate) {
        this.sessionLanes.forEach((lane, l) => {
          for (const s of superseded[l]) supersededOut?.push({ window: lane.name, windowStart: s.start, key: this.keyRecord(s.key) });
        });
        supersededOut = this.sortResults(supersededOut);
      }
    }

    this.batchNumber++;
    return {
      batch,
      lateThreshold: threshold,
      watermark,
      emitted,
      updated,
      late,
      rowsDroppedByWatermark: late.length,
      numRowsDroppedByWatermark: droppedAggregates?.size ?? 0,
      maxEventTime: rows.length > 0 ? maxEventTime : null,
      ...(supersededOut === undefined ? {} : { superseded: supersededOut }),
    };
  }

  /** The state to resume from with `build(config, state)`: plain JSON, sorted. */
  snapshot(): AggregationState {
    const buckets: WindowBucket[] = [];
    for (const lane of this.lanes) buckets.push(...lane.buckets.values());
    buckets.sort((a, b) => a.start - b.start || (a.lane.name < b.lane.name ? -1 : a.lane.name > b.lane.name ? 1 : 0));
    const lanes = [...this.sessionLanes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      format: 'windowed-aggregation/2',
      logic: copyLogic(this.logic),
      nextBatch: this.batchNumber,
      eventTime: this.watermarks.snapshot(),
      windows: buckets.map((bucket) => ({
        window: bucket.lane.name,
        windowStart: bucket.start,
        groups: [...bucket.groups]
          .sort((a, b) => compareKeys(a.key, b.key))
          .map((group) => ({ key: [...group.key], rows: group.rows, aggregates: this.aggregates.snapshot(group) })),
      })),
      ...(lanes.length === 0 ? {} : { sessions: lanes.flatMap((lane) => lane.snapshot(this.aggregates)) }),
    };
  }

  private checkBatch(rows: readonly EngineRow[]): void {
    if (!Array.isArray(rows)) throw new TypeError(`processBatch takes an array of rows, got ${describeValue(rows)}.`);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new InvalidRowError(i, '', `expected a plain object row, got ${describeValue(row)}.`);
      const eventTime: unknown = row.event_time;
      if (typeof eventTime !== 'number' || !Number.isFinite(eventTime)) {
        throw new InvalidRowError(
          i,
          'event_time',
          `event_time is ${describeValue(eventTime)}; it must be epoch milliseconds (a finite number), so parse event times before the engine.`,
        );
      }
      for (const column of this.groupBy) {
        const value: unknown = row[column];
        if (value !== undefined && !isEngineValue(value)) {
          throw new InvalidRowError(i, column, `grouping column ${column} is ${describeValue(value)}; a key must be a string, a finite number, a boolean or null.`);
        }
      }
      this.aggregates.checkRow(row, i);
      for (const lane of this.sessionLanes) {
        if (lane.gapColumn === null) continue;
        const gap: unknown = row[lane.gapColumn];
        if (gap !== undefined && gap !== null && (typeof gap !== 'number' || !Number.isFinite(gap))) {
          throw new InvalidRowError(
            i,
            lane.gapColumn,
            `${lane.gapColumn} is ${describeValue(gap)}, but session window ${lane.name} reads it as the row's gap: give a number of milliseconds (or null).`,
          );
        }
      }
    }
  }

  private openSessions(): number {
    let open = 0;
    for (const lane of this.sessionLanes) open += lane.size;
    return open;
  }

  private keyRecord(key: readonly EngineValue[]): Record<string, EngineValue> {
    const record: Record<string, EngineValue> = {};
    for (let k = 0; k < this.groupBy.length; k++) record[this.groupBy[k]] = key[k];
    return record;
  }

  private sessionResult(lane: SessionLane, key: readonly EngineValue[], session: Session, final: boolean): WindowResult {
    return { window: lane.name, windowStart: session.start, windowEnd: session.end, key: this.keyRecord(key), aggregates: this.aggregates.results(session.group), final };
  }

  /** Sorts by window start, window name, then key (the order of every output). */
  private sortResults<T extends { window: string; windowStart: number; key: Record<string, EngineValue> }>(results: T[]): T[] {
    const keyOf = (r: T) => this.groupBy.map((c) => r.key[c] ?? null);
    return results.sort((a, b) => a.windowStart - b.windowStart || (a.window < b.window ? -1 : a.window > b.window ? 1 : 0) || compareKeys(keyOf(a), keyOf(b)));
  }

  private latestOpenWindowEnd(): number {
    let latest = 0;
    for (const lane of this.lanes) for (const bucket of lane.buckets.values()) if (bucket.end > latest) latest = bucket.end;
    for (const lane of this.sessionLanes) latest = Math.max(latest, lane.latestEnd());
    return latest;
  }

  private openBucket(lane: WindowLane, start: number): WindowBucket {
    const bucket: WindowBucket = { lane, start, end: start + lane.sizeMs, trie: new Map(), groups: [] };
    lane.buckets.set(start, bucket);
    this.bucketCount++;
    return bucket;
  }

  /** The group of `key` in `bucket`, created on first use (`key` is copied then, as the caller reuses it). */
  private groupFor(bucket: WindowBucket, key: readonly EngineValue[]): GroupState {
    const last = key.length - 1;
    let node = bucket.trie;
    for (let k = 0; k < last; k++) {
      let next = node.get(key[k]) as KeyTrie | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(key[k], next);
      }
      node = next;
    }
    // With no grouping column, the single global group sits under the key `null`.
    const leaf = last < 0 ? null : key[last];
    let group = node.get(leaf) as GroupState | undefined;
    if (group === undefined) {
      group = this.aggregates.newGroup(key.slice());
      node.set(leaf, group);
      bucket.groups.push(group);
      this.groupCount++;
    }
    return group;
  }

  private result(bucket: WindowBucket, group: GroupState, final: boolean): WindowResult {
    const key: Record<string, EngineValue> = {};
    for (let k = 0; k < this.groupBy.length; k++) key[this.groupBy[k]] = group.key[k];
    return { window: bucket.lane.name, windowStart: bucket.start, windowEnd: bucket.end, key, aggregates: this.aggregates.results(group), final };
  }

  private restore(state: AggregationState): void {
    const fail = (what: string) => new InvalidStateError(`Cannot resume the windowed aggregation: ${what}`);
    if (typeof state !== 'object' || state === null || state.format !== 'windowed-aggregation/2') {
      throw fail(`expected a snapshot of format "windowed-aggregation/2", found ${describeValue((state as { format?: unknown } | null)?.format)}. Start from a fresh checkpoint.`);
    }
    const changed = (['windows', 'sessions', 'groupBy', 'aggregates', 'watermarkDelayMs', 'watermarkIdleTimeoutMs', 'partitionColumn', 'captureTimeColumn'] as const).filter(
      (part) => JSON.stringify(state.logic?.[part]) !== JSON.stringify(this.logic[part]),
    );
    if (changed.length > 0) {
      throw fail(
        `the snapshot was taken with a different ${changed.join(', ')} (saved ${changed.map((p) => `${p}=${JSON.stringify(state.logic?.[p])}`).join(', ')}; now ${changed.map((p) => `${p}=${JSON.stringify(this.logic[p])}`).join(', ')}). Use a new checkpoint or reset this one.`,
      );
    }
    if (!Number.isSafeInteger(state.nextBatch) || state.nextBatch < 0) throw fail(`nextBatch ${describeValue(state.nextBatch)} is not a whole number ≥ 0.`);
    try {
      this.watermarks.restore(state.eventTime);
    } catch (error) {
      throw fail(`${(error as Error).message}.`);
    }
    const watermark = this.watermarks.watermark;
    if (!Array.isArray(state.windows)) throw fail('windows is not a list.');
    this.batchNumber = state.nextBatch;
    for (const saved of state.windows) {
      const lane = this.lanes.find((l) => l.name === saved.window);
      const where = `window ${JSON.stringify(saved.window)} at ${String(saved.windowStart)}`;
      if (lane === undefined) throw fail(`${where} is not a configured window.`);
      if (!isWindowStart(saved.windowStart, lane)) throw fail(`${where} does not start on a multiple of its slide plus its offset.`);
      if (saved.windowStart + lane.sizeMs <= watermark) throw fail(`${where} is already final at watermark ${watermark} but still has state.`);
      if (lane.buckets.has(saved.windowStart)) throw fail(`${where} appears twice.`);
      const bucket = this.openBucket(lane, saved.windowStart);
      for (const g of saved.groups) {
        if (!Array.isArray(g.key) || g.key.length !== this.groupBy.length || !g.key.every(isEngineValue))
          throw fail(`${where} has a key ${JSON.stringify(g.key)} that does not match groupBy.`);
        const group = this.groupFor(bucket, g.key);
        if (group.rows !== 0) throw fail(`${where} has key ${JSON.stringify(g.key)} twice.`);
        this.aggregates.restore(group, g.rows, g.aggregates, `${where}, key ${JSON.stringify(g.key)}`);
      }
    }
    if (state.sessions !== undefined && !Array.isArray(state.sessions)) throw fail('sessions is not a list.');
    for (const saved of state.sessions ?? []) {
      const lane = this.sessionLanes.find((l) => l.name === saved.window);
      const where = `session ${JSON.stringify(saved.window)} of key ${JSON.stringify(saved.key)} at ${String(saved.start)}`;
      if (lane === undefined) throw fail(`${where} is not a configured session window.`);
      if (!Array.isArray(saved.key) || saved.key.length !== this.groupBy.length || !saved.key.every(isEngineValue)) throw fail(`${where} has a key that does not match groupBy.`);
      try {
        lane.restore(saved, watermark, this.aggregates, where);
      } catch (error) {
        if (error instanceof InvalidStateError) throw error;
        throw fail((error as Error).message);
      }
    }
  }
}

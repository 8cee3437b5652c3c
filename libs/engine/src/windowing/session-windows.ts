/**
 * Session windows with the semantics of Spark Structured Streaming's `session_window`: a row at
 * event time t with gap g opens the session [t, t + g); sessions of one key that overlap or touch
 * merge into one, from the first event to the last event's t + g. The gap is one duration for
 * every row, or each row's own value of a gap column (Spark's dynamic gap).
 *
 * Invariants:
 * - The sessions of one (window, key) are kept sorted by start and never overlap or touch: a row
 *   that falls inside a session, touches it or bridges several is merged with all of them.
 * - A row is late when its own session [t, t + g) ends at or before the late threshold (Spark drops
 *   exactly these rows): any session it could open or join would be closed already. A row whose
 *   gap is missing, zero or negative has no session (Spark filters it out), nor has one whose
 *   session would end past what a timestamp holds (`MAX_EPOCH_MS`); it is reported with the reason
 *   `invalid-gap` rather than dropped, and never held in state.
 * - A session is final, emitted in append mode and evicted once the watermark reaches its end.
 * - Update output names each session by (window, key, start). When a merge moves a session's
 *   start, or absorbs another session, the starts reported in earlier batches are listed as
 *   superseded, so a sink keyed by start can remove them.
 * - Snapshots are sorted (window, key, start), hence deterministic.
 */
import type { AggregateSet, GroupState } from './aggregates';
import { compareKeys, type EngineRow, type EngineValue } from './engine-value';
import { MAX_EPOCH_MS } from './window';

/** A session window definition: a fixed gap, or a column holding each row's gap in milliseconds. */
export interface SessionWindowDefinition {
  name: string;
  /** The gap of inactivity that closes a session, in milliseconds (when every row has the same). */
  gapMs?: number;
  /** The row field holding the row's gap in milliseconds (Spark's dynamic gap). */
  gapColumn?: string;
}

/** Why a row missed a session window. */
export type SessionLateReason = 'watermark' | 'invalid-gap';

/** A session a batch's update output no longer reports under this start. */
export interface SupersededSession {
  window: string;
  windowStart: number;
  key: Record<string, EngineValue>;
}

/** Saved state of one session. */
export interface SessionStateSnapshot {
  window: string;
  key: EngineValue[];
  start: number;
  end: number;
  rows: number;
  aggregates: ReturnType<AggregateSet['snapshot']>;
}

/** Problems with a session window definition, in words; empty when it is valid. */
export function sessionDefinitionProblems(session: SessionWindowDefinition): string[] {
  const problems: string[] = [];
  const hasGap = session.gapMs !== undefined;
  const hasColumn = session.gapColumn !== undefined;
  if (hasGap === hasColumn) problems.push('give exactly one of gapMs (one gap for every row) and gapColumn (each row’s gap in milliseconds)');
  if (hasGap && !(Number.isSafeInteger(session.gapMs) && (session.gapMs as number) > 0))
    problems.push(`gapMs must be a positive whole number of milliseconds, got ${String(session.gapMs)}`);
  if (hasColumn && (typeof session.gapColumn !== 'string' || session.gapColumn.length === 0))
    problems.push(`gapColumn must be a non-empty column name, got ${JSON.stringify(session.gapColumn)}`);
  if (hasColumn && session.gapColumn === 'event_time') problems.push('gapColumn cannot be event_time; name the column holding each row’s gap in milliseconds');
  return problems;
}

/**
 * The end of a row's own session [t, t + gap) under `definition`, the gap being the fixed one or the
 * row's gap column; null when the row has no session: no positive finite gap, or an end past what
 * a timestamp holds (`MAX_EPOCH_MS`).
 */
export function sessionEndOf(
  definition: Pick<SessionWindowDefinition, 'gapMs' | 'gapColumn'>,
  row: Readonly<Record<string, unknown>> | undefined,
  eventTime: number,
): number | null {
  const gap = definition.gapMs ?? (definition.gapColumn === undefined ? undefined : row?.[definition.gapColumn]);
  if (typeof gap !== 'number' || !(gap > 0) || !Number.isFinite(gap)) return null;
  const end = eventTime + gap;
  return end <= MAX_EPOCH_MS ? end : null;
}

/** One session of one key. */
export interface Session {
  start: number;
  end: number;
  readonly group: GroupState;
  /** The start the last update output reported, null when none did (or it was superseded since). */
  reportedStart: number | null;
  /** Set when merged into another session: it no longer exists. */
  absorbed: boolean;
}

/** The sessions of one grouping key, sorted by start. */
export interface KeySessions {
  readonly key: readonly EngineValue[];
  readonly sessions: Session[];
}

/** What adding a row to a session lane did. */
export type SessionAdd = { session: Session } | { late: { start: number; end: number; reason: SessionLateReason } };

/** One session window definition and the open sessions of every key. */
export class SessionLane {
  readonly name: string;
  readonly gapMs: number | null;
  readonly gapColumn: string | null;
  /** By the key's JSON text. */
  readonly keys = new Map<string, KeySessions>();
  /** Open sessions over all keys. */
  size = 0;

  constructor(private readonly definition: SessionWindowDefinition) {
    this.name = definition.name;
    this.gapMs = definition.gapMs ?? null;
    this.gapColumn = definition.gapColumn ?? null;
  }

  /** The end of the row's own session at `eventTime`, or null when it has none (see `sessionEndOf`). */
  endOf(row: EngineRow, eventTime: number): number | null {
    return sessionEndOf(this.definition, row, eventTime);
  }

  /**
   * Adds a row at `eventTime` of `key` (copied when stored) to its session, merging the sessions it
   * touches; `superseded` receives the starts earlier update outputs reported that no longer exist.
   */
  add(
    key: readonly EngineValue[],
    eventTime: number,
    end: number | null,
    threshold: number,
    aggregates: AggregateSet,
    inputs: readonly EngineValue[],
    superseded: Array<{ key: readonly EngineValue[]; start: number }>,
  ): SessionAdd {
    if (end === null) return { late: { start: eventTime, end: eventTime, reason: 'invalid-gap' } };
    if (end <= threshold) return { late: { start: eventTime, end, reason: 'watermark' } };
    const text = JSON.stringify(key);
    let entry = this.keys.get(text);
    if (entry === undefined) {
      entry = { key: key.slice(), sessions: [] };
      this.keys.set(text, entry);
    }
    const sessions = entry.sessions;
    // Ends increase with starts (sessions are disjoint): the first session ending at or after t.
    let lo = 0;
    let hi = sessions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sessions[mid].end < eventTime) lo = mid + 1;
      else hi = mid;
    }
    let last = lo;
    while (last < sessions.length && sessions[last].start <= end) last++;
    if (last === lo) {
      const session: Session = { start: eventTime, end, group: aggregates.newGroup(entry.key), reportedStart: null, absorbed: false };
      sessions.splice(lo, 0, session);
      this.size++;
      aggregates.add(session.group, inputs);
      return { session };
    }
    const survivor = sessions[lo];
    const start = Math.min(eventTime, survivor.start);
    if (survivor.reportedStart !== null && survivor.reportedStart !== start) {
      superseded.push({ key: entry.key, start: survivor.reportedStart });
      survivor.reportedStart = null;
    }
    for (let i = lo + 1; i < last; i++) {
      const absorbed = sessions[i];
      aggregates.merge(survivor.group, absorbed.group);
      absorbed.absorbed = true;
      if (absorbed.reportedStart !== null) superseded.push({ key: entry.key, start: absorbed.reportedStart });
    }
    survivor.start = start;
    survivor.end = Math.max(end, sessions[last - 1].end);
    sessions.splice(lo + 1, last - lo - 1);
    this.size -= last - lo - 1;
    aggregates.add(survivor.group, inputs);
    return { session: survivor };
  }

  /** Removes and returns the sessions ending at or before `watermark`, with their keys. */
  evict(watermark: number): Array<{ key: readonly EngineValue[]; session: Session }> {
    const out: Array<{ key: readonly EngineValue[]; session: Session }> = [];
    for (const [text, entry] of this.keys) {
      const sessions = entry.sessions;
      let closed = 0;
      // Sorted by start and disjoint, so ends are sorted too: the closed ones come first.
      while (closed < sessions.length && sessions[closed].end <= watermark) out.push({ key: entry.key, session: sessions[closed++] });
      if (closed === 0) continue;
      sessions.splice(0, closed);
      this.size -= closed;
      if (sessions.length === 0) this.keys.delete(text);
    }
    return out;
  }

  /** The latest end of an open session (0 when none). */
  latestEnd(): number {
    let latest = 0;
    for (const entry of this.keys.values()) {
      const last = entry.sessions[entry.sessions.length - 1];
      if (last !== undefined && last.end > latest) latest = last.end;
    }
    return latest;
  }

  /** The lane's sessions as saved state, sorted by key then start. */
  snapshot(aggregates: AggregateSet): SessionStateSnapshot[] {
    const entries = [...this.keys.values()].sort((a, b) => compareKeys(a.key, b.key));
    const out: SessionStateSnapshot[] = [];
    for (const entry of entries) {
      for (const s of entry.sessions) {
        out.push({ window: this.name, key: [...entry.key], start: s.start, end: s.end, rows: s.group.rows, aggregates: aggregates.snapshot(s.group) });
      }
    }
    return out;
  }

  /**
   * Loads one saved session; throws a message naming the problem when it cannot be one of this
   * lane's open sessions at `watermark` (sessions of a key must come sorted and apart).
   */
  restore(saved: SessionStateSnapshot, watermark: number, aggregates: AggregateSet, where: string): void {
    const { start, end } = saved;
    if (!Number.isFinite(start) || !Number.isFinite(end) || !(start < end))
      throw new Error(`${where} has start ${String(start)} and end ${String(end)}; a session starts before it ends.`);
    if (end <= watermark) throw new Error(`${where} is already final at watermark ${watermark} but still has state.`);
    const text = JSON.stringify(saved.key);
    let entry = this.keys.get(text);
    if (entry === undefined) {
      entry = { key: saved.key.slice(), sessions: [] };
      this.keys.set(text, entry);
    }
    const previous = entry.sessions[entry.sessions.length - 1];
    if (previous !== undefined && !(previous.end < start))
      throw new Error(`${where} overlaps or touches the session before it, or is out of order; saved sessions are merged and sorted.`);
    const session: Session = { start, end, group: aggregates.newGroup(entry.key), reportedStart: start, absorbed: false };
    aggregates.restore(session.group, saved.rows, saved.aggregates, where);
    entry.sessions.push(session);
    this.size++;
  }
}

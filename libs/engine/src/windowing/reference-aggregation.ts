/**
 * A brute-force model of `WindowedAggregation` for property tests: it keeps every accepted row and
 * recomputes each window's aggregates from scratch, following the semantics in words (late when
 * window end ≤ the previous batch's watermark; final when watermark ≥ end; the watermark is the
 * minimum over the partitions that had rows within the idle timeout of capture time, recomputed
 * from every row seen; a partition that had rows within the idle timeout before the stream's latest
 * pause longer than the idle timeout counts from the pause's end). Slow and obvious on purpose; it shares no code with the engine.
 *
 * Session windows: a row is late when it has no positive gap or t + gap ≤ the previous batch's
 * watermark; otherwise it joins the open rows of its (window, key). After each batch the open
 * rows are clustered from scratch into sessions (closed intervals [t, t + gap] that overlap or
 * touch form one session); sessions whose end ≤ watermark are emitted and their rows set aside, so
 * later rows never join them. Superseded: the sessions open after the previous batch whose
 * (window, key, start) no open-or-just-closed session has any more.
 */
import type { AggregationConfig } from './aggregation-config';
import type { EngineRow, EngineValue } from './engine-value';
import { MAX_EPOCH_MS } from './window';
import type { BatchResult, LateWindow, WindowResult } from './windowed-aggregation';

interface SessionRow {
  window: string;
  key: EngineValue[];
  row: EngineRow;
  /** t + gap. */
  end: number;
  batch: number;
}

interface ReferenceSession {
  window: string;
  key: EngineValue[];
  start: number;
  end: number;
  /** In arrival order. */
  rows: SessionRow[];
}

/** The sessions of the rows: per (window, key), intervals [t, end] that overlap or touch, chained by repeated merging. */
function clusterSessions(rows: SessionRow[]): ReferenceSession[] {
  let sessions: ReferenceSession[] = rows.map((r) => ({ window: r.window, key: r.key, start: r.row.event_time, end: r.end, rows: [r] }));
  let merged = true;
  while (merged) {
    merged = false;
    outer: for (let i = 0; i < sessions.length; i++) {
      for (let j = i + 1; j < sessions.length; j++) {
        const a = sessions[i];
        const b = sessions[j];
        if (a.window === b.window && JSON.stringify(a.key) === JSON.stringify(b.key) && a.start <= b.end && b.start <= a.end) {
          const rowsInOrder = [...a.rows, ...b.rows].sort((x, y) => rows.indexOf(x) - rows.indexOf(y));
          sessions[i] = { window: a.window, key: a.key, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end), rows: rowsInOrder };
          sessions = sessions.filter((_, k) => k !== j);
          merged = true;
          break outer;
        }
      }
    }
  }
  return sessions;
}

interface Assignment {
  window: string;
  start: number;
  end: number;
  key: EngineValue[];
  row: EngineRow;
  batch: number;
}

function rank(v: EngineValue): number {
  return v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : 3;
}

function compareValue(a: EngineValue, b: EngineValue): number {
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return 0;
}

function compareResults(a: Pick<WindowResult, 'window' | 'windowStart' | 'key'>, b: Pick<WindowResult, 'window' | 'windowStart' | 'key'>, groupBy: string[]): number {
  if (a.windowStart !== b.windowStart) return a.windowStart - b.windowStart;
  if (a.window !== b.window) return a.window < b.window ? -1 : 1;
  for (const column of groupBy) {
    const c = compareValue(a.key[column], b.key[column]);
    if (c !== 0) return c;
  }
  return 0;
}

/** Every window [k·slide + offset, k·slide + offset + size) containing t, found by scanning candidate k. */
export function windowsContaining(t: number, w: { sizeMs: number; slideMs: number; offsetMs?: number }): Array<{ start: number; end: number }> {
  const offset = w.offsetMs ?? 0;
  const out: Array<{ start: number; end: number }> = [];
  for (let k = Math.floor((t - offset - w.sizeMs) / w.slideMs) - 1; k * w.slideMs + offset <= t; k++) {
    const start = k * w.slideMs + offset;
    if (start <= t && t < start + w.sizeMs) out.push({ start, end: start + w.sizeMs });
  }
  return out;
}

const zero = (v: EngineValue): EngineValue => (v === 0 ? 0 : v);

function aggregate(config: AggregationConfig, rows: EngineRow[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const a of config.aggregates) {
    const values = a.column === undefined ? [] : rows.map((r) => zero(r[a.column as string] ?? null)).filter((v): v is Exclude<EngineValue, null> => v !== null);
    const numbers = values as number[];
    switch (a.fn) {
      case 'count':
        out[a.name] = rows.length;
        break;
      case 'sum':
        out[a.name] = numbers.length === 0 ? null : numbers.reduce((s, v) => s + v, 0);
        break;
      case 'avg':
        out[a.name] = numbers.length === 0 ? null : numbers.reduce((s, v) => s + v, 0) / numbers.length;
        break;
      case 'min':
        out[a.name] = numbers.length === 0 ? null : numbers.reduce((m, v) => (v < m ? v : m));
        break;
      case 'max':
        out[a.name] = numbers.length === 0 ? null : numbers.reduce((m, v) => (v > m ? v : m));
        break;
      case 'count_distinct':
        out[a.name] = new Set(values).size;
        break;
    }
  }
  return out;
}

/** The expected result of every batch, computed from scratch. */
export function referenceAggregation(config: AggregationConfig, batches: EngineRow[][]): BatchResult[] {
  const assignments: Assignment[] = [];
  const emittedIds = new Set<string>();
  const results: BatchResult[] = [];
  let watermark = 0;
  const seen: EngineRow[] = [];
  const partitionOf = (row: EngineRow) => (config.partitionColumn === undefined ? '' : String(row[config.partitionColumn]));
  const captureOf = (row: EngineRow) => (config.captureTimeColumn === undefined ? undefined : (row[config.captureTimeColumn] as number | undefined));
  const id = (a: { window: string; start: number; key: EngineValue[] }) => JSON.stringify([a.window, a.start, a.key]);

  const sessionsOn = (config.sessions ?? []).length > 0;
  const updateOn = (config.outputModes ?? ['append', 'update']).includes('update');
  const appendOn = (config.outputModes ?? ['append', 'update']).includes('append');
  let openRows: SessionRow[] = [];
  let openIds = new Set<string>();

  batches.forEach((rows, batch) => {
    const threshold = watermark;
    const late: BatchResult['late'] = [];
    for (const row of rows) {
      const key = config.groupBy.map((c) => zero(row[c] ?? null));
      const missed: LateWindow[] = [];
      for (const w of config.windows) {
        for (const { start, end } of windowsContaining(row.event_time, w)) {
          if (end <= threshold) missed.push({ window: w.name, windowStart: start, windowEnd: end });
          else assignments.push({ window: w.name, start, end, key, row, batch });
        }
      }
      for (const w of config.sessions ?? []) {
        const raw = w.gapMs ?? row[w.gapColumn as string];
        // No session without a positive gap, or past the end of time a timestamp holds.
        const gap = typeof raw === 'number' && raw > 0 && row.event_time + raw <= MAX_EPOCH_MS ? raw : null;
        if (gap === null) missed.push({ window: w.name, windowStart: row.event_time, windowEnd: row.event_time, reason: 'invalid-gap' });
        else if (row.event_time + gap <= threshold) missed.push({ window: w.name, windowStart: row.event_time, windowEnd: row.event_time + gap, reason: 'watermark' });
        else openRows.push({ window: w.name, key, row, end: row.event_time + gap, batch });
      }
      if (missed.length > 0) late.push({ row, windows: missed });
    }
    const maxEventTime = rows.length === 0 ? null : Math.max(...rows.map((r) => r.event_time));
    seen.push(...rows);
    const partitions = [...new Set(seen.map(partitionOf))];
    const captures = seen.map(captureOf).filter((c): c is number => c !== undefined);
    const newestCapture = Math.max(...captures);
    const idleTimeout = config.watermarkIdleTimeoutMs ?? null;
    // The stream's latest pause: the last row, in the order rows came, more than the idle timeout past every capture time before it.
    let pause: { from: number; to: number } | undefined;
    let newestSoFar: number | undefined;
    for (const capture of captures) {
      if (newestSoFar !== undefined && idleTimeout !== null && idleTimeout > 0 && capture - newestSoFar > idleTimeout) pause = { from: newestSoFar, to: capture };
      if (newestSoFar === undefined || capture > newestSoFar) newestSoFar = capture;
    }
    const active = partitions.filter((p) => {
      const own = seen
        .filter((r) => partitionOf(r) === p)
        .map(captureOf)
        .filter((c): c is number => c !== undefined);
      let last = own.length > 0 ? Math.max(...own) : captures.length > 0 ? Math.min(...captures) : undefined;
      // A partition running when the whole stream paused is silent only from the pause's end.
      if (pause !== undefined && own.length > 0 && last !== undefined && last < pause.to && pause.from - last <= (idleTimeout ?? 0)) last = pause.to;
      return idleTimeout === null || last === undefined || !(newestCapture - last > idleTimeout);
    });
    if (active.length > 0) {
      const candidate = Math.min(...active.map((p) => Math.max(...seen.filter((r) => partitionOf(r) === p).map((r) => r.event_time)) - config.watermarkDelayMs));
      watermark = Math.max(watermark, candidate);
    }

    const groups = new Map<string, Assignment[]>();
    for (const a of assignments) {
      const members = groups.get(id(a));
      if (members) members.push(a);
      else groups.set(id(a), [a]);
    }
    const resultOf = (members: Assignment[]): WindowResult => {
      const first = members[0];
      return {
        window: first.window,
        windowStart: first.start,
        windowEnd: first.end,
        key: Object.fromEntries(config.groupBy.map((c, i) => [c, first.key[i]])),
        aggregates: aggregate(
          config,
          members.map((m) => m.row),
        ),
        final: first.end <= watermark,
      };
    };
    const emitted: WindowResult[] = [];
    const updated: WindowResult[] = [];
    for (const [groupId, members] of groups) {
      if (members[0].end <= watermark && !emittedIds.has(groupId)) {
        emittedIds.add(groupId);
        if (appendOn) emitted.push(resultOf(members));
      }
      if (updateOn && members.some((m) => m.batch === batch)) updated.push(resultOf(members));
    }
    let superseded: BatchResult['superseded'];
    if (sessionsOn) {
      const sessions = clusterSessions(openRows);
      const sessionId = (s: { window: string; start: number; key: EngineValue[] }) => JSON.stringify([s.window, s.key, s.start]);
      const toResult = (s: ReferenceSession): WindowResult => ({
        window: s.window,
        windowStart: s.start,
        windowEnd: s.end,
        key: Object.fromEntries(config.groupBy.map((c, i) => [c, s.key[i]])),
        aggregates: aggregate(
          config,
          s.rows.map((r) => r.row),
        ),
        final: s.end <= watermark,
      });
      const nowIds = new Set(sessions.map(sessionId));
      superseded = updateOn
        ? [...openIds]
            .filter((i) => !nowIds.has(i))
            .map((i) => JSON.parse(i) as [string, EngineValue[], number])
            .map(([window, key, start]) => ({ window, windowStart: start, key: Object.fromEntries(config.groupBy.map((c, k) => [c, key[k]])) }))
        : [];
      for (const s of sessions) {
        if (updateOn && s.rows.some((r) => r.batch === batch)) updated.push(toResult(s));
        if (s.end <= watermark && appendOn) emitted.push(toResult(s));
      }
      const open = sessions.filter((s) => s.end > watermark);
      openRows = open.flatMap((s) => s.rows);
      openIds = new Set(open.map(sessionId));
      superseded.sort((a, b) => compareResults(a, b, config.groupBy));
    }
    emitted.sort((a, b) => compareResults(a, b, config.groupBy));
    updated.sort((a, b) => compareResults(a, b, config.groupBy));
    const droppedAggregates = new Set(
      late.flatMap(({ row, windows }) =>
        windows.filter((w) => w.reason !== 'invalid-gap').map((w) => JSON.stringify([w.window, w.windowStart, config.groupBy.map((c) => zero(row[c] ?? null))])),
      ),
    );
    results.push({
      batch,
      lateThreshold: threshold,
      watermark,
      emitted,
      updated,
      late,
      rowsDroppedByWatermark: late.length,
      numRowsDroppedByWatermark: droppedAggregates.size,
      maxEventTime,
      ...(sessionsOn ? { superseded } : {}),
    });
  });
  return results;
}

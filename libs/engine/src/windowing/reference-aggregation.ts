/**
 * A brute-force model of `WindowedAggregation` for property tests: it keeps every accepted row and
 * recomputes each window's aggregates from scratch, following the semantics in words (late when
 * window end ≤ the previous batch's watermark; final when watermark ≥ end; the watermark is the
 * minimum over the partitions that had rows within the idle timeout of capture time, recomputed
 * from every row seen). Slow and obvious on purpose; it shares no code with the engine.
 */
import type { AggregationConfig } from './aggregation-config';
import type { EngineRow, EngineValue } from './engine-value';
import type { BatchResult, WindowResult } from './windowed-aggregation';

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

function compareResults(a: WindowResult, b: WindowResult, groupBy: string[]): number {
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

  batches.forEach((rows, batch) => {
    const threshold = watermark;
    const late: BatchResult['late'] = [];
    for (const row of rows) {
      const key = config.groupBy.map((c) => zero(row[c] ?? null));
      const missed: Array<{ window: string; windowStart: number; windowEnd: number }> = [];
      for (const w of config.windows) {
        for (const { start, end } of windowsContaining(row.event_time, w)) {
          if (end <= threshold) missed.push({ window: w.name, windowStart: start, windowEnd: end });
          else assignments.push({ window: w.name, start, end, key, row, batch });
        }
      }
      if (missed.length > 0) late.push({ row, windows: missed });
    }
    const maxEventTime = rows.length === 0 ? null : Math.max(...rows.map((r) => r.event_time));
    seen.push(...rows);
    const partitions = [...new Set(seen.map(partitionOf))];
    const captures = seen.map(captureOf).filter((c): c is number => c !== undefined);
    const newestCapture = Math.max(...captures);
    const idleTimeout = config.watermarkIdleTimeoutMs ?? null;
    const active = partitions.filter((p) => {
      const own = seen.filter((r) => partitionOf(r) === p).map(captureOf).filter((c): c is number => c !== undefined);
      const last = own.length > 0 ? Math.max(...own) : captures.length > 0 ? Math.min(...captures) : undefined;
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
        emitted.push(resultOf(members));
      }
      if (members.some((m) => m.batch === batch)) updated.push(resultOf(members));
    }
    emitted.sort((a, b) => compareResults(a, b, config.groupBy));
    updated.sort((a, b) => compareResults(a, b, config.groupBy));
    const droppedAggregates = new Set(
      late.flatMap(({ row, windows }) => windows.map((w) => JSON.stringify([w.window, w.windowStart, config.groupBy.map((c) => zero(row[c] ?? null))]))),
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
    });
  });
  return results;
}

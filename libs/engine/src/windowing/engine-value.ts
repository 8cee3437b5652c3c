/**
 * The values the event-time engine reads from rows: plain JSON scalars. Grouping keys and
 * distinct values are compared with one total order (null < booleans < numbers < strings) so every
 * output and snapshot is sorted the same way on every machine.
 */

export type EngineValue = string | number | boolean | null;

/** A plain-object row; `event_time` is epoch milliseconds. A missing column reads as null. */
export interface EngineRow {
  event_time: number;
  [column: string]: EngineValue | undefined;
}

function typeRank(value: EngineValue): number {
  if (value === null) return 0;
  if (typeof value === 'boolean') return 1;
  return typeof value === 'number' ? 2 : 3;
}

/** Total order over engine values: null, then false < true, then numbers, then strings by UTF-16 code units. */
export function compareEngineValues(a: EngineValue, b: EngineValue): number {
  const rankA = typeRank(a);
  const rankB = typeRank(b);
  if (rankA !== rankB) return rankA - rankB;
  if (a === b || a === null || b === null) return 0;
  // Same type here, so JavaScript's < is numeric, boolean or code-unit order.
  return (a as number) < (b as number) ? -1 : 1;
}

/** Lexicographic order of two keys of the same length. */
export function compareKeys(a: readonly EngineValue[], b: readonly EngineValue[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareEngineValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

/** Whether `value` can be a grouping key or an aggregate input: a JSON scalar, numbers finite. */
export function isEngineValue(value: unknown): value is EngineValue {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return true;
  return typeof value === 'number' && Number.isFinite(value);
}

/** Human-readable description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'bigint') return `${value}n (a bigint)`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Durations as users write them in the spec: one or more `<integer><unit>` parts, largest unit
 * first, e.g. `500ms`, `30s`, `5m`, `1h30m`, `1d`. Always whole milliseconds; no bare numbers,
 * because a number without a unit is ambiguous.
 */

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly DurationUnit[] = ['d', 'h', 'm', 's', 'ms'];

const PART = /(\d+)(ms|d|h|m|s)/y;

/** Example forms, used in problem messages. */
export const DURATION_EXAMPLES = 'a duration like "30s", "5m", "1h"';

/** Milliseconds, or `undefined` when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0) return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let lastUnitRank = -1;
  while (PART.lastIndex < text.length) {
    const match = PART.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as DurationUnit;
    const rank = UNIT_ORDER.indexOf(unit);
    // Largest unit first and each unit once, so "30s1h" and "1m1m" are rejected as typos.
    if (rank <= lastUnitRank) return undefined;
    lastUnitRank = rank;
    total += Number(match[1]) * UNIT_MS[unit];
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

/** The shortest spec form of a duration, e.g. 90_000 → `1m30s`; 0 → `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`formatDuration needs whole non-negative milliseconds, got ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * UNIT_MS[unit];
    }
  }
  return out;
}

/**
 * IANA time zone rules from `Intl` (no tz database of our own), for reading local wall-clock times.
 *
 * Invariants:
 * - `localToEpochMs` resolves a local date-time the way java.time's `ZonedDateTime.ofLocal` does
 *   without a preferred offset: in an overlap (clocks go back) the earlier offset wins, i.e. the
 *   earlier of the two instants; in a gap (clocks go forward) the offset in force before the
 *   transition is used, so 02:30 in a 02:00→03:00 gap reads as 03:30 in the new offset.
 * - Offsets are cached per UTC hour only when the offset is the same at both ends of that hour, so
 *   the cache never hides a transition; the cache is bounded.
 */

const HOUR_MS = 3_600_000;
/** Farther than any zone offset (java.time allows ±18:00), so probes land outside the transition. */
const PROBE_MS = 18 * HOUR_MS;
const MAX_CACHED_HOURS = 8_192;
const MS_PER_DAY = 86_400_000;

/** Whether `Intl` knows the IANA time zone name (e.g. `Europe/Paris`, `UTC`). */
export function isKnownTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Milliseconds since the epoch of a wall-clock date-time read as if it were UTC. */
export function wallClockMs(year: number, month: number, day: number, hour: number, minute: number, second: number, millis: number): number {
  return daysFromCivil(year, month, day) * MS_PER_DAY + hour * HOUR_MS + minute * 60_000 + second * 1_000 + millis;
}

const UTC_ALIASES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Etc/Universal', 'Etc/Zulu', 'Universal', 'Zulu', 'Etc/GMT0', 'GMT0']);

/** The offset rules of one time zone. Construct once per zone and reuse: it caches. */
export class TimeZoneRules {
  private readonly format: Intl.DateTimeFormat | undefined;
  private readonly offsetByHour = new Map<number, number>();

  /** @throws RangeError when `Intl` does not know the zone. */
  constructor(readonly zone: string) {
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    this.format = UTC_ALIASES.has(canonical)
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
          timeZone: zone,
          hourCycle: 'h23',
          era: 'short',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
          hour: 'numeric',
          minute: 'numeric',
          second: 'numeric',
        });
  }

  /** Offset from UTC in milliseconds (local = utc + offset) at the instant `epochMs`. */
  offsetAt(epochMs: number): number {
    if (this.format === undefined) return 0;
    const hour = Math.floor(epochMs / HOUR_MS);
    const cached = this.offsetByHour.get(hour);
    if (cached !== undefined) return cached;
    const atStart = this.computeOffset(hour * HOUR_MS);
    const atEnd = this.computeOffset(hour * HOUR_MS + HOUR_MS - 1);
    if (atStart !== atEnd) return this.computeOffset(epochMs);
    if (this.offsetByHour.size >= MAX_CACHED_HOURS) this.offsetByHour.clear();
    this.offsetByHour.set(hour, atStart);
    return atStart;
  }

  /** The instant of a local wall-clock time (given as `wallClockMs`), resolving gaps and overlaps like java.time. */
  localToEpochMs(localMs: number): number {
    if (this.format === undefined) return localMs;
    const before = this.offsetAt(localMs - PROBE_MS);
    const after = this.offsetAt(localMs + PROBE_MS);
    const withBefore = localMs - before;
    if (this.offsetAt(withBefore) === before) return withBefore; // unique, or the earlier instant of an overlap
    if (before !== after) {
      const withAfter = localMs - after;
      if (this.offsetAt(withAfter) === after) return withAfter;
      return withBefore; // a gap: keep the offset before the transition
    }
    // Two transitions within the probe window (historical oddities): settle by iteration.
    const guess = localMs - this.offsetAt(localMs - before);
    return localMs - this.offsetAt(guess);
  }

  private computeOffset(epochMs: number): number {
    const format = this.format as Intl.DateTimeFormat;
    const wholeSecond = Math.floor(epochMs / 1000) * 1000;
    const fields: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
    for (const part of format.formatToParts(wholeSecond)) fields[part.type] = part.value;
    const yearOfEra = Number(fields.year);
    const year = fields.era?.startsWith('B') === true ? 1 - yearOfEra : yearOfEra;
    return wallClockMs(year, Number(fields.month), Number(fields.day), Number(fields.hour), Number(fields.minute), Number(fields.second), 0) - wholeSecond;
  }
}

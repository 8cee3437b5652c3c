/**
 * Calendar helpers for lake values: the UTC date of an instant (the `date` partition columns) and
 * the instant range lake timestamps may hold.
 *
 * Invariant: only instants within `[TIMESTAMP_MIN_MS, TIMESTAMP_MAX_MS)` (years 0001 to 9999, the
 * range of Delta/Spark timestamps and dates) reach a silver row; `utcDate` of such an instant is
 * always `YYYY-MM-DD` with a four-digit year.
 */
import { daysFromCivil } from '@pipeline/contracts';

const MS_PER_DAY = 86_400_000;

/** 0001-01-01T00:00:00Z. */
export const TIMESTAMP_MIN_MS = daysFromCivil(1, 1, 1) * MS_PER_DAY;
/** 10000-01-01T00:00:00Z, exclusive. */
export const TIMESTAMP_MAX_MS = daysFromCivil(10_000, 1, 1) * MS_PER_DAY;

export function isLakeTimestamp(ms: number): boolean {
  return Number.isFinite(ms) && ms >= TIMESTAMP_MIN_MS && ms < TIMESTAMP_MAX_MS;
}

/**
 * The UTC calendar date of epoch milliseconds, `YYYY-MM-DD` (H. Hinnant's civil_from_days; years
 * outside 0000–9999 get a sign and more digits, so the text still sorts within each sign).
 */
export function utcDate(epochMs: number): string {
  const days = Math.floor(epochMs / MS_PER_DAY);
  // Events come in runs of the same day: its text is kept, so rows share it.
  if (days === lastDays) return lastDate;
  const text = dateOfDays(days);
  lastDays = days;
  lastDate = text;
  return text;
}

let lastDays = Number.NaN;
let lastDate = '';

function dateOfDays(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${yearText}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * Capture's `EnqueuedTimeUtc` text: .NET's en-US general date format in UTC, `M/d/yyyy h:mm:ss tt`
 * (e.g. `12/7/2018 10:22:49 AM`). Month, day and hour are not zero-padded; minutes and seconds are.
 * Second precision: milliseconds are dropped when formatting.
 */

const PATTERN = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/;
const EXAMPLE = '12/7/2018 10:22:49 AM';

// Events come in runs enqueued within the same second: the last text formatted and the last text
// parsed are kept, so a run costs one format and one parse.
let formattedSecond = Number.NaN;
let formattedText = '';
let parsedText: string | undefined;
let parsedEpochMs = 0;

export function formatEnqueuedTimeUtc(epochMs: number): string {
  // Date drops a fraction of a millisecond toward zero, then the text drops the milliseconds.
  const second = Math.floor(Math.trunc(epochMs) / 1000);
  if (second === formattedSecond && typeof epochMs === 'number') return formattedText;
  const text = formatUncached(epochMs);
  formattedSecond = second;
  formattedText = text;
  return text;
}

function formatUncached(epochMs: number): string {
  const date = new Date(epochMs);
  if (!Number.isFinite(epochMs) || Number.isNaN(date.getTime())) {
    throw new RangeError(`Cannot format EnqueuedTimeUtc from ${String(epochMs)}: expected epoch milliseconds within the Date range.`);
  }
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) {
    throw new RangeError(`Cannot format EnqueuedTimeUtc from ${epochMs}: year ${year} is outside 0-9999.`);
  }
  const hour = date.getUTCHours();
  const hour12 = hour % 12 === 0 ? 12 : hour % 12;
  const pad2 = (n: number) => String(n).padStart(2, '0');
  const time = `${hour12}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} ${hour < 12 ? 'AM' : 'PM'}`;
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${String(year).padStart(4, '0')} ${time}`;
}

/** Epoch milliseconds of an `EnqueuedTimeUtc` text; throws naming the text when it is not that format. */
export function parseEnqueuedTimeUtc(text: string): number {
  if (parsedText !== undefined && text === parsedText) return parsedEpochMs;
  const epochMs = parseUncached(text);
  parsedText = text;
  parsedEpochMs = epochMs;
  return epochMs;
}

function parseUncached(text: string): number {
  const fail = (why: string): never => {
    throw new RangeError(`Invalid EnqueuedTimeUtc ${JSON.stringify(text)}: ${why}. Expected UTC "M/D/YYYY h:mm:ss AM|PM", e.g. "${EXAMPLE}".`);
  };
  const match = typeof text === 'string' ? PATTERN.exec(text) : null;
  if (!match) return fail('not in the Capture format');
  const [month, day, year, hour12, minute, second] = match.slice(1, 7).map(Number);
  const meridiem = match[7];
  if (month < 1 || month > 12) fail(`month ${month} is outside 1-12`);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) fail(`day ${day} does not exist in ${year}-${month}`);
  if (hour12 < 1 || hour12 > 12) fail(`hour ${hour12} is outside 1-12`);
  if (minute > 59) fail(`minute ${minute} is outside 0-59`);
  if (second > 59) fail(`second ${second} is outside 0-59`);
  const hour = (hour12 % 12) + (meridiem === 'PM' ? 12 : 0);
  const date = new Date(0);
  // setUTCFullYear keeps years 0-99 literal, where Date.UTC would map them to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

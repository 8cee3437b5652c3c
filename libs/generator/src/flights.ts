/**
 * Deterministic flight departures for `examples/flights/flights.spec.yaml`, as CSV: many keys
 * (origin airports, with a few busy hubs and a long tail), days of event time, and bounded disorder.
 *
 * Invariants:
 * - Same options → the same rows, byte for byte, on every platform: all randomness comes from one
 *   `SeededRandom`, every row draws the same number of values whatever the options, and numbers are
 *   formatted with `toFixed` or as integers.
 * - Constant memory: rows are produced one at a time; nothing is buffered or sorted.
 * - Event time (`dep_time`, whole minutes, UTC) of data row n (1-based) is its nominal time
 *   `start + floor((n - 1) * spanMs / rows)` moved back by a uniform lag in [0, maxDisorderMs] and
 *   floored to the minute. Since `maxDisorderMs` is a whole number of minutes, every row is at most
 *   `maxDisorderMs` behind the newest event time before it — in the whole file, and so in any
 *   subsequence of it, such as one event hub partition.
 * - `flight_id` is `f-<seed>-<n>`: unique within a run and across seeds.
 */
import { formatCsvRecord } from './csv-record';
import { SeededRandom } from './seeded-random';

/** The columns of the flights spec, in its order. */
export const FLIGHT_COLUMNS = ['flight_id', 'carrier', 'flight_number', 'origin', 'dest', 'dep_time', 'delay_minutes', 'distance_km'] as const;

/** Two-letter carrier codes, chosen per row. */
export const CARRIERS: readonly string[] = ['AA', 'AF', 'BA', 'DL', 'EK', 'IB', 'KL', 'LH', 'NH', 'QF', 'TK', 'UA'];

const MINUTE_MS = 60_000;

export interface FlightsOptions {
  /** Number of data rows. */
  rows: number;
  /** Any integer; the same seed gives the same output. */
  seed: number;
  /** Distinct `origin` codes (the grouping and partition key). Default 230. */
  origins?: number;
  /** Nominal event time of row 1, epoch ms (a whole minute). Default 2026-03-01T00:00:00Z. */
  start?: number;
  /** Event time the nominal times cover, ms. Default 4 days. */
  spanMs?: number;
  /** Largest lag behind the nominal time, ms, a whole number of minutes. Default 20 minutes. */
  maxDisorderMs?: number;
  /** Fraction of cancelled flights (an empty `delay_minutes`), in [0, 1]. Default 0.01. */
  cancelledFraction?: number;
}

export interface FlightCsvLinesOptions extends FlightsOptions {
  /** Write the header record first. Default true. */
  header?: boolean;
}

export const DEFAULT_FLIGHTS_OPTIONS = {
  origins: 230,
  start: Date.UTC(2026, 2, 1),
  spanMs: 4 * 24 * 3_600_000,
  maxDisorderMs: 20 * MINUTE_MS,
  cancelledFraction: 0.01,
} as const satisfies Omit<Required<FlightsOptions>, 'rows' | 'seed'>;

type ResolvedOptions = Required<FlightsOptions>;

function resolve(options: FlightsOptions): ResolvedOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as unknown as FlightsOptions;
  const resolved: ResolvedOptions = { ...DEFAULT_FLIGHTS_OPTIONS, ...defined };
  const problems: string[] = [];
  if (!Number.isSafeInteger(resolved.rows) || resolved.rows < 0) problems.push(`rows must be a whole number ≥ 0, got ${resolved.rows}`);
  if (!Number.isSafeInteger(resolved.seed)) problems.push(`seed must be an integer, got ${resolved.seed}`);
  if (!Number.isSafeInteger(resolved.origins) || resolved.origins < 2 || resolved.origins > 26 ** 3) {
    problems.push(`origins must be a whole number from 2 to ${26 ** 3}, got ${resolved.origins}`);
  }
  if (!Number.isSafeInteger(resolved.start) || resolved.start % MINUTE_MS !== 0) problems.push(`start must be epoch milliseconds at a whole minute, got ${resolved.start}`);
  if (!Number.isSafeInteger(resolved.spanMs) || resolved.spanMs < 0) problems.push(`spanMs must be a whole number of milliseconds ≥ 0, got ${resolved.spanMs}`);
  if (!Number.isSafeInteger(resolved.maxDisorderMs) || resolved.maxDisorderMs < 0 || resolved.maxDisorderMs % MINUTE_MS !== 0) {
    problems.push(`maxDisorderMs must be a whole number of minutes in milliseconds, got ${resolved.maxDisorderMs}`);
  }
  if (!(resolved.cancelledFraction >= 0 && resolved.cancelledFraction <= 1)) problems.push(`cancelledFraction must be a fraction in [0, 1], got ${resolved.cancelledFraction}`);
  if (problems.length > 0) throw new RangeError(`invalid flights options: ${problems.join('; ')}`);
  return resolved;
}

/** The three-letter code of origin `index`: a fixed permutation of AAA…ZZZ, so codes look scattered. */
export function originCode(index: number): string {
  // 7919 is prime and 26³ = 2³·13³, so k ↦ 7919·k + 1234 mod 26³ is a bijection.
  let n = (index * 7919 + 1234) % 26 ** 3;
  let code = '';
  for (let i = 0; i < 3; i++) {
    code = String.fromCharCode(65 + (n % 26)) + code;
    n = Math.floor(n / 26);
  }
  return code;
}

/** Cumulative Zipf weights (origin k weighs 1 / (k + 1)): a few hubs carry much of the traffic. */
function cumulativeWeights(origins: number): number[] {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 0; k < origins; k++) cumulative.push((total += 1 / (k + 1)));
  return cumulative.map((c) => c / total);
}

/** The first index whose cumulative weight exceeds `u`. */
function pick(cumulative: readonly number[], u: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] as number) > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A route's distance: fixed per unordered pair of airports, 150.0 to 12,149.9 km. */
function distanceKm(a: number, b: number): string {
  const [low, high] = a < b ? [a, b] : [b, a];
  const h = Math.imul(low + 1, 0x9e3779b1) ^ Math.imul(high + 1, 0x85ebca6b);
  return (150 + ((h >>> 0) % 120_000) / 10).toFixed(1);
}

/** `YYYY-MM-DDTHH:mm:00Z` for a whole minute. */
function isoMinute(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 16)}:00Z`;
}

/** Rows of field values in `FLIGHT_COLUMNS` order. */
export function* generateFlights(options: FlightsOptions): Generator<string[]> {
  const o = resolve(options);
  const random = new SeededRandom(o.seed);
  const cumulative = cumulativeWeights(o.origins);
  for (let n = 1; n <= o.rows; n++) {
    // Always seven draws per row, so one knob never reshuffles the others.
    const originDraw = random.next();
    const destDraw = random.next();
    const carrierDraw = random.next();
    const numberDraw = random.next();
    const disorder = random.next();
    const delayDraw = random.next();
    const cancelDraw = random.next();

    const origin = pick(cumulative, originDraw);
    // Any other airport, the busy ones more often.
    const destPick = pick(cumulative, destDraw);
    const dest = destPick === origin ? (origin + 1) % o.origins : destPick;
    const nominal = o.start + Math.floor(((n - 1) * o.spanMs) / o.rows);
    const lag = Math.floor(disorder * (o.maxDisorderMs + 1));
    const depTime = Math.floor((nominal - lag) / MINUTE_MS) * MINUTE_MS;
    // Most flights leave within a few minutes of schedule; one in five is delayed, with a long tail.
    const delay = delayDraw < 0.8 ? Math.floor(delayDraw * 25) - 8 : Math.floor(-Math.log(1 - (delayDraw - 0.8) / 0.2) * 45) + 12;
    yield [
      `f-${o.seed}-${n}`,
      CARRIERS[Math.floor(carrierDraw * CARRIERS.length)] as string,
      String(1 + Math.floor(numberDraw * 9_000)),
      originCode(origin),
      originCode(dest),
      isoMinute(depTime),
      cancelDraw < o.cancelledFraction ? '' : String(delay),
      distanceKm(origin, dest),
    ];
  }
}

/** CSV records, each ending in `\n`: the header (unless `header: false`), then the rows. */
export function* flightCsvLines(options: FlightCsvLinesOptions): Generator<string> {
  if (options.header ?? true) yield `${formatCsvRecord(FLIGHT_COLUMNS)}\n`;
  for (const row of generateFlights(options)) yield `${formatCsvRecord(row)}\n`;
}

/**
 * Deterministic sensor readings for the example spec (`examples/sensors.spec.yaml`), as CSV.
 *
 * Invariants:
 * - Same options → the same rows, byte for byte, on every platform: all randomness comes from one
 *   `SeededRandom`, every row draws the same number of values whatever the options, and numbers are
 *   formatted with `toFixed`.
 * - Constant memory: rows are produced one at a time; nothing is buffered or sorted.
 * - Event time of data row n (1-based) is its nominal time `start + floor((n - 1) * 1000 /
 *   ratePerSecond)` moved back by a lag: a uniform whole number of ms in [0, outOfOrderMs] (ordinary
 *   disorder, meant to stay within the watermark delay), or, for a `lateFraction` of rows, in
 *   (lateByMs, 2 * lateByMs] (late events, meant to fall behind the watermark).
 * - `reading_id` is `r-<seed>-<n>`: unique within a run and across seeds.
 */
import { formatCsvRecord } from './csv-record';
import { SeededRandom } from './seeded-random';

/** The columns of the example spec, in its order. */
export const SENSOR_COLUMNS = ['reading_id', 'device_id', 'site', 'ts', 'temperature', 'humidity', 'status'] as const;

/** Site names: the first ones need CSV quoting (a comma, a quote) or are non-ASCII UTF-8, on purpose. */
export const SITE_NAMES: readonly string[] = ['Oslo, Harbour', 'Lyon "Gerland"', 'São Paulo', 'Kyoto', 'Nairobi', 'Austin'];

export interface ReadingsOptions {
  /** Number of data rows. */
  rows: number;
  /** Any integer; the same seed gives the same output. */
  seed: number;
  /** Distinct `device_id` values (the grouping and partition key). Default 20. */
  devices?: number;
  /** Distinct `site` values; device k is at site k mod sites. Default 3. */
  sites?: number;
  /** Events per second of event time. Default 10. */
  ratePerSecond?: number;
  /** Event time of the first row, epoch ms. Default 2026-01-01T00:00:00Z. */
  start?: number;
  /** Largest ordinary lag behind the nominal time, ms (keep it within the watermark delay). Default 0. */
  outOfOrderMs?: number;
  /** Fraction of rows made late, in [0, 1]. Default 0. */
  lateFraction?: number;
  /** Late rows lag by more than this and at most twice this, ms; must exceed `outOfOrderMs`. Default 0. */
  lateByMs?: number;
  /** Fraction of rows with an empty `temperature` (the nullable column), in [0, 1]. Default 0. */
  nullFraction?: number;
}

export interface CsvLinesOptions extends ReadingsOptions {
  /** Write the header record first. Default true. */
  header?: boolean;
  /** Default `\n`. */
  lineEnding?: '\n' | '\r\n';
}

export const DEFAULT_READINGS_OPTIONS = {
  devices: 20,
  sites: 3,
  ratePerSecond: 10,
  start: Date.UTC(2026, 0, 1),
  outOfOrderMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  nullFraction: 0,
} as const satisfies Omit<Required<ReadingsOptions>, 'rows' | 'seed'>;

type ResolvedOptions = Required<ReadingsOptions>;

function resolve(options: ReadingsOptions): ResolvedOptions {
  const resolved: ResolvedOptions = { ...DEFAULT_READINGS_OPTIONS, ...stripUndefined(options) };
  const problems: string[] = [];
  const wholeAtLeast = (name: keyof ResolvedOptions, min: number): void => {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value < min) problems.push(`${name} must be a whole number ≥ ${min}, got ${value}`);
  };
  const fraction = (name: keyof ResolvedOptions): void => {
    const value = resolved[name];
    if (!(value >= 0 && value <= 1)) problems.push(`${name} must be a fraction in [0, 1], got ${value}`);
  };
  wholeAtLeast('rows', 0);
  if (!Number.isSafeInteger(resolved.seed)) problems.push(`seed must be an integer, got ${resolved.seed}`);
  wholeAtLeast('devices', 1);
  wholeAtLeast('sites', 1);
  if (!(resolved.ratePerSecond > 0 && Number.isFinite(resolved.ratePerSecond))) problems.push(`ratePerSecond must be a positive number, got ${resolved.ratePerSecond}`);
  if (!Number.isSafeInteger(resolved.start)) problems.push(`start must be epoch milliseconds, got ${resolved.start}`);
  wholeAtLeast('outOfOrderMs', 0);
  wholeAtLeast('lateByMs', 0);
  fraction('lateFraction');
  fraction('nullFraction');
  if (resolved.lateFraction > 0 && !(resolved.lateByMs > resolved.outOfOrderMs)) {
    problems.push(`lateByMs (${resolved.lateByMs}) must be greater than outOfOrderMs (${resolved.outOfOrderMs}) when lateFraction > 0, so late rows lag more than ordinary ones`);
  }
  if (problems.length > 0) throw new RangeError(`invalid readings options: ${problems.join('; ')}`);
  return resolved;
}

function stripUndefined(options: ReadingsOptions): ReadingsOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as unknown as ReadingsOptions;
}

function siteName(index: number): string {
  return index < SITE_NAMES.length ? SITE_NAMES[index] : `site-${index + 1}`;
}

/** Rows of field values in `SENSOR_COLUMNS` order. */
export function* generateReadings(options: ReadingsOptions): Generator<string[]> {
  const o = resolve(options);
  const random = new SeededRandom(o.seed);
  const idWidth = Math.max(3, String(o.devices).length);
  for (let n = 1; n <= o.rows; n++) {
    // Always eight draws per row, so one knob never reshuffles the others.
    const device = random.below(o.devices);
    const disorder = random.next();
    const lateDraw = random.next();
    const lateness = random.next();
    const nullDraw = random.next();
    const noise = random.next();
    const humidity = random.next();
    const statusDraw = random.next();

    const nominal = o.start + Math.floor(((n - 1) * 1000) / o.ratePerSecond);
    const lag = lateDraw < o.lateFraction ? o.lateByMs + 1 + Math.floor(lateness * o.lateByMs) : Math.floor(disorder * (o.outOfOrderMs + 1));
    const baseline = 18 + ((device * 37) % 80) / 10;
    yield [
      `r-${o.seed}-${n}`,
      `dev-${String(device + 1).padStart(idWidth, '0')}`,
      siteName(device % o.sites),
      new Date(nominal - lag).toISOString(),
      nullDraw < o.nullFraction ? '' : (baseline + (noise - 0.5) * 4).toFixed(2),
      (35 + humidity * 30).toFixed(1),
      statusDraw < 0.9 ? 'ok' : statusDraw < 0.98 ? 'warn' : 'fault',
    ];
  }
}

/** CSV records, each with its line ending: the header (unless `header: false`), then the rows. */
export function* csvLines(options: CsvLinesOptions): Generator<string> {
  const lineEnding = options.lineEnding ?? '\n';
  if (options.header ?? true) yield formatCsvRecord(SENSOR_COLUMNS) + lineEnding;
  for (const row of generateReadings(options)) yield formatCsvRecord(row) + lineEnding;
}

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileEventTimeParser, parseSpec } from '@pipeline/contracts';
import { CARRIERS, DEFAULT_FLIGHTS_OPTIONS, FLIGHT_COLUMNS, flightCsvLines, generateFlights, originCode, type FlightsOptions } from './flights';

const COLUMN = Object.fromEntries(FLIGHT_COLUMNS.map((name, index) => [name, index])) as Record<(typeof FLIGHT_COLUMNS)[number], number>;
const MINUTE = 60_000;
const examples = path.resolve(__dirname, '../../../examples/flights');

/** The options documented in examples/flights/README.md for flights.sample.csv. */
const SAMPLE_OPTIONS: FlightsOptions = { rows: 500, seed: 1, origins: 20, spanMs: 12 * 3_600_000 };

function sha256(options: FlightsOptions): string {
  const hash = createHash('sha256');
  for (const line of flightCsvLines(options)) hash.update(line, 'utf8');
  return hash.digest('hex');
}

describe('generateFlights', () => {
  const base: FlightsOptions = { rows: 5_000, seed: 42 };

  it('gives byte-identical output for the same options, and other data for another seed', () => {
    expect(sha256(base)).toBe(sha256({ ...base }));
    const a = [...generateFlights(base)];
    const b = [...generateFlights({ ...base, seed: 43 })];
    expect(a.filter((row, i) => row[COLUMN.origin] === b[i]?.[COLUMN.origin]).length).toBeLessThan(a.length / 4);
  });

  it('yields fields in the spec column order with unique flight ids', () => {
    const rows = [...generateFlights(base)];
    expect(rows).toHaveLength(5_000);
    for (const row of rows) expect(row).toHaveLength(FLIGHT_COLUMNS.length);
    expect(rows[0]?.[COLUMN.flight_id]).toBe('f-42-1');
    expect(new Set(rows.map((row) => row[COLUMN.flight_id])).size).toBe(5_000);
  });

  it('spreads departures over the requested origins, a few busy ones carrying much of the traffic', () => {
    const perOrigin = new Map<string, number>();
    const odd: string[][] = [];
    for (const row of generateFlights({ rows: 50_000, seed: 3 })) {
      const origin = row[COLUMN.origin] as string;
      if (!/^[A-Z]{3}$/.test(origin) || row[COLUMN.dest] === origin) odd.push(row);
      perOrigin.set(origin, (perOrigin.get(origin) ?? 0) + 1);
    }
    expect(odd).toEqual([]);
    expect(perOrigin.size).toBe(DEFAULT_FLIGHTS_OPTIONS.origins);
    const counts = [...perOrigin.values()].sort((x, y) => y - x);
    // Zipf weights 1/(k+1): the busiest origin has about 1/H(230) ≈ 17% of the rows, the quietest a few dozen.
    expect(counts[0]).toBeGreaterThan(7_000);
    expect(perOrigin.get(originCode(0))).toBe(counts[0]);
    expect(counts[counts.length - 1]).toBeLessThan(100);
    expect(new Set(Array.from({ length: 26 ** 3 }, (_, k) => originCode(k))).size).toBe(26 ** 3);
  });

  it('keeps every departure within maxDisorderMs of the newest one before it, at whole minutes over the span', () => {
    const options = { rows: 20_000, seed: 5, spanMs: 2 * 24 * 3_600_000, maxDisorderMs: 20 * MINUTE };
    const start = DEFAULT_FLIGHTS_OPTIONS.start;
    let newest = Number.NEGATIVE_INFINITY;
    let furthestBehind = 0;
    let behind = 0;
    const odd: string[] = [];
    for (const row of generateFlights(options)) {
      const text = row[COLUMN.dep_time] as string;
      const time = Date.parse(text);
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00Z$/.test(text) || time < start - options.maxDisorderMs - MINUTE || time >= start + options.spanMs) odd.push(text);
      if (time < newest) behind++;
      furthestBehind = Math.max(furthestBehind, newest - time);
      newest = Math.max(newest, time);
    }
    expect(odd).toEqual([]);
    expect(furthestBehind).toBeLessThanOrEqual(options.maxDisorderMs);
    expect(furthestBehind).toBeGreaterThan(options.maxDisorderMs - 2 * MINUTE);
    expect(behind).toBeGreaterThan(1_000); // rows really arrive out of order
  });

  it('writes valid values: carriers, flight numbers, delays (empty when cancelled) and distances fixed per route', () => {
    const distance = new Map<string, string>();
    let cancelled = 0;
    const odd: string[][] = [];
    for (const row of generateFlights({ rows: 20_000, seed: 9, cancelledFraction: 0.05 })) {
      const delay = row[COLUMN.delay_minutes] as string;
      if (delay === '') cancelled++;
      const route = [row[COLUMN.origin], row[COLUMN.dest]].sort().join('-');
      const valid =
        CARRIERS.includes(row[COLUMN.carrier] as string) &&
        /^[1-9]\d*$/.test(row[COLUMN.flight_number] as string) &&
        /^(-?\d+)?$/.test(delay) &&
        /^\d+\.\d$/.test(row[COLUMN.distance_km] as string) &&
        (distance.get(route) ?? row[COLUMN.distance_km]) === row[COLUMN.distance_km];
      if (!valid) odd.push(row);
      distance.set(route, row[COLUMN.distance_km] as string);
    }
    expect(odd).toEqual([]);
    expect(cancelled).toBeGreaterThan(800);
    expect(cancelled).toBeLessThan(1_200);
  });

  it('rejects impossible options with every problem named', () => {
    expect(() => generateFlights({ rows: -1, seed: 0.5, origins: 1, maxDisorderMs: 90_000, cancelledFraction: 2 }).next()).toThrow(
      /rows must be a whole number ≥ 0, got -1; seed must be an integer, got 0\.5; origins must be a whole number from 2 to 17576, got 1; maxDisorderMs must be a whole number of minutes in milliseconds, got 90000; cancelledFraction must be a fraction in \[0, 1\], got 2/,
    );
  });
});

describe('flightCsvLines', () => {
  it('writes the header then one record per row, each ending in a line feed', () => {
    const lines = [...flightCsvLines({ rows: 100, seed: 2 })];
    expect(lines[0]).toBe(`${FLIGHT_COLUMNS.join(',')}\n`);
    expect(lines.slice(1).map((line) => line.slice(0, -1).split(','))).toEqual([...generateFlights({ rows: 100, seed: 2 })]);
    expect([...flightCsvLines({ rows: 3, seed: 2, header: false })]).toHaveLength(3);
  });
});

describe('examples/flights', () => {
  const spec = parseSpec(fs.readFileSync(path.join(examples, 'flights.spec.yaml'), 'utf8'), 'flights.spec.yaml');

  it('has a spec for the generator columns: hourly windows per origin, a 30-minute delay, 4 gold shards', () => {
    expect(spec.source.columns.map((c) => c.name)).toEqual([...FLIGHT_COLUMNS]);
    expect(spec.partitionKey).toBe('origin');
    expect(spec.groupBy).toEqual(['origin']);
    expect(spec.windows).toEqual([{ name: 'hourly', kind: 'tumbling', sizeMs: 3_600_000 }]);
    expect(spec.aggregates.map((a) => a.fn)).toEqual(['count', 'avg', 'max', 'sum']);
    expect(spec.watermark).toEqual({ delayMs: 30 * MINUTE, idleTimeoutMs: 5 * MINUTE });
    expect(spec.gold).toEqual({ shards: 4, outputModes: ['append'] });
    const readTime = compileEventTimeParser(spec.eventTime);
    expect([...generateFlights({ rows: 200, seed: 1 })].filter((row) => typeof readTime(row[COLUMN.dep_time] as string) !== 'number')).toEqual([]);
  });

  it('has a sample that is the generator output for the documented options', () => {
    const sample = fs.readFileSync(path.join(examples, 'flights.sample.csv'), 'utf8');
    expect(sample).toBe([...flightCsvLines(SAMPLE_OPTIONS)].join(''));
  });
});

import { createHash } from 'node:crypto';
import { csvLines, DEFAULT_READINGS_OPTIONS, generateReadings, SENSOR_COLUMNS, SITE_NAMES, type ReadingsOptions } from './readings';

const COLUMN = Object.fromEntries(SENSOR_COLUMNS.map((name, index) => [name, index])) as Record<(typeof SENSOR_COLUMNS)[number], number>;

function sha256(options: ReadingsOptions): string {
  const hash = createHash('sha256');
  for (const line of csvLines(options)) hash.update(line, 'utf8');
  return hash.digest('hex');
}

/** A minimal RFC 4180 reader, independent of the writer, for checking its output. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at offset ${i}`);
      quoted = true;
    } else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += char;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || record.length > 0) throw new Error('last record has no line ending');
  return records;
}

const nominal = (options: Required<Pick<ReadingsOptions, 'ratePerSecond' | 'start'>>, row: number): number =>
  options.start + Math.floor(((row - 1) * 1000) / options.ratePerSecond);

describe('generateReadings', () => {
  const base: ReadingsOptions = { rows: 2_000, seed: 42, devices: 20, sites: 3, ratePerSecond: 2, outOfOrderMs: 20_000, lateFraction: 0.01, lateByMs: 360_000, nullFraction: 0.02 };

  it('gives byte-identical output for the same options', () => {
    expect(sha256(base)).toBe(sha256({ ...base }));
  });

  it('gives different data for a different seed, not just different ids', () => {
    const a = [...generateReadings(base)];
    const b = [...generateReadings({ ...base, seed: 43 })];
    const sameDevice = a.filter((row, i) => row[COLUMN.device_id] === b[i][COLUMN.device_id]).length;
    expect(sameDevice).toBeLessThan(a.length / 5);
    expect(a.map((row) => row[COLUMN.temperature])).not.toEqual(b.map((row) => row[COLUMN.temperature]));
  });

  it('yields fields in the spec column order with unique reading ids', () => {
    const rows = [...generateReadings(base)];
    expect(rows).toHaveLength(2_000);
    for (const row of rows) expect(row).toHaveLength(SENSOR_COLUMNS.length);
    expect(rows[0][COLUMN.reading_id]).toBe('r-42-1');
    expect(rows[1999][COLUMN.reading_id]).toBe('r-42-2000');
    expect(new Set(rows.map((row) => row[COLUMN.reading_id])).size).toBe(2_000);
  });

  it('uses the requested number of devices, each always at the same site', () => {
    const rows = [...generateReadings({ ...base, devices: 7, sites: 2 })];
    const siteOf = new Map<string, string>();
    for (const row of rows) {
      const device = row[COLUMN.device_id];
      expect(siteOf.get(device) ?? row[COLUMN.site]).toBe(row[COLUMN.site]);
      siteOf.set(device, row[COLUMN.site]);
    }
    expect([...siteOf.keys()].sort()).toEqual(['dev-001', 'dev-002', 'dev-003', 'dev-004', 'dev-005', 'dev-006', 'dev-007']);
    expect(new Set(siteOf.values())).toEqual(new Set(SITE_NAMES.slice(0, 2)));
  });

  it('names sites beyond the built-in list site-<n>', () => {
    const sites = new Set([...generateReadings({ rows: 500, seed: 1, devices: 10, sites: 8 })].map((row) => row[COLUMN.site]));
    expect(sites).toEqual(new Set([...SITE_NAMES, 'site-7', 'site-8']));
  });

  it('writes valid numbers and statuses', () => {
    for (const row of generateReadings({ ...base, nullFraction: 0 })) {
      expect(row[COLUMN.temperature]).toMatch(/^-?\d+\.\d{2}$/);
      const humidity = Number(row[COLUMN.humidity]);
      expect(humidity >= 35 && humidity <= 65).toBe(true);
      expect(['ok', 'warn', 'fault']).toContain(row[COLUMN.status]);
      expect(new Date(row[COLUMN.ts]).toISOString()).toBe(row[COLUMN.ts]);
    }
  });

  it('keeps ordinary disorder within outOfOrderMs and makes roughly lateFraction of rows late by (lateByMs, 2 * lateByMs]', () => {
    const options = { rows: 20_000, seed: 7, ratePerSecond: 50, outOfOrderMs: 5_000, lateFraction: 0.05, lateByMs: 60_000, start: Date.UTC(2026, 5, 1) };
    let late = 0;
    let behindMax = 0;
    let maxSeen = -Infinity;
    let row = 0;
    for (const fields of generateReadings(options)) {
      row++;
      const eventTime = Date.parse(fields[COLUMN.ts]);
      const lag = nominal(options, row) - eventTime;
      const ordinary = lag >= 0 && lag <= options.outOfOrderMs;
      const isLate = lag > options.lateByMs && lag <= 2 * options.lateByMs;
      expect([row, ordinary || isLate]).toEqual([row, true]);
      if (isLate) late++;
      else if (eventTime < maxSeen) behindMax++;
      maxSeen = Math.max(maxSeen, eventTime);
    }
    // Binomial(20000, 0.05): mean 1000, sd ≈ 31; ±10% is over 3 sd.
    expect(late).toBeGreaterThan(900);
    expect(late).toBeLessThan(1100);
    expect(behindMax).toBeGreaterThan(1_000); // rows really arrive out of order
  });

  it('produces strictly ordered event times when there is no disorder', () => {
    let previous = -Infinity;
    for (const fields of generateReadings({ rows: 1_000, seed: 3, ratePerSecond: 1 })) {
      const eventTime = Date.parse(fields[COLUMN.ts]);
      expect(eventTime).toBeGreaterThan(previous);
      previous = eventTime;
    }
    expect(previous).toBe(DEFAULT_READINGS_OPTIONS.start + 999_000);
  });

  it('leaves roughly nullFraction of temperatures empty', () => {
    const empty = [...generateReadings({ rows: 10_000, seed: 5, nullFraction: 0.1 })].filter((row) => row[COLUMN.temperature] === '').length;
    expect(empty).toBeGreaterThan(900);
    expect(empty).toBeLessThan(1_100);
  });

  it('changes only the event times when only the lateness knobs change', () => {
    const plain = [...generateReadings({ rows: 500, seed: 9, outOfOrderMs: 1_000 })];
    const withLate = [...generateReadings({ rows: 500, seed: 9, outOfOrderMs: 1_000, lateFraction: 0.2, lateByMs: 10_000 })];
    const withoutTs = (rows: string[][]): string[][] => rows.map((row) => row.filter((_, i) => i !== COLUMN.ts));
    expect(withoutTs(withLate)).toEqual(withoutTs(plain));
    expect(withLate.map((row) => row[COLUMN.ts])).not.toEqual(plain.map((row) => row[COLUMN.ts]));
  });

  it('produces rows lazily, so memory does not grow with the row count', () => {
    const rows = generateReadings({ rows: Number.MAX_SAFE_INTEGER, seed: 1 });
    const first = rows.next();
    expect(first.done).toBe(false);
    expect((first.value as string[])[COLUMN.reading_id]).toBe('r-1-1');
    rows.return(undefined);
  });

  it('rejects impossible options with every problem named', () => {
    expect(() => generateReadings({ rows: -1, seed: 1.5, devices: 0, ratePerSecond: 0, lateFraction: 2 }).next()).toThrow(
      /rows must be a whole number ≥ 0, got -1; seed must be an integer, got 1\.5; devices must be a whole number ≥ 1, got 0; ratePerSecond must be a positive number, got 0; lateFraction must be a fraction in \[0, 1\], got 2/,
    );
    expect(() => generateReadings({ rows: 1, seed: 1, outOfOrderMs: 5_000, lateFraction: 0.1, lateByMs: 5_000 }).next()).toThrow(
      /lateByMs \(5000\) must be greater than outOfOrderMs \(5000\)/,
    );
  });
});

describe('csvLines', () => {
  const options: ReadingsOptions = { rows: 3_000, seed: 11, devices: 30, sites: 6, nullFraction: 0.05, outOfOrderMs: 2_000 };

  it('writes the header then one RFC 4180 record per row that reads back to the same fields', () => {
    const text = [...csvLines(options)].join('');
    const records = parseCsv(text);
    expect(records[0]).toEqual([...SENSOR_COLUMNS]);
    expect(records.slice(1)).toEqual([...generateReadings(options)]);
  });

  it('quotes the sites that need it and only those', () => {
    const lines = [...csvLines(options)];
    expect(lines.some((line) => line.includes(',"Oslo, Harbour",'))).toBe(true);
    expect(lines.some((line) => line.includes(',"Lyon ""Gerland""",'))).toBe(true);
    expect(lines.some((line) => line.includes(',São Paulo,'))).toBe(true);
    expect(lines.some((line) => line.includes('"Kyoto"'))).toBe(false);
  });

  it('ends every record with the chosen line ending and can leave out the header', () => {
    const crlf = [...csvLines({ ...options, rows: 5, header: false, lineEnding: '\r\n' })];
    expect(crlf).toHaveLength(5);
    for (const line of crlf) expect(line).toMatch(/^r-11-\d+,[^\r\n]*\r\n$/);
  });
});

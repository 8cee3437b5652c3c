import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileEventTimeParser, isEventTimeError, parseSpec } from '@pipeline/contracts';
import { csvLines, generateReadings, SENSOR_COLUMNS } from './readings';

const examples = path.resolve(__dirname, '../../../examples');

/** The options documented in examples/README.md for sensors.sample.csv. */
const SAMPLE_OPTIONS = { rows: 2000, seed: 42, devices: 20, sites: 3, ratePerSecond: 2, outOfOrderMs: 20_000, lateFraction: 0.01, lateByMs: 360_000, nullFraction: 0.02 };
/** 1-based file lines of the deliberately bad records. */
const BAD_LINES = [1997, 1998, 1999, 2000];

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, i + 1));
    start = i + 1;
  }
  expect(start).toBe(bytes.length); // the file ends with a line ending
  return lines;
}

describe('examples/sensors.spec.yaml', () => {
  const spec = parseSpec(fs.readFileSync(path.join(examples, 'sensors.spec.yaml'), 'utf8'), 'sensors.spec.yaml');

  it('parses into the documented pipeline', () => {
    expect(spec.name).toBe('sensor-readings');
    expect(spec.eventTime).toEqual({ column: 'ts', format: 'iso8601', timeZone: 'UTC' });
    expect(spec.windows).toEqual([
      { name: 'per_minute', kind: 'tumbling', sizeMs: 60_000 },
      { name: 'last_5m', kind: 'hopping', sizeMs: 300_000, slideMs: 60_000 },
    ]);
    expect(spec.watermark.delayMs).toBe(30_000);
    expect(spec.gold).toEqual({ shards: 4, outputModes: ['append', 'update'] });
  });

  it('declares exactly the columns the generator writes, in the same order', () => {
    expect(spec.source.columns.map((c) => c.name)).toEqual([...SENSOR_COLUMNS]);
  });
});

describe('examples/sensors.sample.csv', () => {
  const bytes = fs.readFileSync(path.join(examples, 'sensors.sample.csv'));
  const lines = splitLines(bytes);

  it('holds the generator output for the documented options, with the bad lines inserted after data row 1995', () => {
    const good = lines.filter((_, index) => !BAD_LINES.includes(index + 1));
    expect(Buffer.concat(good).equals(Buffer.from([...csvLines(SAMPLE_OPTIONS)].join(''), 'utf8'))).toBe(true);
    expect(lines).toHaveLength(1 + 2000 + BAD_LINES.length);
  });

  it('has one wrong column count, one broken quote, one invalid UTF-8 sequence and one unparseable timestamp, as documented', () => {
    const [columnCount, brokenQuote, badUtf8, badTime] = BAD_LINES.map((line) => lines[line - 1]);
    const decoder = new TextDecoder('utf-8', { fatal: true });

    expect(decoder.decode(columnCount).trimEnd().split(',')).toHaveLength(6);
    expect(decoder.decode(brokenQuote)).toContain(',"Lyon "Gerland"",');
    expect(() => decoder.decode(badUtf8)).toThrow(); // TypeError from Node's realm
    expect(lines.filter((line) => line !== badUtf8).every((line) => decoder.decode(line).length > 0)).toBe(true);

    const fields = decoder.decode(badTime).trimEnd().replace('"Oslo, Harbour"', 'Oslo Harbour').split(',');
    expect(fields).toHaveLength(SENSOR_COLUMNS.length);
    const readTime = compileEventTimeParser({ format: 'iso8601', timeZone: 'UTC' });
    const result = readTime(fields[SENSOR_COLUMNS.indexOf('ts')]);
    expect(isEventTimeError(result) && result.reason).toBe('unparseable');
  });

  it('has event times every good row can read (the good rows are the generator rows, as checked above)', () => {
    const readTime = compileEventTimeParser({ format: 'iso8601', timeZone: 'UTC' });
    let rows = 0;
    for (const fields of generateReadings(SAMPLE_OPTIONS)) {
      expect(isEventTimeError(readTime(fields[SENSOR_COLUMNS.indexOf('ts')]))).toBe(false);
      rows++;
    }
    expect(rows).toBe(2000);
  });
});

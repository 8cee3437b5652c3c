import * as fc from 'fast-check';
import { parseSpec } from '@pipeline/contracts';
import { eventSizeInBytes } from '@pipeline/ports';
import type { CsvRecord, RowBytes } from '@pipeline/csv';
import { EventMapper } from './event-mapper';

const spec = parseSpec(
  `
version: 1
name: sensor-readings
source:
  name: sensors
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
eventTime: { column: ts, format: iso8601, timeZone: UTC }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
aggregates:
  - { name: readings, fn: count }
watermark: { delay: 30s }
gold: { shards: 2, outputModes: [append] }
`,
  'spec.yaml',
);

/** The body as the row object serialized by JSON.stringify: what earlier producers sent. */
function objectBody(names: readonly string[], fields: readonly string[]): string {
  const body: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) body[names[i] as string] = fields[i] ?? '';
  return JSON.stringify(body);
}

const row = (fields: string[]): CsvRecord => ({ kind: 'row', row: 1, line: 2, fields });

/**
 * The record of `fields` as the CSV reader yields it with `rowsAsBytes`: each field quoted (its
 * quotes doubled) when `quoted` says so or it holds a quote, the delimiter or a line break.
 */
function rowBytes(fields: readonly string[], quoted: readonly boolean[] = [], delimiter = ','): RowBytes {
  const parts: Buffer[] = [];
  const separators: number[] = [];
  let at = 0;
  fields.forEach((field, i) => {
    if (i > 0) {
      separators.push(at);
      parts.push(Buffer.from(delimiter));
      at += 1;
    }
    const text = quoted[i] || /["\r\n]/.test(field) || field.includes(delimiter) ? `"${field.replaceAll('"', '""')}"` : field;
    const bytes = Buffer.from(text, 'utf8');
    parts.push(bytes);
    at += bytes.length;
  });
  return { kind: 'rowBytes', row: 7, line: 8, bytes: Buffer.concat(parts), separators };
}

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
/** Units JSON escapes or writes as several bytes: controls, quote, backslash, DEL, non-ASCII, surrogates paired and alone. */
const awkwardUnit = fc.constantFrom(
  '\u0000',
  '\b',
  '\t',
  '\n',
  '\f',
  '\r',
  '\u001f',
  '"',
  '\\',
  '\u007f',
  'é',
  'ß',
  '€',
  '\u2028',
  '\uffff',
  '\ud83d',
  '\ude00',
  '\ud83d\ude00',
  'a',
);
const field = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.string({ unit: codeUnit, maxLength: 10 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.array(awkwardUnit, { maxLength: 12 }).map((units) => units.join('')),
  fc.constantFrom('São Paulo', 'Lyon "Gerland"', 'a\\b', 'tab\there', '😀', 'Oslo\nFjord'),
);

describe('EventMapper', () => {
  it.each([
    ['plain names', ['reading_id', 'device_id', 'ts', 'note']],
    ['an integer-like name, which objects list first', ['reading_id', 'device_id', 'ts', '7']],
    ['a repeated name', ['reading_id', 'device_id', 'ts', 'device_id']],
    ['a name __proto__', ['reading_id', '__proto__', 'device_id', 'ts']],
    ['names that are not ASCII', ['reading_id', 'device_id', 'ts', 'température', '😀']],
  ])('sends the body JSON.stringify gave for the row object, with %s', (_name, names) => {
    const mapper = new EventMapper(spec, names);
    fc.assert(
      fc.property(fc.array(field, { minLength: 0, maxLength: names.length + 1 }), (fields) => {
        const { event } = mapper.map(row(fields));
        expect(Buffer.from(event.body)).toEqual(Buffer.from(objectBody(names, fields)));
      }),
      { numRuns: 600 },
    );
  });

  it('maps a row from its bytes to the event its decoded fields give, quoted fields, escapes, non-ASCII and empty fields included', () => {
    const names = ['reading_id', 'device_id', 'ts', 'note'];
    // A field of a record the reader accepted: valid UTF-8, so no lone surrogate.
    const wellFormed = field.map((text) => text.replace(/[\ud800-\udfff]/g, '_'));
    for (const options of [{}, { eventTimeText: false }]) {
      const mapper = new EventMapper(spec, names, options);
      fc.assert(
        fc.property(
          fc.array(wellFormed, { minLength: names.length, maxLength: names.length }),
          fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
          (fields, quoted) => {
            const fromBytes = mapper.map(rowBytes(fields, quoted));
            const fromFields = mapper.map({ kind: 'row', row: 7, line: 8, fields });
            expect({ ...fromBytes, event: { ...fromBytes.event, body: Buffer.from(fromBytes.event.body) } }).toEqual({
              ...fromFields,
              event: { ...fromFields.event, body: Buffer.from(fromFields.event.body) },
            });
            expect(Buffer.from(fromBytes.event.body).toString()).toBe(objectBody(names, fields));
            expect(fromBytes.size).toBe(eventSizeInBytes(fromBytes.event));
            expect(fromBytes.eventTimeText).toBe(options.eventTimeText === false ? undefined : fields[2]);
          },
        ),
        { numRuns: 600 },
      );
    }
  });

  it('maps a row as bytes whose width differs from the header as its fields, and one under names JSON lists otherwise as the row object', () => {
    const fields = ['r-1', 'dev-1', '2026-01-01T00:00:00Z', 'a\\b "q", x', 'extra'];
    for (const names of [
      ['reading_id', 'device_id', 'ts', 'note'],
      ['reading_id', 'device_id', 'ts', '7'],
    ]) {
      const mapper = new EventMapper(spec, names);
      const mapped = mapper.map(rowBytes(fields, [true]));
      expect(Buffer.from(mapped.event.body).toString()).toBe(objectBody(names, fields));
      expect(mapped.partitionKey).toBe('dev-1');
      expect(mapped.event.properties).toEqual(mapper.map({ kind: 'row', row: 7, line: 8, fields }).event.properties);
    }
  });

  it('keeps every body it gave intact while it maps more rows (bodies share memory)', () => {
    const names = ['reading_id', 'device_id', 'ts', 'note'];
    const mapper = new EventMapper(spec, names);
    const rows: string[][] = [];
    const bodies: Uint8Array[] = [];
    // Enough rows to fill several shared blocks, with long, escaped and non-ASCII fields among them.
    for (let i = 0; i < 20_000; i++) {
      const fields = [`r-${i}`, `d-${i % 7}`, '2026-01-01T00:00:00Z', i % 97 === 0 ? 'x'.repeat(70_000) : i % 5 === 0 ? `Lyon "${i}" é` : `n${i}`];
      rows.push(fields);
      bodies.push(mapper.map(row(fields)).event.body);
    }
    rows.forEach((fields, i) => expect(Buffer.from(bodies[i] as Uint8Array).toString()).toBe(objectBody(names, fields)));
  });

  it('counts each event at the size eventSizeInBytes gives it, ids empty, long or not ASCII, and malformed rows', () => {
    const names = ['reading_id', 'device_id', 'ts', 'note'];
    const id = fc.oneof(field, fc.constant(''), fc.string({ minLength: 60, maxLength: 80 }), fc.string({ unit: codeUnit, minLength: 60, maxLength: 80 }));
    const record: fc.Arbitrary<CsvRecord> = fc.oneof(
      fc
        .tuple(id, fc.array(field, { maxLength: 4 }), fc.integer({ min: 1, max: 2 ** 40 }))
        .map(([readingId, rest, rowNumber]) => ({ kind: 'row' as const, row: rowNumber, line: 2, fields: [readingId, ...rest] })),
      fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 1e6 })).map(([raw, rowNumber]) => ({
        kind: 'malformed' as const,
        row: rowNumber,
        line: 2,
        raw: Buffer.from(raw),
        reason: 'csv_quote' as const,
        message: 'x',
      })),
    );
    for (const mapper of [new EventMapper(spec, names), new EventMapper(spec, ['reading_id', 'device_id', 'ts', '7'])]) {
      fc.assert(
        fc.property(record, (input) => {
          const mapped = mapper.map(input);
          expect(mapped.size).toBe(eventSizeInBytes(mapped.event));
        }),
        { numRuns: 500 },
      );
    }
  });
});

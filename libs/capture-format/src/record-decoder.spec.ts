import * as fc from 'fast-check';
import { Type } from 'avsc';
import { CAPTURE_RECORD_SCHEMA_2016, type CaptureRecord, type CaptureValue } from './capture-record';
import { formatEnqueuedTimeUtc } from './enqueued-time';
import { captureRecordType, fromAvroValue, toAvroValue } from './record-codec';
import { CaptureRecordDecoder } from './record-decoder';

/** What avsc reads from the bytes: the reference the decoder must match. */
function avscRecord(type: Type, bytes: Buffer, position = 0): { record: CaptureRecord; offset: number } | undefined {
  const decoded = type.decode(bytes, position);
  return decoded.offset < 0 ? undefined : { record: fromAvroValue(decoded.value as Record<string, unknown>), offset: decoded.offset };
}

const current = () => new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null']);
const archiveType = Type.forSchema(structuredClone(CAPTURE_RECORD_SCHEMA_2016) as never, { wrapUnions: true });

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(fc.string({ unit: codeUnit, maxLength: 40 }), fc.string({ maxLength: 120 }), fc.string({ unit: 'binary', maxLength: 40 }));
const value = (nullable: boolean): fc.Arbitrary<CaptureValue> =>
  fc.oneof(
    text,
    fc.integer(),
    fc.integer({ min: -(2 ** 53 - 2), max: 2 ** 53 - 2 }),
    fc.double({ noNaN: true }),
    fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 268435455, 268435456, -268435457, 1.5),
    fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes)),
    ...(nullable ? [fc.constant(null)] : []),
  );
const record = (nullable: boolean): fc.Arbitrary<CaptureRecord> =>
  fc.record({
    sequenceNumber: fc.integer({ min: 0, max: 2 ** 53 - 2 }),
    offset: text,
    enqueuedTimeUtc: fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }).map((ms) => formatEnqueuedTimeUtc(ms)),
    systemProperties: fc.dictionary(text, value(false), { maxKeys: 3 }),
    properties: fc.dictionary(text, value(nullable), { maxKeys: 6 }),
    body: fc.option(fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes))),
  });

describe('CaptureRecordDecoder', () => {
  it('reads every record of the current schema exactly as avsc does, at any position in a block', () => {
    fc.assert(
      fc.property(fc.array(record(true), { minLength: 1, maxLength: 4 }), (records) => {
        const block = Buffer.concat(records.map((r) => captureRecordType().toBuffer(toAvroValue(r))));
        const decoder = current();
        let position = 0;
        for (let i = 0; i < records.length; i++) {
          const mine = decoder.decode(block, position);
          expect(mine).toEqual(avscRecord(captureRecordType(), block, position));
          position = (mine as { offset: number }).offset;
        }
        expect(position).toBe(block.length);
      }),
      { numRuns: 300 },
    );
  });

  it('reads records of the 2016 Archive schema (no null properties) as avsc does', () => {
    fc.assert(
      fc.property(record(false), (r) => {
        const bytes = archiveType.toBuffer(toAvroValue(r));
        expect(new CaptureRecordDecoder(['long', 'double', 'string', 'bytes']).decode(bytes, 0)).toEqual(avscRecord(archiveType, bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('answers undefined, as avsc does, for a record cut anywhere', () => {
    const r: CaptureRecord = {
      sequenceNumber: 2 ** 40,
      offset: '12345',
      enqueuedTimeUtc: '1/1/2026 12:00:00 AM',
      systemProperties: { 'x-opt-partition-key': 'dev-1' },
      properties: { eventId: 'a', size: 3, ratio: 0.5, raw: Buffer.from([1, 2]), none: null },
      body: Buffer.from('{"a":1}'),
    };
    const bytes = captureRecordType().toBuffer(toAvroValue(r));
    expect(current().decode(bytes, 0)).toEqual({ record: r, offset: bytes.length });
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(current().decode(bytes.subarray(0, cut), 0)).toBeUndefined();
      expect(avscRecord(captureRecordType(), bytes.subarray(0, cut))).toBeUndefined();
    }
  });

  it('reads map blocks written with a negative count and a byte size', () => {
    // SequenceNumber 1, Offset "o", EnqueuedTimeUtc "t", SystemProperties {} , Properties as one
    // block of -1 entries (size 4): {"k": string "v"}, Body null.
    const bytes = Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x01, 0x08, 0x02, 0x6b, 0x04, 0x02, 0x76, 0x00, 0x00]);
    expect(current().decode(bytes, 0)).toEqual({
      record: { sequenceNumber: 1, offset: 'o', enqueuedTimeUtc: 't', systemProperties: {}, properties: { k: 'v' }, body: null },
      offset: bytes.length,
    });
    expect(avscRecord(captureRecordType(), bytes)?.record.properties).toEqual({ k: 'v' });
  });

  it('refuses a union index outside the schema, naming it', () => {
    // Properties {"k": branch 7}.
    const bytes = Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x02, 0x02, 0x6b, 0x0e, 0x00, 0x00]);
    expect(() => current().decode(bytes, 0)).toThrow('invalid union index 7 (the schema has 5 branches: long, double, string, bytes, null)');
    // Body branch 2.
    const body = Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x00, 0x04]);
    expect(() => current().decode(body, 0)).toThrow('invalid union index 2 for Body (null or bytes)');
  });

  it('leaves out a map key named __proto__, as the plain record built by assignment does', () => {
    // Properties {"__proto__": string "x", "k": long 1}.
    const key = Buffer.from('__proto__');
    const bytes = Buffer.concat([
      Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x04, key.length * 2]),
      key,
      Buffer.from([0x04, 0x02, 0x78, 0x02, 0x6b, 0x00, 0x02, 0x00, 0x00]),
    ]);
    const decoded = current().decode(bytes, 0);
    expect(decoded?.record.properties).toEqual({ k: 1 });
    expect(Object.getPrototypeOf(decoded?.record.properties)).toBe(Object.prototype);
    expect(decoded).toEqual(avscRecord(captureRecordType(), bytes));
  });

  describe('with a selection of keys', () => {
    /** The full record with its maps cut down to `keys`, as a reader that decodes everything would give it. */
    const pick = (map: Record<string, CaptureValue>, keys: readonly string[]) => Object.fromEntries(Object.entries(map).filter(([key]) => keys.includes(key)));

    it('gives the full decoding of the selected keys only (and the Offset only when kept), ending at the same offset, for any record', () => {
      fc.assert(
        fc.property(fc.array(record(true), { minLength: 1, maxLength: 3 }), fc.array(text, { maxLength: 3 }), fc.boolean(), fc.boolean(), (unique, extra, repeat, keepsOffset) => {
          // Repeated values (a decoder remembers the last string of each key) as well as distinct ones.
          const records = repeat ? [...unique, ...unique] : unique;
          // Keys the records hold and keys they do not; never __proto__, which no reader keeps.
          const keys = [...new Set([...records.flatMap((r) => Object.keys(r.properties).slice(0, 2)), ...extra])].filter(
            (key) => key !== '__proto__' && Buffer.from(key).toString() === key,
          );
          const block = Buffer.concat(records.map((r) => captureRecordType().toBuffer(toAvroValue(r))));
          const full = current();
          const selecting = new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null'], { properties: keys, systemProperties: [], offset: keepsOffset });
          let position = 0;
          for (let i = 0; i < records.length; i++) {
            const all = full.decode(block, position) as { record: CaptureRecord; offset: number };
            const some = selecting.decode(block, position);
            expect(some).toEqual({
              record: { ...all.record, offset: keepsOffset ? all.record.offset : '', systemProperties: {}, properties: pick(all.record.properties, keys) },
              offset: all.offset,
            });
            // A map with no key asked for is shared by every record, so it cannot be changed.
            expect(Object.isFrozen(some?.record.systemProperties)).toBe(true);
            position = all.offset;
          }
        }),
        { numRuns: 300 },
      );
    });

    it("answers undefined for a cut record and throws the full decoding's error for a bad union index in a skipped entry", () => {
      const r: CaptureRecord = {
        sequenceNumber: 7,
        offset: '12345',
        enqueuedTimeUtc: '1/1/2026 12:00:00 AM',
        systemProperties: { 'x-opt-partition-key': 'dev-1' },
        properties: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', size: 3, ratio: 0.5, raw: Buffer.from([1, 2]), none: null },
        body: Buffer.from('{"a":1}'),
      };
      const bytes = captureRecordType().toBuffer(toAvroValue(r));
      const selecting = () => new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null'], { properties: ['traceparent'], systemProperties: [] });
      expect(selecting().decode(bytes, 0)).toEqual({ record: { ...r, systemProperties: {}, properties: { traceparent: r.properties['traceparent'] } }, offset: bytes.length });
      for (let cut = 0; cut < bytes.length; cut++) expect(selecting().decode(bytes.subarray(0, cut), 0)).toBeUndefined();
      // Properties {"k": branch 7}, where "k" is not selected.
      const bad = Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x02, 0x02, 0x6b, 0x0e, 0x00, 0x00]);
      expect(() => selecting().decode(bad, 0)).toThrow('invalid union index 7 (the schema has 5 branches: long, double, string, bytes, null)');
      // Properties {"k": string of length -1}.
      const negative = Buffer.from([0x02, 0x02, 0x6f, 0x02, 0x74, 0x00, 0x02, 0x02, 0x6b, 0x04, 0x01, 0x00, 0x00]);
      expect(() => current().decode(negative, 0)).toThrow('a string has the negative length -1');
      expect(() => selecting().decode(negative, 0)).toThrow('a string has the negative length -1');
    });

    it('reads a run of records enqueued within the same second to the same time text, and a new second to its own', () => {
      const at = (enqueuedTimeUtc: string, sequenceNumber: number): CaptureRecord => ({
        sequenceNumber,
        offset: String(sequenceNumber),
        enqueuedTimeUtc,
        systemProperties: {},
        properties: {},
        body: null,
      });
      const times = ['1/1/2026 12:00:00 AM', '1/1/2026 12:00:00 AM', '1/1/2026 12:00:01 AM', '1/1/2026 12:00:00 AM', '12/31/2026 11:59:59 PM', '1/1/2026 12:00:01 PM'];
      const block = Buffer.concat(times.map((t, i) => captureRecordType().toBuffer(toAvroValue(at(t, i)))));
      const decoder = new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null'], { properties: [], systemProperties: [] });
      const read: string[] = [];
      for (let position = 0; position < block.length; ) {
        const decoded = decoder.decode(block, position) as { record: CaptureRecord; offset: number };
        read.push(decoded.record.enqueuedTimeUtc);
        position = decoded.offset;
      }
      expect(read).toEqual(times);
    });

    it('refuses to select __proto__ or a key that is not well-formed text', () => {
      expect(() => new CaptureRecordDecoder(['long'], { properties: ['__proto__'] })).toThrow(/__proto__ or not well-formed/);
      expect(() => new CaptureRecordDecoder(['long'], { systemProperties: ['\ud800'] })).toThrow(/SystemProperties key/);
    });
  });
});

describe('CaptureRecordDecoder.scan', () => {
  /** What `decode` with the same selection says of the record at 0: its end and first selected value, or its error. */
  function outcome(run: () => number | undefined): unknown {
    try {
      return { end: run() };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  it('ends, fails and finds the sequence number and property exactly where decode does, for every single-byte change of a record', () => {
    const record: CaptureRecord = {
      sequenceNumber: 123456789,
      offset: '4096',
      enqueuedTimeUtc: formatEnqueuedTimeUtc(Date.UTC(2026, 0, 2, 3, 4, 5)),
      systemProperties: { 'x-opt-partition-key': 'k', n: 5 },
      properties: { a: 1.5, traceparent: '00-abc-def-01', b: null, c: Buffer.from([1, 2]) },
      body: Buffer.from('{"x":1}'),
    };
    const original = captureRecordType().toBuffer(toAvroValue(record));
    const selection = { properties: ['traceparent'], systemProperties: [], offset: false };
    let changed = 0;
    for (let i = 0; i < original.length; i++) {
      for (const xor of [0, 1, 0x40, 0x80, 0xff]) {
        const bytes = Buffer.from(original);
        bytes[i] = (bytes[i] as number) ^ xor;
        const decoder = new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null'], selection);
        let decoded: ReturnType<CaptureRecordDecoder['decode']>;
        const full = outcome(() => (decoded = decoder.decode(bytes, 0))?.offset);
        for (const property of [true, false]) {
          const scanner = new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null'], selection);
          expect(outcome(() => scanner.scan(bytes, 0, property))).toEqual(full);
          if (decoded === undefined || 'error' in (full as object)) continue;
          expect(scanner.scannedSequenceNumber).toBe(decoded.record.sequenceNumber);
          expect(scanner.scannedProperty).toEqual(property ? decoded.record.properties['traceparent'] : undefined);
        }
        if (xor !== 0) changed++;
      }
    }
    expect(changed).toBe(original.length * 4);
  });
});

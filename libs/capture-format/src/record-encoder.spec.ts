import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { openCaptureFile } from './capture-file-reader';
import type { CaptureRecord, CaptureValue } from './capture-record';
import { formatEnqueuedTimeUtc } from './enqueued-time';
import { captureRecordType, toAvroValue } from './record-codec';
import { CaptureRecordEncoder } from './record-encoder';
import { collect, FIXTURES, sampleRecord } from './spec-helpers';

/** What avsc writes for a record: the reference the encoder must match byte for byte. */
function avscBytes(record: CaptureRecord): Buffer {
  return captureRecordType().toBuffer(toAvroValue(record));
}

/** The bytes, or the error message: avsc refuses a few longs, and the encoder must refuse the same. */
function outcome(encode: () => Buffer): Buffer | string {
  try {
    return encode();
  } catch (error) {
    return (error as Error).message;
  }
}

function encoded(records: CaptureRecord[], initialBytes = 16): Buffer {
  const encoder = new CaptureRecordEncoder(initialBytes);
  for (const record of records) encoder.append(record);
  return encoder.take();
}

/** Strings with every kind of UTF-16 content, lone surrogates included, short and long. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 40 }),
  fc.string({ unit: codeUnit, minLength: 20, maxLength: 120 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ maxLength: 200 }),
);

const propertyValue: fc.Arbitrary<CaptureValue> = fc.oneof(
  text,
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 60, -0, 1073741823, 1073741824, -1073741824, -1073741825),
  fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(null),
);

const systemValue: fc.Arbitrary<CaptureValue> = fc.oneof(
  text,
  fc.maxSafeInteger(),
  fc.double(),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
);

const record: fc.Arbitrary<CaptureRecord> = fc.record({
  sequenceNumber: fc.oneof(fc.nat(), fc.maxSafeInteger()),
  offset: text,
  enqueuedTimeUtc: fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }).map((ms) => formatEnqueuedTimeUtc(ms)),
  systemProperties: fc.dictionary(text, systemValue, { maxKeys: 3 }),
  properties: fc.dictionary(text, propertyValue, { maxKeys: 8 }),
  body: fc.option(fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes))),
});

describe('CaptureRecordEncoder', () => {
  it('writes the bytes avsc writes for any record', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 5 }), (records) => {
        expect(outcome(() => encoded(records))).toEqual(outcome(() => Buffer.concat(records.map(avscBytes))));
      }),
      { numRuns: 500 },
    );
  });

  it.each(['usql-EHC.avro', 'bluefrog-2016-archive.avro'])('writes the records of the Azure fixture %s as avsc does', async (name) => {
    const { records } = await openCaptureFile(fs.createReadStream(path.join(FIXTURES, name)), name);
    const all = await collect(records);
    expect(all.length).toBeGreaterThan(0);
    expect(encoded(all)).toEqual(Buffer.concat(all.map(avscBytes)));
  });

  it('writes lone surrogates as avsc does, in short and long strings', () => {
    for (const offset of ['\ud800', 'a\udc00b', 'é\ud83d', '\ud83d\ude00x', `${'é'.repeat(40)}\ud800`, `${'x'.repeat(70)}\udfff`]) {
      const sample = { ...sampleRecord(2), offset };
      expect(encoded([sample])).toEqual(avscBytes(sample));
    }
  });

  it('writes integer-like keys in the order objects list them, as avsc does', () => {
    const properties = { b: 1, 10: 'ten', a: null, 2: 2.5 } as Record<string, CaptureValue>;
    const sample = { ...sampleRecord(3), properties };
    expect(encoded([sample])).toEqual(avscBytes(sample));
  });

  it('leaves out a key named __proto__ as the assignment-built avsc value does, after checking its value', () => {
    const properties = JSON.parse('{"__proto__":"own","kept":1}') as Record<string, CaptureValue>;
    const sample = { ...sampleRecord(4), properties };
    expect(encoded([sample])).toEqual(avscBytes(sample));
    const bad = { ...sampleRecord(4), systemProperties: JSON.parse('{"__proto__":null}') as Record<string, CaptureValue> };
    expect(() => encoded([bad])).toThrow('CaptureRecord.systemProperties["__proto__"] is null');
  });

  it('writes nothing of a record it rejects, with the error toAvroValue gives', () => {
    const encoder = new CaptureRecordEncoder(16);
    encoder.append(sampleRecord(1));
    const before = encoder.length;
    const bad = { ...sampleRecord(2), properties: { ok: 'yes', nested: { a: 1 } as unknown as CaptureValue } };
    expect(() => toAvroValue(bad)).toThrow('CaptureRecord.properties["nested"] has unsupported type object');
    expect(() => encoder.append(bad)).toThrow('CaptureRecord.properties["nested"] has unsupported type object');
    expect(encoder.length).toBe(before);
    encoder.append(sampleRecord(3));
    expect(encoder.take()).toEqual(Buffer.concat([avscBytes(sampleRecord(1)), avscBytes(sampleRecord(3))]));
  });

  it("refuses a long beyond what avsc writes with avsc's error, after the other checks", () => {
    const huge = { ...sampleRecord(1), properties: { big: Number.MAX_SAFE_INTEGER } };
    expect(() => avscBytes(huge)).toThrow('invalid "long": 9007199254740991');
    expect(() => encoded([huge])).toThrow('invalid "long": 9007199254740991');
    const alsoBadType = { ...huge, sequenceNumber: -Number.MAX_SAFE_INTEGER, systemProperties: { x: true as unknown as CaptureValue } };
    expect(() => toAvroValue(alsoBadType)).toThrow('CaptureRecord.systemProperties["x"] has unsupported type boolean');
    expect(() => encoded([alsoBadType])).toThrow('CaptureRecord.systemProperties["x"] has unsupported type boolean');
    const first = { ...huge, sequenceNumber: -Number.MAX_SAFE_INTEGER };
    expect(() => avscBytes(first)).toThrow('invalid "long": -9007199254740991');
    expect(() => encoded([first])).toThrow('invalid "long": -9007199254740991');
  });

  it.each<[string, Partial<Record<keyof CaptureRecord, unknown>>, string]>([
    ['a sequence number that is not a safe integer', { sequenceNumber: 2 ** 53 }, 'CaptureRecord.sequenceNumber must be a safe integer, got 9007199254740992.'],
    ['an offset that is not a string', { offset: 5 }, 'CaptureRecord.offset must be a string, got number.'],
    ['a body that is not bytes', { body: 'text' }, 'CaptureRecord.body must be a Buffer or null, got string.'],
    ['properties that are not an object', { properties: null }, 'CaptureRecord.properties must be an object, got null.'],
  ])('rejects %s as toAvroValue does', (_name, change, message) => {
    const bad = { ...sampleRecord(1), ...change } as CaptureRecord;
    expect(() => toAvroValue(bad)).toThrow(message);
    expect(() => encoded([bad])).toThrow(message);
  });
});

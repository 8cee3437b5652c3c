import * as fc from 'fast-check';
import type { PropertyValue, ReceivedEvent } from '@pipeline/ports';
import { CaptureFileWriter } from './capture-file-writer';
import {
  capturePropertiesBound,
  readCaptureStringProperty,
  capturesExactly,
  NO_ROOM,
  NOT_EXACT,
  readCaptureProperties,
  writeCaptureProperties,
  writeExactCaptureProperties,
  writtenProperties,
} from './capture-properties';
import { captureRecordFromEvent } from './capture-record-from-event';
import { decodeWithAvsc } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 60, maxLength: 100 }));
const exactValue: fc.Arbitrary<PropertyValue> = fc.oneof(
  text,
  fc.integer(),
  fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
  fc.double(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 268435456, 2 ** 52, -(2 ** 52), -0, Number.NaN, Number.NEGATIVE_INFINITY, 1.5),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
);
/** What the embedded hub stores as Capture's map: entries `capturesExactly` accepts (a double may be an integer past 2^52). */
const exactProperties = fc.dictionary(text, exactValue, { maxKeys: 6 }).filter((properties) => Object.entries(properties).every(([key, value]) => capturesExactly(key, value)));

/** The size `capturePropertiesBound` is given: key and value bytes, numbers as 8. */
function payloadBytes(properties: Record<string, PropertyValue>): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(properties)) {
    bytes += Buffer.byteLength(key);
    bytes += typeof value === 'string' ? Buffer.byteLength(value) : typeof value === 'number' ? 8 : (value as Buffer).byteLength;
  }
  return bytes;
}

function written(properties: Record<string, PropertyValue>): Buffer {
  const target = Buffer.alloc(capturePropertiesBound(Object.keys(properties).length, payloadBytes(properties)));
  return target.subarray(0, writeCaptureProperties(properties, target, 0));
}

function event(properties: Record<string, PropertyValue>, captureProperties?: Buffer): ReceivedEvent {
  return {
    partitionId: '1',
    sequenceNumber: 7,
    offset: '896',
    enqueuedTime: Date.UTC(2026, 0, 2, 3, 4, 5),
    partitionKey: 'device-3',
    properties,
    body: Buffer.from('{"a":1}'),
    ...(captureProperties === undefined ? {} : { captureProperties }),
  };
}

function fileOf(append: (writer: CaptureFileWriter) => void): Buffer {
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker('capture-properties') });
  append(writer);
  return writer.finish();
}

describe('Capture properties on their own', () => {
  it('are the bytes Capture writes for the record: a file with them copied equals the file with them encoded', () => {
    fc.assert(
      fc.property(exactProperties, (properties) => {
        const copied = fileOf((writer) => writer.appendEvent(event(properties, written(properties))));
        expect(copied).toEqual(fileOf((writer) => writer.append(captureRecordFromEvent(event(properties)))));
      }),
      { numRuns: 300 },
    );
  });

  it('read back to the same keys, in the same order, with the same values', () => {
    fc.assert(
      fc.property(exactProperties, (properties) => {
        const read = readCaptureProperties(written(properties));
        expect(Object.keys(read)).toEqual(Object.keys(properties));
        // -0 is a safe integer, written as the long 0 (as Capture writes it): it reads back as 0.
        expect(read).toEqual(Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, Object.is(value, -0) ? 0 : value])));
      }),
      { numRuns: 300 },
    );
  });

  it('stay within capturePropertiesBound whatever the text', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(-(2 ** 52))), { maxKeys: 8 }),
        (properties) => {
          const bound = capturePropertiesBound(Object.keys(properties).length, payloadBytes(properties));
          expect(written(properties).length).toBeLessThanOrEqual(bound);
        },
      ),
    );
  });

  it('keep out what the Capture map would change: booleans, __proto__, lone surrogates, longs avsc refuses', () => {
    expect(capturesExactly('ok', true)).toBe(false);
    expect(capturesExactly('__proto__', 'x')).toBe(false);
    expect(capturesExactly('k', 'a\ud800')).toBe(false);
    expect(capturesExactly('\udc00', 'x')).toBe(false);
    expect(capturesExactly('k', 2 ** 53 - 1)).toBe(false);
    expect(capturesExactly('k', -(2 ** 52) - 1)).toBe(false);
    expect(capturesExactly('k', -(2 ** 52))).toBe(true);
    expect(capturesExactly('k', 2 ** 60)).toBe(true);
    expect(capturesExactly('k', Buffer.from([1]))).toBe(true);
    fc.assert(fc.property(codeUnit, (unit) => expect(capturesExactly('k', unit)).toBe(unit < '\ud800' || unit > '\udfff')));
  });

  it('are refused, naming the problem, when the bytes are not one whole map', () => {
    const bytes = written({ event_id: 'e-1', row: 3 });
    expect(() => readCaptureProperties(bytes.subarray(0, bytes.length - 2))).toThrow(/runs past its \d+ bytes/);
    expect(() => readCaptureProperties(Buffer.concat([bytes, Buffer.from([0])]))).toThrow('1 bytes remain after the properties map');
    // {"k": null}: a null no sent event holds.
    expect(() => readCaptureProperties(Buffer.from([0x02, 0x02, 0x6b, 0x08, 0x00]))).toThrow('property "k" is null');
  });

  it('make a file avsc reads with the properties and the partition key', async () => {
    const properties = { event_id: 'e-1', row: 3, ratio: 0.5, raw: Buffer.from([1]) };
    const file = fileOf((writer) => writer.appendEvent(event(properties, written(properties))));
    const { values } = await decodeWithAvsc(file);
    expect(values[0]?.['Properties']).toEqual({ event_id: { string: 'e-1' }, row: { long: 3 }, ratio: { double: 0.5 }, raw: { bytes: Buffer.from([1]) } });
    expect(values[0]?.['SystemProperties']).toEqual({ 'x-opt-partition-key': { string: 'device-3' } });
  });

  describe('written in one pass (writeExactCaptureProperties)', () => {
    /** Anything a send may carry, kept exactly or not: booleans, lone surrogates, __proto__, longs past 2^52. */
    const anyValue: fc.Arbitrary<PropertyValue> = fc.oneof(
      exactValue,
      fc.boolean(),
      fc.constantFrom('a\ud800', '\udc00', 'é\udbff', 2 ** 53 - 1, -(2 ** 52) - 1, 2 ** 52 + 2),
      // A Uint8Array that is not a Buffer.
      fc.uint8Array({ maxLength: 40 }).map((bytes) => bytes as unknown as Buffer),
    );
    const anyKey = fc.oneof(text, fc.constantFrom('__proto__', 'k\ud800', 'traceparent'));
    const anyProperties = fc.oneof(
      fc.constant(undefined),
      fc.dictionary(anyKey, anyValue, { maxKeys: 6 }),
      exactProperties,
      fc.array(fc.tuple(anyKey, anyValue), { maxLength: 6 }).map((entries) => {
        // JSON.parse keeps a __proto__ key as an own property, as a decoded event's map may have it.
        const properties = JSON.parse('{}') as Record<string, PropertyValue>;
        for (const [key, value] of entries) Object.defineProperty(properties, key, { value, enumerable: true, writable: true, configurable: true });
        return properties;
      }),
    );
    const exactly = (properties: Record<string, PropertyValue> | undefined): boolean =>
      properties === undefined || Object.entries(properties).every(([key, value]) => capturesExactly(key, value));

    it('writes the bytes writeCaptureProperties writes and counts their payload, or says the map is not kept exactly', () => {
      fc.assert(
        fc.property(anyProperties, fc.nat(5), (properties, at) => {
          const target = Buffer.alloc(4096, 0xee);
          const end = writeExactCaptureProperties(properties, target, at);
          if (!exactly(properties)) {
            expect(end).toBe(NOT_EXACT);
            return;
          }
          const expected = properties === undefined ? Buffer.from([0]) : written(properties);
          expect(target.subarray(at, end)).toEqual(expected);
          expect(writtenProperties.payloadBytes).toBe(properties === undefined ? 0 : payloadBytes(properties));
        }),
        { numRuns: 1000 },
      );
    });

    it('never writes past the end of its target: too little room is NO_ROOM, and then any room enough gives the same bytes', () => {
      fc.assert(
        fc.property(anyProperties, fc.nat(300), (properties, room) => {
          const target = Buffer.alloc(room + 8, 0xee);
          const end = writeExactCaptureProperties(properties, target.subarray(0, room), 0);
          // The bytes past the given room stay as they were.
          expect(target.subarray(room)).toEqual(Buffer.alloc(8, 0xee));
          if (end === NO_ROOM) return;
          const roomy = Buffer.alloc(4096);
          expect(end).toBe(writeExactCaptureProperties(properties, roomy, 0));
          if (end !== NOT_EXACT) expect(target.subarray(0, end)).toEqual(roomy.subarray(0, end));
        }),
        { numRuns: 1000 },
      );
    });

    it('writes the same bytes for maps one after another that repeat entries at their positions, kept exactly or not, with room or without', () => {
      // Few keys and values, so that entries come again at the same position, as a send's source and trace context do.
      const key = fc.constantFrom('source', 'traceparent', 'row', 'k\ud800', '__proto__', 'é');
      const value = fc.constantFrom<PropertyValue>('sensors', `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, 'x'.repeat(140), 'é\ud800', 'ü', '', 7, 2 ** 53 - 1, true);
      const map = fc.array(fc.tuple(key, value), { maxLength: 5 }).map((entries) => {
        const properties = JSON.parse('{}') as Record<string, PropertyValue>;
        for (const [k, v] of entries) Object.defineProperty(properties, k, { value: v, enumerable: true, writable: true, configurable: true });
        return properties;
      });
      fc.assert(
        fc.property(fc.array(fc.tuple(map, fc.nat(260)), { minLength: 1, maxLength: 12 }), (maps) => {
          for (const [properties, room] of maps) {
            const target = Buffer.alloc(room + 8, 0xee);
            const end = writeExactCaptureProperties(properties, target.subarray(0, room), 0);
            expect(target.subarray(room)).toEqual(Buffer.alloc(8, 0xee));
            if (!exactly(properties)) {
              // Too little room may show before the entry that is not kept exactly.
              expect([NOT_EXACT, NO_ROOM]).toContain(end);
              continue;
            }
            // Too little room: the same map with room enough, right after.
            const roomy = Buffer.alloc(4096);
            const bytes = end === NO_ROOM ? roomy.subarray(0, writeExactCaptureProperties(properties, roomy, 0)) : target.subarray(0, end);
            expect(bytes).toEqual(written(properties));
            expect(writtenProperties.payloadBytes).toBe(payloadBytes(properties));
          }
        }),
        { numRuns: 1000 },
      );
    });

    it('says NOT_EXACT for a map that is not a plain object, which the general path refuses by name', () => {
      const target = Buffer.alloc(64);
      for (const properties of [null, 5, 'text', [1, 2]]) expect(writeExactCaptureProperties(properties as unknown as Record<string, PropertyValue>, target, 0)).toBe(NOT_EXACT);
      expect(writeExactCaptureProperties({ k: null as unknown as PropertyValue }, target, 0)).toBe(NOT_EXACT);
      expect(writeExactCaptureProperties({ k: {} as unknown as PropertyValue }, target, 0)).toBe(NOT_EXACT);
    });
  });

  describe('one string read without the map (readCaptureStringProperty)', () => {
    const keys = fc.constantFrom('traceparent', 'event_id', 'tp', 'traceparenT', 'traceparent2');
    const values: fc.Arbitrary<PropertyValue> = fc.oneof(
      text,
      fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'é', ''),
      fc.integer(),
      fc.constantFrom(2 ** 52, -(2 ** 52), 1.5, Number.NaN),
      fc.uint8Array({ maxLength: 20 }).map((bytes) => Buffer.from(bytes)),
    );
    const maps = fc
      .dictionary(fc.oneof(keys, text), values, { maxKeys: 6 })
      .filter((properties) => Object.entries(properties).every(([key, value]) => capturesExactly(key, value)));
    /** What reading the whole map gives for `key`: its string, `undefined`, or the error it throws. */
    const whole = (bytes: Buffer, key: string): string | undefined | Error => {
      try {
        const value = readCaptureProperties(bytes)[key];
        return typeof value === 'string' ? value : undefined;
      } catch (error) {
        return error as Error;
      }
    };

    it('gives what reading the whole map gives, for any map the hub writes', () => {
      fc.assert(
        fc.property(maps, keys, (properties, key) => {
          const bytes = written(properties);
          expect(readCaptureStringProperty(bytes, key)).toBe(whole(bytes, key));
        }),
        { numRuns: 1000 },
      );
    });

    it('answers null (read the whole map) for bytes that reading the whole map refuses, and otherwise agrees with it', () => {
      const damaged = fc.oneof(
        // Cut short, extended, or with a byte changed.
        fc.tuple(maps, fc.nat()).map(([properties, cut]) => {
          const bytes = written(properties);
          return bytes.subarray(0, cut % (bytes.length + 1));
        }),
        fc.tuple(maps, fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([properties, extra]) => Buffer.concat([written(properties), extra])),
        fc.tuple(maps, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([properties, at, byte]) => {
          const bytes = Buffer.from(written(properties));
          bytes[at % bytes.length] = byte;
          return bytes;
        }),
        fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
      );
      fc.assert(
        fc.property(damaged, keys, (bytes, key) => {
          const read = readCaptureStringProperty(bytes, key);
          const expected = whole(bytes, key);
          if (expected instanceof Error) expect(read).toBeNull();
          else if (read !== null) expect(read).toBe(expected);
        }),
        { numRuns: 3000 },
      );
    });

    it('reads a key written twice as the whole map does (the later value), and a null value as null', () => {
      // {"traceparent": "a", "traceparent": 5}, then {"traceparent": 5, "traceparent": "b"}.
      const twice = (first: number[], second: number[]) => Buffer.from([0x04, 0x16, ...Buffer.from('traceparent'), ...first, 0x16, ...Buffer.from('traceparent'), ...second, 0x00]);
      const a = [0x04, 0x02, 0x61];
      const five = [0x00, 0x0a];
      expect(readCaptureStringProperty(twice(a, five), 'traceparent')).toBeUndefined();
      expect(readCaptureStringProperty(twice(five, [0x04, 0x02, 0x62]), 'traceparent')).toBe('b');
      expect(readCaptureStringProperty(Buffer.from([0x02, 0x02, 0x6b, 0x08, 0x00]), 'k')).toBeNull();
    });
  });
});

import * as fc from 'fast-check';
import { capturePropertiesBound, writeCaptureProperties } from '@pipeline/capture-format';
import type { EventToSend, PropertyValue } from '@pipeline/ports';
import { packCaptureBatch, unpackRecords } from './local.batch-records';
import { measureProperties } from './local.event-properties';

/**
 * The general path a send took before packing in one pass: measure every event (`measureProperties`,
 * which also refuses bad input by name), then write each map with `writeCaptureProperties`.
 * `undefined`: a map Capture does not keep exactly (the hub stores the batch as typed JSON).
 */
function measuredThenPacked(events: readonly EventToSend[]): { blob: Buffer; sizes: number[] } | undefined {
  const measured = events.map((event) => {
    if (typeof event !== 'object' || event === null || !(event.body instanceof Uint8Array)) throw new Error('not an event');
    const { size, count, exact } = measureProperties(event.properties);
    return { event, size, count, exact };
  });
  if (!measured.every((m) => m.exact)) return undefined;
  const parts: Buffer[] = [];
  for (const { event, size, count } of measured) {
    const properties = Buffer.alloc(capturePropertiesBound(count, size));
    const end = writeCaptureProperties(event.properties, properties, 0);
    const header = Buffer.alloc(12);
    header.writeUInt32LE(end, 0);
    header.writeUInt32LE(event.body.byteLength, 4);
    header.writeUInt32LE(event.body.byteLength + size, 8);
    parts.push(header, properties.subarray(0, end), Buffer.from(event.body));
  }
  return { blob: Buffer.concat(parts), sizes: measured.map((m) => m.event.body.byteLength + m.size) };
}

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ minLength: 60, maxLength: 90 }));
const value: fc.Arbitrary<PropertyValue> = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 3, arbitrary: fc.integer() },
  fc.double(),
  fc.constantFrom(2 ** 52, -(2 ** 52), 2 ** 53 - 1, -(2 ** 52) - 1, -0, Number.NaN, 'a\ud800', '\udc00'),
  fc.boolean(),
  fc.uint8Array({ maxLength: 30 }).map((bytes) => Buffer.from(bytes)),
);
const key = fc.oneof(fc.constantFrom('source', 'row', 'content_type', 'event_id', 'traceparent', '__proto__', 'k\udfff'), text);
const body = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 50 }),
  fc.constant(Buffer.alloc(0)),
);
const properties = fc.oneof(
  fc.constant(undefined),
  fc.dictionary(key, value, { maxKeys: 6 }),
  // The producer's usual map: always kept exactly.
  fc.record({
    source: fc.constant('flights'),
    row: fc.nat(),
    content_type: fc.constant('json'),
    event_id: fc.string({ maxLength: 12 }),
    traceparent: fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
  }),
);
const event: fc.Arbitrary<EventToSend> = fc.record({ body, properties }, { requiredKeys: ['body'] });

describe('A batch packed in one pass (packCaptureBatch)', () => {
  it('is the blob, sizes and encoding the general path gives, whatever the events', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 12 }), (events) => {
        const expected = measuredThenPacked(events);
        const packed = packCaptureBatch(events);
        if (expected === undefined) {
          expect(packed).toBeUndefined();
          return;
        }
        if (packed === undefined) throw new Error('the general path packs this batch as Capture maps, the one-pass path does not');
        expect(Buffer.from(packed.blob)).toEqual(expected.blob);
        expect(packed.totalSize).toBe(expected.sizes.reduce((a, b) => a + b, 0));
        expect(packed.lastSize).toBe(expected.sizes[expected.sizes.length - 1]);
      }),
      { numRuns: 1500 },
    );
  });

  it('grows its scratch for a batch larger than it, keeping every event', () => {
    const big = Array.from({ length: 700 }, (_, i) => ({ body: Buffer.alloc(3000, i % 251), properties: { row: i, note: 'x'.repeat(i % 90), raw: Buffer.alloc(i % 40, 7) } }));
    const packed = packCaptureBatch(big);
    const expected = measuredThenPacked(big);
    if (packed === undefined || expected === undefined) throw new Error('a batch of plain properties is packed as Capture maps');
    // Compared with equals: jest's deep equality takes seconds on megabytes.
    expect(packed.blob.byteLength).toBeGreaterThan(2 * 1024 * 1024);
    expect(packed.blob.equals(expected.blob)).toBe(true);
    let intact = 0;
    unpackRecords(packed.blob, 0, 0, 0, 1000, (sequence, _offset, _properties, eventBody) => {
      if (eventBody.equals((big[sequence] as EventToSend).body)) intact += 1;
    });
    expect(intact).toBe(big.length);
  });

  it('leaves to the general path what it cannot pack: no event object, no bytes body, properties that are no map', () => {
    expect(packCaptureBatch([null as unknown as EventToSend])).toBeUndefined();
    expect(packCaptureBatch([{ body: 'text' as unknown as Buffer }])).toBeUndefined();
    expect(packCaptureBatch([{ body: Buffer.alloc(1), properties: [1] as unknown as Record<string, PropertyValue> }])).toBeUndefined();
    expect(packCaptureBatch([{ body: Buffer.alloc(1), properties: { flag: true } }])).toBeUndefined();
  });
});

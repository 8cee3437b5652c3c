import * as fc from 'fast-check';
import type { PropertyValue } from '@pipeline/ports';
import { capturesExactly } from '@pipeline/capture-format';
import { decodeProperties, encodeProperties, measureProperties, propertiesSize } from './local.event-properties';

/** The stored text as `JSON.stringify` of `{ key: [tag, value] }` writes it: the format of existing hub files. */
function storedJson(properties: Record<string, PropertyValue>): string {
  const stored: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    const pair =
      typeof value === 'string'
        ? ['s', value]
        : typeof value === 'boolean'
          ? ['b', value]
          : typeof value === 'number'
            ? Number.isSafeInteger(value)
              ? ['l', value]
              : ['d', Number.isFinite(value) ? value : String(value)]
            : ['x', Buffer.from(value).toString('base64')];
    Object.defineProperty(stored, key, { value: pair, enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(stored);
}

/** What JSON.parse of the stored text reads back, key order and `__proto__` included. */
function parsedBack(json: string): Array<[string, unknown]> {
  return Object.entries(JSON.parse(json) as Record<string, [string, unknown]>).map(([key, [tag, value]]) => [
    key,
    tag === 'd' ? Number(value) : tag === 'x' ? Buffer.from(value as string, 'base64') : value,
  ]);
}

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: codeUnit, maxLength: 12 }), fc.constantFrom('__proto__', '0', '17', '4294967295', '-1', 'a"b', 'c\\d'));
const value: fc.Arbitrary<PropertyValue> = fc.oneof(
  text,
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.boolean(),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
);
const propertyMap = fc.array(fc.tuple(text, value), { maxLength: 8 }).map((entries) => {
  const map: Record<string, PropertyValue> = {};
  for (const [key, entry] of entries) Object.defineProperty(map, key, { value: entry, enumerable: true, writable: true, configurable: true });
  return map;
});

describe('local event hub properties', () => {
  it('stores exactly the text JSON.stringify writes, with the size propertiesSize counts', () => {
    fc.assert(
      fc.property(propertyMap, (properties) => {
        const encoded = encodeProperties(properties);
        expect(encoded.json).toBe(storedJson(properties));
        expect(encoded.size).toBe(propertiesSize(properties));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads back what JSON.parse reads, in the same key order', () => {
    fc.assert(
      fc.property(propertyMap, (properties) => {
        const json = storedJson(properties);
        const decoded = decodeProperties(json);
        expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
        expect(Object.entries(decoded)).toEqual(parsedBack(json));
      }),
      { numRuns: 1000 },
    );
  });

  it('reads texts laid out otherwise through JSON.parse', () => {
    expect(decodeProperties('{ "a" : [ "s" , "x" ] }')).toEqual({ a: 'x' });
    expect(decodeProperties('{"a":["l",1],"a":["s","again"]}')).toEqual({ a: 'again' });
    expect(decodeProperties('{"n":["d","NaN"],"i":["d","-Infinity"],"e":["d",1e+21]}')).toEqual({ n: Number.NaN, i: -Infinity, e: 1e21 });
    expect(decodeProperties('{}')).toEqual({});
  });

  it('counts key and value bytes and names a property it cannot store', () => {
    expect(propertiesSize({ ké: 'vä', n: 1, b: true, x: Buffer.alloc(3) })).toBe(3 + 3 + 1 + 8 + 1 + 1 + 1 + 3);
    expect(() => encodeProperties({ ok: 1, bad: null as unknown as string })).toThrow('Event property "bad" has a null value');
    expect(() => encodeProperties([] as unknown as Record<string, PropertyValue>)).toThrow('got array');
  });
});

describe('measureProperties', () => {
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
  const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: codeUnit, maxLength: 4 }), fc.constantFrom('__proto__', 'json'));
  const value: fc.Arbitrary<PropertyValue> = fc.oneof(
    text,
    fc.integer(),
    fc.double(),
    fc.constantFrom(2 ** 52, 2 ** 52 + 2),
    fc.boolean(),
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
  );

  it("gives the size propertiesSize gives, the key count, and whether Capture's map keeps every entry", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(text, value), { maxLength: 6 }), (entries) => {
        const properties: Record<string, PropertyValue> = {};
        for (const [k, v] of entries) Object.defineProperty(properties, k, { value: v, enumerable: true, writable: true, configurable: true });
        const measured = measureProperties(properties);
        expect(measured.size).toBe(propertiesSize(properties));
        expect(measured.count).toBe(Object.keys(properties).length);
        expect(measured.exact).toBe(Object.keys(properties).every((k) => capturesExactly(k, properties[k] as PropertyValue)));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what propertiesSize refuses, with the same message', () => {
    for (const bad of [null, [], 'text', { k: null }, { k: {} }, { k: undefined }]) {
      const size = (() => {
        try {
          return propertiesSize(bad as never);
        } catch (error) {
          return (error as Error).message;
        }
      })();
      expect(() => measureProperties(bad as never)).toThrow(typeof size === 'string' ? size : 'never');
    }
  });
});

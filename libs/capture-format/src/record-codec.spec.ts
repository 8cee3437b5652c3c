import { CAPTURE_RECORD_SCHEMA, CAPTURE_RECORD_SCHEMA_2016 } from './capture-record';
import { cachedReaderTypes, readerTypeFor } from './record-codec';

describe('readerTypeFor', () => {
  it('builds one type per schema text and hands the same one out again', () => {
    const text = JSON.stringify(CAPTURE_RECORD_SCHEMA);
    const first = readerTypeFor(JSON.parse(text) as object, text);
    const second = readerTypeFor(JSON.parse(text) as object, text);
    expect(second).toBe(first);
    expect(first.variant).toBe('current');
    expect(readerTypeFor(structuredClone(CAPTURE_RECORD_SCHEMA_2016) as object).variant).toBe('archive-2016');
  });

  it('keeps at most 16 types, so files with ever new schemas cannot grow the cache', () => {
    for (let i = 0; i < 40; i++) {
      const schema = { ...structuredClone(CAPTURE_RECORD_SCHEMA), doc: `variant ${i}` } as object;
      expect(readerTypeFor(schema).variant).toBe('current');
    }
    expect(cachedReaderTypes()).toBe(16);
  });

  it('caches nothing for a schema avsc refuses, and throws its error every time', () => {
    const before = cachedReaderTypes();
    const bad = { type: 'record', name: 'EventData', fields: [{ name: 'x', type: 'no-such-type' }] };
    expect(() => readerTypeFor(bad)).toThrow(/no-such-type/);
    expect(() => readerTypeFor(bad)).toThrow(/no-such-type/);
    expect(cachedReaderTypes()).toBe(before);
  });
});

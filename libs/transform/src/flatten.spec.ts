import fc from 'fast-check';
import { bodyFields, flattenJson, MAX_FLATTEN_DEPTH } from './flatten';

function flat(value: Record<string, unknown>, arrays: 'json' | 'index' | 'first' = 'json'): Record<string, unknown> {
  return Object.fromEntries(flattenJson(value, arrays).values);
}

describe('flattenJson', () => {
  it('keeps top-level scalars under their names', () => {
    expect(flat({ a: '1', b: 2, c: true, d: null })).toEqual({ a: '1', b: 2, c: true, d: null });
  });

  it('joins nested object keys with underscores and keeps each sub-object under its own name', () => {
    const b = { c: { d: 1 } };
    expect(flat({ a: 0, b })).toEqual({ a: 0, b, b_c: { d: 1 }, b_c_d: 1 });
  });

  it('reads dots in keys as nesting', () => {
    expect(flat({ 'a.b.c': 1 })).toEqual({ a_b_c: 1 });
    expect(flat({ a: { 'b.c': 1 } })).toEqual({ a: { 'b.c': 1 }, a_b_c: 1 });
  });

  it('joins an empty key like any other, so a nested field under it does not take a top-level name', () => {
    expect(flat({ '': { s: 1 }, s: 2 })).toEqual({ '': { s: 1 }, _s: 1, s: 2 });
    expect(flattenJson({ '': { s: 1 }, s: 2 }, 'json').ambiguous).toBeUndefined();
    expect(flat({ a: { '': { b: 1 } } })).toEqual({ a: { '': { b: 1 } }, a_: { b: 1 }, a__b: 1 });
    expect(flattenJson({ '': { b: 1 }, '.b': 2 }, 'json').ambiguous).toEqual(new Map([['_b', ['.b', '.b']]]));
  });

  it('keeps an array whole under the json rule', () => {
    expect(flat({ tags: ['x', { y: 1 }] })).toEqual({ tags: ['x', { y: 1 }] });
  });

  it('flattens array elements by position under the index rule', () => {
    expect(flat({ tags: ['x', { y: 1 }] }, 'index')).toEqual({ tags: ['x', { y: 1 }], tags_0: 'x', tags_1: { y: 1 }, tags_1_y: 1 });
  });

  it('takes the first element under the first rule, null for an empty array', () => {
    expect(flat({ tags: [{ y: 1 }, { y: 2 }], none: [] }, 'first')).toEqual({ tags: { y: 1 }, tags_y: 1, none: null });
    expect(flat({ m: [[7, 8], [9]] }, 'first')).toEqual({ m: 7 });
  });

  it('reports every path of a name reached more than once, keeping the first value', () => {
    const result = flattenJson({ a_b: 1, a: { b: 2 }, 'a.b': 3 }, 'json');
    expect(result.values.get('a_b')).toBe(1);
    expect(result.ambiguous).toEqual(new Map([['a_b', ['a_b', 'a.b', 'a.b']]]));
  });

  it('names array elements with brackets in ambiguity paths', () => {
    expect(flattenJson({ t: ['x'], t_0: 'y' }, 'index').ambiguous).toEqual(new Map([['t_0', ['t[0]', 't_0']]]));
  });

  it('has no ambiguity for a flat producer body', () => {
    expect(flattenJson({ a: '1', b: '2' }, 'json').ambiguous).toBeUndefined();
  });

  it('treats __proto__ keys as plain data', () => {
    const body = JSON.parse('{"__proto__": {"polluted": 1}, "x": 1}') as Record<string, unknown>;
    const values = flattenJson(body, 'json').values;
    expect(values.get('__proto___polluted')).toBe(1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('stops flattening below the depth limit and keeps the rest as a sub-document', () => {
    const depth = 1000;
    const body = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) as Record<string, unknown>;
    const values = flattenJson(body, 'json').values;
    expect(values.size).toBe(MAX_FLATTEN_DEPTH);
    const deepest = Array.from({ length: MAX_FLATTEN_DEPTH }, () => 'a').join('_');
    expect(typeof values.get(deepest)).toBe('object');
  });
});

describe('bodyFields', () => {
  const inherited = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

  it('gives every name what flattenJson gives it, for flat bodies read in place and nested ones alike', () => {
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...inherited, 'a.b', 'a_b'));
    const scalar = fc.oneof(fc.string({ maxLength: 6 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
    const body = fc.dictionary(key, fc.oneof(scalar, fc.dictionary(key, scalar, { maxKeys: 3 }), fc.array(scalar, { maxLength: 2 })), { maxKeys: 6 });
    fc.assert(
      fc.property(body, fc.constantFrom<'json' | 'index' | 'first'>('json', 'index', 'first'), (value, arrays) => {
        // Through JSON text, as silver reads bodies: `__proto__` is then an own key like any other.
        const parsed = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
        const reference = flattenJson(parsed, arrays);
        const fields = bodyFields(parsed, arrays);
        expect(fields.ambiguous).toEqual(reference.ambiguous);
        for (const name of [...reference.values.keys(), ...inherited, 'a_b', 'missing']) expect(fields.values.get(name)).toEqual(reference.values.get(name));
      }),
      { numRuns: 500 },
    );
  });

  it('reads a flat body in place: an own "__proto__" or "constructor" field is a field, an inherited one is absent', () => {
    const own = bodyFields(JSON.parse('{"__proto__": 5, "constructor": "c", "n": null}') as Record<string, unknown>, 'json').values;
    expect([own.get('__proto__'), own.get('constructor'), own.get('n'), own.get('toString')]).toEqual([5, 'c', null, undefined]);
    const plain = bodyFields(JSON.parse('{"a": 1}') as Record<string, unknown>, 'json').values;
    expect([plain.get('__proto__'), plain.get('constructor'), plain.get('a')]).toEqual([undefined, undefined, 1]);
  });
});

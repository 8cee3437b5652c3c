import { formatCsvField, formatCsvRecord } from './csv-record';
import { SeededRandom } from './seeded-random';

describe('formatCsvRecord', () => {
  it('leaves plain fields unquoted', () => {
    expect(formatCsvRecord(['a', '1.5', '', 'São Paulo'])).toBe('a,1.5,,São Paulo');
  });

  it('quotes fields with the delimiter, quotes or line breaks, doubling inner quotes', () => {
    expect(formatCsvField('Oslo, Harbour')).toBe('"Oslo, Harbour"');
    expect(formatCsvField('Lyon "Gerland"')).toBe('"Lyon ""Gerland"""');
    expect(formatCsvField('two\nlines')).toBe('"two\nlines"');
    expect(formatCsvField('cr\r')).toBe('"cr\r"');
    expect(formatCsvField(' padded ')).toBe('" padded "');
  });

  it('quotes for the delimiter in use', () => {
    expect(formatCsvRecord(['a;b', 'c,d'], ';')).toBe('"a;b";c,d');
    expect(formatCsvRecord(['a\tb', 'c'], '\t')).toBe('"a\tb"\tc');
  });

  it('rejects a delimiter that cannot work', () => {
    expect(() => formatCsvRecord(['a'], '"')).toThrow(RangeError);
    expect(() => formatCsvRecord(['a'], ';;')).toThrow(RangeError);
  });
});

describe('SeededRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const values = Array.from({ length: 10_000 }, () => a.next());
    expect(values).toEqual(Array.from({ length: 10_000 }, () => b.next()));
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(9_990);
  });

  it('matches the reference mulberry32 output for seed 1', () => {
    // First outputs of the reference implementation (bryc/code, mulberry32) for seed 1, times 2^32.
    const random = new SeededRandom(1);
    expect([random.next(), random.next(), random.next()].map((v) => v * 4_294_967_296)).toEqual([2_693_262_067, 11_749_833, 2_265_367_787]);
  });
});

import { InvalidParametersException, parseTime, RequestParameters } from './request-parameters';

describe('parseTime', () => {
  it('reads ISO-8601 times with or without an offset (UTC), and epoch milliseconds', () => {
    expect(parseTime('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T01:00:00+01:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('2026-01-01T00:00:01.5')).toBe(Date.UTC(2026, 0, 1, 0, 0, 1, 500));
    expect(parseTime('2026-01-01T00:00:00.123456Z')).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 123));
    expect(parseTime('2026-01-01')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTime('1767225600000')).toBe(1767225600000);
  });

  it('refuses dates that do not exist and text that is not a time', () => {
    expect(['2026-02-30', '2026-13-01', '2026-01-01T24:00:00Z', 'yesterday', '1e12', '2026-01-01 00:00', ''].map(parseTime)).toEqual(Array(7).fill(undefined));
  });
});

describe('RequestParameters', () => {
  it('collects every problem and throws them together in one 400', () => {
    const params = new RequestParameters({ limit: 'ten', window: 'x', extra: '1' });
    params.int('limit', { default: 10, min: 1, max: 100 });
    params.oneOf('window', ['a', 'b']);
    params.string('key', { required: true, expected: 'a key' });
    let error: unknown;
    try {
      params.done();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidParametersException);
    const exception = error as InvalidParametersException;
    expect(exception.getStatus()).toBe(400);
    expect(exception.problems.map((p) => p.parameter)).toEqual(['limit', 'window', 'key', 'extra']);
    expect(exception.getResponse()).toMatchObject({ message: expect.stringContaining('limit: expected an integer from 1 to 100, found "ten"') });
  });

  it('uses defaults for absent or empty parameters', () => {
    const params = new RequestParameters({ limit: '' });
    expect(params.int('limit', { default: 7, min: 1, max: 10 })).toBe(7);
    expect(params.time('from')).toBeUndefined();
    expect(() => params.done()).not.toThrow();
  });
});

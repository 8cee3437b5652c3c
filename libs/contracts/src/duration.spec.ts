import { formatDuration, parseDuration } from './duration';

describe('durations', () => {
  it('reads single and compound units into milliseconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('0s')).toBe(0);
  });

  it('rejects text that is not a duration', () => {
    for (const text of ['', '5', '5 minutes', '1.5h', '-30s', '30s1h', '1m1m', '5M', ' 5m', '1w']) expect([text, parseDuration(text)]).toEqual([text, undefined]);
  });

  it('formats back into the shortest spec form', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(1_500)).toBe('1s500ms');
    expect(formatDuration(0)).toBe('0s');
    for (const ms of [1, 59_999, 3_600_000, 93_784_005]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

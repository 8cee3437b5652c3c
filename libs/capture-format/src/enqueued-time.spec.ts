import * as fc from 'fast-check';
import { formatEnqueuedTimeUtc, parseEnqueuedTimeUtc } from './enqueued-time';

describe('EnqueuedTimeUtc text', () => {
  it('keeps years below 100 literal', () => {
    const epochMs = new Date(0).setUTCFullYear(7, 2, 4);
    expect(formatEnqueuedTimeUtc(epochMs)).toBe('3/4/0007 12:00:00 AM');
    expect(parseEnqueuedTimeUtc('3/4/0007 12:00:00 AM')).toBe(epochMs);
  });

  it('formats like Capture: no padding on month, day and hour, padded minutes and seconds', () => {
    expect(formatEnqueuedTimeUtc(Date.UTC(2018, 11, 7, 10, 22, 49))).toBe('12/7/2018 10:22:49 AM');
    expect(formatEnqueuedTimeUtc(Date.UTC(2016, 10, 16, 16, 44, 11))).toBe('11/16/2016 4:44:11 PM');
    expect(formatEnqueuedTimeUtc(Date.UTC(2024, 1, 3, 4, 5, 6))).toBe('2/3/2024 4:05:06 AM');
  });

  it.each([
    ['midnight is 12 AM', Date.UTC(2020, 0, 1, 0, 0, 0), '1/1/2020 12:00:00 AM'],
    ['00:xx is 12:xx AM', Date.UTC(2020, 0, 1, 0, 5, 9), '1/1/2020 12:05:09 AM'],
    ['01:00 is 1 AM', Date.UTC(2020, 0, 1, 1, 0, 0), '1/1/2020 1:00:00 AM'],
    ['11:59:59 is AM', Date.UTC(2020, 0, 1, 11, 59, 59), '1/1/2020 11:59:59 AM'],
    ['noon is 12 PM', Date.UTC(2020, 0, 1, 12, 0, 0), '1/1/2020 12:00:00 PM'],
    ['12:xx is PM', Date.UTC(2020, 0, 1, 12, 30, 1), '1/1/2020 12:30:01 PM'],
    ['13:00 is 1 PM', Date.UTC(2020, 0, 1, 13, 0, 0), '1/1/2020 1:00:00 PM'],
    ['23:59:59 is 11 PM', Date.UTC(2020, 11, 31, 23, 59, 59), '12/31/2020 11:59:59 PM'],
    ['leap day', Date.UTC(2024, 1, 29, 6, 7, 8), '2/29/2024 6:07:08 AM'],
  ])('round-trips the AM/PM edge case: %s', (_name, epochMs, text) => {
    expect(formatEnqueuedTimeUtc(epochMs)).toBe(text);
    expect(parseEnqueuedTimeUtc(text)).toBe(epochMs);
  });

  it('drops milliseconds when formatting (second precision)', () => {
    const epochMs = Date.UTC(2018, 11, 7, 10, 22, 49, 999);
    expect(formatEnqueuedTimeUtc(epochMs)).toBe('12/7/2018 10:22:49 AM');
    expect(parseEnqueuedTimeUtc(formatEnqueuedTimeUtc(epochMs))).toBe(epochMs - 999);
  });

  it('parses back what it formats for any instant between year 1 and 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: new Date(0).setUTCFullYear(1, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (epochMs) => {
        expect(parseEnqueuedTimeUtc(formatEnqueuedTimeUtc(epochMs))).toBe(Math.floor(epochMs / 1000) * 1000);
      }),
    );
  });

  it('accepts zero-padded month, day and hour when parsing', () => {
    expect(parseEnqueuedTimeUtc('01/02/2020 03:04:05 PM')).toBe(Date.UTC(2020, 0, 2, 15, 4, 5));
  });

  it.each([
    ['an ISO timestamp', '2018-12-07T10:22:49Z'],
    ['a missing AM/PM', '12/7/2018 10:22:49'],
    ['hour 0 (12-hour clock has no 0)', '12/7/2018 0:22:49 AM'],
    ['hour 13', '12/7/2018 13:22:49 PM'],
    ['minute 60', '12/7/2018 10:60:49 AM'],
    ['a day that does not exist', '2/30/2020 10:22:49 AM'],
    ['month 13', '13/7/2018 10:22:49 AM'],
    ['an empty string', ''],
  ])('rejects %s, naming the text', (_name, text) => {
    expect(() => parseEnqueuedTimeUtc(text)).toThrow(RangeError);
    expect(() => parseEnqueuedTimeUtc(text)).toThrow(`Invalid EnqueuedTimeUtc ${JSON.stringify(text)}`);
  });

  it('refuses to format a non-finite time', () => {
    expect(() => formatEnqueuedTimeUtc(Number.NaN)).toThrow('Cannot format EnqueuedTimeUtc from NaN');
  });
});

import * as fc from 'fast-check';
import { windowsOf } from './window';

const MINUTE = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('windowsOf', () => {
  it('puts a time exactly on a window boundary in the window that starts there', () => {
    expect(windowsOf(T0 + MINUTE, { sizeMs: MINUTE, slideMs: MINUTE })).toEqual([{ start: T0 + MINUTE, end: T0 + 2 * MINUTE }]);
    expect(windowsOf(T0 + MINUTE - 1, { sizeMs: MINUTE, slideMs: MINUTE })).toEqual([{ start: T0, end: T0 + MINUTE }]);
  });

  it('returns the size / slide hopping windows containing a time, earliest first', () => {
    expect(windowsOf(T0 + 90_000, { sizeMs: 3 * MINUTE, slideMs: MINUTE })).toEqual([
      { start: T0 - MINUTE, end: T0 + 2 * MINUTE },
      { start: T0, end: T0 + 3 * MINUTE },
      { start: T0 + MINUTE, end: T0 + 4 * MINUTE },
    ]);
  });

  it('aligns windows to the epoch for times before it', () => {
    expect(windowsOf(-1, { sizeMs: 10, slideMs: 10 })).toEqual([{ start: -10, end: 0 }]);
    expect(windowsOf(-10, { sizeMs: 20, slideMs: 10 })).toEqual([
      { start: -20, end: 0 },
      { start: -10, end: 10 },
    ]);
  });

  it('always returns exactly the windows [k·slide, k·slide + size) that contain the time', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e13, max: 1e13 }), fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 12 }), (t, slideMs, multiple) => {
        const sizeMs = slideMs * multiple;
        const windows = windowsOf(t, { sizeMs, slideMs });
        expect(windows).toHaveLength(multiple);
        for (const w of windows) {
          expect(Math.abs(w.start % slideMs)).toBe(0);
          expect(w.start <= t && t < w.end).toBe(true);
          expect(w.end - w.start).toBe(sizeMs);
        }
        // The neighbours on either side do not contain t.
        expect(windows[0].start - slideMs + sizeMs).toBeLessThanOrEqual(t);
        expect(windows[windows.length - 1].start + slideMs).toBeGreaterThan(t);
      }),
    );
  });

  it('rejects a slide that does not divide the size, or a size that is not positive', () => {
    expect(() => windowsOf(0, { sizeMs: 60_000, slideMs: 25_000 })).toThrow(/slideMs 25000 does not divide sizeMs 60000/);
    expect(() => windowsOf(0, { sizeMs: 0, slideMs: 0 })).toThrow(/sizeMs must be a positive whole number/);
    expect(() => windowsOf(0, { sizeMs: 10, slideMs: 20 })).toThrow(/longer than sizeMs/);
    expect(() => windowsOf(Number.NaN, { sizeMs: 10, slideMs: 10 })).toThrow(/eventTime must be a finite number/);
  });
});

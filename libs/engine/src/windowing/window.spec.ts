import * as fc from 'fast-check';
import { lastWindowEnd, windowsOf } from './window';

const MINUTE = 60_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('windowsOf', () => {
  it('puts a time exactly on a window boundary in the window that starts there', () => {
    expect(windowsOf(T0 + MINUTE, { sizeMs: MINUTE, slideMs: MINUTE })).toEqual([{ start: T0 + MINUTE, end: T0 + 2 * MINUTE }]);
    expect(windowsOf(T0 + MINUTE - 1, { sizeMs: MINUTE, slideMs: MINUTE })).toEqual([{ start: T0, end: T0 + MINUTE }]);
  });

  it('returns the size / slide hopping windows containing a time when the slide divides the size, earliest first', () => {
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

  it('puts a time in 4 or 3 windows of size 10 s and slide 3 s, as the slide does not divide the size', () => {
    const window = { sizeMs: 10_000, slideMs: 3_000 };
    // 27 s: the windows starting at 18, 21, 24 and 27 s; 34 s: those at 27, 30 and 33 s.
    expect(windowsOf(27_000, window).map((w) => w.start)).toEqual([18_000, 21_000, 24_000, 27_000]);
    expect(windowsOf(34_000, window).map((w) => w.start)).toEqual([27_000, 30_000, 33_000]);
    expect(lastWindowEnd(34_000, window)).toBe(43_000);
  });

  it('shifts windows by the offset, also before the epoch', () => {
    expect(windowsOf(2_000, { sizeMs: 10_000, slideMs: 10_000, offsetMs: 5_000 })).toEqual([{ start: -5_000, end: 5_000 }]);
    expect(windowsOf(5_000, { sizeMs: 10_000, slideMs: 10_000, offsetMs: 5_000 })).toEqual([{ start: 5_000, end: 15_000 }]);
    expect(windowsOf(-1, { sizeMs: 20, slideMs: 10, offsetMs: 3 })).toEqual([
      { start: -17, end: 3 },
      { start: -7, end: 13 },
    ]);
    expect(lastWindowEnd(-1, { sizeMs: 20, slideMs: 10, offsetMs: 3 })).toBe(13);
  });

  it('always returns exactly the windows [k·slide + offset, k·slide + offset + size) that contain the time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e13, max: 1e13 }),
        // A size of 1 to 12 slides, whole or not.
        fc.integer({ min: 1, max: 100_000 }).chain((slide) => fc.tuple(fc.constant(slide), fc.integer({ min: slide, max: 12 * slide }))),
        fc.nat(),
        (t, [slideMs, sizeMs], offset) => {
          const offsetMs = offset % slideMs;
          const windows = windowsOf(t, { sizeMs, slideMs, offsetMs });
          expect(windows.length).toBeGreaterThanOrEqual(Math.floor(sizeMs / slideMs));
          expect(windows.length).toBeLessThanOrEqual(Math.ceil(sizeMs / slideMs));
          for (const w of windows) {
            expect(Math.abs((w.start - offsetMs) % slideMs)).toBe(0);
            expect(w.start <= t && t < w.end).toBe(true);
            expect(w.end - w.start).toBe(sizeMs);
          }
          windows.slice(1).forEach((w, i) => expect(w.start - windows[i].start).toBe(slideMs));
          // The neighbours on either side do not contain t.
          expect(windows[0].start - slideMs + sizeMs).toBeLessThanOrEqual(t);
          expect(windows[windows.length - 1].start + slideMs).toBeGreaterThan(t);
          expect(lastWindowEnd(t, { sizeMs, slideMs, offsetMs })).toBe(windows[windows.length - 1].end);
        },
      ),
    );
  });

  it('rejects a slide longer than the size, an offset outside [0, slide), or a size that is not positive', () => {
    expect(() => windowsOf(0, { sizeMs: 0, slideMs: 0 })).toThrow(/sizeMs must be a positive whole number/);
    expect(() => windowsOf(0, { sizeMs: 10, slideMs: 20 })).toThrow(/longer than sizeMs/);
    expect(() => windowsOf(0, { sizeMs: 10, slideMs: 5, offsetMs: 5 })).toThrow(/offsetMs 5 is not shorter than slideMs 5/);
    expect(() => windowsOf(0, { sizeMs: 10, slideMs: 5, offsetMs: -1 })).toThrow(/offsetMs must be a whole number of milliseconds ≥ 0/);
    expect(() => windowsOf(Number.NaN, { sizeMs: 10, slideMs: 10 })).toThrow(/eventTime must be a finite number/);
  });
});

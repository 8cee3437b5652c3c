import { capturePath } from '@pipeline/contracts';
import { PartitionCursor } from './partition-cursor';

const layout = { prefix: 'raw', namespace: 'ns', eventHub: 'hub' };
const H = 3_600_000;
const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const file = (offsetMs: number, records = 1) => ({ path: capturePath(layout, '0', t0 + offsetMs), time: t0 + offsetMs, records });

describe('partition cursor', () => {
  it('moves its position to the newest consumed file, never back', () => {
    const first = PartitionCursor.advance(undefined, [file(5_000), file(10_000)], 2 * H);
    expect(first.position).toBe(capturePath(layout, '0', t0 + 10_000));
    const late = PartitionCursor.advance(first, [file(1_000)], 2 * H);
    expect(late.position).toBe(first.position);
    expect(late.has(t0 + 1_000)).toBe(true);
  });

  it('forgets consumed files that fell out of the lookback window, and keeps the rest', () => {
    const early = PartitionCursor.advance(undefined, [file(0), file(H)], 2 * H);
    const later = PartitionCursor.advance(early, [file(2 * H + 30_000)], 2 * H);
    expect(later.horizon).toBe(t0 + 30_000);
    expect(later.has(t0)).toBe(false);
    expect(later.has(t0 + H)).toBe(true);
    expect(later.consumedCount).toBe(2);
  });

  it('never moves its horizon back, even with a longer lookback', () => {
    const short = PartitionCursor.advance(undefined, [file(3 * H)], H);
    const longer = PartitionCursor.advance(short, [file(3 * H + 1_000)], 10 * H);
    expect(longer.horizon).toBe(short.horizon);
  });

  it('round-trips through its stored form, counts included', () => {
    const cursor = PartitionCursor.advance(PartitionCursor.advance(undefined, [file(0, 3), file(7_000, 0)], 2 * H), [file(2_000, 4)], 2 * H);
    const stored = cursor.snapshot();
    expect(stored).toEqual({ position: capturePath(layout, '0', t0 + 7_000), horizon: t0 + 7_000 - 2 * H, consumed: [t0 / 1000, 2, 5], files: 3, records: 7 });
    const restored = PartitionCursor.restore(JSON.parse(JSON.stringify(stored)), layout, '0');
    expect(restored.snapshot()).toEqual(stored);
    expect([0, 2_000, 7_000].every((ms) => restored.has(t0 + ms))).toBe(true);
  });

  it('keeps sub-second files apart from the whole second they fall in, stored in ms beside the seconds', () => {
    const sub = (offsetMs: number, records = 1) => ({ path: capturePath(layout, '0', t0 + offsetMs, 'millisecond'), time: t0 + offsetMs, records });
    const cursor = PartitionCursor.advance(undefined, [sub(1_000, 2), sub(1_250), sub(1_500, 3), sub(3_750)], 2 * H);
    expect(cursor.position).toBe(capturePath(layout, '0', t0 + 3_750, 'millisecond'));
    expect([1_000, 1_250, 1_500, 3_750].every((ms) => cursor.has(t0 + ms))).toBe(true);
    expect(cursor.has(t0 + 1_750)).toBe(false);
    const stored = cursor.snapshot();
    expect(stored).toEqual({ position: cursor.position, horizon: t0 + 3_750 - 2 * H, consumed: [t0 / 1000 + 1], consumedMs: [t0 + 1_250, 250, 2_250], files: 4, records: 7 });
    const restored = PartitionCursor.restore(JSON.parse(JSON.stringify(stored)), layout, '0');
    expect(restored.snapshot()).toEqual(stored);
    expect(restored.consumedCount).toBe(4);
  });

  it('refuses a stored position that is not a capture file of the layout', () => {
    expect(() => PartitionCursor.restore({ position: 'raw/ns/hub/0/notes.txt', horizon: 0, consumed: [], files: 0, records: 0 }, layout, '0')).toThrow(
      /not a capture file of raw\/ns\/hub/,
    );
  });
});

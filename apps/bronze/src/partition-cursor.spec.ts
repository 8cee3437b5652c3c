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

  it('refuses a stored position that is not a capture file of the layout', () => {
    expect(() => PartitionCursor.restore({ position: 'raw/ns/hub/0/notes.txt', horizon: 0, consumed: [], files: 0, records: 0 }, layout, '0')).toThrow(
      /not a capture file of raw\/ns\/hub/,
    );
  });
});

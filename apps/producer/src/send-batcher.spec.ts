import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';
import { SendBatcher } from './send-batcher';

const event = (n: number, bytes = 10): EventToSend => ({ body: Buffer.alloc(bytes, n % 256), properties: { row: n } });

describe('send batcher', () => {
  it('keeps one batch per partition and hands it over when full', () => {
    const batcher = new SendBatcher({ maxEvents: 3, maxBytes: 1 << 20, maxPendingEvents: 1_000 });
    const ready = [1, 2, 3, 4, 5, 6, 7].flatMap((n) => batcher.add(event(n), n % 2 === 0 ? 'even' : 'odd', n));
    expect(ready.map((b) => [b.partitionId, b.rows])).toEqual([['odd', [1, 3, 5]]]);
    expect(batcher.drain().map((b) => [b.partitionId, b.rows])).toEqual([
      ['even', [2, 4, 6]],
      ['odd', [7]],
    ]);
    expect(batcher.size).toBe(0);
  });

  it('never lets a batch exceed the byte limit', () => {
    const size = eventSizeInBytes(event(1, 100));
    const batcher = new SendBatcher({ maxEvents: 100, maxBytes: size * 2, maxPendingEvents: 1_000 });
    const ready = [1, 2, 3, 4, 5].flatMap((n) => batcher.add(event(n, 100), 'k', n));
    expect(ready.map((b) => b.rows)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    for (const batch of ready) expect(batch.bytes).toBeLessThanOrEqual(size * 2);
  });

  it('flushes everything once too many events are pending across partitions, so memory stays bounded', () => {
    const batcher = new SendBatcher({ maxEvents: 100, maxBytes: 1 << 20, maxPendingEvents: 10 });
    const ready = Array.from({ length: 10 }, (_, i) => batcher.add(event(i), `key-${i}`, i + 1)).flat();
    expect(ready).toHaveLength(10);
    expect(batcher.size).toBe(0);
  });

  it('reports the oldest row still pending, for the resume hint', () => {
    const batcher = new SendBatcher({ maxEvents: 100, maxBytes: 1 << 20, maxPendingEvents: 100 });
    batcher.add(event(1), 'b', 7);
    batcher.add(event(2), 'a', 4);
    expect(batcher.oldestPendingRow()).toBe(4);
  });
});

import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';
import { partitionIndexForKey } from '@pipeline/engine';
import { SendBatcher, sendGroups, type PendingBatch } from './send-batcher';

const event = (n: number, bytes = 10): EventToSend => ({ body: Buffer.alloc(bytes, n % 256), properties: { row: n } });

describe('send batcher', () => {
  it('keeps one batch per partition and hands it over when full', () => {
    const batcher = new SendBatcher({ maxEvents: 3, maxBytes: 1 << 20, maxPendingEvents: 1_000 });
    const ready = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => batcher.add(event(n), n % 3 === 0 ? 'three' : 'other', n));
    expect(ready.map((b) => [b.partitionId, b.rows])).toEqual([['other', [1, 2, 4]]]);
    expect(batcher.drain().map((b) => [b.partitionId, b.rows])).toEqual([
      ['three', [3, 6]],
      ['other', [5, 7, 8]],
    ]);
    expect(batcher.size).toBe(0);
  });

  it('hands out the other partitions’ batches that are at least half full with a full one, so they go in one call', () => {
    const batcher = new SendBatcher({ maxEvents: 10, maxBytes: 1 << 20, maxPendingEvents: 1_000 });
    let row = 0;
    const fill = (partition: string | null, count: number) => Array.from({ length: count }, () => batcher.add(event(++row), partition, ++row)).flat();
    // a: full at 10; b: 5 of 10 (half full); c: 4 of 10 (not); no key: placed by the hub, never sent early.
    expect([...fill('a', 10), ...fill('b', 5), ...fill('c', 4), ...fill(null, 9)]).toEqual([]);
    const ready = fill('a', 1);
    expect(ready.map((b) => [b.partitionId, b.events.length])).toEqual([
      ['a', 10],
      ['b', 5],
    ]);
    expect(batcher.size).toBe(1 + 4 + 9);
    expect(batcher.drain().map((b) => [b.partitionId, b.events.length])).toEqual([
      ['c', 4],
      [null, 9],
      ['a', 1],
    ]);
  });

  it('hands out only the full batch when asked not to send batches together', () => {
    const batcher = new SendBatcher({ maxEvents: 2, maxBytes: 1 << 20, maxPendingEvents: 1_000, together: false });
    expect([batcher.add(event(1), 'a', 1), batcher.add(event(2), 'b', 2), batcher.add(event(3), 'a', 3), batcher.add(event(4), 'b', 4)].flat()).toEqual([]);
    expect(batcher.add(event(5), 'a', 5).map((b) => b.rows)).toEqual([[1, 3]]);
  });

  it('counts a batch half full by its bytes too', () => {
    const size = eventSizeInBytes(event(1, 100));
    const batcher = new SendBatcher({ maxEvents: 1_000, maxBytes: size * 10, maxPendingEvents: 1_000 });
    for (let n = 1; n <= 4; n++) expect(batcher.add(event(n, 100), 'c', n)).toEqual([]);
    for (let n = 5; n <= 9; n++) expect(batcher.add(event(n, 100), 'b', n)).toEqual([]);
    for (let n = 10; n <= 19; n++) expect(batcher.add(event(n, 100), 'a', n)).toEqual([]);
    expect(batcher.add(event(20, 100), 'a', 20).map((b) => [b.partitionId, b.rows.length])).toEqual([
      ['a', 10],
      ['b', 5],
    ]);
  });

  it('with keys spread unevenly (as real keys are), makes as few calls as the busiest partition fills, each carrying every partition', () => {
    const partitions = 4;
    const limits = { maxEvents: 2_000, maxBytes: 1 << 20, maxPendingEvents: 20_000 };
    const batcher = new SendBatcher(limits);
    const calls: PendingBatch[][] = [];
    const total = 200_000;
    for (let row = 1; row <= total; row++) {
      const partition = String(partitionIndexForKey(`device-${row % 997}`, partitions));
      calls.push(...sendGroups(batcher.add(event(row), partition, row)));
    }
    calls.push(...sendGroups(batcher.drain()));
    const batches = calls.flat();
    expect(batches.reduce((sum, batch) => sum + batch.events.length, 0)).toBe(total);
    const busiest = Math.max(...[0, 1, 2, 3].map((p) => batches.filter((b) => b.partitionId === String(p)).reduce((sum, b) => sum + b.events.length, 0)));
    // One call each time the busiest partition fills, and one at the end; one batch per partition and call.
    expect(busiest).toBeGreaterThan(total / partitions);
    expect(calls.length).toBe(Math.ceil(busiest / limits.maxEvents));
    expect(calls.every((call) => call.length === partitions)).toBe(true);
    expect(batches.length).toBeLessThanOrEqual(2 * (total / limits.maxEvents));
  });

  it('leaves a partition far behind pending, so skewed keys do not make small batches', () => {
    const batcher = new SendBatcher({ maxEvents: 10, maxBytes: 1 << 20, maxPendingEvents: 1_000 });
    const ready: PendingBatch[] = [];
    // A tenth of the rows go to the cold partition: under half a batch each time the hot one fills.
    for (let row = 1; row <= 50; row++) ready.push(...batcher.add(event(row), row % 10 === 0 ? 'cold' : 'hot', row));
    expect(ready.map((b) => [b.partitionId, b.events.length])).toEqual(Array.from({ length: 4 }, () => ['hot', 10]));
    expect(batcher.drain().map((b) => [b.partitionId, b.events.length])).toEqual([
      ['cold', 5],
      ['hot', 5],
    ]);
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

describe('send groups', () => {
  const batch = (partitionId: string | null, ...rows: number[]): PendingBatch => ({ partitionId, rows, events: rows.map((r) => event(r)), bytes: 0 });
  const shape = (groups: PendingBatch[][]) => groups.map((group) => group.map((b) => [b.partitionId, b.rows[0]]));

  it('puts batches of distinct partitions in one call and starts a new call when a partition comes again, keeping its order', () => {
    expect(shape(sendGroups([batch('0', 1), batch('1', 2), batch('0', 3), batch('2', 4), batch('1', 5)]))).toEqual([
      [
        ['0', 1],
        ['1', 2],
      ],
      [
        ['0', 3],
        ['2', 4],
        ['1', 5],
      ],
    ]);
  });

  it('sends a keyless batch in a call of its own, where it stood among the others', () => {
    expect(shape(sendGroups([batch('0', 1), batch(null, 2), batch('1', 3), batch(null, 4)]))).toEqual([[['0', 1]], [[null, 2]], [['1', 3]], [[null, 4]]]);
  });

  it('makes no call of nothing', () => {
    expect(sendGroups([])).toEqual([]);
  });
});

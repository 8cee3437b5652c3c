import { PartitionWatermarks } from './partition-watermarks';
import { WindowedAggregation } from './windowed-aggregation';

const MIN = 60_000;

describe('PartitionWatermarks', () => {
  it('holds the watermark at the partition that is furthest behind, not at the newest event', () => {
    const w = new PartitionWatermarks(30 * MIN, null);
    w.observe('0', 1000 * MIN, 10);
    w.observe('1', 100 * MIN, 10);
    expect(w.advance()).toBe(70 * MIN);
    expect(w.status()).toEqual({ watermark: 70 * MIN, holdingPartition: '1', idlePartitions: [] });
  });

  it('does not move while a declared partition has no rows and is not idle', () => {
    const w = new PartitionWatermarks(0, 5 * MIN);
    w.declare(['0', '1', '2']);
    w.observe('0', 500 * MIN, 1000);
    w.observe('1', 400 * MIN, 1000);
    expect(w.advance()).toBe(0);
    expect(w.status().holdingPartition).toBe('2');
  });

  it('lets a partition with no rows stop holding once the idle timeout of capture time has passed since the start', () => {
    const w = new PartitionWatermarks(0, 5 * MIN);
    w.declare(['0', '1']);
    w.observe('0', 100 * MIN, 0);
    expect(w.advance()).toBe(0);
    w.observe('0', 110 * MIN, 5 * MIN + 1);
    expect(w.advance()).toBe(110 * MIN);
    expect(w.status().idlePartitions).toEqual(['1']);
  });

  it('makes an idle partition active again when it has rows, without moving the watermark back', () => {
    const w = new PartitionWatermarks(0, MIN);
    w.observe('0', 100 * MIN, 0);
    w.observe('1', 90 * MIN, 0);
    expect(w.advance()).toBe(90 * MIN);
    w.observe('0', 200 * MIN, 10 * MIN);
    expect(w.advance()).toBe(200 * MIN);
    w.observe('1', 95 * MIN, 10 * MIN);
    expect(w.advance()).toBe(200 * MIN);
    w.observe('0', 300 * MIN, 10 * MIN);
    expect(w.advance()).toBe(200 * MIN);
    expect(w.status().holdingPartition).toBe('1');
  });

  it('measures idleness in capture time only, so the same input gives the same watermark', () => {
    const run = () => {
      const w = new PartitionWatermarks(MIN, 2 * MIN);
      const out: number[] = [];
      for (let i = 0; i < 10; i++) {
        w.observe(String(i % 3), i * MIN, i * 30_000);
        out.push(w.advance());
      }
      return out;
    };
    expect(run()).toEqual(run());
  });

  it('merges progress observed elsewhere by maxima, in any order, any number of times', () => {
    const a = new PartitionWatermarks(0, MIN);
    a.observe('0', 50, 5);
    a.observe('1', 70, 9);
    const b = new PartitionWatermarks(0, MIN);
    b.observe('1', 60, 3);
    b.observe('2', 40, 1);
    const ab = new PartitionWatermarks(0, MIN);
    ab.merge(a.progress());
    ab.merge(b.progress());
    ab.merge(a.progress());
    const ba = new PartitionWatermarks(0, MIN);
    ba.merge(b.progress());
    ba.merge(a.progress());
    expect(ab.progress()).toEqual(ba.progress());
    expect(ab.progress()).toEqual({
      start: 1,
      partitions: { '0': { maxEventTime: 50, captureTime: 5 }, '1': { maxEventTime: 70, captureTime: 9 }, '2': { maxEventTime: 40, captureTime: 1 } },
    });
  });

  it('restores exactly what it snapshotted, and refuses what is not a snapshot', () => {
    const w = new PartitionWatermarks(10, MIN);
    w.declare(['3']);
    w.observe('10', 500, 7);
    w.observe('2', 300, 4);
    w.advance();
    const copy = new PartitionWatermarks(10, MIN);
    copy.restore(JSON.parse(JSON.stringify(w.snapshot())));
    expect(copy.snapshot()).toEqual(w.snapshot());
    expect(Object.keys(copy.snapshot().partitions)).toEqual(['2', '3', '10']);
    expect(() => copy.restore({ watermark: -1, start: null, partitions: {} })).toThrow(/watermark -1 is not a time/);
  });
});

describe('WindowedAggregation with per-partition watermarks', () => {
  const config = {
    windows: [{ name: 'hourly', sizeMs: 60 * MIN, slideMs: 60 * MIN }],
    groupBy: ['origin'],
    aggregates: [{ name: 'n', fn: 'count' as const }],
    watermarkDelayMs: 30 * MIN,
    watermarkIdleTimeoutMs: 5 * MIN,
    partitionColumn: 'partition',
    captureTimeColumn: 'captured',
  };

  it('does not make in-order rows of a partition late when another partition was read days ahead', () => {
    const engine = WindowedAggregation.build(config);
    const day = 24 * 60 * MIN;
    // Partition 0's files were read first, three days ahead in event time; partition 1 is behind.
    const first = engine.processBatch([
      { event_time: 3 * day, origin: 'ATL', partition: '0', captured: 1000 },
      { event_time: 10 * MIN, origin: 'ORD', partition: '1', captured: 1000 },
    ]);
    expect(first.watermark).toBe(0);
    const second = engine.processBatch([{ event_time: 20 * MIN, origin: 'ORD', partition: '1', captured: 2000 }]);
    expect(second.late).toEqual([]);
  });

  it('counts Spark’s dropped aggregate rows once per (window, key), beside the late input rows', () => {
    const engine = WindowedAggregation.build({ ...config, partitionColumn: undefined, captureTimeColumn: undefined });
    engine.processBatch([{ event_time: 200 * MIN, origin: 'ATL' }]);
    const result = engine.processBatch([
      { event_time: 10 * MIN, origin: 'ATL' },
      { event_time: 11 * MIN, origin: 'ATL' },
      { event_time: 12 * MIN, origin: 'ORD' },
      { event_time: 70 * MIN, origin: 'ORD' },
    ]);
    expect(result.rowsDroppedByWatermark).toBe(4);
    expect(result.numRowsDroppedByWatermark).toBe(3);
  });

  it('passes every open window at the end of the input and emits it', () => {
    const engine = WindowedAggregation.build(config);
    engine.processBatch([{ event_time: 10 * MIN, origin: 'ATL', partition: '0', captured: 1 }]);
    const end = engine.processBatch([], { endOfInput: true });
    expect(end.emitted.map((w) => [w.windowStart, w.aggregates['n']])).toEqual([[0, 1]]);
    expect(end.watermark).toBe(60 * MIN);
    expect(engine.openWindows).toBe(0);
  });
});

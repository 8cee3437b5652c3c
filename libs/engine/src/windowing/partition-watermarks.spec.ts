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
    // Partition 0 runs on for 10 min of capture time (no pause of the stream); partition 1 has no rows.
    for (let t = 30_000; t <= 10 * MIN; t += 30_000) w.observe('0', 200 * MIN, t);
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

  describe('after a pause of the whole stream longer than the idle timeout', () => {
    // Four partitions ran together until capture time 10 min, then nothing was captured for an
    // hour (the source or the pipeline was stopped); the idle timeout is 15 min.
    const beforePause = () => {
      const w = new PartitionWatermarks(30_000, 15 * MIN);
      for (let minute = 0; minute <= 10; minute++) for (const p of ['0', '1', '2', '3']) w.observe(p, minute * MIN, minute * MIN);
      expect(w.advance()).toBe(10 * MIN - 30_000);
      return w;
    };

    it('does not count the pause as silence: a partition whose rows come a batch after the others holds the watermark', () => {
      const w = beforePause();
      // The first batch after the pause holds partitions 0, 2 and 3 (their files sort first), an hour of event time each.
      for (const p of ['0', '2', '3']) for (let minute = 11; minute <= 70; minute++) w.observe(p, minute * MIN, 70 * MIN + minute * 1_000);
      expect(w.advance()).toBe(10 * MIN - 30_000);
      expect(w.status()).toEqual({ watermark: 10 * MIN - 30_000, holdingPartition: '1', idlePartitions: [] });
      expect(w.progress().pause).toEqual({ from: 10 * MIN, to: 70 * MIN + 11_000 });
      // Partition 1's rows of the same hour come next: none is behind the watermark.
      for (let minute = 11; minute <= 70; minute++) w.observe('1', minute * MIN, 70 * MIN + minute * 1_000 + 500);
      expect(w.advance()).toBe(70 * MIN - 30_000);
    });

    it('still lets a partition that stays silent while the others run go idle, counting from the end of the pause', () => {
      const w = beforePause();
      for (const p of ['0', '2', '3']) w.observe(p, 11 * MIN, 70 * MIN);
      expect(w.advance()).toBe(10 * MIN - 30_000);
      // 15 min of capture time after the pause ended, partition 1 has had no rows: not idle yet.
      for (const p of ['0', '2', '3']) w.observe(p, 26 * MIN, 85 * MIN);
      expect(w.advance()).toBe(10 * MIN - 30_000);
      // Past 15 min of running stream: idle, and the watermark follows the others.
      for (const p of ['0', '2', '3']) w.observe(p, 27 * MIN, 85 * MIN + 1);
      expect(w.advance()).toBe(27 * MIN - 30_000);
      expect(w.status().idlePartitions).toEqual(['1']);
    });

    it('keeps the end of the pause in its snapshot, and a restored copy goes on exactly as the original', () => {
      const w = beforePause();
      for (const p of ['0', '2', '3']) w.observe(p, 11 * MIN, 70 * MIN);
      w.advance();
      const copy = new PartitionWatermarks(30_000, 15 * MIN);
      copy.restore(JSON.parse(JSON.stringify(w.snapshot())));
      expect(copy.snapshot()).toEqual(w.snapshot());
      for (const x of [w, copy]) for (const p of ['0', '2', '3']) x.observe(p, 40 * MIN, 80 * MIN);
      expect(copy.advance()).toBe(w.advance());
      expect(copy.status()).toEqual(w.status());
      expect(() => copy.restore({ ...w.snapshot(), pause: { from: 2, to: 1 } })).toThrow(/pause \{"from":2,"to":1\} is not \{ from, to \}/);
    });

    it('takes the end of the pause from merged progress alone: a gap in one shard’s rows is no pause of the stream', () => {
      // Silver saw every partition run without a pause; this shard's rows skip an hour of capture time.
      const silver = new PartitionWatermarks(0, 15 * MIN);
      const shard = new PartitionWatermarks(0, 15 * MIN);
      for (let minute = 0; minute <= 70; minute++) silver.observe(String(minute % 2), minute * MIN, minute * MIN);
      silver.advance();
      shard.observe('0', 0, 0);
      shard.observe('0', 70 * MIN, 70 * MIN);
      shard.merge(silver.progress());
      shard.advance();
      expect(shard.progress()).toEqual(silver.progress());
      expect(shard.progress().pause).toBeUndefined();
      expect(shard.watermark).toBe(silver.watermark);
      // Merged progress that saw a pause brings its end along.
      const paused = beforePause();
      paused.observe('0', 11 * MIN, 70 * MIN);
      paused.advance();
      const gold = new PartitionWatermarks(30_000, 15 * MIN);
      gold.merge(paused.progress());
      gold.advance();
      expect(gold.progress()).toEqual(paused.progress());
      expect(gold.status()).toEqual(paused.status());
    });

    it('holds back no partition that was already idle, or had no rows, when the pause began: a sparse stream goes on', () => {
      // Partition 0 has a row every 20 min, partition 1 had one row at the start, partition 2 none.
      const w = new PartitionWatermarks(0, 15 * MIN);
      w.declare(['0', '1', '2']);
      w.observe('0', 0, 0);
      w.observe('1', 0, 0);
      expect(w.advance()).toBe(0);
      w.observe('0', 20 * MIN, 20 * MIN);
      // A pause from 0 to 20 min: partition 1 was running when it began, so it counts from 20 min.
      expect(w.advance()).toBe(0);
      expect(w.status()).toEqual({ watermark: 0, holdingPartition: '1', idlePartitions: ['2'] });
      w.observe('0', 40 * MIN, 40 * MIN);
      // The next pause (20 to 40 min) began with partition 1 idle for 20 min: it is idle, and the watermark moves.
      expect(w.advance()).toBe(40 * MIN);
      expect(w.status().idlePartitions).toEqual(['1', '2']);
    });

    it('sees no pause in a stream whose gaps are all within the idle timeout, or with no idle timeout', () => {
      for (const idle of [15 * MIN, null]) {
        const w = new PartitionWatermarks(0, idle);
        for (let minute = 0; minute <= 100; minute += 14) w.observe('0', minute * MIN, minute * MIN);
        w.advance();
        expect(w.progress().pause).toBeUndefined();
      }
      const never = new PartitionWatermarks(0, null);
      never.observe('0', 0, 0);
      never.observe('0', 0, 100 * MIN);
      never.advance();
      expect(never.progress().pause).toBeUndefined();
    });
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

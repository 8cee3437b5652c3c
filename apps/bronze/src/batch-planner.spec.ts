import { BatchPlanner } from './batch-planner';

const file = (partitionId: string, time: number, bytes = 100) => ({ path: `raw/ns/hub/${partitionId}/${time}.avro`, partitionId, time, bytes });

describe('batch planner', () => {
  it('cuts a full batch at once, in time order across partitions', () => {
    const planner = new BatchPlanner({ maxFiles: 3, maxBytes: 1 << 20, maxDelayMs: 2_000 });
    planner.add([file('1', 30), file('0', 10), file('2', 10), file('0', 20), file('1', 5)], 0);
    expect(planner.next(0, false)?.map((f) => f.path)).toEqual(['raw/ns/hub/1/5.avro', 'raw/ns/hub/0/10.avro', 'raw/ns/hub/2/10.avro']);
  });

  it('holds a smaller batch until its oldest file waited the delay', () => {
    const planner = new BatchPlanner({ maxFiles: 3, maxBytes: 1 << 20, maxDelayMs: 2_000 });
    planner.add([file('0', 10)], 1_000);
    planner.add([file('0', 20)], 2_500);
    expect(planner.next(2_999, false)).toBeUndefined();
    expect(planner.next(3_000, false)).toHaveLength(2);
  });

  it('cuts a smaller batch at once when draining', () => {
    const planner = new BatchPlanner({ maxFiles: 3, maxBytes: 1 << 20, maxDelayMs: 60_000 });
    planner.add([file('0', 10)], 0);
    expect(planner.next(0, true)).toHaveLength(1);
  });

  it('stops a batch before the file that would exceed the byte limit, but always takes one', () => {
    const planner = new BatchPlanner({ maxFiles: 10, maxBytes: 250, maxDelayMs: 60_000 });
    planner.add([file('0', 1, 100), file('0', 2, 100), file('0', 3, 100)], 0);
    expect(planner.next(0, false)?.map((f) => f.time)).toEqual([1, 2]);
    planner.remove(['raw/ns/hub/0/1.avro', 'raw/ns/hub/0/2.avro']);
    const huge = new BatchPlanner({ maxFiles: 10, maxBytes: 50, maxDelayMs: 60_000 });
    huge.add([file('0', 1, 100)], 0);
    expect(huge.next(0, true)?.map((f) => f.time)).toEqual([1]);
  });

  it('cuts the same batches from the same pending files, whatever order they were found in', () => {
    const files = [file('0', 1), file('1', 1), file('0', 2), file('3', 0), file('2', 2)];
    const a = new BatchPlanner({ maxFiles: 2, maxBytes: 1 << 20, maxDelayMs: 0 });
    const b = new BatchPlanner({ maxFiles: 2, maxBytes: 1 << 20, maxDelayMs: 0 });
    a.add(files, 0);
    b.add([...files].reverse(), 0);
    const cuts = (p: BatchPlanner) => {
      const out: string[][] = [];
      for (let batch = p.next(0, true); batch; batch = p.next(0, true)) {
        out.push(batch.map((f) => f.path));
        p.remove(batch.map((f) => f.path));
      }
      return out;
    };
    expect(cuts(a)).toEqual(cuts(b));
  });
});

/**
 * Silver's de-duplication against gold's engine: whatever the interleaving of partitions, the
 * re-sends and the crash points, no event is aggregated twice into any window, and gold's
 * watermark after each silver batch is the one silver handed over.
 */
import fc from 'fast-check';
import { WindowedAggregation, type AggregationConfig, type EngineRow } from '@pipeline/engine';
import { EventTimeDedup, type EventTimeDedupState } from './event-time-dedup';

interface Event {
  id: string;
  partition: string;
  eventTime: number;
  captured: number;
}

const PARTITIONS = ['0', '1', '2'];

/** Per partition: events in event-time order within `disorder`, with copies re-sent later in the same partition. */
const partitionStream = (partition: string) =>
  fc
    .record({
      steps: fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 20 })), { maxLength: 25 }),
      resends: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
    })
    .map(({ steps, resends }) => {
      const events: Event[] = [];
      let time = 0;
      let captured = 0;
      steps.forEach(([advance, disorder, captureGap], i) => {
        time += advance;
        captured += captureGap;
        events.push({ id: `${partition}-${i}`, partition, eventTime: Math.max(0, time - disorder), captured });
      });
      // A re-send is a copy of an earlier event, captured again later (as a restarted producer does).
      for (const [from, to] of resends) {
        if (events.length === 0) break;
        const original = events[from % events.length] as Event;
        const at = Math.min(events.length, (from % events.length) + 1 + (to % events.length));
        const capturedAt = (events[at - 1] as Event).captured;
        events.splice(at, 0, { ...original, captured: capturedAt });
      }
      return events;
    });

/** The partitions interleaved in a random order that keeps each partition's own order, cut into batches. */
const scenario = fc
  .record({
    streams: fc.tuple(partitionStream('0'), partitionStream('1'), partitionStream('2')),
    picks: fc.array(fc.nat({ max: 2 }), { maxLength: 200 }),
    cuts: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 40 }),
    crashes: fc.array(fc.nat({ max: 30 }), { maxLength: 4 }),
    delayMs: fc.integer({ min: 0, max: 40 }),
    idleTimeoutMs: fc.option(fc.integer({ min: 0, max: 60 })),
    // Any slide up to the size, dividing it or not, with or without an offset.
    window: fc
      .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 80 }), fc.nat())
      .map(([slideMs, extra, offset]) => ({ sizeMs: slideMs + extra, slideMs, offsetMs: offset % slideMs })),
  })
  .map(({ streams, picks, cuts, ...rest }) => {
    const queues = streams.map((s) => [...s]);
    const ordered: Event[] = [];
    for (const pick of picks) {
      const queue = queues[pick] as Event[];
      const next = queue.shift();
      if (next) ordered.push(next);
    }
    for (const queue of queues) ordered.push(...queue);
    const batches: Event[][] = [];
    let at = 0;
    for (const cut of [...cuts, Number.MAX_SAFE_INTEGER]) {
      if (at >= ordered.length) break;
      batches.push(ordered.slice(at, at + cut));
      at += cut;
    }
    return { batches, ...rest };
  });

describe('EventTimeDedup with gold’s engine', () => {
  it('never lets a duplicate silver has forgotten be aggregated by gold, across re-sends, interleavings and crashes', () => {
    fc.assert(
      fc.property(scenario, ({ batches, crashes, delayMs, idleTimeoutMs, window }) => {
        const dedupConfig = { delayMs, idleTimeoutMs, windows: [window] };
        const goldConfig: AggregationConfig = {
          windows: [{ name: 'w', ...window }],
          groupBy: ['event_id'],
          aggregates: [{ name: 'n', fn: 'count' }],
          watermarkDelayMs: delayMs,
          watermarkIdleTimeoutMs: idleTimeoutMs,
          partitionColumn: 'partition',
          captureTimeColumn: 'captured',
          outputModes: ['append'],
        };
        let silver = EventTimeDedup.build(dedupConfig);
        silver.declarePartitions(PARTITIONS);
        let gold = WindowedAggregation.build(goldConfig);
        const counted = new Map<string, number>();
        const count = (emitted: Array<{ key: Record<string, unknown>; windowStart: number; aggregates: Record<string, number | null> }>) => {
          for (const w of emitted) {
            const id = `${String(w.key['event_id'])}@${w.windowStart}`;
            counted.set(id, (counted.get(id) ?? 0) + (w.aggregates['n'] ?? 0));
          }
        };

        batches.forEach((batch, n) => {
          if (crashes.includes(n)) {
            // A crash between batches: both stages resume from their last snapshots.
            silver = EventTimeDedup.build(dedupConfig, JSON.parse(JSON.stringify(silver.snapshot())) as EventTimeDedupState);
            gold = WindowedAggregation.build(goldConfig, JSON.parse(JSON.stringify(gold.snapshot())) as ReturnType<WindowedAggregation['snapshot']>);
          }
          const rows: EngineRow[] = [];
          for (const e of batch) {
            if (silver.admit(e.id, e.partition, e.eventTime, e.captured) === 'new')
              rows.push({ event_time: e.eventTime, event_id: e.id, partition: e.partition, captured: e.captured });
          }
          const handed = silver.endBatch();
          const result = gold.processBatch(rows, { progress: handed });
          expect(result.watermark).toBe(handed.watermark);
          count(result.emitted);
        });
        count(gold.processBatch([], { endOfInput: true }).emitted);
        for (const [id, n] of counted) expect({ id, n }).toEqual({ id, n: 1 });
      }),
      { numRuns: 400 },
    );
  });
});

/**
 * Silver's de-duplication against gold's session windows: an event id is remembered until the
 * watermark passes the event's own session end (t + gap, the gap fixed or read from the row), so a
 * copy silver has forgotten is always late for gold and no session counts an event twice.
 */
import fc from 'fast-check';
import { WindowedAggregation, type AggregationConfig, type EngineRow } from '@pipeline/engine';
import { EventTimeDedup, type EventTimeDedupConfig, type EventTimeDedupState } from './event-time-dedup';

interface Event {
  id: string;
  eventTime: number;
  gap: number;
}

/** One partition's events, out of order within 30, with copies re-sent later. */
const stream = fc
  .record({
    steps: fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 40 })), { maxLength: 30 }),
    resends: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
  })
  .map(({ steps, resends }) => {
    const events: Event[] = [];
    let time = 0;
    steps.forEach(([advance, disorder, gap], i) => {
      time += advance;
      events.push({ id: `e${i}`, eventTime: Math.max(0, time - disorder), gap });
    });
    for (const [from, to] of resends) {
      if (events.length === 0) break;
      const original = events[from % events.length] as Event;
      events.splice(Math.min(events.length, (from % events.length) + 1 + (to % events.length)), 0, { ...original });
    }
    return events;
  });

const scenario = fc.record({
  events: stream,
  cuts: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 40 }),
  crashes: fc.array(fc.nat({ max: 30 }), { maxLength: 4 }),
  delayMs: fc.integer({ min: 0, max: 40 }),
  session: fc.oneof(fc.record({ gapMs: fc.integer({ min: 1, max: 40 }) }), fc.constant({ gapColumn: 'gap' })),
});

describe('EventTimeDedup with gold’s session windows', () => {
  it('never lets a duplicate silver has forgotten be aggregated into a session, across re-sends and crashes', () => {
    fc.assert(
      fc.property(scenario, ({ events, cuts, crashes, delayMs, session }) => {
        const dedupConfig: EventTimeDedupConfig = { delayMs, idleTimeoutMs: null, windows: [], sessions: [session] };
        const goldConfig: AggregationConfig = {
          windows: [],
          sessions: [{ name: 's', ...session }],
          groupBy: ['event_id'],
          aggregates: [{ name: 'n', fn: 'count' }],
          watermarkDelayMs: delayMs,
          partitionColumn: 'partition',
          outputModes: ['append'],
        };
        let silver = EventTimeDedup.build(dedupConfig);
        silver.declarePartitions(['0']);
        let gold = WindowedAggregation.build(goldConfig);
        const counted = new Map<string, number>();
        const count = (emitted: Array<{ key: Record<string, unknown>; aggregates: Record<string, number | null> }>) => {
          for (const w of emitted) counted.set(String(w.key['event_id']), (counted.get(String(w.key['event_id'])) ?? 0) + (w.aggregates['n'] ?? 0));
        };
        let at = 0;
        let n = 0;
        for (const cut of [...cuts, Number.MAX_SAFE_INTEGER]) {
          if (at >= events.length) break;
          if (crashes.includes(n++)) {
            silver = EventTimeDedup.build(dedupConfig, JSON.parse(JSON.stringify(silver.snapshot())) as EventTimeDedupState);
            gold = WindowedAggregation.build(goldConfig, JSON.parse(JSON.stringify(gold.snapshot())) as ReturnType<WindowedAggregation['snapshot']>);
          }
          const rows: EngineRow[] = [];
          for (const e of events.slice(at, at + cut)) {
            const row: EngineRow = { event_time: e.eventTime, event_id: e.id, partition: '0', gap: e.gap };
            if (silver.admit(e.id, '0', e.eventTime, 0, row) === 'new') rows.push(row);
          }
          at += cut;
          const handed = silver.endBatch();
          const result = gold.processBatch(rows, { progress: handed });
          expect(result.watermark).toBe(handed.watermark);
          count(result.emitted);
        }
        count(gold.processBatch([], { endOfInput: true }).emitted);
        for (const [id, total] of counted) expect({ id, total }).toEqual({ id, total: 1 });
      }),
      { numRuns: 300 },
    );
  });
});

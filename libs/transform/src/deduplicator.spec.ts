import fc from 'fast-check';
import { Deduplicator, type DedupState, type DedupVerdict } from './deduplicator';

type Observation = [id: string, eventTime: number];

/**
 * The brute-force reference: the whole history, no eviction. An observation is a duplicate when an
 * earlier observation of the same id lies at or above (max earlier event time) − horizon.
 */
function referenceVerdicts(observations: readonly Observation[], horizonMs: number): DedupVerdict[] {
  const verdicts: DedupVerdict[] = [];
  let max = Number.NEGATIVE_INFINITY;
  observations.forEach(([id, time], i) => {
    const duplicate = observations.slice(0, i).some(([earlierId, earlierTime]) => earlierId === id && earlierTime >= max - horizonMs);
    verdicts.push(duplicate ? 'duplicate' : 'new');
    max = Math.max(max, time);
  });
  return verdicts;
}

const observationsArb = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), fc.integer({ min: 0, max: 200 })), { maxLength: 120 });
const horizonArb = fc.integer({ min: 0, max: 60 });

function run(dedup: Deduplicator, observations: readonly Observation[]): DedupVerdict[] {
  return observations.map(([id, time]) => dedup.observe(id, time));
}

describe('Deduplicator', () => {
  it('reports a first-seen id as new and a repeat within the horizon as a duplicate', () => {
    const dedup = new Deduplicator({ horizonMs: 1000 });
    expect(dedup.observe('a', 5000)).toBe('new');
    expect(dedup.observe('b', 5200)).toBe('new');
    expect(dedup.observe('a', 5000)).toBe('duplicate');
    expect(dedup.observe('a', 4500)).toBe('duplicate'); // a copy with another event time is still the same event
  });

  it('forgets an id once its latest event time falls below the watermark', () => {
    const dedup = new Deduplicator({ horizonMs: 1000 });
    dedup.observe('a', 5000);
    dedup.observe('b', 6000); // watermark 5000: a is still remembered
    expect(dedup.size).toBe(2);
    dedup.observe('c', 6001); // watermark 5001: a is forgotten
    expect(dedup.size).toBe(2);
    expect(dedup.observe('a', 5000)).toBe('new');
  });

  it('keeps an id as long as a recent copy of it was seen', () => {
    const dedup = new Deduplicator({ horizonMs: 1000 });
    dedup.observe('a', 5000);
    dedup.observe('a', 5900); // refreshed
    dedup.observe('b', 6500); // watermark 5500
    expect(dedup.observe('a', 5000)).toBe('duplicate');
  });

  it('answers an event below the watermark without remembering it (best effort beyond the horizon)', () => {
    const dedup = new Deduplicator({ horizonMs: 100 });
    dedup.observe('x', 10_000);
    expect(dedup.observe('late', 1)).toBe('new');
    expect(dedup.observe('late', 1)).toBe('new');
    expect(dedup.size).toBe(1);
  });

  it('has a watermark that starts at minus infinity and never goes back', () => {
    const dedup = new Deduplicator({ horizonMs: 50 });
    expect(dedup.watermark).toBe(Number.NEGATIVE_INFINITY);
    dedup.observe('a', 1000);
    expect(dedup.watermark).toBe(950);
    dedup.observe('b', 10);
    expect(dedup.watermark).toBe(950);
  });

  it('rejects a negative horizon and event times that are not finite', () => {
    expect(() => new Deduplicator({ horizonMs: -1 })).toThrow(RangeError);
    expect(() => new Deduplicator({ horizonMs: Number.NaN })).toThrow(RangeError);
    expect(() => new Deduplicator({ horizonMs: 10 }).observe('a', Number.NaN)).toThrow(/event time of "a" must be finite/);
  });

  it('agrees with a brute-force reference on every observation', () => {
    fc.assert(
      fc.property(observationsArb, horizonArb, (observations, horizonMs) => {
        expect(run(new Deduplicator({ horizonMs }), observations)).toEqual(referenceVerdicts(observations, horizonMs));
      }),
      { numRuns: 500 },
    );
  });

  it('never reports a first-seen id as a duplicate and always reports a repeat within the horizon', () => {
    fc.assert(
      fc.property(observationsArb, horizonArb, (observations, horizonMs) => {
        const verdicts = run(new Deduplicator({ horizonMs }), observations);
        const seen = new Map<string, number>();
        let max = Number.NEGATIVE_INFINITY;
        observations.forEach(([id, time], i) => {
          const latest = seen.get(id);
          if (latest === undefined) expect(verdicts[i]).toBe('new');
          else if (latest >= max - horizonMs) expect(verdicts[i]).toBe('duplicate');
          seen.set(id, Math.max(latest ?? Number.NEGATIVE_INFINITY, time));
          max = Math.max(max, time);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('remembers exactly the ids whose latest event time is within the horizon (bounded memory)', () => {
    fc.assert(
      fc.property(observationsArb, horizonArb, (observations, horizonMs) => {
        const dedup = new Deduplicator({ horizonMs });
        run(dedup, observations);
        const latest = new Map<string, number>();
        for (const [id, time] of observations) latest.set(id, Math.max(latest.get(id) ?? Number.NEGATIVE_INFINITY, time));
        const max = Math.max(...observations.map(([, time]) => time));
        expect(dedup.size).toBe([...latest.values()].filter((time) => time >= max - horizonMs).length);
      }),
    );
  });

  it('gives identical answers after a snapshot and restore mid-stream', () => {
    fc.assert(
      fc.property(observationsArb, horizonArb, fc.nat(), (observations, horizonMs, cutSeed) => {
        const cut = observations.length === 0 ? 0 : cutSeed % (observations.length + 1);
        const uninterrupted = run(new Deduplicator({ horizonMs }), observations);
        const first = new Deduplicator({ horizonMs });
        const before = run(first, observations.slice(0, cut));
        const state = JSON.parse(JSON.stringify(first.snapshot())) as DedupState;
        const restored = Deduplicator.restore(state);
        const after = run(restored, observations.slice(cut));
        expect([...before, ...after]).toEqual(uninterrupted);
        expect(restored.snapshot()).toEqual(snapshotAfter(horizonMs, observations));
      }),
      { numRuns: 500 },
    );
  });

  it('writes the same snapshot for the same remembered ids, whatever the order they came in', () => {
    const a = new Deduplicator({ horizonMs: 100 });
    const b = new Deduplicator({ horizonMs: 100 });
    run(a, [
      ['y', 50],
      ['x', 50],
      ['z', 10],
    ]);
    run(b, [
      ['z', 10],
      ['x', 50],
      ['y', 50],
    ]);
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.snapshot()).toEqual({
      version: 1,
      horizonMs: 100,
      maxEventTime: 50,
      entries: [
        ['z', 10],
        ['x', 50],
        ['y', 50],
      ],
    });
  });

  it('snapshots an empty deduplicator with no max event time', () => {
    expect(new Deduplicator({ horizonMs: 5 }).snapshot()).toEqual({ version: 1, horizonMs: 5, maxEventTime: null, entries: [] });
  });

  it('refuses to restore something that is not a snapshot, saying what is wrong', () => {
    const good: DedupState = { version: 1, horizonMs: 5, maxEventTime: 10, entries: [['a', 9]] };
    expect(() => Deduplicator.restore({ ...good, version: 2 } as unknown as DedupState)).toThrow(/version is 2/);
    expect(() =>
      Deduplicator.restore({
        ...good,
        entries: [
          ['a', 9],
          ['a', 10],
        ],
      }),
    ).toThrow(/id "a" appears twice/);
    expect(() => Deduplicator.restore({ ...good, entries: [['a', 'x']] } as unknown as DedupState)).toThrow(/is not \[id, eventTime\]/);
    expect(() => Deduplicator.restore({ ...good, horizonMs: -1 })).toThrow(/horizonMs is -1/);
  });
});

function snapshotAfter(horizonMs: number, observations: readonly Observation[]): DedupState {
  const dedup = new Deduplicator({ horizonMs });
  run(dedup, observations);
  return dedup.snapshot();
}

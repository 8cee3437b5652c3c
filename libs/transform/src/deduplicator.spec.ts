import fc from 'fast-check';
import { Deduplicator, type DedupState, type DedupStateV2, type DedupVerdict } from './deduplicator';

/** An observation of an id with its expiry, or the watermark moving to a time. */
type Step = { observe: [id: string, expiry: number] } | { expire: number };

/** The obvious model: a plain map scanned whole on every expiry. */
function referenceVerdicts(steps: readonly Step[]): { verdicts: DedupVerdict[]; remembered: Map<string, number>; forgotten: number[] } {
  const remembered = new Map<string, number>();
  const verdicts: DedupVerdict[] = [];
  const forgotten: number[] = [];
  for (const step of steps) {
    if ('expire' in step) {
      const before = remembered.size;
      for (const [id, expiry] of [...remembered]) if (expiry <= step.expire) remembered.delete(id);
      forgotten.push(before - remembered.size);
      continue;
    }
    const [id, expiry] = step.observe;
    const known = remembered.get(id);
    verdicts.push(known === undefined ? 'new' : 'duplicate');
    remembered.set(id, Math.max(known ?? Number.NEGATIVE_INFINITY, expiry));
  }
  return { verdicts, remembered, forgotten };
}

function run(dedup: Deduplicator, steps: readonly Step[], forgotten: number[] = []): DedupVerdict[] {
  const verdicts: DedupVerdict[] = [];
  for (const step of steps) {
    if ('expire' in step) forgotten.push(dedup.expire(step.expire));
    else verdicts.push(dedup.observe(...step.observe));
  }
  return verdicts;
}

const stepsArb: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), fc.integer({ min: 0, max: 200 })).map((observe): Step => ({ observe })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 220 }).map((expire): Step => ({ expire })) },
  ),
  { maxLength: 150 },
);

describe('Deduplicator', () => {
  it('reports a first-seen id as new and a repeat as a duplicate while it is remembered', () => {
    const dedup = new Deduplicator();
    expect(dedup.observe('a', 5000)).toBe('new');
    expect(dedup.observe('b', 5200)).toBe('new');
    expect(dedup.observe('a', 5000)).toBe('duplicate');
    expect(dedup.observe('a', 4500)).toBe('duplicate'); // a copy with another event time is still the same event
  });

  it('forgets an id once the watermark reaches its expiry, and not before', () => {
    const dedup = new Deduplicator();
    dedup.observe('a', 5000);
    dedup.observe('b', 6000);
    expect(dedup.expire(4999)).toBe(0);
    expect(dedup.observe('a', 5000)).toBe('duplicate');
    expect(dedup.expire(5000)).toBe(1);
    expect(dedup.size).toBe(1);
    expect(dedup.observe('a', 5000)).toBe('new');
  });

  it('extends an id’s memory when a copy with a later expiry comes', () => {
    const dedup = new Deduplicator();
    dedup.observe('a', 5000);
    dedup.observe('a', 5900);
    dedup.expire(5500);
    expect(dedup.observe('a', 5000)).toBe('duplicate');
  });

  it('remembers an id that is already late until the next expiry, so copies within a batch are caught', () => {
    const dedup = new Deduplicator();
    dedup.expire(10_000);
    expect(dedup.observe('late', 1)).toBe('new');
    expect(dedup.observe('late', 1)).toBe('duplicate');
    dedup.expire(10_000);
    expect(dedup.size).toBe(0);
  });

  it('rejects an expiry that is not finite', () => {
    expect(() => new Deduplicator().observe('a', Number.NaN)).toThrow(/expiry of "a" must be finite/);
  });

  it('agrees with a brute-force reference on every observation, on what each expiry forgets and on what it remembers', () => {
    fc.assert(
      fc.property(stepsArb, (steps) => {
        const dedup = new Deduplicator();
        const reference = referenceVerdicts(steps);
        const forgotten: number[] = [];
        expect(run(dedup, steps, forgotten)).toEqual(reference.verdicts);
        expect(forgotten).toEqual(reference.forgotten);
        expect(dedup.size).toBe(reference.remembered.size);
      }),
      { numRuns: 500 },
    );
  });

  it('forgets the same ids whether most of them are due (the kept ones are copied) or few (the due ones are deleted)', () => {
    const observe = (from: number, to: number, expiry: number): Step[] => Array.from({ length: to - from }, (_, k): Step => ({ observe: [`id-${from + k}`, expiry] }));
    const extended = [0, 1, 2, 3, 4, 100, 101].map((i): Step => ({ observe: [`id-${i}`, 30] }));
    // Most due: 95 of 110 remembered ids at the first expiry (copied); then half, 8 of 16 (deleted).
    const most: Step[] = [...observe(0, 100, 10), ...observe(100, 110, 20), ...extended, { expire: 10 }, { observe: ['id-7', 40] }, { observe: ['id-3', 40] }, { expire: 20 }];
    // Few due: 5 of 110 (a bucket with extended ids), then 1 of 108 (a bucket without); both deleted.
    const few: Step[] = [
      ...observe(0, 10, 10),
      ...observe(10, 110, 20),
      ...extended,
      { expire: 10 },
      { observe: ['id-7', 40] },
      { observe: ['id-3', 40] },
      { observe: ['x', 15] },
      { expire: 15 },
    ];
    expect(referenceVerdicts(most).forgotten).toEqual([95, 8]);
    expect(referenceVerdicts(few).forgotten).toEqual([5, 1]);
    for (const sequence of [most, few]) {
      const dedup = new Deduplicator();
      const forgotten: number[] = [];
      const reference = referenceVerdicts(sequence);
      expect(run(dedup, sequence, forgotten)).toEqual(reference.verdicts);
      expect(forgotten).toEqual(reference.forgotten);
      expect(dedup.snapshot()).toEqual({ version: 3, buckets: byExpiry(reference.remembered) });
      expect(run(dedup, [{ observe: ['id-3', 40] }, { observe: ['id-6', 40] }, { observe: ['id-101', 40] }])).toEqual(['duplicate', 'new', 'duplicate']);
    }
  });

  it('lists exactly what it remembers, by expiry then id, in a snapshot taken at any point, and answers as if none was taken', () => {
    const withSnapshots = fc.array(
      fc.oneof(
        stepsArb.map((steps): Array<Step | 'snapshot'> => steps),
        fc.constant<Array<Step | 'snapshot'>>(['snapshot']),
      ),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(withSnapshots, (parts) => {
        const steps = parts.flat();
        const dedup = new Deduplicator();
        const plain = steps.filter((step): step is Step => step !== 'snapshot');
        const verdicts: DedupVerdict[] = [];
        steps.forEach((step, i) => {
          if (step !== 'snapshot') return void verdicts.push(...run(dedup, [step]));
          const { remembered } = referenceVerdicts(steps.slice(0, i).filter((s): s is Step => s !== 'snapshot'));
          const expected = byExpiry(remembered);
          // Twice: a snapshot reused for unchanged buckets is the same as a fresh one.
          expect(dedup.snapshot()).toEqual({ version: 3, buckets: expected });
          expect(dedup.snapshot()).toEqual({ version: 3, buckets: expected });
        });
        expect(verdicts).toEqual(referenceVerdicts(plain).verdicts);
        expect(dedup.size).toBe(referenceVerdicts(plain).remembered.size);
      }),
      { numRuns: 300 },
    );
  });

  it('gives identical answers after a snapshot and restore mid-stream', () => {
    fc.assert(
      fc.property(stepsArb, fc.nat(), (steps, cutSeed) => {
        const cut = steps.length === 0 ? 0 : cutSeed % (steps.length + 1);
        const uninterrupted = new Deduplicator();
        const expected = run(uninterrupted, steps);
        const first = new Deduplicator();
        const before = run(first, steps.slice(0, cut));
        const restored = Deduplicator.restore(JSON.parse(JSON.stringify(first.snapshot())) as DedupState);
        const after = run(restored, steps.slice(cut));
        expect([...before, ...after]).toEqual(expected);
        expect(restored.snapshot()).toEqual(uninterrupted.snapshot());
      }),
      { numRuns: 500 },
    );
  });

  it('writes the same snapshot for the same remembered ids, whatever the order they came in', () => {
    const a = new Deduplicator();
    const b = new Deduplicator();
    run(a, [{ observe: ['y', 50] }, { observe: ['x', 50] }, { observe: ['z', 10] }]);
    run(b, [{ observe: ['z', 10] }, { observe: ['x', 50] }, { observe: ['y', 50] }]);
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.snapshot()).toEqual({
      version: 3,
      buckets: [
        [10, ['z']],
        [50, ['x', 'y']],
      ],
    });
  });

  it('lists an extended id under its latest expiry only, and leaves out an expiry none keeps', () => {
    const dedup = new Deduplicator();
    run(dedup, [{ observe: ['a', 10] }, { observe: ['b', 20] }, { observe: ['a', 30] }]);
    expect(dedup.snapshot()).toEqual({
      version: 3,
      buckets: [
        [20, ['b']],
        [30, ['a']],
      ],
    });
  });

  it('keeps a snapshot taken as it was while the ids go on changing', () => {
    const dedup = new Deduplicator();
    dedup.observe('b', 10);
    const before = dedup.snapshot();
    dedup.observe('a', 10);
    dedup.expire(5);
    expect(before).toEqual({ version: 3, buckets: [[10, ['b']]] });
    expect(dedup.snapshot()).toEqual({ version: 3, buckets: [[10, ['a', 'b']]] });
  });

  it('restores a version 2 snapshot (one pair per id, as checkpoints written before hold) to the same ids', () => {
    fc.assert(
      fc.property(stepsArb, stepsArb, (steps, later) => {
        const original = new Deduplicator();
        run(original, steps);
        const pairs = (original.snapshot().buckets as Array<[number, string[]]>).flatMap(([expiry, ids]) => ids.map((id): [string, number] => [id, expiry]));
        const legacy: DedupStateV2 = { version: 2, entries: pairs };
        const restored = Deduplicator.restore(JSON.parse(JSON.stringify(legacy)) as DedupStateV2);
        expect(restored.snapshot()).toEqual(original.snapshot());
        expect(run(restored, later)).toEqual(run(original, later));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses to restore something that is not a snapshot, saying what is wrong', () => {
    const good: DedupState = { version: 3, buckets: [[9, ['a']]] };
    expect(() => Deduplicator.restore({ ...good, version: 1 } as unknown as DedupState)).toThrow(/version is 1/);
    expect(() => Deduplicator.restore(null as unknown as DedupState)).toThrow(/expected an object/);
    expect(() => Deduplicator.restore({ version: 3 } as unknown as DedupState)).toThrow(/buckets is not an array/);
    expect(() =>
      Deduplicator.restore({
        version: 3,
        buckets: [
          [9, ['a']],
          [10, ['a']],
        ],
      }),
    ).toThrow(/id "a" appears twice/);
    expect(() =>
      Deduplicator.restore({
        version: 3,
        buckets: [
          [9, ['a']],
          [9, ['b']],
        ],
      }),
    ).toThrow(/expiry 9 appears twice/);
    expect(() => Deduplicator.restore({ version: 3, buckets: [['x', ['a']]] } as unknown as DedupState)).toThrow(/is not an id with a finite expiry/);
    expect(() => Deduplicator.restore({ version: 3, buckets: [[9, [7]]] } as unknown as DedupState)).toThrow(/is not an id with a finite expiry/);
    expect(() => Deduplicator.restore({ version: 3, buckets: [[9]] } as unknown as DedupState)).toThrow(/is not \[expiry, ids\]/);
    expect(() =>
      Deduplicator.restore({
        version: 2,
        entries: [
          ['a', 9],
          ['a', 10],
        ],
      }),
    ).toThrow(/id "a" appears twice/);
    expect(() => Deduplicator.restore({ version: 2, entries: [['a', 'x']] } as unknown as DedupStateV2)).toThrow(/is not an id with a finite expiry/);
    expect(() => Deduplicator.restore({ version: 2, entries: [['a']] } as unknown as DedupStateV2)).toThrow(/is not \[id, expiry\]/);
  });
});

/** Remembered ids as a version 3 snapshot lists them: by expiry, each expiry's ids sorted. */
function byExpiry(remembered: ReadonlyMap<string, number>): Array<[number, string[]]> {
  const buckets = new Map<number, string[]>();
  for (const [id, expiry] of remembered) buckets.set(expiry, [...(buckets.get(expiry) ?? []), id]);
  return [...buckets.keys()].sort((a, b) => a - b).map((expiry) => [expiry, (buckets.get(expiry) as string[]).sort()]);
}

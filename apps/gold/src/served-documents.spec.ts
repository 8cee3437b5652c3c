import type { EngineValue, WindowResult } from '@pipeline/engine';
import { groupKeyText, windowDocumentId, type KeyValue, type RetiredWindow, type WindowDocument } from '@pipeline/ports';
import { ServedDocuments } from './served-documents';

function random(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** The documents of a batch as a Map keyed by document id holds them: every id built from scratch. */
class MapOfDocuments {
  readonly documents = new Map<string, WindowDocument>();
  readonly retired = new Map<string, RetiredWindow>();
  constructor(
    private readonly groupBy: string[],
    private readonly batch: number,
    private readonly watermark: number,
  ) {}
  private keyOf(key: Record<string, EngineValue>): Record<string, KeyValue> {
    return Object.fromEntries(this.groupBy.map((c) => [c, (key[c] ?? null) as KeyValue]));
  }
  serve(w: WindowResult): void {
    const key = this.keyOf(w.key);
    const pk = groupKeyText(key, this.groupBy);
    const id = windowDocumentId(w.window, pk, w.windowStart);
    const doc = {
      id,
      pk,
      pipeline: 'p',
      window: w.window,
      windowStart: w.windowStart,
      windowEnd: w.windowEnd,
      key,
      aggregates: { ...w.aggregates },
      final: w.final,
      watermark: this.watermark,
      shard: 2,
      version: this.batch,
    };
    this.documents.set(id, doc);
    this.retired.delete(id);
  }
  retire(window: string, engineKey: Record<string, EngineValue>, start: number): void {
    const pk = groupKeyText(this.keyOf(engineKey), this.groupBy);
    const id = windowDocumentId(window, pk, start);
    this.documents.delete(id);
    this.retired.set(id, { pk, id, version: this.batch });
  }
}

describe('ServedDocuments', () => {
  // Values that name the same key once made text ("1" and 1, null and ""), reserved id characters, and no key at all.
  const shapes: Array<{ groupBy: string[]; values: EngineValue[] }> = [
    { groupBy: ['device'], values: ['a', 'b', 'a/b', 'c#?', 1, '1', null, '', true, 'é'] },
    { groupBy: ['site', 'device'], values: ['x', 'y', 2, null, 'z|w'] },
    { groupBy: [], values: [] },
  ];

  it('holds the same documents and retired windows, in the same order, as a Map keyed by id, over random serve and retire sequences', () => {
    for (const [s, { groupBy, values }] of shapes.entries()) {
      for (let run = 0; run < 40; run++) {
        const r = random(1 + run * 31 + s * 1000);
        const pick = <T>(items: readonly T[]) => items[Math.floor(r() * items.length)] as T;
        const served = new ServedDocuments({ name: 'p', groupBy }, 2, 7, 1_000);
        const oracle = new MapOfDocuments(groupBy, 7, 1_000);
        for (let step = 0; step < 200; step++) {
          const key = Object.fromEntries(groupBy.map((c) => [c, pick(values)]));
          const window = pick(['per_minute', 'last_5m', 'session']);
          const windowStart = pick([0, 60_000, 120_000, -60_000]);
          if (r() < 0.2) {
            served.retire(window, key, windowStart);
            oracle.retire(window, key, windowStart);
          } else {
            const w: WindowResult = { window, windowStart, windowEnd: windowStart + 60_000, key, aggregates: { n: step, avg: r() < 0.1 ? null : r() }, final: r() < 0.5 };
            served.serve(w);
            oracle.serve(w);
          }
        }
        expect(served.documents()).toEqual([...oracle.documents.values()]);
        expect(served.retiredWindows()).toEqual([...oracle.retired.values()]);
      }
    }
  });

  it('serves a window retired earlier in the batch again at the end, and no longer retires it', () => {
    const served = new ServedDocuments({ name: 'p', groupBy: ['device'] }, 0, 3, 0);
    const w = (device: string, windowStart: number): WindowResult => ({
      window: 'session',
      windowStart,
      windowEnd: windowStart + 1,
      key: { device },
      aggregates: { n: 1 },
      final: false,
    });
    served.serve(w('a', 0));
    served.serve(w('b', 0));
    served.retire('session', { device: 'a' }, 0);
    expect(served.documents().map((d) => d.id)).toEqual(['session|device=b|0']);
    expect(served.retiredWindows()).toEqual([{ pk: 'device=a', id: 'session|device=a|0', version: 3 }]);
    served.serve(w('a', 0));
    expect(served.documents().map((d) => d.id)).toEqual(['session|device=b|0', 'session|device=a|0']);
    expect(served.retiredWindows()).toEqual([]);
  });
});

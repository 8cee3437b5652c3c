/**
 * The serving documents of one gold batch: the last state of each window its engine batches
 * reported, and the session starts they retired.
 *
 * Invariants:
 * - The same documents, in the same order, as a Map keyed by document id would hold after the same
 *   calls: serving a window again replaces its document in place; retiring it removes the document,
 *   so serving it after that appends it at the end (and un-retires it).
 * - A grouping key's partition key text, key record and id prefix per window are built once per
 *   batch (an example-spec batch serves about a hundred documents per key), and windows are found by
 *   (id prefix, start) rather than by hashing each newly built id.
 */
import type { PipelineSpec } from '@pipeline/contracts';
import type { EngineValue, WindowResult } from '@pipeline/engine';
import { groupKeyText, windowDocumentIdPrefix, type KeyValue, type RetiredWindow, type WindowDocument } from '@pipeline/ports';

/** A grouping key as the serving store names it. */
interface ServedKey {
  key: Record<string, KeyValue>;
  pk: string;
  /** Window name → `windowDocumentIdPrefix(window, pk)`. */
  idPrefixes: Map<string, string>;
}

/** Grouping keys by their values, one Map level per grouping column. */
type KeyTrie = Map<EngineValue, KeyTrie | ServedKey>;

export class ServedDocuments {
  private readonly keys: KeyTrie = new Map();
  private allKey?: ServedKey;
  /** Documents in the order they were first served; a retired one leaves a hole. */
  private readonly slots: Array<WindowDocument | undefined> = [];
  /** Id prefix → window start → slot. */
  private readonly slotOf = new Map<string, Map<number, number>>();
  private readonly retired = new Map<string, RetiredWindow>();

  constructor(
    private readonly spec: Pick<PipelineSpec, 'name' | 'groupBy'>,
    private readonly shard: number,
    private readonly batch: number,
    private readonly watermark: number,
  ) {}

  /** Serves `w` as of this batch: its document replaces any this batch served before. */
  serve(w: WindowResult): void {
    const named = this.named(w.key);
    const prefix = this.idPrefix(named, w.window);
    const id = prefix + String(w.windowStart);
    const doc: WindowDocument = {
      id,
      pk: named.pk,
      pipeline: this.spec.name,
      window: w.window,
      windowStart: w.windowStart,
      windowEnd: w.windowEnd,
      key: named.key,
      // The engine builds a new aggregates record for each result it returns.
      aggregates: w.aggregates,
      final: w.final,
      watermark: this.watermark,
      shard: this.shard,
      version: this.batch,
    };
    let starts = this.slotOf.get(prefix);
    if (starts === undefined) this.slotOf.set(prefix, (starts = new Map()));
    const slot = starts.get(w.windowStart);
    if (slot === undefined) {
      starts.set(w.windowStart, this.slots.length);
      this.slots.push(doc);
    } else {
      this.slots[slot] = doc;
    }
    if (this.retired.size > 0) this.retired.delete(id);
  }

  /** Retires the session of `key` that started at `windowStart` (a merge superseded it): its document is removed. */
  retire(window: string, key: Record<string, EngineValue>, windowStart: number): void {
    const named = this.named(key);
    const prefix = this.idPrefix(named, window);
    const id = prefix + String(windowStart);
    const starts = this.slotOf.get(prefix);
    const slot = starts?.get(windowStart);
    if (slot !== undefined) {
      this.slots[slot] = undefined;
      starts?.delete(windowStart);
    }
    this.retired.set(id, { pk: named.pk, id, version: this.batch });
  }

  documents(): WindowDocument[] {
    return this.slots.filter((doc): doc is WindowDocument => doc !== undefined);
  }

  retiredWindows(): RetiredWindow[] {
    return [...this.retired.values()];
  }

  private idPrefix(named: ServedKey, window: string): string {
    let prefix = named.idPrefixes.get(window);
    if (prefix === undefined) named.idPrefixes.set(window, (prefix = windowDocumentIdPrefix(window, named.pk)));
    return prefix;
  }

  /** The grouping key of an engine result, named once per batch. */
  private named(key: Record<string, EngineValue>): ServedKey {
    const groupBy = this.spec.groupBy;
    if (groupBy.length === 0) return (this.allKey ??= this.name(key));
    let level = this.keys;
    for (let k = 0; k < groupBy.length - 1; k++) {
      const value = key[groupBy[k]] ?? null;
      let next = level.get(value) as KeyTrie | undefined;
      if (next === undefined) level.set(value, (next = new Map()));
      level = next;
    }
    const last = key[groupBy[groupBy.length - 1]] ?? null;
    let named = level.get(last) as ServedKey | undefined;
    if (named === undefined) level.set(last, (named = this.name(key)));
    return named;
  }

  private name(engineKey: Record<string, EngineValue>): ServedKey {
    const key: Record<string, KeyValue> = {};
    for (const column of this.spec.groupBy) key[column] = (engineKey[column] ?? null) as KeyValue;
    return { key, pk: groupKeyText(key, this.spec.groupBy), idPrefixes: new Map() };
  }
}

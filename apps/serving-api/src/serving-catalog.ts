/**
 * What the API knows of the pipeline spec: its name, window definitions, aggregate names and the
 * grouping columns, and how a key given by a client becomes the store's partition key. A client may
 * give the canonical text (`device_id=d1`, `device_id=d1&site=s1`, as `groupKeyText` writes it) or,
 * when the spec groups by one column, the bare value (`d1`); both give the same partition key.
 */
import type { PipelineSpec } from '@pipeline/contracts';
import { groupKeyText } from '@pipeline/ports';

export type KeyParse = { pk: string } | { expected: string };

export class ServingCatalog {
  readonly pipeline: string;
  readonly windows: readonly string[];
  /** The session windows' names (a subset of `windows`). */
  readonly sessionWindows: readonly string[];
  readonly aggregates: readonly string[];
  readonly groupBy: readonly string[];

  constructor(spec: Pick<PipelineSpec, 'name' | 'windows' | 'aggregates' | 'groupBy'>) {
    this.pipeline = spec.name;
    this.windows = spec.windows.map((w) => w.name);
    this.sessionWindows = spec.windows.filter((w) => w.kind === 'session').map((w) => w.name);
    this.aggregates = spec.aggregates.map((a) => a.name);
    this.groupBy = [...spec.groupBy];
  }

  /** What a key looks like for this spec, for messages and the API document. */
  get keyExpected(): string {
    if (this.groupBy.length === 0) return '_all (the spec has no grouping columns)';
    const canonical = this.groupBy.map((c) => `${c}=…`).join('&');
    return this.groupBy.length === 1 ? `a ${this.groupBy[0]} value, or ${canonical}` : `${canonical} (every grouping column, in this order)`;
  }

  /** The partition key of a client's key text, or what was expected instead. */
  parseKey(text: string): KeyParse {
    const fail: KeyParse = { expected: this.keyExpected };
    if (this.groupBy.length === 0) return text === '_all' ? { pk: '_all' } : fail;
    if (!text.includes('=')) return this.groupBy.length === 1 ? { pk: groupKeyText({ [this.groupBy[0] as string]: text }, this.groupBy) } : fail;
    const pairs = text.split('&').map((pair) => {
      const at = pair.indexOf('=');
      return at < 0 ? undefined : [safeDecode(pair.slice(0, at)), safeDecode(pair.slice(at + 1))];
    });
    if (pairs.length !== this.groupBy.length) return fail;
    const key: Record<string, string> = {};
    for (const [i, pair] of pairs.entries()) {
      if (!pair || pair[0] !== this.groupBy[i] || pair[1] === undefined) return fail;
      key[pair[0]] = pair[1];
    }
    return { pk: groupKeyText(key, this.groupBy) };
  }
}

/** Components are URI-encoded in the canonical text; a lone `%` is taken literally. */
function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

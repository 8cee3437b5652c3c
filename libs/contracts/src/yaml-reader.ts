/**
 * Reading a parsed YAML document into typed values while collecting problems instead of throwing:
 * each read either returns a value or records a `SpecProblem` (path, line:column, expected,
 * found) and returns `undefined`, so one pass lists every problem in the file.
 *
 * Invariants: positions are 1-based and point at the offending node (or at the mapping that lacks a
 * required key); aliases are resolved and reported at the place they are used.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node, type YAMLMap } from 'yaml';
import type { SpecProblem } from './spec.types';

export class ProblemLog {
  readonly problems: SpecProblem[] = [];

  constructor(private readonly lineCounter: LineCounter) {}

  add(path: string, offset: number | undefined, expected: string, found: string): void {
    const problem: SpecProblem = { path, expected, found };
    if (offset !== undefined) {
      const { line, col } = this.lineCounter.linePos(offset);
      // LineCounter reports line 0 before the first newline is registered: that is line 1.
      problem.line = Math.max(line, 1);
      problem.column = col;
    }
    this.problems.push(problem);
  }

  /** The line of an offset, for messages that point at another place ("first on line 3"). */
  lineOf(offset: number | undefined): number | undefined {
    return offset === undefined ? undefined : Math.max(this.lineCounter.linePos(offset).line, 1);
  }

  /** Problems in file order; problems without a position first. */
  sorted(): SpecProblem[] {
    return this.problems
      .map((problem, index) => ({ problem, index }))
      .sort((a, b) => (a.problem.line ?? 0) - (b.problem.line ?? 0) || (a.problem.column ?? 0) - (b.problem.column ?? 0) || a.index - b.index)
      .map(({ problem }) => problem);
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The closest candidate when it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A list of names for messages: `"a", "b" or "c"`. */
export function listOf(names: readonly string[], conjunction = 'or'): string {
  const quoted = names.map((n) => `"${n}"`);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} ${conjunction} ${quoted[quoted.length - 1]}`;
}

/** One value in the document, with the path and offset used to report problems about it. */
export class YamlValue {
  constructor(
    private readonly doc: Document,
    readonly log: ProblemLog,
    readonly path: string,
    /** The node, aliases resolved; `null` for an empty value. */
    readonly node: Node | null,
    readonly offset: number | undefined,
  ) {}

  static root(doc: Document, log: ProblemLog): YamlValue {
    return new YamlValue(doc, log, '', (doc.contents as Node | null) ?? null, doc.contents?.range?.[0] ?? 0);
  }

  /** How the value reads in a message: `"5 minutes"`, `42`, `a list`, `a mapping`. */
  get found(): string {
    const node = this.node;
    if (node === null) return 'an empty value';
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) {
      const value = node.value;
      if (value === null || value === undefined) return node.range && node.range[0] === node.range[1] ? 'an empty value' : 'null';
      if (typeof value === 'string') return quote(value);
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
      return quote(String(value));
    }
    return 'an unsupported value';
  }

  /** The scalar value, or `undefined` for collections and empty values. */
  get scalar(): unknown {
    return isScalar(this.node) ? this.node.value : undefined;
  }

  report(expected: string, found: string = this.found): void {
    this.log.add(this.path, this.offset, expected, found);
  }

  string(expected = 'a string'): string | undefined {
    const value = this.scalar;
    if (typeof value === 'string' && value.length > 0) return value;
    this.report(expected);
    return undefined;
  }

  /** A string matching `pattern`; `expected` describes it. */
  matching(pattern: RegExp, expected: string): string | undefined {
    const value = this.string(expected);
    if (value === undefined) return undefined;
    if (pattern.test(value)) return value;
    this.report(expected);
    return undefined;
  }

  oneOf<T extends string>(choices: readonly T[]): T | undefined {
    const value = this.scalar;
    if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
    const suggestion = typeof value === 'string' ? closest(value, choices) : undefined;
    this.report(`one of ${listOf(choices)}${suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ''}`);
    return undefined;
  }

  boolean(): boolean | undefined {
    const value = this.scalar;
    if (typeof value === 'boolean') return value;
    this.report('true or false');
    return undefined;
  }

  integer(expected = 'an integer'): number | undefined {
    const value = this.scalar;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
    this.report(expected);
    return undefined;
  }

  list(expected = 'a list'): YamlValue[] | undefined {
    const node = this.node;
    if (!isSeq(node)) {
      this.report(expected);
      return undefined;
    }
    return node.items.map((item, index) => this.child(`${this.path}[${index}]`, item as Node | null, (item as Node | null)?.range?.[0] ?? this.offset));
  }

  /**
   * A mapping with the given keys. Unknown and repeated keys are reported (with a suggestion for
   * likely typos) and skipped; the known ones are returned by `field`/`required`.
   */
  map(keys: readonly string[], expected = `a mapping with ${listOf(keys, 'and')}`): YamlMapReader | undefined {
    const node = this.node;
    if (!isMap(node)) {
      this.report(expected);
      return undefined;
    }
    return new YamlMapReader(this, node, keys, (path, item, offset) => this.child(path, item, offset));
  }

  /** The path of a key under this value. */
  keyPath(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  private child(path: string, item: Node | null, offset: number | undefined): YamlValue {
    if (isAlias(item)) {
      const target = item.resolve(this.doc) as Node | undefined;
      if (target === undefined) {
        this.log.add(path, offset, 'an alias of an anchor defined earlier in the file', `*${item.source}`);
        return new YamlValue(this.doc, this.log, path, null, offset);
      }
      return new YamlValue(this.doc, this.log, path, target, offset);
    }
    return new YamlValue(this.doc, this.log, path, item, offset);
  }
}

export class YamlMapReader {
  private readonly values = new Map<string, YamlValue>();

  constructor(
    readonly value: YamlValue,
    node: YAMLMap,
    readonly keys: readonly string[],
    makeChild: (path: string, item: Node | null, offset: number | undefined) => YamlValue,
  ) {
    const firstOffset = new Map<string, number | undefined>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as Node | null;
      const keyOffset = keyNode?.range?.[0] ?? value.offset;
      const key = isScalar(keyNode) && keyNode.value !== null && typeof keyNode.value !== 'object' ? String(keyNode.value) : undefined;
      if (key === undefined) {
        value.log.add(
          value.path,
          keyOffset,
          `keys that are plain names (${listOf(keys, 'and')})`,
          isMap(keyNode) ? 'a mapping as a key' : isSeq(keyNode) ? 'a list as a key' : 'an empty key',
        );
        continue;
      }
      const path = value.keyPath(key);
      if (firstOffset.has(key)) {
        const firstLine = value.log.lineOf(firstOffset.get(key));
        value.log.add(path, keyOffset, `each key once`, `"${key}" again${firstLine !== undefined ? ` (first on line ${firstLine})` : ''}`);
        continue;
      }
      firstOffset.set(key, keyOffset);
      if (!keys.includes(key)) {
        const suggestion = closest(key, keys);
        value.log.add(path, keyOffset, `one of the keys ${listOf(keys)}${suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ''}`, `the unknown key "${key}"`);
        continue;
      }
      const valueNode = pair.value as Node | null;
      this.values.set(key, makeChild(path, valueNode, valueNode?.range?.[0] ?? keyOffset));
    }
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  /** The value under `key`, or `undefined` when absent (not a problem). */
  field(key: string): YamlValue | undefined {
    return this.values.get(key);
  }

  /** The value under `key`; when absent, records a problem at the mapping. */
  required(key: string, expected: string): YamlValue | undefined {
    const value = this.values.get(key);
    if (value === undefined) this.value.log.add(this.value.keyPath(key), this.value.offset, expected, 'missing');
    return value;
  }
}

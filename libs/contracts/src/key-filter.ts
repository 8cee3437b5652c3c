/**
 * A file's grouping keys as a Bloom filter, kept in the Delta log beside the file (`add.tags`), so
 * a reader looking for one key skips the files that cannot hold it without opening them.
 *
 * Invariants:
 * - Never a false "absent": a file whose filter says a key is not there holds no row of that key.
 *   A filter that cannot be read (another format, damaged) says "maybe", as does a file without one.
 * - Deterministic: the same set of keys gives the same text, whatever order the rows came in (the
 *   bits are a set; the size depends only on how many distinct keys there are).
 * - Keys are their canonical text (`groupKeyText`), timestamps in epoch ms as gold and the serving
 *   API name them, so the filter answers for the same key a client gives the windows endpoints.
 */
import { timestampMillis } from './lake-timestamp';
import { groupKeyText, type KeyValue } from './serving-keys';
import type { TableRow } from './table.types';

/** The `add.tags` entry holding a file's key filter. */
export const KEY_FILTER_TAG = 'pipeline.keyFilter';

const FORMAT = 'bloom1';
/** About 1% false "maybe" answers at 10 bits and 7 probes per key. */
const BITS_PER_KEY = 10;
const PROBES = 7;
const MIN_BITS = 64;

/** The grouping key text of a table row (lake timestamps as epoch ms). */
export function rowKeyText(row: TableRow, groupBy: readonly string[]): string {
  const key: Record<string, KeyValue> = {};
  for (const column of groupBy) {
    const value = row[column];
    key[column] = typeof value === 'bigint' ? timestampMillis(value) : Buffer.isBuffer(value) ? value.toString('base64') : (value ?? null);
  }
  return groupKeyText(key, groupBy);
}

/** The filter text of a set of key texts: `bloom1:{probes}:{base64 bits}`. */
export function keyFilterOf(keys: Iterable<string>): string {
  const distinct = new Set(keys);
  const bytes = Math.ceil(Math.max(MIN_BITS, distinct.size * BITS_PER_KEY) / 8);
  const bits = new Uint8Array(bytes);
  const size = bytes * 8;
  for (const key of distinct) for (const position of probes(key, size, PROBES)) bits[position >>> 3] |= 1 << (position & 7);
  return `${FORMAT}:${PROBES}:${Buffer.from(bits).toString('base64')}`;
}

/** The filter of the keys of `rows` under `groupBy`. */
export function keyFilterOfRows(rows: readonly TableRow[], groupBy: readonly string[]): string {
  return keyFilterOf(rows.map((row) => rowKeyText(row, groupBy)));
}

/** A parsed filter, to test many keys against one file without decoding it each time. */
export interface KeyFilter {
  mayHold(key: string): boolean;
}

const MAYBE: KeyFilter = { mayHold: () => true };

/** The filter of a tag's text; one that says "maybe" to every key when the text is not a filter this code wrote. */
export function parseKeyFilter(text: string | undefined): KeyFilter {
  if (text === undefined) return MAYBE;
  const match = /^bloom1:(\d{1,2}):([A-Za-z0-9+/]+=*)$/.exec(text);
  if (!match) return MAYBE;
  const count = Number(match[1]);
  const bits = Buffer.from(match[2] as string, 'base64');
  if (count < 1 || bits.length === 0) return MAYBE;
  const size = bits.length * 8;
  return {
    mayHold(key: string): boolean {
      for (const position of probes(key, size, count)) if ((bits[position >>> 3] & (1 << (position & 7))) === 0) return false;
      return true;
    },
  };
}

/** Bit positions of a key: double hashing of two FNV-1a hashes of its UTF-8 bytes (Kirsch–Mitzenmacher). */
function probes(key: string, size: number, count: number): number[] {
  const bytes = Buffer.from(key, 'utf8');
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (const byte of bytes) {
    h1 = Math.imul(h1 ^ byte, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ byte, 0x5bd1e995) >>> 0;
  }
  h2 = (h2 ^ (h2 >>> 15)) | 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(((h1 + Math.imul(i, h2)) >>> 0) % size);
  return out;
}

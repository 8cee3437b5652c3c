/**
 * Silver splits its output into `gold.shards` shards by a stable hash of the spec's groupBy values,
 * so every row of one group reaches the same gold shard.
 *
 * The hash is FIXED FOREVER: shard assignment is stored implicitly in every checkpoint (N is fixed
 * per checkpoint, like Spark's shuffle partitions), so changing the encoding, the hash or the
 * reduction would send a group's later rows to a different shard than its state. The vectors in
 * shard.spec.ts guard it.
 *
 * Canonical encoding, per value in order (UTF-8 bytes): `n` for null/undefined; `s<bytes>:<utf8>`
 * for a string (its UTF-8 byte length in decimal, then the bytes); `d<text>;` for a number (the
 * ECMAScript shortest round-trip text, `-0` as `0`); `b1` / `b0` for booleans; `x<bytes>:<bytes>`
 * for binary. The hash is 32-bit FNV-1a over those bytes, finished with MurmurHash3's fmix32 (FNV's
 * low bits mix poorly for small moduli), and the shard is the unsigned result modulo `shards`.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const MAX_SHARDS = 0xffff_ffff;

const utf8 = new TextEncoder();

function fnvBytes(hash: number, bytes: Uint8Array): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV_PRIME);
  return h;
}

/** ASCII-only text: one byte per character. */
function fnvAscii(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return h;
}

/** `fnvAscii(hash, tag + length + ':')` for a one-character ASCII tag, without building that text. */
function fnvLengthTag(hash: number, tag: number, length: number): number {
  let h = Math.imul(hash ^ tag, FNV_PRIME);
  let scale = 1;
  while (scale * 10 <= length) scale *= 10;
  for (; scale > 0; scale = (scale / 10) | 0) h = Math.imul(h ^ (0x30 + (Math.floor(length / scale) % 10)), FNV_PRIME);
  return Math.imul(h ^ 0x3a, FNV_PRIME);
}

/** Whether every character is ASCII, so the text is its own UTF-8 bytes. */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function fmix32(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit unsigned group-key hash (exported for tests and diagnostics). */
export function groupKeyHash(values: readonly unknown[]): number {
  let h = FNV_OFFSET_BASIS;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) h = fnvAscii(h, 'n');
    else if (typeof value === 'string') {
      if (isAscii(value)) h = fnvAscii(fnvLengthTag(h, 0x73, value.length), value);
      else {
        const bytes = utf8.encode(value);
        h = fnvBytes(fnvAscii(h, `s${bytes.length}:`), bytes);
      }
    } else if (typeof value === 'number') h = fnvAscii(h, `d${Object.is(value, -0) ? '0' : String(value)};`);
    else if (typeof value === 'boolean') h = fnvAscii(h, value ? 'b1' : 'b0');
    else if (value instanceof Uint8Array) h = fnvBytes(fnvAscii(h, `x${value.length}:`), value);
    else throw new TypeError(`shardOf: group key value ${i} is a ${typeof value}; expected a string, number, boolean, binary or null lake value`);
  }
  return fmix32(h);
}

/**
 * The shard, in `[0, shards)`, of a row whose groupBy column values are `groupKeyValues` (in the
 * spec's groupBy order).
 */
export function shardOf(groupKeyValues: readonly unknown[], shards: number): number {
  if (!Number.isInteger(shards) || shards < 1 || shards > MAX_SHARDS) {
    throw new RangeError(`shardOf: shards must be a whole number from 1 to ${MAX_SHARDS}, got ${String(shards)} (the spec's gold.shards)`);
  }
  return groupKeyHash(groupKeyValues) % shards;
}

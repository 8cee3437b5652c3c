/**
 * Snappy compression (the raw block format Parquet's SNAPPY codec uses), written for speed in
 * plain JavaScript: no allocation per call beyond the output's growth, one reused hash table.
 *
 * The algorithm is the reference one (as in Go's `snappy.encodeBlock`): the input is cut into
 * 64 KiB blocks, so every copy offset fits in two bytes; each block finds 4-byte matches through a
 * hash table of positions, skips ahead faster the longer it finds nothing (incompressible data
 * costs little), and emits literals and copies.
 *
 * Invariant: the output is a function of the input bytes alone (the hash table is cleared for
 * every block), so the same page always compresses to the same bytes.
 */
import type { ByteSink } from './byte-sink';

const BLOCK_SIZE = 1 << 16;
const TABLE_BITS = 14;
const HASH_SHIFT = 32 - TABLE_BITS;
/** A block shorter than this is emitted as one literal (the match loop reads up to 15 bytes ahead). */
const INPUT_MARGIN = 15;
const MIN_MATCHING_BLOCK = 1 + 1 + INPUT_MARGIN;

const table = new Uint16Array(1 << TABLE_BITS);

/** The largest output `compress` can give for `length` input bytes (snappy's MaxEncodedLen). */
export function maxCompressedLength(length: number): number {
  return 32 + length + Math.floor(length / 6);
}

/** Appends the Snappy encoding of `input[start, end)` to `out`. */
export function snappyCompress(input: Uint8Array, start: number, end: number, out: ByteSink): void {
  out.ensure(maxCompressedLength(end - start));
  out.varint(end - start);
  for (let block = start; block < end; block += BLOCK_SIZE) {
    const blockEnd = Math.min(end, block + BLOCK_SIZE);
    out.pos = blockEnd - block < MIN_MATCHING_BLOCK ? literal(out.buf, out.pos, input, block, blockEnd) : compressBlock(input, block, blockEnd, out.buf, out.pos);
  }
}

/** The little-endian 32-bit word at `i` (signed: only equality and the hash use it). */
function load32(src: DataView, i: number): number {
  return src.getInt32(i, true);
}

function hash(word: number): number {
  return Math.imul(word, 0x1e35a7bd) >>> HASH_SHIFT;
}

/** One block of at most 64 KiB; returns the output position after it. Table entries are offsets from `base`. */
function compressBlock(src: Uint8Array, base: number, end: number, dst: Uint8Array, d: number): number {
  table.fill(0);
  // One unaligned load per word instead of four byte loads.
  const words = new DataView(src.buffer, src.byteOffset, src.length);
  const limit = end - INPUT_MARGIN;
  let nextEmit = base;
  let s = base + 1;
  let nextHash = hash(load32(words, s));
  for (;;) {
    // Look for a 4-byte match, probing further apart the longer none is found.
    let skip = 32;
    let next = s;
    let candidate = 0;
    for (;;) {
      s = next;
      const step = skip >> 5;
      next = s + step;
      skip += step;
      if (next > limit) return nextEmit < end ? literal(dst, d, src, nextEmit, end) : d;
      candidate = base + table[nextHash];
      table[nextHash] = s - base;
      nextHash = hash(load32(words, next));
      if (load32(words, s) === load32(words, candidate)) break;
    }
    d = literal(dst, d, src, nextEmit, s);
    // Emit copies as long as the byte after one starts another match.
    for (;;) {
      const matchStart = s;
      s += 4;
      let i = candidate + 4;
      while (s < end && src[i] === src[s]) {
        i++;
        s++;
      }
      d = copy(dst, d, matchStart - candidate, s - matchStart);
      nextEmit = s;
      if (s >= limit) return nextEmit < end ? literal(dst, d, src, nextEmit, end) : d;
      table[hash(load32(words, s - 1))] = s - 1 - base;
      const current = hash(load32(words, s));
      candidate = base + table[current];
      table[current] = s - base;
      if (load32(words, s) !== load32(words, candidate)) {
        nextHash = hash(load32(words, s + 1));
        s++;
        break;
      }
    }
  }
}

function literal(dst: Uint8Array, d: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from - 1;
  if (n < 60) dst[d++] = n << 2;
  else if (n < 0x100) {
    dst[d++] = 60 << 2;
    dst[d++] = n;
  } else {
    dst[d++] = 61 << 2;
    dst[d++] = n & 0xff;
    dst[d++] = n >>> 8;
  }
  if (to - from < 16) {
    for (let i = from; i < to; i++) dst[d++] = src[i];
    return d;
  }
  dst.set(src.subarray(from, to), d);
  return d + (to - from);
}

function copy(dst: Uint8Array, d: number, offset: number, length: number): number {
  while (length >= 68) {
    d = copyTwoByteOffset(dst, d, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    d = copyTwoByteOffset(dst, d, offset, 60);
    length -= 60;
  }
  if (length >= 12 || offset >= 2048) return copyTwoByteOffset(dst, d, offset, length);
  dst[d++] = ((offset >>> 8) << 5) | ((length - 4) << 2) | 1;
  dst[d++] = offset & 0xff;
  return d;
}

function copyTwoByteOffset(dst: Uint8Array, d: number, offset: number, length: number): number {
  dst[d++] = ((length - 1) << 2) | 2;
  dst[d++] = offset & 0xff;
  dst[d++] = offset >>> 8;
  return d;
}

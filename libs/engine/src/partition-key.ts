/**
 * Partition-key → partition mapping identical to Azure Event Hubs', so the embedded hub stores a key
 * in the same partition id the service would.
 *
 * The service hashes the key's UTF-8 bytes with Bob Jenkins' lookup3 `hashlittle2` (both seeds 0),
 * XORs the two 32-bit results, keeps the low 16 bits as a signed short, and picks
 * `|short % partitionCount|` (a truncating remainder, as in C#). Bytes are read unsigned, as the
 * service's C# code does. Everything here is 32-bit integer arithmetic (`| 0`, `>>>`).
 */

const utf8 = new TextEncoder();

/** Rotate a 32-bit value left by `k` bits. */
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Little-endian 32-bit word at `i`. */
function word(bytes: Uint8Array, i: number): number {
  return bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
}

/**
 * lookup3 `hashlittle2`: returns `[primary, secondary]` (`c`, `b` in Jenkins' naming) as signed
 * 32-bit integers.
 */
function hashLittle2(bytes: Uint8Array, seed1: number, seed2: number): [number, number] {
  let a = (0xdeadbeef + bytes.length + seed1) | 0;
  let b = a;
  let c = (a + seed2) | 0;

  let i = 0;
  let remaining = bytes.length;
  while (remaining > 12) {
    a = (a + word(bytes, i)) | 0;
    b = (b + word(bytes, i + 4)) | 0;
    c = (c + word(bytes, i + 8)) | 0;
    // mix(a, b, c)
    a = (a - c) | 0;
    a ^= rotl(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rotl(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rotl(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rotl(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rotl(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rotl(b, 4);
    b = (b + a) | 0;
    i += 12;
    remaining -= 12;
  }

  // The tail: up to 12 bytes, the high ones added first (lookup3's fall-through switch).
  if (remaining === 0) return [c, b];
  if (remaining >= 9) {
    for (let k = remaining - 1; k >= 8; k--) c = (c + (bytes[i + k] << (8 * (k - 8)))) | 0;
    b = (b + word(bytes, i + 4)) | 0;
    a = (a + word(bytes, i)) | 0;
  } else if (remaining >= 5) {
    for (let k = remaining - 1; k >= 4; k--) b = (b + (bytes[i + k] << (8 * (k - 4)))) | 0;
    a = (a + word(bytes, i)) | 0;
  } else {
    for (let k = remaining - 1; k >= 0; k--) a = (a + (bytes[i + k] << (8 * k))) | 0;
  }

  // final(a, b, c)
  c ^= b;
  c = (c - rotl(b, 14)) | 0;
  a ^= c;
  a = (a - rotl(c, 11)) | 0;
  b ^= a;
  b = (b - rotl(a, 25)) | 0;
  c ^= b;
  c = (c - rotl(b, 16)) | 0;
  a ^= c;
  a = (a - rotl(c, 4)) | 0;
  b ^= a;
  b = (b - rotl(a, 14)) | 0;
  c ^= b;
  c = (c - rotl(b, 24)) | 0;
  return [c, b];
}

/** The 16-bit signed hash Event Hubs computes for a partition key. */
export function partitionKeyHash(key: string): number {
  if (typeof key !== 'string') throw new TypeError(`A partition key must be a string, got ${typeof key}.`);
  const [primary, secondary] = hashLittle2(utf8.encode(key), 0, 0);
  // (short) cast: keep the low 16 bits, sign-extended.
  return ((primary ^ secondary) << 16) >> 16;
}

/** The zero-based partition index Event Hubs assigns to `key` in a hub of `partitionCount` partitions. */
export function partitionIndexForKey(key: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${String(partitionCount)}.`);
  }
  // JS `%` truncates toward zero like C#'s, so the result lies in (-partitionCount, partitionCount).
  return Math.abs(partitionKeyHash(key) % partitionCount);
}

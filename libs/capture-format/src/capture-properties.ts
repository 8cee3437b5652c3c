/**
 * An event's application properties as the Avro binary of Capture's `Properties` map, written and
 * read on their own: the embedded event hub stores them so, and capture copies the bytes into its
 * files instead of decoding them to objects and encoding them again.
 *
 * Invariants:
 * - For properties `capturesExactly` accepts, `writeCaptureProperties` writes byte for byte the
 *   `Properties` map `CaptureRecordEncoder` writes for `captureRecordFromEvent` of the event, and
 *   `readCaptureProperties` gives back the same keys, in the same order, with the same values
 *   (numbers as numbers, strings, bytes as Buffers).
 * - Properties it refuses (a boolean, which Capture writes as a string; a `__proto__` key, which
 *   Capture leaves out; text that is not well-formed UTF-16; an integer beyond ±2^52, which avsc's
 *   long encoding rounds or refuses) are kept some other way by the caller, so nothing changes for
 *   them.
 */
import type { PropertyValue } from '@pipeline/ports';
import type { CaptureValue } from './capture-record';
import { CaptureRecordDecoder } from './record-decoder';

/** Union branch indexes of `Properties` values in `CAPTURE_RECORD_SCHEMA`. */
const LONG = 0;
const DOUBLE = 1;
const STRING = 2;
const BYTES = 3;
/**
 * Largest long magnitude that reads back as written: beyond 2^52 the zig-zag value passes 2^53 and
 * avsc's arithmetic (which Capture's encoder and decoder follow) rounds it; past avsc's
 * `isSafeLong` bound the encoder throws, as avsc does.
 */
const EXACT_LONG = 2 ** 52;
/**
 * Up to this many characters, an ASCII string is copied by a loop (a native call costs more): ids,
 * content types and a 55-character traceparent, with a one-byte length (lengths below 64).
 */
const LOOP_ASCII_CHARS = 63;

/** No lone surrogate (ES2024's `String.prototype.isWellFormed`, in every Node this runs on). */
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Whether `value` round-trips through the Capture map unchanged (see the module invariants). */
export function capturesExactly(key: string, value: PropertyValue): boolean {
  if (key === '__proto__' || !isWellFormed(key)) return false;
  if (typeof value === 'string') return isWellFormed(value);
  if (typeof value === 'number') return !Number.isSafeInteger(value) || (value <= EXACT_LONG && value >= -EXACT_LONG);
  return value instanceof Uint8Array;
}

/**
 * Bytes `writeCaptureProperties` may need for a map of `entries` keys whose key and value bytes sum
 * to `payloadBytes` (numbers counted as 8): varint lengths, union indexes and a long's extra bytes.
 */
export function capturePropertiesBound(entries: number, payloadBytes: number): number {
  return payloadBytes + entries * 16 + 16;
}

/**
 * Writes the map of `properties` (every entry accepted by `capturesExactly`, keys in the object's
 * order) into `target` from `at`, which has room for `capturePropertiesBound`; returns where it ends.
 */
export function writeCaptureProperties(properties: Record<string, PropertyValue> | undefined, target: Buffer, at: number): number {
  if (properties === undefined) {
    target[at] = 0;
    return at + 1;
  }
  const keys = Object.keys(properties);
  if (keys.length > 0) at = writeLong(target, at, keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = properties[key];
    at = writeString(target, at, key);
    if (typeof value === 'string') {
      target[at++] = STRING * 2;
      at = writeString(target, at, value);
    } else if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) {
        target[at++] = LONG * 2;
        at = writeLong(target, at, value);
      } else {
        target[at++] = DOUBLE * 2;
        at = target.writeDoubleLE(value, at);
      }
    } else {
      const bytes = value as Uint8Array;
      target[at++] = BYTES * 2;
      at = writeLong(target, at, bytes.byteLength);
      target.set(bytes, at);
      at += bytes.byteLength;
    }
  }
  target[at] = 0;
  return at + 1;
}

/** `writeExactCaptureProperties`: some entry is not kept exactly, or the map is not a plain object of property values. */
export const NOT_EXACT = -1;
/** `writeExactCaptureProperties`: the target has too little room from `at`; nothing after it was changed for good. */
export const NO_ROOM = -2;

/** What the last `writeExactCaptureProperties` call measured; one object, overwritten by each call. */
export const writtenProperties = {
  /** Key and value bytes as counted against a hub's batch limit: UTF-8 of keys and strings, numbers as 8, bytes as their length. */
  payloadBytes: 0,
};

/**
 * Does in one pass what `capturesExactly` on every entry, counting the payload bytes and
 * `writeCaptureProperties` do in three: writes the map of `properties` into `target` from `at` and
 * returns where it ends, with its payload bytes in `writtenProperties`. Returns `NOT_EXACT` when the
 * map is not a plain object whose every entry `capturesExactly` accepts (the caller then takes the
 * general path, which says what is wrong), and `NO_ROOM` when `target` ends too soon (the caller
 * retries with more room).
 */
export function writeExactCaptureProperties(properties: Record<string, PropertyValue> | undefined, target: Buffer, at: number): number {
  const limit = target.length;
  if (properties === undefined) {
    if (at >= limit) return NO_ROOM;
    writtenProperties.payloadBytes = 0;
    target[at] = 0;
    return at + 1;
  }
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) return NOT_EXACT;
  const keys = Object.keys(properties);
  // The count, and after the entries the end-of-map byte.
  if (at + MAX_VARINT_BYTES + 1 > limit) return NO_ROOM;
  if (keys.length > 0) at = writeLong(target, at, keys.length);
  let payload = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__') return NOT_EXACT;
    const value = properties[key];
    const cached = i < CACHED_ENTRIES ? (cachedEntries[i] as CachedEntry) : undefined;
    if (cached !== undefined && cached.length > 0 && value === cached.value && key === cached.key) {
      // The entry the map at this position had before: its bytes again (the end-of-map byte stays in room).
      const bytes = cached.bytes;
      const length = cached.length;
      if (at + length + 1 > limit) return NO_ROOM;
      for (let j = 0; j < length; j++) target[at + j] = bytes[j] as number;
      at += length;
      payload += cached.payloadBytes;
      continue;
    }
    const entryStart = at;
    // A key, a union index, then at most a string or bytes of its own, or a long of 10 bytes.
    if (at + 2 * MAX_VARINT_BYTES + 3 * key.length + 1 + 1 > limit) return NO_ROOM;
    at = writeExactString(target, at, key);
    if (at < 0) return NOT_EXACT;
    payload += written.utf8Bytes;
    if (typeof value === 'string') {
      const keyBytes = written.utf8Bytes;
      if (at + MAX_VARINT_BYTES + 3 * value.length + 1 + 1 > limit) return NO_ROOM;
      target[at++] = STRING * 2;
      at = writeExactString(target, at, value);
      if (at < 0) return NOT_EXACT;
      payload += written.utf8Bytes;
      if (cached !== undefined) remember(cached, key, value, target, entryStart, at, keyBytes + written.utf8Bytes);
    } else if (typeof value === 'number') {
      payload += 8;
      target[at++] = Number.isSafeInteger(value) ? LONG * 2 : DOUBLE * 2;
      if (!Number.isSafeInteger(value)) at = target.writeDoubleLE(value, at);
      else if (value <= EXACT_LONG && value >= -EXACT_LONG) at = writeLong(target, at, value);
      else return NOT_EXACT;
    } else if (value instanceof Uint8Array) {
      if (at + MAX_VARINT_BYTES + value.byteLength + 1 + 1 > limit) return NO_ROOM;
      payload += value.byteLength;
      target[at++] = BYTES * 2;
      at = writeLong(target, at, value.byteLength);
      target.set(value, at);
      at += value.byteLength;
    } else {
      // A boolean (Capture writes it as a string) or no property value at all.
      return NOT_EXACT;
    }
  }
  writtenProperties.payloadBytes = payload;
  target[at] = 0;
  return at + 1;
}

/**
 * The string entries a map held at its first positions, written once more as bytes when the next
 * map holds the same key and value there: the events of a send share their source, content type
 * and trace context, and copying their bytes costs less than checking and writing their text.
 */
interface CachedEntry {
  key: string;
  value: string | undefined;
  /** The entry's bytes (key, union index, value); 0: none kept yet. */
  bytes: Uint8Array;
  length: number;
  payloadBytes: number;
  /** A value seen once at this position and not kept yet: it is kept when it comes again. */
  candidate: string | undefined;
}
const CACHED_ENTRIES = 8;
/** Longest entry kept (a traceparent entry takes 69 bytes). */
const CACHED_ENTRY_BYTES = 128;
const cachedEntries: CachedEntry[] = Array.from({ length: CACHED_ENTRIES }, () => ({
  key: '',
  value: undefined,
  bytes: new Uint8Array(CACHED_ENTRY_BYTES),
  length: 0,
  payloadBytes: 0,
  candidate: undefined,
}));

/** Keeps the entry just written at `target[start, end)` when its value comes a second time in a row at its position (ids, which change every map, are never copied). */
function remember(entry: CachedEntry, key: string, value: string, target: Buffer, start: number, end: number, payloadBytes: number): void {
  if (entry.candidate !== value || end - start > CACHED_ENTRY_BYTES) {
    entry.candidate = value;
    return;
  }
  entry.key = key;
  entry.value = value;
  entry.length = end - start;
  entry.payloadBytes = payloadBytes;
  for (let j = 0; j < entry.length; j++) entry.bytes[j] = target[start + j] as number;
}

/** Bytes of the longest zig-zag varint avsc writes (a long). */
const MAX_VARINT_BYTES = 10;

/**
 * A short ASCII string behind its one-byte length, written optimistically: the position after it,
 * or -1 (and bytes after `at` overwritten, which the caller writes again) for a longer or non-ASCII one.
 */
function writeShortAscii(target: Buffer, at: number, text: string): number {
  const count = text.length;
  if (count > LOOP_ASCII_CHARS) return -1;
  for (let i = 0; i < count; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return -1;
    target[at + 1 + i] = c;
  }
  target[at] = count * 2;
  return at + 1 + count;
}

/** What the last `writeExactString` wrote: the string's UTF-8 bytes. */
const written = { utf8Bytes: 0 };

/**
 * `writeString` of a string `capturesExactly` keeps, or -1 for one it does not (a lone surrogate).
 * The target has room for a varint and three bytes per code unit from `at`.
 */
function writeExactString(target: Buffer, at: number, text: string): number {
  const count = text.length;
  const end = writeShortAscii(target, at, text);
  if (end >= 0) {
    written.utf8Bytes = count;
    return end;
  }
  if (!isWellFormed(text)) return -1;
  const length = Buffer.byteLength(text, 'utf8');
  written.utf8Bytes = length;
  at = writeLong(target, at, length);
  return at + target.write(text, at, length, length === count ? 'latin1' : 'utf8');
}

const decoder = new CaptureRecordDecoder(['long', 'double', 'string', 'bytes', 'null']);

/**
 * The properties of a map `writeCaptureProperties` wrote (bytes values are views of `bytes`).
 * Throws a `RangeError` naming the problem when `bytes` is not exactly one such map.
 */
export function readCaptureProperties(bytes: Buffer): Record<string, PropertyValue> {
  const map = decoder.decodeMap(bytes);
  const keys = Object.keys(map);
  for (let i = 0; i < keys.length; i++) {
    if ((map[keys[i] as string] as CaptureValue) === null) throw new RangeError(`property ${JSON.stringify(keys[i])} is null, which no sent event holds`);
  }
  return map as Record<string, PropertyValue>;
}

/**
 * The string value of the ASCII `key` in a map `writeCaptureProperties` wrote, read without building
 * the map: what `readCaptureProperties(bytes)[key]` gives when that is a string, `undefined` when the
 * key is absent or holds another kind of value. Returns `null` for bytes it does not read plainly
 * (a null value, a negative block count, an unknown union index, bytes past the end or left over):
 * the caller then reads the whole map, which names what is wrong.
 */
export function readCaptureStringProperty(bytes: Uint8Array, key: string): string | undefined | null {
  const end = bytes.length;
  let at = 0;
  let found: string | undefined;
  for (;;) {
    const count = readLength(bytes, at);
    if (count < 0) return null;
    at = lengthEnd;
    if (count === 0) break;
    for (let entry = 0; entry < count; entry++) {
      const keyLength = readLength(bytes, at);
      if (keyLength < 0 || lengthEnd + keyLength >= end) return null;
      at = lengthEnd;
      let match = keyLength === key.length;
      for (let i = 0; match && i < keyLength; i++) match = bytes[at + i] === key.charCodeAt(i);
      at += keyLength;
      const branch = bytes[at++];
      if (branch === LONG * 2) {
        // A long may take any number of bytes; the decoder reads them all.
        while (at < end && (bytes[at] as number) & 0x80) at++;
        if (at >= end) return null;
        at++;
        if (match) found = undefined;
      } else if (branch === DOUBLE * 2) {
        at += 8;
        if (at > end) return null;
        if (match) found = undefined;
      } else if (branch === STRING * 2 || branch === BYTES * 2) {
        const length = readLength(bytes, at);
        if (length < 0 || lengthEnd + length > end) return null;
        at = lengthEnd + length;
        // A key written twice: the later value counts, as when the map is read whole.
        if (match) found = branch === STRING * 2 ? Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8', lengthEnd, at) : undefined;
      } else {
        return null;
      }
    }
  }
  return at === end ? found : null;
}

/** Where the last `readLength` ended. */
let lengthEnd = 0;

/** A zig-zag varint of at most 4 bytes (a count or a length) at `at`, or -1 when it is negative, longer or cut off. */
function readLength(bytes: Uint8Array, at: number): number {
  let n = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (at >= bytes.length) return -1;
    const byte = bytes[at++] as number;
    n |= (byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      lengthEnd = at;
      return n & 1 ? -1 : n >>> 1;
    }
  }
  return -1;
}

/** A well-formed string, as avsc writes it: a zig-zag length, then UTF-8. */
function writeString(target: Buffer, at: number, text: string): number {
  const count = text.length;
  const end = writeShortAscii(target, at, text);
  if (end >= 0) return end;
  const length = Buffer.byteLength(text, 'utf8');
  at = writeLong(target, at, length);
  // Well-formed text: Node's encoder writes what avsc's loop writes; latin1 is the ASCII shortcut.
  return at + target.write(text, at, length, length === count ? 'latin1' : 'utf8');
}

/** avsc's zig-zag varint. */
function writeLong(target: Buffer, at: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      target[at++] = (m & 0x7f) | 0x80;
      m >>= 7;
    }
    target[at++] = m;
    return at;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 0x80) {
    target[at++] = (f & 0x7f) | 0x80;
    f /= 128;
  }
  target[at++] = f & 0x7f;
  return at;
}

/**
 * Decodes Capture records of the two known EventData schemas (`CAPTURE_RECORD_SCHEMA` and the
 * 2016 Archive one) straight from Avro binary into `CaptureRecord`s: no wrapped union objects and
 * no intermediate avsc value. Files declaring another compatible schema go through avsc.
 *
 * Invariants (a record reads as avsc reads it, `fromAvroValue(type.decode(…))`):
 * - Fields in schema order: SequenceNumber (long), Offset (string), EnqueuedTimeUtc (string),
 *   SystemProperties (map of long|double|string|bytes), Properties (map of the schema's branches),
 *   Body (null|bytes). Maps are read block by block; a negative block count is followed by the
 *   block's byte size, which is skipped.
 * - Strings decode as Node's UTF-8 decoder does (invalid sequences become U+FFFD); bytes are views
 *   of the block, not copies.
 * - A map key named `__proto__` is left out, as the assignment in `fromAvroValue` leaves it out.
 * - Data that ends inside a record is `undefined` (avsc's offset −1); a union index outside the
 *   schema's branches, or a negative length, throws a `RangeError` naming it.
 * - With a `RecordSelection`, the maps keep only the keys asked for; every other entry is still
 *   walked (key length, union index, value length), so a record decodes, ends or fails exactly where
 *   the full decoding does, but no string or value is built for it. A map with no key asked for is
 *   one shared frozen empty object; `offset: false` walks the Offset and reads it as `''`.
 * - `scan` walks a record exactly as `decode` does (same checks, same errors, same end) but builds
 *   no record: it keeps the sequence number and, when asked, the first selected property's value.
 */
import type { CaptureRecord, CaptureValue } from './capture-record';

/** A map value union, branch by branch, as the schema lists it. */
export type UnionBranch = 'long' | 'double' | 'string' | 'bytes' | 'null';

/** The branches of `SystemProperties` in both known schemas. */
export const SYSTEM_PROPERTY_BRANCHES: readonly UnionBranch[] = ['long', 'double', 'string', 'bytes'];

/** Node's UTF-8 decoding of `data[start, end)`, without `toString`'s argument handling. */
const utf8Slice = (data: Buffer, start: number, end: number): string => (data as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);

const NO_BYTES = Buffer.alloc(0);

/**
 * The map keys a reader uses (`undefined`: all of them). Bronze needs the trace context only, silver
 * a handful of properties: the rest of each map is skipped instead of decoded.
 */
export interface RecordSelection {
  properties?: readonly string[];
  systemProperties?: readonly string[];
  /** False: the reader does not use `offset`, which is then `''` instead of the record's Offset. */
  offset?: boolean;
}

/** The map of every record when no key of it is asked for: frozen, as records share it. */
const NO_ENTRIES: Record<string, CaptureValue> = Object.freeze({});

/** Longest `EnqueuedTimeUtc` text remembered (the format takes at most 22 bytes). */
const REMEMBERED_TIME_BYTES = 32;

/** Longest string value whose text a selected key remembers. */
const REMEMBERED_VALUE_BYTES = 64;

/** The last short string read at one place (its first `length` bytes, copied) and its text, to reuse the text when the bytes repeat. */
interface RecalledText {
  readonly bytes: Buffer;
  length: number;
  text: string;
}

function recalledText(maxBytes: number): RecalledText {
  return { bytes: Buffer.alloc(maxBytes), length: -1, text: '' };
}

/** A key to keep: its text, its UTF-8 bytes as a matching key has them in the file, and its last string value. */
interface WantedKey {
  readonly text: string;
  readonly bytes: Buffer;
  /** Values repeat (content types, sources). */
  readonly last: RecalledText;
}

type WantedKeys = readonly WantedKey[] | undefined;

/** No key selected: `map` walks every entry and builds nothing. */
const NO_KEYS: readonly WantedKey[] = [];

function wantedKeys(keys: readonly string[] | undefined, field: string): WantedKeys {
  if (keys === undefined) return undefined;
  return keys.map((text) => {
    const bytes = Buffer.from(text, 'utf8');
    // A key Node's encoder changes (a lone surrogate) could never equal a decoded key byte for byte.
    if (text === '__proto__' || bytes.toString('utf8') !== text)
      throw new RangeError(`${field} key ${JSON.stringify(text)} cannot be selected: it is __proto__ or not well-formed text.`);
    return { text, bytes, last: recalledText(REMEMBERED_VALUE_BYTES) };
  });
}

class Truncated extends Error {}
const TRUNCATED = new Truncated();

export class CaptureRecordDecoder {
  private data: Buffer = NO_BYTES;
  private position = 0;

  private readonly wantedProperties: WantedKeys;
  private readonly wantedSystemProperties: WantedKeys;
  private readonly keepsOffset: boolean;
  /** Records come in runs enqueued within the same second: the last `EnqueuedTimeUtc`. */
  private readonly lastTime = recalledText(REMEMBERED_TIME_BYTES);

  constructor(
    private readonly propertyBranches: readonly UnionBranch[],
    selection: RecordSelection = {},
  ) {
    this.wantedProperties = wantedKeys(selection.properties, 'Properties');
    this.wantedSystemProperties = wantedKeys(selection.systemProperties, 'SystemProperties');
    this.keepsOffset = selection.offset !== false;
  }

  /** The record at `position` of `data` and the offset after it, or `undefined` when the data ends inside it. */
  decode(data: Buffer, position: number): { record: CaptureRecord; offset: number } | undefined {
    this.data = data;
    this.position = position;
    try {
      const record: CaptureRecord = {
        sequenceNumber: this.long(),
        offset: this.keepsOffset ? this.string() : this.skippedString(),
        enqueuedTimeUtc: this.enqueuedTime(),
        systemProperties: this.map(SYSTEM_PROPERTY_BRANCHES, this.wantedSystemProperties),
        properties: this.map(this.propertyBranches, this.wantedProperties),
        body: this.body(),
      };
      return { record, offset: this.position };
    } catch (error) {
      if (error === TRUNCATED) return undefined;
      throw error;
    } finally {
      this.data = NO_BYTES;
    }
  }

  /** The sequence number of the record `scan` walked last. */
  scannedSequenceNumber = 0;
  /** The value of the first selected `Properties` key in the record `scan` walked last (`undefined`: absent, or not asked for). */
  scannedProperty: CaptureValue | undefined;

  /**
   * Walks the record at `position` as `decode` reads it, building no record: its sequence number goes
   * to `scannedSequenceNumber` and, with `property`, the value of the first selected Properties key
   * to `scannedProperty` (the other maps' entries are walked, not read). Returns the offset after
   * the record, or `undefined` when the data ends inside it; throws where `decode` throws.
   */
  scan(data: Buffer, position: number, property: boolean): number | undefined {
    this.data = data;
    this.position = position;
    this.scannedProperty = undefined;
    try {
      this.scannedSequenceNumber = this.long();
      this.skipString(); // Offset
      this.skipString(); // EnqueuedTimeUtc
      this.map(SYSTEM_PROPERTY_BRANCHES, NO_KEYS);
      if (property && this.wantedProperties !== undefined && this.wantedProperties.length > 0) {
        const first = (this.wantedProperties[0] as WantedKey).text;
        this.scannedProperty = this.map(this.propertyBranches, this.wantedProperties)[first];
      } else this.map(this.propertyBranches, NO_KEYS);
      this.skipBody();
      return this.position;
    } catch (error) {
      if (error === TRUNCATED) return undefined;
      throw error;
    } finally {
      this.data = NO_BYTES;
    }
  }

  /** A `Properties` map alone, filling `data` exactly; throws a `RangeError` naming what is wrong. */
  decodeMap(data: Buffer): Record<string, CaptureValue> {
    this.data = data;
    this.position = 0;
    try {
      const map = this.map(this.propertyBranches, this.wantedProperties);
      if (this.position !== data.length) throw new RangeError(`${data.length - this.position} bytes remain after the properties map`);
      return map;
    } catch (error) {
      if (error === TRUNCATED) throw new RangeError(`the properties map runs past its ${data.length} bytes`);
      throw error;
    } finally {
      this.data = NO_BYTES;
    }
  }

  /** A zig-zag varint long, exact up to 2^53 as avsc reads it. */
  private long(): number {
    const data = this.data;
    let n = 0;
    let shift = 0;
    let byte: number;
    do {
      if (this.position >= data.length) throw TRUNCATED;
      byte = data[this.position++] as number;
      n |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 28);
    if (!(byte & 0x80)) return (n >>> 1) ^ -(n & 1);
    // Past 28 bits: floating-point arithmetic, as avsc does.
    let f = n >>> 0;
    let scale = 268435456;
    do {
      if (this.position >= data.length) throw TRUNCATED;
      byte = data[this.position++] as number;
      f += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return (f % 2 ? -(f + 1) : f) / 2;
  }

  private length(what: string): number {
    const length = this.long();
    if (length < 0) throw new RangeError(`${what} has the negative length ${length}`);
    if (this.position + length > this.data.length) throw TRUNCATED;
    return length;
  }

  /** A string; `known`: its length, when the caller read it already. */
  private string(known?: number): string {
    const length = known ?? this.length('a string');
    const start = this.position;
    this.position = start + length;
    // One native call costs less than building even short text character by character.
    return utf8Slice(this.data, start, start + length);
  }

  private skippedString(): string {
    this.skipString();
    return '';
  }

  /** The `EnqueuedTimeUtc` string: the last one's text again when its bytes are the same. */
  private enqueuedTime(): string {
    return this.recalledString(this.length('a string'), this.lastTime);
  }

  /** The string of `length` bytes at the current position: `last`'s text when the bytes are its, else decoded (and remembered when short). */
  private recalledString(length: number, last: RecalledText): string {
    const start = this.position;
    const data = this.data;
    const bytes = last.bytes;
    let same = last.length === length;
    for (let i = 0; same && i < length; i++) same = data[start + i] === bytes[i];
    if (same) {
      this.position = start + length;
      return last.text;
    }
    const text = this.string(length);
    if (length <= bytes.length) {
      // Copied (byte by byte: `Buffer.copy` makes a view per call): the block's bytes are not kept past this record.
      for (let i = 0; i < length; i++) bytes[i] = data[start + i] as number;
      last.length = length;
      last.text = text;
    }
    return text;
  }

  private bytes(): Buffer {
    const length = this.length('a bytes value');
    const start = this.position;
    this.position += length;
    return this.data.subarray(start, start + length);
  }

  private double(): number {
    if (this.position + 8 > this.data.length) throw TRUNCATED;
    const value = this.data.readDoubleLE(this.position);
    this.position += 8;
    return value;
  }

  private value(branches: readonly UnionBranch[]): CaptureValue {
    const index = this.long();
    switch (branches[index]) {
      case 'long':
        return this.long();
      case 'double':
        return this.double();
      case 'string':
        return this.string();
      case 'bytes':
        return this.bytes();
      case 'null':
        return null;
      case undefined:
        throw new RangeError(`invalid union index ${index} (the schema has ${branches.length} branches: ${branches.join(', ')})`);
    }
  }

  private map(branches: readonly UnionBranch[], wanted: WantedKeys): Record<string, CaptureValue> {
    const map: Record<string, CaptureValue> = wanted?.length === 0 ? NO_ENTRIES : {};
    for (let count = this.long(); count !== 0; count = this.long()) {
      if (count < 0) {
        count = -count;
        this.long(); // the block's byte size
      }
      for (let i = 0; i < count; i++) {
        if (wanted === undefined) {
          const key = this.string();
          const value = this.value(branches);
          if (key !== '__proto__') map[key] = value;
          continue;
        }
        const key = this.wantedKey(wanted);
        if (key === undefined) this.skipValue(branches);
        else map[key.text] = this.wantedValue(branches, key);
      }
    }
    return map;
  }

  /** The key at the current position, read past, when it is one of `wanted`; else `undefined`. */
  private wantedKey(wanted: readonly WantedKey[]): WantedKey | undefined {
    const length = this.length('a string');
    const start = this.position;
    this.position = start + length;
    return this.matching(wanted, start, length);
  }

  private matching(wanted: readonly WantedKey[], start: number, length: number): WantedKey | undefined {
    const data = this.data;
    for (let w = 0; w < wanted.length; w++) {
      const key = wanted[w] as WantedKey;
      const bytes = key.bytes;
      if (bytes.length !== length) continue;
      let i = 0;
      while (i < length && data[start + i] === bytes[i]) i++;
      if (i === length) return key;
    }
    return undefined;
  }

  /** A kept value, as `value` reads it; a string equal to the key's last one reuses its text. */
  private wantedValue(branches: readonly UnionBranch[], key: WantedKey): CaptureValue {
    const at = this.position;
    if (branches[this.long()] !== 'string') {
      this.position = at;
      return this.value(branches);
    }
    return this.recalledString(this.length('a string'), key.last);
  }

  /** Walks the Body as `body` reads it: its length, or -1 for null. */
  private skipBody(): number {
    const index = this.long();
    if (index === 0) return -1;
    if (index === 1) {
      const length = this.length('a bytes value');
      this.position += length;
      return length;
    }
    throw new RangeError(`invalid union index ${index} for Body (null or bytes)`);
  }

  private skipString(): void {
    // `length` moves past the varint first (`position += length(…)` would add to the old position).
    const length = this.length('a string');
    this.position += length;
  }

  /** Walks a value as `value` reads it (same checks, same errors), building nothing. */
  private skipValue(branches: readonly UnionBranch[]): void {
    const index = this.long();
    switch (branches[index]) {
      case 'long':
        this.long();
        return;
      case 'double':
        if (this.position + 8 > this.data.length) throw TRUNCATED;
        this.position += 8;
        return;
      case 'string':
        this.skipString();
        return;
      case 'bytes': {
        const length = this.length('a bytes value');
        this.position += length;
        return;
      }
      case 'null':
        return;
      case undefined:
        throw new RangeError(`invalid union index ${index} (the schema has ${branches.length} branches: ${branches.join(', ')})`);
    }
  }

  private body(): Buffer | null {
    const length = this.skipBody();
    return length < 0 ? null : this.data.subarray(this.position - length, this.position);
  }
}

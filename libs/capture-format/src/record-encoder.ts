/**
 * Encodes Capture records in Avro binary with `CAPTURE_RECORD_SCHEMA`, straight into one growing
 * buffer: no wrapped union objects and no buffer per record.
 *
 * Invariants (the Capture files keep their bytes):
 * - The bytes are exactly what avsc writes, `captureRecordType().toBuffer(toAvroValue(record))`,
 *   avsc's own choices included: a non-empty map is one block with its count and no byte size;
 *   strings of at most 64 UTF-8 bytes are encoded by avsc's loop (a lone surrogate as its three
 *   bytes), longer ones by Node's UTF-8 encoder (a lone surrogate as U+FFFD), as avsc does.
 * - A record is checked as `toAvroValue` checks it, in the same order and with the same errors;
 *   a record that fails leaves nothing behind.
 * - Like `toAvroValue`, which builds the maps by assignment, a map key named `__proto__` is checked
 *   but not written.
 * - A long avsc refuses (beyond ±(2^53 - 2)) fails with avsc's error, once the checks of
 *   `toAvroValue` have passed, as `toBuffer` would.
 */
import type { CaptureRecord, CaptureValue } from './capture-record';
import { parseEnqueuedTimeUtc } from './enqueued-time';
import { PARTITION_KEY_SYSTEM_PROPERTY } from './capture-record-from-event';

/** Union branch indexes of the map values in `CAPTURE_RECORD_SCHEMA`. */
const LONG = 0;
const DOUBLE = 1;
const STRING = 2;
const BYTES = 3;
/** `Properties` only: `SystemProperties` has no null branch. */
const NULL = 4;

/** avsc writes strings up to this many bytes with its own loop, longer ones with Node's encoder. */
const AVSC_SHORT_STRING_BYTES = 64;
/** Up to this many characters, an ASCII string is copied by a loop (a native call costs more). */
const LOOP_ASCII_CHARS = 24;
/** A varint long never needs more than 10 bytes. */
const MAX_LONG_BYTES = 10;
/** avsc's `isSafeLong` bound (one less than `Number.MAX_SAFE_INTEGER`). */
const AVSC_MAX_LONG = 9007199254740990;

const NO_BYTES = Buffer.alloc(0);

export class CaptureRecordEncoder {
  private buffer = NO_BYTES;
  private position = 0;
  /** The first long of the record being written that avsc would refuse. */
  private refusedLong: number | undefined;

  /** `initialBytes`: the size of the buffer taken for the first record (and after each `take`); it grows as needed. */
  constructor(private readonly initialBytes: number) {}

  /** Bytes encoded since the last `take`. */
  get length(): number {
    return this.position;
  }

  /** Hands over the bytes encoded so far (no copy); the next record starts a new buffer. */
  take(): Buffer {
    const bytes = this.buffer.subarray(0, this.position);
    this.buffer = NO_BYTES;
    this.position = 0;
    return bytes;
  }

  /** Appends one record; throws (writing nothing) when it does not fit the schema. */
  append(record: CaptureRecord): void {
    if (!Number.isSafeInteger(record.sequenceNumber)) {
      throw new TypeError(`CaptureRecord.sequenceNumber must be a safe integer, got ${String(record.sequenceNumber)}.`);
    }
    if (typeof record.offset !== 'string') throw new TypeError(`CaptureRecord.offset must be a string, got ${typeof record.offset}.`);
    parseEnqueuedTimeUtc(record.enqueuedTimeUtc);
    const body = record.body;
    if (body !== null && !(body instanceof Uint8Array)) {
      throw new TypeError(`CaptureRecord.body must be a Buffer or null, got ${typeof body}.`);
    }
    const start = this.position;
    this.refusedLong = undefined;
    try {
      this.reserve(MAX_LONG_BYTES);
      this.writeAvroLong(record.sequenceNumber);
      this.writeString(record.offset);
      this.writeString(record.enqueuedTimeUtc);
      this.writeMap(record.systemProperties, 'systemProperties', false);
      this.writeMap(record.properties, 'properties', true);
      this.reserve(1);
      if (body === null) {
        this.writeLong(0);
      } else {
        this.writeLong(1);
        this.writeBytes(body);
      }
      if (this.refusedLong !== undefined) throw new Error(`invalid "long": ${JSON.stringify(this.refusedLong)}`);
    } catch (error) {
      this.position = start;
      throw error;
    }
  }

  /**
   * Appends the record of a received event whose `Properties` map is already encoded
   * (`properties`, from `writeCaptureProperties`): the bytes `append(captureRecordFromEvent(event))`
   * writes, without building the record. SystemProperties hold the partition key, if any.
   */
  appendEncoded(sequenceNumber: number, offset: string, enqueuedTimeUtc: string, partitionKey: string | null, properties: Uint8Array, body: Uint8Array): void {
    if (!Number.isSafeInteger(sequenceNumber)) throw new TypeError(`CaptureRecord.sequenceNumber must be a safe integer, got ${String(sequenceNumber)}.`);
    const start = this.position;
    this.refusedLong = undefined;
    try {
      this.reserve(MAX_LONG_BYTES);
      this.writeAvroLong(sequenceNumber);
      this.writeString(offset);
      this.writeString(enqueuedTimeUtc);
      if (partitionKey === null) {
        this.reserve(1);
        this.writeLong(0);
      } else {
        this.reserve(MAX_LONG_BYTES);
        this.writeLong(1);
        this.writeString(PARTITION_KEY_SYSTEM_PROPERTY);
        this.reserve(1);
        this.writeLong(STRING);
        this.writeString(partitionKey);
        this.reserve(1);
        this.writeLong(0);
      }
      this.reserve(properties.byteLength + 1);
      this.buffer.set(properties, this.position);
      this.position += properties.byteLength;
      this.writeLong(1);
      this.writeBytes(body);
      if (this.refusedLong !== undefined) throw new Error(`invalid "long": ${JSON.stringify(this.refusedLong)}`);
    } catch (error) {
      this.position = start;
      throw error;
    }
  }

  private writeMap(map: Record<string, CaptureValue>, field: string, allowNull: boolean): void {
    if (map === null || typeof map !== 'object') throw new TypeError(`CaptureRecord.${field} must be an object, got ${String(map)}.`);
    const keys = Object.keys(map);
    let count = keys.length;
    for (let i = 0; i < keys.length; i++) if (keys[i] === '__proto__') count--;
    this.reserve(MAX_LONG_BYTES);
    if (count > 0) this.writeLong(count);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const value = map[key] as CaptureValue;
      // Checked first, as toAvroValue checks every value before avsc writes any.
      const branch = branchOf(value, field, key, allowNull);
      if (key === '__proto__') continue;
      this.writeString(key);
      this.reserve(MAX_LONG_BYTES + 8);
      this.writeLong(branch);
      switch (branch) {
        case LONG:
          this.writeAvroLong(value as number);
          break;
        case DOUBLE:
          this.buffer.writeDoubleLE(value as number, this.position);
          this.position += 8;
          break;
        case STRING:
          this.writeString(value as string);
          break;
        case BYTES:
          this.writeBytes(value as Uint8Array);
          break;
      }
    }
    this.reserve(1);
    this.writeLong(0);
  }

  private writeBytes(bytes: Uint8Array): void {
    this.reserve(MAX_LONG_BYTES + bytes.byteLength);
    this.writeLong(bytes.byteLength);
    this.buffer.set(bytes, this.position);
    this.position += bytes.byteLength;
  }

  private writeString(text: string): void {
    const count = text.length;
    if (count <= LOOP_ASCII_CHARS) {
      // Copy optimistically behind a one-byte length (lengths below 64 take one byte); a
      // non-ASCII character sends the string the general way, which overwrites the copy.
      this.reserve(1 + count);
      const buffer = this.buffer;
      let at = this.position + 1;
      let i = 0;
      for (; i < count; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        buffer[at++] = c;
      }
      if (i === count) {
        buffer[this.position] = count * 2;
        this.position = at;
        return;
      }
    }
    const length = Buffer.byteLength(text);
    this.reserve(MAX_LONG_BYTES + length);
    this.writeLong(length);
    const buffer = this.buffer;
    let at = this.position;
    if (length > AVSC_SHORT_STRING_BYTES) {
      // ASCII is one byte a character either way; latin1 skips the UTF-8 encoder.
      buffer.write(text, at, length, length === text.length ? 'latin1' : 'utf8');
    } else {
      // avsc's loop for short strings, character by character (cheaper than a native call too).
      for (let i = 0; i < text.length; i++) {
        let c1 = text.charCodeAt(i);
        let c2: number;
        if (c1 < 0x80) {
          buffer[at++] = c1;
        } else if (c1 < 0x800) {
          buffer[at++] = (c1 >> 6) | 0xc0;
          buffer[at++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = text.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
          c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
          i++;
          buffer[at++] = (c1 >> 18) | 0xf0;
          buffer[at++] = ((c1 >> 12) & 0x3f) | 0x80;
          buffer[at++] = ((c1 >> 6) & 0x3f) | 0x80;
          buffer[at++] = (c1 & 0x3f) | 0x80;
        } else {
          buffer[at++] = (c1 >> 12) | 0xe0;
          buffer[at++] = ((c1 >> 6) & 0x3f) | 0x80;
          buffer[at++] = (c1 & 0x3f) | 0x80;
        }
      }
    }
    this.position += length;
  }

  /** A value of an Avro `long` field or branch, noting one avsc would refuse. */
  private writeAvroLong(n: number): void {
    if ((n > AVSC_MAX_LONG || n < -AVSC_MAX_LONG) && this.refusedLong === undefined) this.refusedLong = n;
    this.writeLong(n);
  }

  /** avsc's zig-zag varint (the caller reserved MAX_LONG_BYTES). */
  private writeLong(n: number): void {
    const buffer = this.buffer;
    let at = this.position;
    if (n >= -1073741824 && n < 1073741824) {
      let m = n >= 0 ? n << 1 : (~n << 1) | 1;
      while (m > 0x7f) {
        buffer[at++] = (m & 0x7f) | 0x80;
        m >>= 7;
      }
      buffer[at++] = m;
    } else {
      let f = n >= 0 ? n * 2 : -n * 2 - 1;
      while (f >= 0x80) {
        buffer[at++] = (f & 0x7f) | 0x80;
        f /= 128;
      }
      buffer[at++] = f & 0x7f;
    }
    this.position = at;
  }

  private reserve(bytes: number): void {
    const needed = this.position + bytes;
    if (needed <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2, this.initialBytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

/** The union branch a map value is written to, or the error `toAvroValue` gives for it. */
function branchOf(value: CaptureValue, field: string, key: string, allowNull: boolean): number {
  if (value === null) {
    if (allowNull) return NULL;
    throw new TypeError(`CaptureRecord.${field}[${JSON.stringify(key)}] is null, but SystemProperties values cannot be null in the Capture schema; leave the key out instead.`);
  }
  if (typeof value === 'number') return Number.isSafeInteger(value) ? LONG : DOUBLE;
  if (typeof value === 'string') return STRING;
  if (value instanceof Uint8Array) return BYTES;
  throw new TypeError(`CaptureRecord.${field}[${JSON.stringify(key)}] has unsupported type ${typeof value}; Capture values are numbers, strings, Buffers or null.`);
}

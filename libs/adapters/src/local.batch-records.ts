/**
 * The events of one embedded-hub batch row, packed in one blob: per event a 12-byte header
 * (little-endian u32s: the stored properties' length in bytes, the body's length, and the event's
 * payload size as counted against `maxBatchBytes`), then the stored properties, then the body's
 * bytes as sent. The row says how its properties are stored (`PropertiesEncoding`): as Capture's
 * Avro `Properties` map (`writeCaptureProperties`), or as the typed JSON of `local.event-properties`
 * (rows written before the Avro form, and sends with a property the map cannot keep exactly).
 *
 * Invariants:
 * - Bodies come back byte for byte (empty, NUL and invalid UTF-8 bytes included) as views of the
 *   blob, so a receive copies nothing per event.
 * - An event's offset is the batch's first offset plus, for each event before it, its size plus
 *   the one-byte record separator: the same offsets the hub reports for its partition.
 * - A blob that does not end exactly after its last record is refused, naming what is wrong.
 */
import { NO_ROOM, NOT_EXACT, writeExactCaptureProperties, writtenProperties } from '@pipeline/capture-format';
import { EventHubError, type EventToSend } from '@pipeline/ports';

/** Bytes each record takes in the partition log besides its payload. */
export const RECORD_SEPARATOR_BYTES = 1;
const HEADER_BYTES = 12;

/** How a batch row stores its events' properties (the `properties_encoding` column). */
export const PropertiesEncoding = {
  /** `local.event-properties`' typed JSON, UTF-8. */
  json: 0,
  /** The Avro binary of Capture's `Properties` map. */
  captureAvro: 1,
} as const;
export type PropertiesEncoding = (typeof PropertiesEncoding)[keyof typeof PropertiesEncoding];

/** An event ready to be stored as typed JSON: its properties' stored JSON, its body and its counted size. */
export interface PackedEvent {
  propertiesJson: string;
  body: Buffer;
  size: number;
}

/** Reused between calls: SQLite copies a bound blob, so the bytes may be overwritten afterwards. */
let scratch: Buffer = Buffer.allocUnsafe(1 << 20);

function scratchOf(bound: number): Buffer {
  if (scratch.byteLength < bound) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.byteLength * 2));
  return scratch;
}

/** The blob of `events` with typed JSON properties, valid until the next call (bind it or copy it before packing again). */
export function packRecords(events: readonly PackedEvent[]): Buffer {
  let bound = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as PackedEvent;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    bound += HEADER_BYTES + event.propertiesJson.length * 3 + event.body.byteLength;
  }
  const out = scratchOf(bound);
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as PackedEvent;
    const propertiesLength = out.write(event.propertiesJson, at + HEADER_BYTES, 'utf8');
    out.writeUInt32LE(propertiesLength, at);
    out.writeUInt32LE(event.body.byteLength, at + 4);
    out.writeUInt32LE(event.size, at + 8);
    at += HEADER_BYTES + propertiesLength;
    at += event.body.copy(out, at);
  }
  return out.subarray(0, at);
}

/** A batch packed by `packCaptureBatch`; one object, overwritten by each call. */
export interface PackedCaptureBatch {
  /** The blob, valid until the next packing call. */
  blob: Buffer;
  /** The events' sizes (as counted against `maxBatchBytes`) summed, and the last event's size. */
  totalSize: number;
  lastSize: number;
}

const packedBatch: PackedCaptureBatch = { blob: scratch, totalSize: 0, lastSize: 0 };

/**
 * The blob of `events` with their properties as Capture's map (`writeCaptureProperties`), in one
 * pass per event (checking, measuring and writing each map at once), or `undefined` when an event
 * is not one the map keeps exactly or is not well formed: the caller then measures the events the
 * general way (which says what is wrong) and stores their properties as typed JSON.
 */
export function packCaptureBatch(events: readonly EventToSend[]): PackedCaptureBatch | undefined {
  let out = scratch;
  let at = 0;
  let total = 0;
  let last = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    if (typeof event !== 'object' || event === null) return undefined;
    const body = event.body;
    if (!(body instanceof Uint8Array)) return undefined;
    const propertiesStart = at + HEADER_BYTES;
    let propertiesEnd = propertiesStart > out.length ? NO_ROOM : writeExactCaptureProperties(event.properties, out, propertiesStart);
    while (propertiesEnd === NO_ROOM) {
      out = grownScratch(at, out.length * 2);
      propertiesEnd = writeExactCaptureProperties(event.properties, out, propertiesStart);
    }
    if (propertiesEnd === NOT_EXACT) return undefined;
    const bodyLength = body.byteLength;
    if (propertiesEnd + bodyLength > out.length) out = grownScratch(propertiesEnd, propertiesEnd + bodyLength);
    const size = bodyLength + writtenProperties.payloadBytes;
    out.writeUInt32LE(propertiesEnd - propertiesStart, at);
    out.writeUInt32LE(bodyLength, at + 4);
    out.writeUInt32LE(size, at + 8);
    out.set(body, propertiesEnd);
    at = propertiesEnd + bodyLength;
    total += size;
    last = size;
  }
  packedBatch.blob = out.subarray(0, at);
  packedBatch.totalSize = total;
  packedBatch.lastSize = last;
  return packedBatch;
}

/** A scratch of at least `bytes` (and twice the old one), holding the old one's first `keep` bytes. */
function grownScratch(keep: number, bytes: number): Buffer {
  const grown = Buffer.allocUnsafe(Math.max(bytes, scratch.byteLength * 2));
  scratch.copy(grown, 0, 0, keep);
  scratch = grown;
  return grown;
}

/**
 * Call `each` for the events of a batch blob (properties as stored, and body, as views of the blob) from sequence number `from` on, at most `limit` of
 * them; the batch's first event has `firstSequence` and `firstOffset`. Returns how many it gave.
 */
export function unpackRecords(
  records: Buffer,
  firstSequence: number,
  firstOffset: number,
  from: number,
  limit: number,
  each: (sequenceNumber: number, offset: number, properties: Buffer, body: Buffer) => void,
): number {
  let at = 0;
  let sequence = firstSequence;
  let offset = firstOffset;
  let given = 0;
  while (at < records.byteLength && given < limit) {
    if (at + HEADER_BYTES > records.byteLength) throw brokenBlob(firstSequence, at, records.byteLength);
    const propertiesLength = records.readUInt32LE(at);
    const bodyLength = records.readUInt32LE(at + 4);
    const size = records.readUInt32LE(at + 8);
    const propertiesStart = at + HEADER_BYTES;
    const bodyStart = propertiesStart + propertiesLength;
    const end = bodyStart + bodyLength;
    if (end > records.byteLength) throw brokenBlob(firstSequence, at, records.byteLength);
    if (sequence >= from) {
      each(sequence, offset, records.subarray(propertiesStart, bodyStart), records.subarray(bodyStart, end));
      given += 1;
    }
    at = end;
    sequence += 1;
    offset += size + RECORD_SEPARATOR_BYTES;
  }
  return given;
}

function brokenBlob(firstSequence: number, at: number, length: number): EventHubError {
  return new EventHubError(
    `The embedded hub's batch starting at sequence number ${firstSequence} is damaged: a record at byte ${at} runs past the blob's ${length} bytes. The hub file was changed outside the pipeline; restore it from a copy or start a new pipeline home.`,
  );
}

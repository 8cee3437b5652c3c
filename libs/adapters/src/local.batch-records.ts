/**
 * The events of one embedded-hub batch row, packed in one blob: per event a 12-byte header
 * (little-endian u32s: the properties' stored JSON length in bytes, the body's length, and the
 * event's payload size as counted against `maxBatchBytes`), then the properties' JSON (UTF-8),
 * then the body's bytes as sent.
 *
 * Invariants:
 * - Bodies come back byte for byte (empty, NUL and invalid UTF-8 bytes included) as views of the
 *   blob, so a receive copies nothing per event.
 * - An event's offset is the batch's first offset plus, for each event before it, its size plus
 *   the one-byte record separator: the same offsets the hub reports for its partition.
 * - A blob that does not end exactly after its last record is refused, naming what is wrong.
 */
import { EventHubError } from '@pipeline/ports';

/** Bytes each record takes in the partition log besides its payload. */
export const RECORD_SEPARATOR_BYTES = 1;
const HEADER_BYTES = 12;

/** An event ready to be stored: its properties' stored JSON, its body and its counted size. */
export interface PackedEvent {
  propertiesJson: string;
  body: Buffer;
  size: number;
}

/** Reused between calls: SQLite copies a bound blob, so the bytes may be overwritten afterwards. */
let scratch = Buffer.allocUnsafe(1 << 20);

/** The blob of `events`, valid until the next call (bind it or copy it before packing again). */
export function packRecords(events: readonly PackedEvent[]): Buffer {
  let bound = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as PackedEvent;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    bound += HEADER_BYTES + event.propertiesJson.length * 3 + event.body.byteLength;
  }
  if (scratch.byteLength < bound) scratch = Buffer.allocUnsafe(Math.max(bound, scratch.byteLength * 2));
  const out = scratch;
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

/**
 * Call `each` for the events of a batch blob from sequence number `from` on, at most `limit` of
 * them; the batch's first event has `firstSequence` and `firstOffset`. Returns how many it gave.
 */
export function unpackRecords(
  records: Buffer,
  firstSequence: number,
  firstOffset: number,
  from: number,
  limit: number,
  each: (sequenceNumber: number, offset: number, propertiesJson: string, body: Buffer) => void,
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
      each(sequence, offset, records.toString('utf8', propertiesStart, bodyStart), records.subarray(bodyStart, end));
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

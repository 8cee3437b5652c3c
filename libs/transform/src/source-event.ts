/**
 * What silver receives per captured event, stated structurally so this library does not depend on
 * the Capture reader: the body, the application properties and the lineage of the capture record.
 *
 * Property values arrive as Avro `long`/`double`/`string`/`bytes`/`null`; a property written as
 * bytes is read as UTF-8 text, so senders that put strings into binary AMQP values still work.
 */
import { EventProperty } from '@pipeline/contracts';

export type SourcePropertyValue = string | number | Buffer | null;

export interface SourceEvent {
  body: Buffer | null;
  properties: Record<string, SourcePropertyValue>;
  /** When the hub enqueued the event, epoch milliseconds. */
  enqueuedTime: number;
  partitionId: string;
  sequenceNumber: number;
  /** Lake path of the Capture file the event was read from. */
  captureFile: string;
}

/**
 * The only properties silver reads (event id, malformed marker and size, source row, content type):
 * a reader may leave every other one out of `SourceEvent.properties`.
 */
export const SOURCE_PROPERTY_KEYS: readonly string[] = Object.freeze([
  EventProperty.eventId,
  EventProperty.malformed,
  EventProperty.recordBytes,
  EventProperty.row,
  EventProperty.contentType,
]);

// Read once: a name read through the library's re-exports per event costs a lookup each time.
const ROW = EventProperty.row;
const CONTENT_TYPE = EventProperty.contentType;

/** The text of a property, or `undefined` when it is absent, null or blank. */
export function propertyText(properties: SourceEvent['properties'], name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(properties, name)) return undefined;
  const value = properties[name];
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number') text = Number.isFinite(value) ? String(value) : '';
  else if (Buffer.isBuffer(value)) text = value.toString('utf8');
  else return undefined;
  // Blank means absent; text that starts with a visible ASCII character is not blank.
  const first = text.charCodeAt(0);
  if (first > 0x20 && first < 0x7f) return text;
  return text.trim() === '' ? undefined : text;
}

/** The 1-based source row number from the `row` property, or null when absent or not a row number. */
export function sourceRow(properties: SourceEvent['properties']): number | null {
  const value = properties[ROW];
  // The producer writes the row as a long.
  if (typeof value === 'number' && Object.prototype.hasOwnProperty.call(properties, ROW)) return Number.isSafeInteger(value) && value >= 1 ? value : null;
  const text = propertyText(properties, ROW)?.trim();
  if (text === undefined || !/^\d{1,16}$/.test(text)) return null;
  const row = Number(text);
  return Number.isSafeInteger(row) && row >= 1 ? row : null;
}

export type BodyEncoding = 'json' | 'csv' | 'other';

/**
 * The body encoding from the `content_type` property: absent or `json` → JSON, `csv` → one CSV line.
 * The MIME forms `application/json` and `text/csv` (parameters ignored) read the same way.
 */
export function bodyEncoding(properties: SourceEvent['properties']): { encoding: BodyEncoding; contentType: string | undefined } {
  const contentType = propertyText(properties, CONTENT_TYPE);
  if (contentType === undefined) return { encoding: 'json', contentType };
  // The producer's own values, as it writes them.
  if (contentType === 'json') return { encoding: 'json', contentType };
  if (contentType === 'csv') return { encoding: 'csv', contentType };
  const media = (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
  if (media === 'json' || media === 'application/json') return { encoding: 'json', contentType };
  if (media === 'csv' || media === 'text/csv') return { encoding: 'csv', contentType };
  return { encoding: 'other', contentType };
}

/**
 * Turns CSV records into hub events. Nothing is dropped at the door: a record that is not valid
 * CSV is sent as its raw bytes with a `malformed` reason, so silver quarantines it with that reason.
 *
 * A row's body is the JSON object of its fields by column name, byte for byte what `JSON.stringify`
 * writes for it, whether the row comes as decoded fields or as its UTF-8 bytes.
 */
import { deriveEventId, EventProperty, type EventIdSpec, type PipelineSpec } from '@pipeline/contracts';
import { fieldText, type CsvRecordOrBytes, type RowBytes } from '@pipeline/csv';
import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';

export interface MappedEvent {
  event: EventToSend;
  /** The partition key, or `null` to let the hub spread events (malformed rows, empty keys). */
  partitionKey: string | null;
  row: number;
  /** The raw event time text, for event-time pacing (`undefined` for malformed rows, and when the mapper was told it is not needed). */
  eventTimeText: string | undefined;
  /** `eventSizeInBytes(event)`. */
  size: number;
}

export interface EventMapperOptions {
  /** Whether `MappedEvent.eventTimeText` is wanted (event-time pacing); default true. */
  eventTimeText?: boolean;
}

export class HeaderMismatchError extends Error {
  override readonly name = 'HeaderMismatchError';
}

/** Resolves CSV field positions for the spec's columns once, then maps each record. */
export class EventMapper {
  private readonly names: string[];
  private readonly keyIndex: number;
  private readonly idIndex: number | undefined;
  private readonly timeIndex: number;
  private readonly source: string;
  /**
   * `{"name":` then `,"name":` for each column, when `JSON.stringify` of the body object would list
   * the columns in header order: names distinct, none an integer index (objects list those first) and
   * none `__proto__` (assigning it sets the prototype). Otherwise `undefined`: the body is built as an object.
   */
  private readonly bodyPrefixes: string[] | undefined;
  /** The same prefixes as UTF-8 bytes, and their total length. */
  private readonly bodyPrefixBytes: Buffer[] | undefined;
  private readonly bodyPrefixTotal: number;
  /**
   * For bodies written from a row's bytes: before field `i`, `{"name":"` (i = 0) or `","name":"`,
   * so one copy opens a field and closes the one before; after the last field, `"}`.
   */
  private readonly fieldOpenings: Buffer[] | undefined;
  private readonly withEventTimeText: boolean;
  /**
   * Bodies are written into shared slabs, one allocation per slab instead of a string and a Buffer
   * per event. A full slab is replaced, never reused, so earlier bodies (views of it) stay intact.
   */
  private slab = Buffer.allocUnsafe(0);
  private slabAt = 0;
  /**
   * `eventSizeInBytes` of a row's event without its body and event id: the overhead, and the
   * source, row and content type properties (names, values, 8 bytes each as that count has it).
   */
  private readonly rowPropertiesSize: number;

  constructor(spec: PipelineSpec, headerNames: readonly string[] | undefined, options: EventMapperOptions = {}) {
    this.source = spec.source.name;
    this.withEventTimeText = options.eventTimeText ?? true;
    const declared = spec.source.columns.map((c) => c.name);
    this.names = headerNames ? [...headerNames] : declared;
    if (headerNames) {
      const missing = declared.filter((name) => !headerNames.includes(name));
      if (missing.length > 0) {
        throw new HeaderMismatchError(
          `the header lacks column${missing.length === 1 ? '' : 's'} ${missing.map((m) => JSON.stringify(m)).join(', ')} declared in the spec's source.columns. ` +
            `Header: ${headerNames.map((h) => JSON.stringify(h)).join(', ')}. Rename the CSV columns or fix the spec.`,
        );
      }
    }
    this.keyIndex = this.names.indexOf(spec.partitionKey);
    this.timeIndex = this.names.indexOf(spec.eventTime.column);
    this.idIndex = idColumnIndex(spec.eventId, this.names);
    this.bodyPrefixes = bodyPrefixes(this.names);
    this.bodyPrefixBytes = this.bodyPrefixes?.map((prefix) => Buffer.from(prefix, 'utf8'));
    this.bodyPrefixTotal = this.bodyPrefixBytes?.reduce((n, prefix) => n + prefix.length, 0) ?? 0;
    this.fieldOpenings = this.bodyPrefixes?.map((prefix, i) => Buffer.from(`${i === 0 ? '' : '"'}${prefix}"`, 'utf8'));
    this.rowPropertiesSize = eventSizeInBytes({ body: new Uint8Array(0), properties: rowProperties(this.source, 1) });
  }

  /** Columns present in the CSV header but not declared in the spec (sent along, ignored downstream). */
  undeclaredColumns(spec: PipelineSpec): string[] {
    const declared = new Set(spec.source.columns.map((c) => c.name));
    return this.names.filter((n) => !declared.has(n));
  }

  /** The JSON object of a record's fields by column name, as `JSON.stringify` writes it. */
  private bodyJson(fields: readonly string[]): string {
    const prefixes = this.bodyPrefixes;
    if (prefixes === undefined) {
      const body: Record<string, string> = {};
      for (let i = 0; i < this.names.length; i++) body[this.names[i] as string] = fields[i] ?? '';
      return JSON.stringify(body);
    }
    if (prefixes.length === 0) return '{}';
    let json = '';
    for (let i = 0; i < prefixes.length; i++) json += (prefixes[i] as string) + jsonString(fields[i] ?? '');
    return json + '}';
  }

  /**
   * The body's bytes: `bodyJson` as UTF-8, written straight into the slab with the escapes
   * `JSON.stringify` writes (a quote, a backslash, a control character, a lone surrogate), every
   * other character as its UTF-8 bytes.
   */
  private body(fields: readonly string[]): Buffer {
    const prefixes = this.bodyPrefixBytes;
    if (prefixes === undefined || prefixes.length === 0) return this.bodyFromText(this.bodyJson(fields));
    let bound = this.bodyPrefixTotal + 1;
    for (let i = 0; i < prefixes.length; i++) bound += (fields[i]?.length ?? 0) * MAX_JSON_BYTES_PER_UNIT + 2;
    const slab = this.reserve(bound);
    const start = this.slabAt;
    let at = start;
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i] as Buffer;
      for (let j = 0; j < prefix.length; j++) slab[at++] = prefix[j] as number;
      const text = fields[i] ?? '';
      slab[at++] = QUOTE;
      for (let j = 0; j < text.length; j++) {
        const c = text.charCodeAt(j);
        if (c >= 0x20 && c < 0x80 && c !== QUOTE && c !== BACKSLASH) {
          slab[at++] = c;
          continue;
        }
        const next = text.charCodeAt(j + 1);
        if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          at = writeFourByteUtf8(slab, at, 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00));
          j++;
          continue;
        }
        at = writeJsonUnit(slab, at, c);
      }
      slab[at++] = QUOTE;
    }
    slab[at++] = CLOSE_BRACE;
    this.slabAt = at;
    return slab.subarray(start, at);
  }

  private bodyFromText(json: string): Buffer {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    const slab = this.reserve(json.length * 3);
    const start = this.slabAt;
    this.slabAt += slab.write(json, start, 'utf8');
    return slab.subarray(start, this.slabAt);
  }

  /** The slab, with room for `bytes` more from `slabAt`. */
  private reserve(bytes: number): Buffer {
    if (this.slabAt + bytes > this.slab.length) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
      this.slabAt = 0;
    }
    return this.slab;
  }

  /**
   * The body of a row from its bytes (valid UTF-8): what `body` writes for its decoded fields, since
   * JSON.stringify escapes only quotes, backslashes, control characters and lone surrogates (which
   * UTF-8 cannot hold) and writes every other character as its UTF-8 bytes. A quoted field's value
   * lies between its quotes, a doubled quote standing for one (`\"` in JSON).
   */
  private bodyFromBytes(record: RowBytes, openings: readonly Buffer[]): Buffer {
    const { bytes, separators } = record;
    // Each byte of a value takes at most 6 (`\u001f`); separators and a field's quotes are not copied.
    const slab = this.reserve(this.bodyPrefixTotal + 3 * openings.length + 2 + bytes.length * MAX_JSON_BYTES_PER_UNIT);
    const start = this.slabAt;
    let at = start;
    let from = 0;
    for (let i = 0; i < openings.length; i++) {
      const opening = openings[i] as Buffer;
      for (let j = 0; j < opening.length; j++) slab[at++] = opening[j] as number;
      const to = i < separators.length ? (separators[i] as number) : bytes.length;
      const quoted = from < to && bytes[from] === QUOTE;
      for (let j = quoted ? from + 1 : from, end = quoted ? to - 1 : to; j < end; j++) {
        const b = bytes[j] as number;
        if (b >= 0x20 && b !== QUOTE && b !== BACKSLASH) {
          slab[at++] = b;
          continue;
        }
        // In a quoted field a doubled quote is one quote of the value.
        if (quoted && b === QUOTE) j++;
        at = writeJsonUnit(slab, at, b);
      }
      from = to + 1;
    }
    slab[at++] = QUOTE;
    slab[at++] = CLOSE_BRACE;
    this.slabAt = at;
    return slab.subarray(start, at);
  }

  private mapRowBytes(record: RowBytes): MappedEvent {
    const openings = this.fieldOpenings;
    // Only with a body prefix per field (always, for a header the spec accepts and rows the reader checked).
    if (openings === undefined || openings.length !== record.separators.length + 1) {
      const fields = Array.from({ length: record.separators.length + 1 }, (_, i) => fieldText(record, i));
      return this.mapFields(record.row, fields);
    }
    const key = this.keyIndex < 0 ? '' : fieldText(record, this.keyIndex);
    const id = this.idIndex === undefined ? deriveEventId(this.source, record.row) : this.idIndex < 0 ? '' : fieldText(record, this.idIndex);
    const time = this.withEventTimeText && this.timeIndex >= 0 ? fieldText(record, this.timeIndex) : undefined;
    return this.rowEvent(record.row, key, id, this.bodyFromBytes(record, openings), time);
  }

  map(record: CsvRecordOrBytes): MappedEvent {
    if (record.kind === 'rowBytes') return this.mapRowBytes(record);
    if (record.kind === 'malformed') {
      const event: EventToSend = {
        body: record.raw,
        properties: {
          [EventProperty.eventId]: deriveEventId(this.source, record.row),
          [EventProperty.source]: this.source,
          [EventProperty.row]: record.row,
          [EventProperty.contentType]: 'raw',
          [EventProperty.malformed]: record.reason,
        },
      };
      return { event, partitionKey: null, row: record.row, eventTimeText: undefined, size: eventSizeInBytes(event) };
    }
    return this.mapFields(record.row, record.fields);
  }

  private mapFields(row: number, fields: readonly string[]): MappedEvent {
    const key = fields[this.keyIndex] ?? '';
    const id = this.idIndex === undefined ? deriveEventId(this.source, row) : (fields[this.idIndex] ?? '');
    return this.rowEvent(row, key, id, this.body(fields), this.withEventTimeText ? fields[this.timeIndex] : undefined);
  }

  private rowEvent(row: number, key: string, id: string, body: Buffer, eventTimeText: string | undefined): MappedEvent {
    const properties = rowProperties(this.source, row);
    let size = this.rowPropertiesSize + body.byteLength;
    // An empty id column is left for silver to quarantine; it is not papered over here.
    if (id !== '') {
      properties[EventProperty.eventId] = id;
      size += EVENT_ID_NAME_BYTES + 8 + utf8Length(id);
    }
    return {
      event: { body, properties },
      partitionKey: key === '' ? null : key,
      row,
      eventTimeText,
      size,
    };
  }
}

/** The properties of a row's event before its event id: `rowPropertiesSize` counts them. */
function rowProperties(source: string, row: number): Record<string, string | number> {
  return { [EventProperty.source]: source, [EventProperty.row]: row, [EventProperty.contentType]: 'json' };
}

const EVENT_ID_NAME_BYTES = Buffer.byteLength(EventProperty.eventId);

/** `Buffer.byteLength(text)`, counted by a loop for short ASCII text (ids), a native call costing more. */
function utf8Length(text: string): number {
  if (text.length > 64) return Buffer.byteLength(text);
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text);
  return text.length;
}

/** Bytes of one body slab (bodies are at most a record's size, usually far smaller). */
const SLAB_BYTES = 256 * 1024;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const CLOSE_BRACE = 0x7d;

/** Most bytes one UTF-16 code unit takes in a JSON string: `\u001f`, or a lone surrogate's `\udc00`. */
const MAX_JSON_BYTES_PER_UNIT = 6;
const HEX = '0123456789abcdef';
/** The two-character escapes `JSON.stringify` writes for these control characters. */
const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/**
 * One code unit of a JSON string other than printable ASCII (and not half of a surrogate pair), as
 * `JSON.stringify` writes it: a quote or backslash escaped, a control character as `\n` and the
 * like or `\u00XX`, a lone surrogate as `\uXXXX` (lowercase hex), anything else as its UTF-8 bytes.
 */
function writeJsonUnit(target: Buffer, at: number, c: number): number {
  if (c < 0x80) {
    target[at++] = BACKSLASH;
    if (c === QUOTE || c === BACKSLASH) {
      target[at++] = c;
      return at;
    }
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) {
      target[at++] = short;
      return at;
    }
    return writeHexEscape(target, at, c);
  }
  if (c < 0x800) {
    target[at++] = 0xc0 | (c >> 6);
    target[at++] = 0x80 | (c & 0x3f);
    return at;
  }
  if (c >= 0xd800 && c <= 0xdfff) {
    target[at++] = BACKSLASH;
    return writeHexEscape(target, at, c);
  }
  target[at++] = 0xe0 | (c >> 12);
  target[at++] = 0x80 | ((c >> 6) & 0x3f);
  target[at++] = 0x80 | (c & 0x3f);
  return at;
}

/** `uXXXX` after a backslash the caller wrote. */
function writeHexEscape(target: Buffer, at: number, c: number): number {
  target[at++] = 0x75;
  for (let shift = 12; shift >= 0; shift -= 4) target[at++] = HEX.charCodeAt((c >> shift) & 0xf);
  return at;
}

/** A code point past U+FFFF (a surrogate pair) as its four UTF-8 bytes. */
function writeFourByteUtf8(target: Buffer, at: number, codePoint: number): number {
  target[at++] = 0xf0 | (codePoint >> 18);
  target[at++] = 0x80 | ((codePoint >> 12) & 0x3f);
  target[at++] = 0x80 | ((codePoint >> 6) & 0x3f);
  target[at++] = 0x80 | (codePoint & 0x3f);
  return at;
}

/** `JSON.stringify(text)`, quoting a plain text directly (most CSV fields need no escape). */
function jsonString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Controls, quote, backslash and surrogates (a lone one is escaped) take JSON.stringify.
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/** See `EventMapper.bodyPrefixes`. */
function bodyPrefixes(names: readonly string[]): string[] | undefined {
  const plain = new Set(names).size === names.length && names.every((name) => name !== '__proto__' && !/^(0|[1-9][0-9]*)$/.test(name));
  return plain ? names.map((name, i) => `${i === 0 ? '{' : ','}${JSON.stringify(name)}:`) : undefined;
}

function idColumnIndex(spec: EventIdSpec, names: readonly string[]): number | undefined {
  switch (spec.kind) {
    case 'column':
      return names.indexOf(spec.column);
    case 'derived':
      return undefined;
  }
}

/**
 * Converts between `CaptureRecord` and avsc values of the EventData schema (unions wrapped, since
 * `long` and `double` are both JS numbers and only the wrapper says which branch to write).
 *
 * Writing maps values to branches: safe integers → long, other numbers → double, strings → string,
 * Buffers/Uint8Arrays → bytes, null → null (Properties only: SystemProperties has no null branch).
 */
import { Type } from 'avsc';
import { CAPTURE_RECORD_SCHEMA, CAPTURE_RECORD_SCHEMA_2016, type CaptureRecord, type CaptureSchemaVariant, type CaptureValue } from './capture-record';
import { parseEnqueuedTimeUtc } from './enqueued-time';

type WrappedValue = null | { long: number } | { double: number } | { string: string } | { bytes: Buffer };

interface AvroEventData {
  SequenceNumber: number;
  Offset: string;
  EnqueuedTimeUtc: string;
  SystemProperties: Record<string, WrappedValue>;
  Properties: Record<string, WrappedValue>;
  Body: null | { bytes: Buffer };
}

function typeFor(schema: object): Type {
  // avsc keeps references into the schema it is given; hand it a private copy of the frozen constant.
  return Type.forSchema(structuredClone(schema) as never, { wrapUnions: true });
}

let currentType: Type | undefined;
let variantByFingerprint: Map<string, CaptureSchemaVariant> | undefined;

/** The avsc type that encodes records with `CAPTURE_RECORD_SCHEMA`. */
export function captureRecordType(): Type {
  currentType ??= typeFor(CAPTURE_RECORD_SCHEMA);
  return currentType;
}

/** Reader types kept by schema text, at most: files of one era share one schema, so one type serves them all. */
const MAX_READER_TYPES = 16;
const readerTypes = new Map<string, { type: Type; variant: CaptureSchemaVariant }>();

/**
 * The avsc type that decodes records written with `schema`, and which known schema it is. Variants
 * compare by Avro Parsing Canonical Form, so `"name":"a.B"` equals `"namespace":"a","name":"B"`.
 * Types are cached by `text` (the header's `avro.schema` text; by default `schema` serialized), the
 * oldest dropped past `MAX_READER_TYPES`: building one costs more than reading a small file.
 * Throws avsc's error when `schema` is not valid Avro (an invalid schema is not cached).
 */
export function readerTypeFor(schema: object, text: string = JSON.stringify(schema)): { type: Type; variant: CaptureSchemaVariant } {
  const cached = readerTypes.get(text);
  if (cached) return cached;
  variantByFingerprint ??= new Map([
    [captureRecordType().fingerprint('sha256').toString('hex'), 'current'],
    [typeFor(CAPTURE_RECORD_SCHEMA_2016).fingerprint('sha256').toString('hex'), 'archive-2016'],
  ]);
  const type = typeFor(schema);
  const reader = { type, variant: variantByFingerprint.get(type.fingerprint('sha256').toString('hex')) ?? 'other' };
  if (readerTypes.size >= MAX_READER_TYPES) readerTypes.delete(readerTypes.keys().next().value as string);
  readerTypes.set(text, reader);
  return reader;
}

/** How many reader types are cached (for tests of the bound). */
export function cachedReaderTypes(): number {
  return readerTypes.size;
}

function wrapValue(value: CaptureValue, where: string, allowNull: boolean): WrappedValue {
  if (value === null) {
    if (allowNull) return null;
    throw new TypeError(`${where} is null, but SystemProperties values cannot be null in the Capture schema; leave the key out instead.`);
  }
  if (typeof value === 'number') return Number.isSafeInteger(value) ? { long: value } : { double: value };
  if (typeof value === 'string') return { string: value };
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
  throw new TypeError(`${where} has unsupported type ${typeof value}; Capture values are numbers, strings, Buffers or null.`);
}

function wrapMap(map: Record<string, CaptureValue>, field: string, allowNull: boolean): Record<string, WrappedValue> {
  if (map === null || typeof map !== 'object') throw new TypeError(`CaptureRecord.${field} must be an object, got ${String(map)}.`);
  const wrapped: Record<string, WrappedValue> = {};
  for (const [key, value] of Object.entries(map)) wrapped[key] = wrapValue(value, `CaptureRecord.${field}[${JSON.stringify(key)}]`, allowNull);
  return wrapped;
}

/** Validates a record and returns the avsc value for `CAPTURE_RECORD_SCHEMA`. */
export function toAvroValue(record: CaptureRecord): AvroEventData {
  if (!Number.isSafeInteger(record.sequenceNumber)) {
    throw new TypeError(`CaptureRecord.sequenceNumber must be a safe integer, got ${String(record.sequenceNumber)}.`);
  }
  if (typeof record.offset !== 'string') throw new TypeError(`CaptureRecord.offset must be a string, got ${typeof record.offset}.`);
  parseEnqueuedTimeUtc(record.enqueuedTimeUtc);
  if (record.body !== null && !(record.body instanceof Uint8Array)) {
    throw new TypeError(`CaptureRecord.body must be a Buffer or null, got ${typeof record.body}.`);
  }
  return {
    SequenceNumber: record.sequenceNumber,
    Offset: record.offset,
    EnqueuedTimeUtc: record.enqueuedTimeUtc,
    SystemProperties: wrapMap(record.systemProperties, 'systemProperties', false),
    Properties: wrapMap(record.properties, 'properties', true),
    Body: record.body === null ? null : { bytes: Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength) },
  };
}

/** A wrapped union (`{ long: 5 }`) becomes its value; a value of a non-union type passes as is. */
function unwrap(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const keys = Object.keys(value);
  return keys.length === 1 ? (value as Record<string, unknown>)[keys[0]] : value;
}

function unwrapMap(map: Record<string, unknown>): Record<string, CaptureValue> {
  const plain: Record<string, CaptureValue> = {};
  for (const [key, value] of Object.entries(map)) plain[key] = unwrap(value) as CaptureValue;
  return plain;
}

/** Plain `CaptureRecord` from a record decoded with any compatible writer schema (see `schemaIncompatibility`). */
export function fromAvroValue(value: Record<string, unknown>): CaptureRecord {
  return {
    sequenceNumber: value['SequenceNumber'] as number,
    offset: value['Offset'] as string,
    enqueuedTimeUtc: value['EnqueuedTimeUtc'] as string,
    systemProperties: unwrapMap(value['SystemProperties'] as Record<string, unknown>),
    properties: unwrapMap(value['Properties'] as Record<string, unknown>),
    body: unwrap(value['Body']) as Buffer | null,
  };
}

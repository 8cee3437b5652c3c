/**
 * The record Event Hubs Capture writes, and the Avro schemas it writes it with.
 *
 * `CAPTURE_RECORD_SCHEMA` is byte-for-byte the schema JSON Azure puts in the `avro.schema` header
 * (key order included), so `JSON.stringify` of it reproduces Azure's header exactly.
 */
/** A map value in `SystemProperties` / `Properties`. Avro `long` and `double` both read as `number`. */
export type CaptureValue = number | string | Buffer | null;

export interface CaptureRecord {
  sequenceNumber: number;
  offset: string;
  /** UTC, US format `M/D/YYYY h:mm:ss AM|PM` (see `formatEnqueuedTimeUtc`). */
  enqueuedTimeUtc: string;
  systemProperties: Record<string, CaptureValue>;
  properties: Record<string, CaptureValue>;
  body: Buffer | null;
}

/** Which schema a file declares. `other`: a compatible EventData schema that is neither known one. */
export type CaptureSchemaVariant = 'current' | 'archive-2016' | 'other';

function captureSchema(propertyValues: readonly string[]): object {
  return {
    type: 'record',
    name: 'EventData',
    namespace: 'Microsoft.ServiceBus.Messaging',
    fields: [
      { name: 'SequenceNumber', type: 'long' },
      { name: 'Offset', type: 'string' },
      { name: 'EnqueuedTimeUtc', type: 'string' },
      { name: 'SystemProperties', type: { type: 'map', values: ['long', 'double', 'string', 'bytes'] } },
      { name: 'Properties', type: { type: 'map', values: [...propertyValues] } },
      { name: 'Body', type: ['null', 'bytes'] },
    ],
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The schema Azure writes today (Properties union includes null), as the exact JSON object. */
export const CAPTURE_RECORD_SCHEMA: object = deepFreeze(captureSchema(['long', 'double', 'string', 'bytes', 'null']));

/** The 2016 "Archive"-era schema: `Properties` values cannot be null. */
export const CAPTURE_RECORD_SCHEMA_2016: object = deepFreeze(captureSchema(['long', 'double', 'string', 'bytes']));

const MAP_VALUE_TYPES = new Set(['long', 'int', 'double', 'float', 'string', 'bytes', 'null']);

/** Type name of a primitive schema (`"long"` or `{ "type": "long" }`), else undefined. */
function primitiveName(schema: unknown): string | undefined {
  if (typeof schema === 'string') return schema;
  if (schema !== null && typeof schema === 'object' && !Array.isArray(schema)) {
    const type = (schema as { type?: unknown }).type;
    if (typeof type === 'string' && Object.keys(schema).length === 1) return type;
  }
  return undefined;
}

function isPrimitiveOrUnionOf(schema: unknown, allowed: ReadonlySet<string>): boolean {
  const branches = Array.isArray(schema) ? schema : [schema];
  return branches.length > 0 && branches.every((branch) => allowed.has(primitiveName(branch) ?? ''));
}

const FIELD_RULES: ReadonlyArray<{ name: string; accepts: (schema: unknown) => boolean; expected: string }> = [
  { name: 'SequenceNumber', accepts: (s) => ['long', 'int'].includes(primitiveName(s) ?? ''), expected: '"long"' },
  { name: 'Offset', accepts: (s) => primitiveName(s) === 'string', expected: '"string"' },
  { name: 'EnqueuedTimeUtc', accepts: (s) => primitiveName(s) === 'string', expected: '"string"' },
  { name: 'SystemProperties', accepts: isPropertyMap, expected: 'a map of long/double/string/bytes' },
  { name: 'Properties', accepts: isPropertyMap, expected: 'a map of long/double/string/bytes/null' },
  { name: 'Body', accepts: (s) => isPrimitiveOrUnionOf(s, new Set(['null', 'bytes'])) && primitiveName(s) !== 'null', expected: '["null","bytes"]' },
];

function isPropertyMap(schema: unknown): boolean {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return false;
  const map = schema as { type?: unknown; values?: unknown };
  return map.type === 'map' && isPrimitiveOrUnionOf(map.values, MAP_VALUE_TYPES);
}

/**
 * Why a writer schema cannot be read as Capture records, or undefined when it can. Any record with
 * the six EventData fields of compatible types reads, so future harmless changes do not break us.
 */
export function schemaIncompatibility(schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object' || (schema as { type?: unknown }).type !== 'record') {
    return 'the schema is not an Avro record';
  }
  const fields = (schema as { fields?: unknown }).fields;
  if (!Array.isArray(fields)) return 'the record schema has no "fields" array';
  const byName = new Map<string, unknown>();
  for (const field of fields as Array<{ name?: unknown; type?: unknown }>) {
    if (typeof field?.name === 'string') byName.set(field.name, field.type);
  }
  for (const rule of FIELD_RULES) {
    if (!byName.has(rule.name)) return `the record has no field "${rule.name}"`;
    if (!rule.accepts(byName.get(rule.name))) {
      return `field "${rule.name}" has type ${JSON.stringify(byName.get(rule.name))}, expected ${rule.expected}`;
    }
  }
  return undefined;
}

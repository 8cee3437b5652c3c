/**
 * Application properties of the embedded event hub, stored as JSON that keeps their types.
 *
 * Each value is a `[tag, value]` pair: `s` string, `l` long (a safe integer), `d` double (non-finite
 * values as strings), `b` boolean, `x` bytes (base64). Longs and doubles are kept apart because
 * Capture writes them to different Avro branches; bytes come back as `Buffer`.
 */
import { EventHubError, type PropertyValue } from '@pipeline/ports';

type StoredValue = ['s', string] | ['l', number] | ['d', number | string] | ['b', boolean] | ['x', string];

export type PropertyKind = 'string' | 'long' | 'double' | 'boolean' | 'bytes';

/** The Capture (Avro) kind a property value is stored as. */
export function propertyKind(value: PropertyValue): PropertyKind {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'long' : 'double';
  return 'bytes';
}

/** Check a property map and return its size in bytes (keys and values, as counted against maxBatchBytes). */
export function propertiesSize(properties: Record<string, PropertyValue> | undefined): number {
  if (properties === undefined) return 0;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new EventHubError(`Event properties must be a plain object of string, number, boolean or Buffer values, got ${describeValue(properties)}.`);
  }
  let size = 0;
  for (const [key, value] of Object.entries(properties)) {
    size += Buffer.byteLength(key, 'utf8');
    if (typeof value === 'string') size += Buffer.byteLength(value, 'utf8');
    else if (typeof value === 'number') size += 8;
    else if (typeof value === 'boolean') size += 1;
    else if (value instanceof Uint8Array) size += value.byteLength;
    else {
      throw new EventHubError(`Event property ${JSON.stringify(key)} has a ${describeValue(value)} value; properties may be strings, numbers, booleans or Buffers.`);
    }
  }
  return size;
}

export function encodeProperties(properties: Record<string, PropertyValue> | undefined): string {
  const stored: Record<string, StoredValue> = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    defineOwn(stored, key, encodeValue(value));
  }
  return JSON.stringify(stored);
}

export function decodeProperties(json: string): Record<string, PropertyValue> {
  const stored = JSON.parse(json) as Record<string, StoredValue>;
  const properties: Record<string, PropertyValue> = {};
  for (const [key, value] of Object.entries(stored)) defineOwn(properties, key, decodeValue(value));
  return properties;
}

function encodeValue(value: PropertyValue): StoredValue {
  const kind = propertyKind(value);
  switch (kind) {
    case 'string':
      return ['s', value as string];
    case 'boolean':
      return ['b', value as boolean];
    case 'long':
      return ['l', value as number];
    case 'double':
      return ['d', Number.isFinite(value) ? (value as number) : String(value)];
    case 'bytes':
      return ['x', Buffer.from(value as Uint8Array).toString('base64')];
  }
}

function decodeValue([tag, value]: StoredValue): PropertyValue {
  switch (tag) {
    case 's':
    case 'b':
    case 'l':
      return value;
    case 'd':
      return typeof value === 'number' ? value : Number(value);
    case 'x':
      return Buffer.from(value, 'base64');
  }
}

/** Assign without letting a key named `__proto__` change the prototype. */
function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

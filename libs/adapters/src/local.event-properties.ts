/**
 * Application properties of the embedded event hub (and the embedded bus), stored as JSON that
 * keeps their types. The hub stores a send's properties this way only when Capture's Avro map
 * cannot hold them exactly (`measureProperties` says which); rows written before the Avro form
 * hold this JSON too.
 *
 * Each value is a `[tag, value]` pair: `s` string, `l` long (a safe integer), `d` double (non-finite
 * values as strings), `b` boolean, `x` bytes (base64). Longs and doubles are kept apart because
 * Capture writes them to different Avro branches; bytes come back as `Buffer`.
 *
 * The text is exactly `JSON.stringify` of `{ key: [tag, value], ... }` in the map's key order; it is
 * written by hand because this runs once per event on the hub's hot path.
 */
import { capturesExactly } from '@pipeline/capture-format';
import { EventHubError, type PropertyValue } from '@pipeline/ports';

type StoredValue = ['s', string] | ['l', number] | ['d', number | string] | ['b', boolean] | ['x', string];

export type PropertyKind = 'string' | 'long' | 'double' | 'boolean' | 'bytes';

/** A property map as the hub stores it, and its size as counted against maxBatchBytes. */
export interface EncodedProperties {
  json: string;
  size: number;
}

/** Most property names whose JSON text and byte length are remembered (maps repeat their names). */
const MAX_CACHED_NAMES = 1024;

interface EncodedName {
  /** `"name":["` — the key and the opening of its `[tag, value]` pair. */
  prefix: string;
  bytes: number;
  /** The last string value seen under this name (sources, content types, a batch's trace context repeat). */
  lastString: string | undefined;
  lastStringBytes: number;
  /** Its stored text after the prefix, once needed. */
  lastStringStored: string | undefined;
  /** Whether Capture's map keeps the name, and the last string value under it, exactly (`capturesExactly`). */
  exactKey: boolean;
  lastStringExact: boolean;
}

const encodedNames = new Map<string, EncodedName>();

function encodedName(key: string): EncodedName {
  let name = encodedNames.get(key);
  if (name === undefined) {
    if (encodedNames.size >= MAX_CACHED_NAMES) encodedNames.clear();
    name = {
      prefix: `${JSON.stringify(key)}:["`,
      bytes: Buffer.byteLength(key, 'utf8'),
      lastString: undefined,
      lastStringBytes: 0,
      lastStringStored: undefined,
      exactKey: capturesExactly(key, ''),
      lastStringExact: false,
    };
    encodedNames.set(key, name);
  }
  return name;
}

/** The Capture (Avro) kind a property value is stored as. */
export function propertyKind(value: PropertyValue): PropertyKind {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'long' : 'double';
  return 'bytes';
}

/** Check a property map and return its size in bytes (keys and values, as counted against maxBatchBytes). */
export function propertiesSize(properties: Record<string, PropertyValue> | undefined): number {
  return encode(properties, false).size;
}

/** Check a property map and return its stored JSON and its size (see `propertiesSize`). */
export function encodeProperties(properties: Record<string, PropertyValue> | undefined): EncodedProperties {
  return encode(properties, true);
}

const EMPTY: EncodedProperties = Object.freeze({ json: '{}', size: 0 });

function encode(properties: Record<string, PropertyValue> | undefined, withJson: boolean): EncodedProperties {
  if (properties === undefined) return EMPTY;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new EventHubError(`Event properties must be a plain object of string, number, boolean or Buffer values, got ${describeValue(properties)}.`);
  }
  const keys = Object.keys(properties);
  let size = 0;
  let json = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = properties[key];
    const name = encodedName(key);
    size += name.bytes;
    let stored: string;
    if (typeof value === 'string') {
      if (value !== name.lastString) remember(name, value);
      size += name.lastStringBytes;
      stored = withJson ? (name.lastStringStored ??= `s",${JSON.stringify(value)}]`) : '';
    } else if (typeof value === 'number') {
      size += 8;
      // JSON writes a finite number as String(n) does; a non-finite double is kept as its text.
      stored = !withJson ? '' : Number.isSafeInteger(value) ? `l",${String(value)}]` : Number.isFinite(value) ? `d",${String(value)}]` : `d","${String(value)}"]`;
    } else if (typeof value === 'boolean') {
      size += 1;
      stored = value ? 'b",true]' : 'b",false]';
    } else if (value instanceof Uint8Array) {
      size += value.byteLength;
      stored = withJson ? `x","${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"]` : '';
    } else {
      throw new EventHubError(`Event property ${JSON.stringify(key)} has a ${describeValue(value)} value; properties may be strings, numbers, booleans or Buffers.`);
    }
    if (withJson) json += i === 0 ? name.prefix + stored : ',' + name.prefix + stored;
  }
  return { json: withJson ? json + '}' : '', size };
}

function remember(name: EncodedName, value: string): void {
  name.lastString = value;
  name.lastStringBytes = Buffer.byteLength(value, 'utf8');
  name.lastStringStored = undefined;
  name.lastStringExact = capturesExactly('', value);
}

/** What `measureProperties` found; one object, overwritten by each call. */
export interface PropertiesMeasure {
  /** As `propertiesSize`. */
  size: number;
  count: number;
  /** Whether Capture's `Properties` map holds every entry exactly (`capturesExactly`). */
  exact: boolean;
}

const measured: PropertiesMeasure = { size: 0, count: 0, exact: true };

/** Check a property map as `propertiesSize` does and say whether Capture's map can store it; the answer is valid until the next call. */
export function measureProperties(properties: Record<string, PropertyValue> | undefined): PropertiesMeasure {
  measured.size = 0;
  measured.count = 0;
  measured.exact = true;
  if (properties === undefined) return measured;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new EventHubError(`Event properties must be a plain object of string, number, boolean or Buffer values, got ${describeValue(properties)}.`);
  }
  const keys = Object.keys(properties);
  let size = 0;
  let exact = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = properties[key];
    const name = encodedName(key);
    size += name.bytes;
    if (!name.exactKey) exact = false;
    if (typeof value === 'string') {
      if (value !== name.lastString) remember(name, value);
      size += name.lastStringBytes;
      if (!name.lastStringExact) exact = false;
    } else if (typeof value === 'number') {
      size += 8;
      if (!capturesExactly(key, value)) exact = false;
    } else if (typeof value === 'boolean') {
      size += 1;
      exact = false;
    } else if (value instanceof Uint8Array) {
      size += value.byteLength;
    } else {
      throw new EventHubError(`Event property ${JSON.stringify(key)} has a ${describeValue(value)} value; properties may be strings, numbers, booleans or Buffers.`);
    }
  }
  measured.size = size;
  measured.count = keys.length;
  measured.exact = exact;
  return measured;
}

/** The property map of a stored JSON text; a key named `__proto__` stays an ordinary own key. */
export function decodeProperties(json: string): Record<string, PropertyValue> {
  return decodeWritten(json) ?? decodeParsed(json);
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Reads the text as `encodeProperties` writes it, without JSON.parse: `{"key":["t",value],...}` with
 * no escapes in keys and strings. Returns `undefined` on anything else (an escape, a `__proto__`
 * key, an unknown tag, any other layout), which `decodeParsed` then reads.
 */
function decodeWritten(json: string): Record<string, PropertyValue> | undefined {
  const end = json.length - 1;
  if (json.charCodeAt(0) !== OPEN_BRACE || json.charCodeAt(end) !== CLOSE_BRACE) return undefined;
  const properties: Record<string, PropertyValue> = {};
  if (end === 1) return properties;
  let at = 1;
  for (;;) {
    // "key":["t",
    if (json.charCodeAt(at) !== QUOTE) return undefined;
    const keyEnd = json.indexOf('"', at + 1);
    if (keyEnd < 0) return undefined;
    const key = json.slice(at + 1, keyEnd);
    if (key.includes('\\') || key === '__proto__') return undefined;
    if (json.charCodeAt(keyEnd + 1) !== COLON || json.charCodeAt(keyEnd + 2) !== OPEN_BRACKET || json.charCodeAt(keyEnd + 3) !== QUOTE) return undefined;
    if (json.charCodeAt(keyEnd + 5) !== QUOTE || json.charCodeAt(keyEnd + 6) !== COMMA) return undefined;
    const tag = json[keyEnd + 4];
    const start = keyEnd + 7;
    let value: PropertyValue;
    let valueEnd: number;
    if (tag === 's' || tag === 'x' || (tag === 'd' && json.charCodeAt(start) === QUOTE)) {
      if (json.charCodeAt(start) !== QUOTE) return undefined;
      const close = json.indexOf('"', start + 1);
      if (close < 0) return undefined;
      const text = json.slice(start + 1, close);
      if (text.includes('\\')) return undefined;
      value = tag === 's' ? text : tag === 'x' ? Buffer.from(text, 'base64') : Number(text);
      valueEnd = close + 1;
    } else if (tag === 'l' || tag === 'd') {
      valueEnd = json.indexOf(']', start);
      if (valueEnd <= start) return undefined;
      value = Number(json.slice(start, valueEnd));
      if (Number.isNaN(value)) return undefined;
    } else if (tag === 'b') {
      if (json.startsWith('true', start)) {
        value = true;
        valueEnd = start + 4;
      } else if (json.startsWith('false', start)) {
        value = false;
        valueEnd = start + 5;
      } else {
        return undefined;
      }
    } else {
      return undefined;
    }
    if (json.charCodeAt(valueEnd) !== CLOSE_BRACKET) return undefined;
    properties[key] = value;
    const next = json.charCodeAt(valueEnd + 1);
    if (valueEnd + 1 === end) return properties;
    if (next !== COMMA) return undefined;
    at = valueEnd + 2;
  }
}

/** Any stored text, through JSON.parse. */
function decodeParsed(json: string): Record<string, PropertyValue> {
  // JSON.parse makes every key an own data property (`__proto__` included), so the values can be
  // replaced in place: assigning to an existing own property never reaches the prototype setter.
  const properties = JSON.parse(json) as Record<string, StoredValue | PropertyValue>;
  const keys = Object.keys(properties);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    properties[key] = decodeValue(properties[key] as StoredValue);
  }
  return properties as Record<string, PropertyValue>;
}

function decodeValue(stored: StoredValue): PropertyValue {
  const value = stored[1];
  switch (stored[0]) {
    case 's':
    case 'b':
    case 'l':
      return value;
    case 'd':
      return typeof value === 'number' ? value : Number(value);
    case 'x':
      return Buffer.from(value as string, 'base64');
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

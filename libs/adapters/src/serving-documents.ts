/**
 * What every serving store shares: the stored form of a window document, its validation, and the
 * keyset continuation tokens on (windowStart, window, id), so the SQLite and Cosmos DB stores behave
 * the same (and run the same contract suite).
 */
import { IDENTIFIER_PATTERN, MAX_DOCUMENT_ID_BYTES } from '@pipeline/contracts';
import {
  InvalidContinuationTokenError,
  MAX_TOP_LIMIT,
  ServingStoreError,
  isWindowDocumentId,
  windowDocumentId,
  type AggregateValue,
  type KeyValue,
  type RetiredWindow,
  type ShardStatus,
  type TopQuery,
  type WindowDocument,
  type WindowQuery,
} from '@pipeline/ports';

/** Where a page ended: the last item's position in the (windowStart, window, id) order. */
export interface PageCursor {
  windowStart: number;
  window: string;
  id: string;
}

/** Sorts before every stored document, so the first page uses the same statement as the others. */
export const BEFORE_FIRST: PageCursor = { windowStart: -Infinity, window: '', id: '' };

/** The stored JSON: exactly the port's fields, in a fixed order (extra properties are not kept). */
export function storedDocument(doc: WindowDocument) {
  const { id, pk, pipeline, window, windowStart, windowEnd, key, aggregates, final, watermark, shard, version } = doc;
  return { id, pk, pipeline, window, windowStart, windowEnd, key, aggregates, final, watermark: Number.isFinite(watermark) ? watermark : null, shard, version };
}

/** A stored document back: a null watermark was -Infinity. */
export function decodeDocument(stored: Omit<WindowDocument, 'watermark'> & { watermark: number | null }): WindowDocument {
  const { id, pk, pipeline, window, windowStart, windowEnd, key, aggregates, final, watermark, shard, version } = stored;
  return { id, pk, pipeline, window, windowStart, windowEnd, key, aggregates, final, watermark: watermark ?? -Infinity, shard, version };
}

/** base64url JSON: URL-safe, and opaque to callers (only this module reads it). */
export function encodeContinuationToken(doc: WindowDocument): string {
  const cursor: PageCursor = { windowStart: doc.windowStart, window: doc.window, id: doc.id };
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeContinuationToken(token: string): PageCursor {
  const shown = typeof token === 'string' && token.length > 80 ? `${token.slice(0, 80)}…` : String(token);
  const invalid = (problem: string) =>
    new InvalidContinuationTokenError(`Continuation token ${JSON.stringify(shown)} ${problem}; pass the token of the previous page unchanged, or none for the first page.`);
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid('is not base64url text');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('does not decode to JSON');
  }
  if (decoded === null || typeof decoded !== 'object' || Array.isArray(decoded)) throw invalid('does not decode to an object');
  const { windowStart, window, id } = decoded as Record<string, unknown>;
  if (typeof windowStart !== 'number' || !Number.isSafeInteger(windowStart)) throw invalid('has no integer windowStart');
  if (typeof window !== 'string' || window === '') throw invalid('has no window name');
  if (typeof id !== 'string' || id === '') throw invalid('has no document id');
  return { windowStart, window, id };
}

/** Checks the retired documents of an upsert: each a pk, an id and the retiring batch's version. */
export function assertRetired(retired: readonly RetiredWindow[]): void {
  if (!Array.isArray(retired)) throw new ServingStoreError(`upsert: retired must be an array of { pk, id, version }, got ${JSON.stringify(retired)}.`);
  retired.forEach((r, index) => {
    const ok =
      r !== null &&
      typeof r === 'object' &&
      typeof r.pk === 'string' &&
      r.pk !== '' &&
      typeof r.id === 'string' &&
      r.id !== '' &&
      Number.isSafeInteger(r.version) &&
      r.version >= 0;
    if (!ok) throw new ServingStoreError(`upsert: retired [${index}] must be { pk, id, version } with non-empty pk and id and a version ≥ 0, got ${JSON.stringify(r)}.`);
  });
}

export function assertDocument(doc: WindowDocument, index: number): void {
  if (doc === null || typeof doc !== 'object') throw new ServingStoreError(`upsert: document [${index}] must be an object, got ${JSON.stringify(doc)}.`);
  // Built only when something is wrong: this runs for every document gold writes.
  const where = () => `upsert: document [${index}] (id ${JSON.stringify(doc.id)})`;
  const fail = (problem: string) => new ServingStoreError(`${where()} ${problem}.`);
  // Field by field rather than a loop over field names: this is most of an upsert's JavaScript.
  if (!isNonEmptyText(doc.id)) throw fail(`needs a non-empty string id, got ${JSON.stringify(doc.id)}`);
  if (!isNonEmptyText(doc.pk)) throw fail(`needs a non-empty string pk, got ${JSON.stringify(doc.pk)}`);
  if (!isNonEmptyText(doc.pipeline)) throw fail(`needs a non-empty string pipeline, got ${JSON.stringify(doc.pipeline)}`);
  if (typeof doc.window !== 'string' || !IDENTIFIER_PATTERN.test(doc.window)) {
    throw fail(`needs a window name of letters, digits and "_" (the spec's window name), got ${JSON.stringify(doc.window)}`);
  }
  if (!Number.isSafeInteger(doc.windowStart)) throw fail(`needs an integer windowStart, got ${String(doc.windowStart)}`);
  if (!Number.isSafeInteger(doc.windowEnd)) throw fail(`needs an integer windowEnd, got ${String(doc.windowEnd)}`);
  if (!Number.isSafeInteger(doc.shard)) throw fail(`needs an integer shard, got ${String(doc.shard)}`);
  if (!Number.isSafeInteger(doc.version)) throw fail(`needs an integer version, got ${String(doc.version)}`);
  if (doc.windowEnd <= doc.windowStart) throw fail(`has windowEnd ${doc.windowEnd} not after windowStart ${doc.windowStart}`);
  if (doc.shard < 0 || doc.version < 0) throw fail(`needs shard and version ≥ 0, got shard ${doc.shard} and version ${doc.version}`);
  if (typeof doc.final !== 'boolean') throw fail(`needs a boolean final, got ${JSON.stringify(doc.final)}`);
  if (!(Number.isSafeInteger(doc.watermark) || doc.watermark === -Infinity))
    throw fail(`needs an integer watermark (or -Infinity before the first one), got ${String(doc.watermark)}`);
  if (!isWindowDocumentId(doc.id, doc.window, doc.pk, doc.windowStart)) {
    const expectedId = windowDocumentId(doc.window, doc.pk, doc.windowStart);
    throw fail(`does not have the deterministic id of its window, pk and windowStart; build it with windowDocumentId(): ${JSON.stringify(expectedId)}`);
  }
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: only a long id needs counting.
  if (doc.id.length * 3 > MAX_DOCUMENT_ID_BYTES && Buffer.byteLength(doc.id, 'utf8') > MAX_DOCUMENT_ID_BYTES) {
    throw fail(`has an id of ${Buffer.byteLength(doc.id, 'utf8')} bytes, over the ${MAX_DOCUMENT_ID_BYTES}-byte limit of Cosmos DB ids; shorten the grouping key values`);
  }
  assertRecord(doc.key, () => `${where()} key`, isKeyValue, 'a string, a finite number, a boolean or null');
  assertRecord(doc.aggregates, () => `${where()} aggregates`, isAggregateValue, 'a finite number or null');
}

function isNonEmptyText(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function assertRecord(value: unknown, what: () => string, valid: (v: unknown) => boolean, expected: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ServingStoreError(`${what()} must be an object, got ${JSON.stringify(value)}.`);
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    const v = record[name];
    if (!valid(v)) throw new ServingStoreError(`${what()}.${name} must be ${expected}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}.`);
  }
}

function isKeyValue(v: unknown): v is KeyValue {
  return v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function isAggregateValue(v: unknown): v is AggregateValue {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

export function assertShardStatus(status: ShardStatus): void {
  if (status === null || typeof status !== 'object') throw new ServingStoreError(`putShardStatus needs a shard status object, got ${JSON.stringify(status)}.`);
  const fail = (problem: string) => new ServingStoreError(`putShardStatus (pipeline ${JSON.stringify(status.pipeline)}, shard ${String(status.shard)}) ${problem}.`);
  if (typeof status.pipeline !== 'string' || status.pipeline === '') throw fail('needs a non-empty pipeline name');
  for (const field of ['shard', 'batch', 'rows', 'lateRows', 'windowsEmitted', 'updatedAt'] as const) {
    if (!Number.isSafeInteger(status[field])) throw fail(`needs an integer ${field}, got ${String(status[field])}`);
  }
  for (const field of ['watermark', 'maxEventTime'] as const) {
    const value = status[field];
    if (!(value === null || value === -Infinity || Number.isSafeInteger(value))) throw fail(`needs an integer ${field}, null or -Infinity, got ${String(value)}`);
  }
}

export function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

export function assertText(value: unknown, what: string): void {
  if (typeof value !== 'string' || value === '') throw new ServingStoreError(`${what} must be a non-empty string, got ${JSON.stringify(value)}.`);
}

function assertLimit(limit: unknown, what: string): void {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new ServingStoreError(`${what}: limit must be a positive integer, got ${String(limit)}.`);
}

function optionalBound(value: number | undefined, name: 'from' | 'to', absent: number): number {
  if (value === undefined) return absent;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ServingStoreError(`queryWindows: ${name} must be a finite epoch-ms number, got ${String(value)}.`);
  return value;
}

/** A checked `queryWindows` request: its bounds (±Infinity when absent) and the page cursor to start after. */
export interface CheckedWindowQuery {
  pk: string;
  window: string | undefined;
  limit: number;
  lower: number;
  upper: number;
  after: PageCursor;
}

/** Checks a `queryWindows` request the same way for every store; throws `ServingStoreError` naming the field. */
export function checkWindowQuery(query: WindowQuery): CheckedWindowQuery {
  const { pk, window, from, to, limit, continuationToken } = query;
  assertText(pk, 'queryWindows: pk');
  if (window !== undefined) assertText(window, 'queryWindows: window');
  assertLimit(limit, 'queryWindows');
  return {
    pk,
    window,
    limit,
    lower: optionalBound(from, 'from', -Infinity),
    upper: optionalBound(to, 'to', Infinity),
    after: continuationToken === undefined ? BEFORE_FIRST : decodeContinuationToken(continuationToken),
  };
}

/** Checks a `top` request the same way for every store; throws `ServingStoreError` naming the field. */
export function checkTopQuery(query: TopQuery): TopQuery {
  const { window, windowStart, by, limit } = query;
  assertText(window, 'top: window');
  if (!Number.isSafeInteger(windowStart)) throw new ServingStoreError(`top: windowStart must be an integer epoch-ms, got ${String(windowStart)}.`);
  if (typeof by !== 'string' || !IDENTIFIER_PATTERN.test(by)) {
    throw new ServingStoreError(`top: "by" must be an aggregate name (letters, digits and "_", starting with a letter or "_"), got ${JSON.stringify(by)}.`);
  }
  assertLimit(limit, 'top');
  if (limit > MAX_TOP_LIMIT) throw new ServingStoreError(`top: limit must be at most ${MAX_TOP_LIMIT}, got ${limit}; ask for fewer windows.`);
  return query;
}

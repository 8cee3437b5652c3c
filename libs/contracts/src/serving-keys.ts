/**
 * How a gold window is named in the serving store: its partition key (the grouping key's canonical
 * text) and its document id, and the limits Cosmos DB puts on both. Silver checks a row's key
 * against them, so a key the store cannot hold is quarantined instead of failing gold's upserts.
 */

/** A grouping key value as gold serves it. */
export type KeyValue = string | number | boolean | null;

/** Cosmos DB: an id holds at most 1023 bytes. */
export const MAX_DOCUMENT_ID_BYTES = 1023;
/** Cosmos DB: a partition key value holds at most 2048 bytes. */
export const MAX_PARTITION_KEY_BYTES = 2048;

/** Canonical text of a grouping key: `col=value` pairs in groupBy order, URI-encoded, `&`-joined. */
export function groupKeyText(key: Record<string, KeyValue>, groupBy: readonly string[]): string {
  if (groupBy.length === 0) return '_all';
  return groupBy.map((column) => `${encodeURIComponent(column)}=${encodeURIComponent(key[column] === null || key[column] === undefined ? '' : String(key[column]))}`).join('&');
}

/** `{window}|{pk}|{windowStart}` made safe for Cosmos ids (no `/ \ ? #`). */
const RESERVED_ID_CHARACTER = /[/\\?#]/;
const RESERVED_ID_CHARACTERS = /[/\\?#]/g;

export function windowDocumentId(window: string, pk: string, windowStart: number): string {
  return safeIdText(`${window}|${pk}|${windowStart}`);
}

/**
 * What every id of a window and pk starts with: `windowDocumentId(window, pk, start)` is this
 * followed by the start's digits (a number's text never holds a reserved character), so a writer
 * naming many windows of one key builds the escaped part once.
 */
export function windowDocumentIdPrefix(window: string, pk: string): string {
  return safeIdText(`${window}|${pk}|`);
}

/** Whether `id` is `windowDocumentId(window, pk, windowStart)`, compared in place when nothing needs escaping. */
export function isWindowDocumentId(id: string, window: string, pk: string, windowStart: number): boolean {
  if (RESERVED_ID_CHARACTER.test(window) || RESERVED_ID_CHARACTER.test(pk)) return id === windowDocumentId(window, pk, windowStart);
  const start = String(windowStart);
  const pkAt = window.length + 1;
  const startAt = pkAt + pk.length + 1;
  return (
    id.length === startAt + start.length &&
    id.startsWith(window) &&
    id.charCodeAt(window.length) === 124 && // "|"
    id.startsWith(pk, pkAt) &&
    id.charCodeAt(startAt - 1) === 124 &&
    id.endsWith(start)
  );
}

function safeIdText(id: string): string {
  return RESERVED_ID_CHARACTER.test(id) ? id.replace(RESERVED_ID_CHARACTERS, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`) : id;
}

/** The earliest window start the lake holds (0001-01-01T00:00:00Z): the longest start text. */
const LONGEST_START = -62_135_596_800_000;

/**
 * Why the serving store cannot hold windows of this grouping key, or `undefined` when it can: the
 * partition key or the longest document id any window of `windows` could get is over Cosmos DB's limit.
 */
export function servingKeyProblem(pk: string, windows: readonly string[]): string | undefined {
  const pkBytes = Buffer.byteLength(pk, 'utf8');
  if (pkBytes > MAX_PARTITION_KEY_BYTES) return `its grouping key text is ${pkBytes} bytes, over the ${MAX_PARTITION_KEY_BYTES}-byte limit of Cosmos DB partition keys`;
  for (const window of windows) {
    const idBytes = Buffer.byteLength(windowDocumentId(window, pk, LONGEST_START), 'utf8');
    if (idBytes > MAX_DOCUMENT_ID_BYTES)
      return `the serving document id of its "${window}" windows would be up to ${idBytes} bytes, over the ${MAX_DOCUMENT_ID_BYTES}-byte limit of Cosmos DB ids`;
  }
  return undefined;
}

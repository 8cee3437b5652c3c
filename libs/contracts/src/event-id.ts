/**
 * Derived event ids (`eventId: { derive: source-row }`): a name-based UUID, version 5 (RFC 9562,
 * SHA-1), in the fixed `EVENT_ID_NAMESPACE`, of the name `${sourceName}\n${rowNumber}` (UTF-8,
 * row number in decimal). The same source row always gets the same id, across runs, machines and
 * replays, which is what lets silver deduplicate a re-sent file. Changing the namespace or the
 * name layout would re-key every derived id: never do it.
 */
import { createHash } from 'node:crypto';

/** The namespace of derived event ids. Fixed forever. */
export const EVENT_ID_NAMESPACE = '0f65fdb9-2334-49b0-9b49-9137fb794f05';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A version 5 (SHA-1, name-based) UUID of `name` in `namespace`, lowercase. */
export function uuidV5(namespace: string, name: string): string {
  if (!UUID.test(namespace)) throw new RangeError(`uuidV5 namespace must be a UUID like ${EVENT_ID_NAMESPACE}, got "${namespace}"`);
  const bytes = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The event id of a source row that has no id column.
 * @param rowNumber 1-based data row number in the source (the header is not a row).
 */
export function deriveEventId(sourceName: string, rowNumber: number): string {
  if (!Number.isSafeInteger(rowNumber) || rowNumber < 1) {
    throw new RangeError(`deriveEventId needs a 1-based integer row number, got ${rowNumber} (source "${sourceName}")`);
  }
  return uuidV5(EVENT_ID_NAMESPACE, `${sourceName}\n${rowNumber}`);
}

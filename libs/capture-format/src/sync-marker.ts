import { createHash } from 'node:crypto';

/** Length of an Avro object container file sync marker. */
export const SYNC_MARKER_BYTES = 16;

/**
 * A 16-byte sync marker derived from `seed` (e.g. the file's lake path): re-writing the same file
 * after a crash then yields identical bytes (deterministic batches, DESIGN invariant 2).
 */
export function deriveSyncMarker(seed: string): Buffer {
  const digest = createHash('sha256').update('eventhubs-capture-sync-marker\0').update(seed, 'utf8').digest();
  return Buffer.from(digest.subarray(0, SYNC_MARKER_BYTES));
}

/**
 * The capture checkpoint, kept in the lake (the source of truth), one log per partition:
 *   {root}/metadata                      what this checkpoint captures (namespace, hub, group)
 *   {root}/partitions/{p}/offsets/{N}    written BEFORE file N: its sequence range and path
 *   {root}/partitions/{p}/commits/{N}    written AFTER file N is durable
 * Each partition's log is a stage checkpoint run by the micro-batch runtime (see
 * partition-capture.ts). Every entry is created only if absent, so two instances racing for a
 * partition agree on what file N holds: the loser adopts the winner's entry. An `offsets/N`
 * without `commits/N` is re-done after a crash: the same events, to the same path, with the same
 * bytes. Entries older than CAPTURE_RETAINED_BATCHES files are deleted, commits included. Each commit names
 * the instance that wrote it (its owner). The layout is libs/checkpoint capture-progress.ts's.
 */
import { parseCheckpointRecord } from '@pipeline/checkpoint';
import type { Lake } from '@pipeline/ports';

export type { CaptureCommit, CaptureIntent } from '@pipeline/contracts';

export const CAPTURE_LOG_VERSION = 1;

export interface CaptureMetadata {
  version: number;
  namespace: string;
  eventHub: string;
  consumerGroup: string;
}

export class CheckpointMismatchError extends Error {
  override readonly name = 'CheckpointMismatchError';
}

export class CaptureLog {
  constructor(
    private readonly lake: Lake,
    readonly root: string,
  ) {}

  /** Writes the metadata on first use; refuses a checkpoint that belongs to another hub. */
  async bind(expected: CaptureMetadata): Promise<void> {
    const path = `${this.root}/metadata`;
    if (await this.lake.createIfAbsent(path, JSON.stringify(expected))) return;
    const found = parseCheckpointRecord<CaptureMetadata>(await this.lake.read(path), `${this.lake.location}/${path}`);
    const changed = (['namespace', 'eventHub', 'consumerGroup'] as const).filter((k) => found[k] !== expected[k]);
    if (changed.length > 0) {
      throw new CheckpointMismatchError(
        `The capture checkpoint at ${this.lake.location}/${this.root} belongs to ` +
          changed.map((k) => `${k} "${found[k]}" (now "${expected[k]}")`).join(', ') +
          '. Use another checkpoint name (--checkpoint) for this hub, or delete that folder to start over.',
      );
    }
  }
}

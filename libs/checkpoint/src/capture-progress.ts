/**
 * Where capture keeps each partition's progress, and how others read it: the capture checkpoint
 * holds one stage-checkpoint log per partition, `{root}/partitions/{p}` (offsets/N = the file's
 * intent, commits/N = the file written, with the instance that committed it). Capture writes these
 * logs (apps/capture); the status endpoint reads each partition's last committed file and owner
 * from here, and a draining capture instance reads how far the partitions it does not own are
 * captured. One layout, written once: nothing else builds these paths.
 */
import type { CaptureCommit, CaptureIntent } from '@pipeline/contracts';
import type { Lake } from '@pipeline/ports';
import { StageCheckpoint } from './stage-checkpoint';

/** How many batch entries capture keeps per partition: older ones are deleted after each commit, commits included. */
export const CAPTURE_RETAINED_BATCHES = 100;

/** A capture partition's log: `{checkpointRoot}/partitions/{p}`. */
export function capturePartitionRoot(checkpointRoot: string, partitionId: string): string {
  return `${checkpointRoot}/partitions/${partitionId}`;
}

/** A capture partition's log as a stage checkpoint (stateless; commits expire with the offsets). */
export function capturePartitionCheckpoint(lake: Lake, checkpointRoot: string, partitionId: string): StageCheckpoint<CaptureIntent, CaptureCommit, undefined> {
  return new StageCheckpoint<CaptureIntent, CaptureCommit, undefined>(lake, capturePartitionRoot(checkpointRoot, partitionId), {
    retainBatches: CAPTURE_RETAINED_BATCHES,
    keepCommits: false,
    holdsState: false,
  });
}

/** A partition's last committed capture file. */
export interface CapturePartitionProgress {
  partitionId: string;
  /** The file's batch number in the partition's log. */
  batch: number;
  /** The last sequence number captured (the file's last; -1 when nothing was). */
  toSequenceNumber: number;
  path: string;
  /** The instance that committed the file; absent for files committed before it was recorded. */
  owner?: string;
}

/** The last committed file of one partition, or `undefined` before its first. */
export async function captureProgress(lake: Lake, checkpointRoot: string, partitionId: string): Promise<CapturePartitionProgress | undefined> {
  const checkpoint = capturePartitionCheckpoint(lake, checkpointRoot, partitionId);
  const batch = await checkpoint.lastCommitted();
  if (batch === undefined) return undefined;
  const [intent, commit] = await Promise.all([checkpoint.readOffsets(batch), checkpoint.readCommit(batch)]);
  if (intent === undefined || commit === undefined) {
    throw new Error(
      `The capture checkpoint ${lake.location}/${capturePartitionRoot(checkpointRoot, partitionId)} has commits/${batch} but not both of its records (offsets and commit): ` +
        'someone deleted them by hand. Put them back from a backup, or start capture on a new checkpoint name.',
    );
  }
  return { partitionId, batch, toSequenceNumber: intent.toSequenceNumber, path: commit.path, ...(commit.owner === undefined ? {} : { owner: commit.owner }) };
}

/**
 * The partitions a capture checkpoint has logs for, in the lake's order. One entry is read per
 * partition: each listing starts after the previous partition's folder (`~` sorts after its
 * `commits/` and `offsets/`, and before any longer partition id's `/`).
 */
export async function capturedPartitionIds(lake: Lake, checkpointRoot: string): Promise<string[]> {
  const prefix = `${checkpointRoot}/partitions/`;
  const ids: string[] = [];
  let startAfter: string | undefined;
  for (;;) {
    let next: string | undefined;
    for await (const entry of lake.list(prefix, { limit: 1, ...(startAfter === undefined ? {} : { startAfter }) })) next = entry.path;
    if (next === undefined) return ids;
    const id = next.slice(prefix.length).split('/')[0] as string;
    ids.push(id);
    startAfter = `${prefix}${id}/~`;
  }
}

/** Every partition's last committed file, in the lake's order of partition ids. */
export async function captureProgressAll(lake: Lake, checkpointRoot: string): Promise<CapturePartitionProgress[]> {
  const ids = await capturedPartitionIds(lake, checkpointRoot);
  const progress = await Promise.all(ids.map((id) => captureProgress(lake, checkpointRoot, id)));
  return progress.filter((p): p is CapturePartitionProgress => p !== undefined);
}

/** A file capture committed, as its log records it. */
export interface CapturedFileRecord {
  batch: number;
  path: string;
  bytes: number;
  eventCount: number;
}

/**
 * The files of a partition's log committed after batch `after` up to `upTo`, those the log still
 * holds (it keeps CAPTURE_RETAINED_BATCHES), oldest first: what a reader that remembers `after`
 * learns without opening the files.
 */
export async function capturedFilesSince(lake: Lake, checkpointRoot: string, partitionId: string, after: number, upTo: number): Promise<CapturedFileRecord[]> {
  const checkpoint = capturePartitionCheckpoint(lake, checkpointRoot, partitionId);
  const from = Math.max(after + 1, upTo - CAPTURE_RETAINED_BATCHES + 1, 0);
  const batches = Array.from({ length: Math.max(0, upTo - from + 1) }, (_, i) => from + i);
  const records = await Promise.all(
    batches.map(async (batch) => {
      const [intent, commit] = await Promise.all([checkpoint.readOffsets(batch), checkpoint.readCommit(batch)]);
      // Deleted by retention meanwhile: the file is counted from its bytes instead.
      return intent === undefined || commit === undefined ? undefined : { batch, path: commit.path, bytes: commit.bytes, eventCount: intent.eventCount };
    }),
  );
  return records.filter((r): r is CapturedFileRecord => r !== undefined);
}

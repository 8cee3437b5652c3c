/**
 * One bronze batch. Order of writes for batch N, each create-if-absent:
 *   offsets/N (the exact files) → rejections of the files set aside → the manifest (the other files,
 *   referenced in place) → bus announcement → taken records of restored files → state/N (cursors) →
 *   commits/N.
 * Everything written is a function of offsets/N, the files' bytes and the state before it —
 * `createdAt` and the manifest's trace context come from offsets/N — so a batch re-done after a
 * crash at any step writes the same bytes, and a step that already happened is recognised (the
 * manifest log accepts an identical manifest; records, state and commit keep the first write).
 * A re-done batch keeps the decisions already durable: the files of its manifest stay referenced
 * and the files it set aside stay set aside, even if one was re-copied in between.
 *
 * Bronze copies nothing and changes nothing: each file is read once (whole, or streamed when big)
 * to count its records and hash its bytes. A file that cannot be read — empty, truncated, corrupt, or gone since it was
 * listed — is set aside (DESIGN invariant 9) in the rejected-file log with the reason and the byte
 * offset, and the batch goes on with the others; `pipeline rejected restore` puts it back once it
 * is re-copied, and a later batch takes it exactly once. Only a lake that fails (a transient error)
 * fails the batch, which is then re-done.
 */
import { CaptureFormatError, scanCaptureFile, type CaptureFileScan } from '@pipeline/capture-format';
import { readHashing, sha256Hex, type BatchInput, type HashingStream, type BatchOutcome, type ManifestLog } from '@pipeline/checkpoint';
import {
  EventProperty,
  MANIFEST_VERSION,
  REJECTED_RECORD_VERSION,
  rejectionRecordPath,
  type BronzeManifest,
  type CaptureFileRejection,
  type FileFingerprint,
  type ManifestFile,
  type RejectedFileLog,
  type RejectionReason,
} from '@pipeline/contracts';
import { LakeNotFoundError, type Lake } from '@pipeline/ports';
import { inSpan, linksFromTraceparents, traceHeaders } from '@pipeline/telemetry';
import { captureFileTime, type CaptureLayout } from '@pipeline/contracts';
import type { BronzeCommit, BronzeOffsetFile, BronzeOffsets, BronzeState, PartitionCounts } from './bronze-checkpoint';
import { PartitionCursor, type ConsumedFile } from './partition-cursor';

export const BRONZE_SESSION = 'bronze';
/** Producer spans a batch span links to, at most (a link list is not an index). */
const MAX_LINKS = 128;

export interface BronzeBatchDeps {
  lake: Lake;
  manifests: ManifestLog;
  rejected: RejectedFileLog;
  layout: CaptureLayout;
  pipeline: string;
  lookbackMs: number;
}

/** What the next bronze batch takes: these files, at this time, reading these partitions. */
export interface BronzePlan {
  files: BronzeOffsetFile[];
  createdAt: number;
  partitions: string[];
}

/** A new batch (its offsets are written first) or one whose offsets are already recorded. */
export type BronzeBatchInput = BatchInput<BronzePlan, BronzeOffsets>;

export interface BronzeBatchResult extends BatchOutcome<BronzeOffsets, BronzeState, BronzeCommit> {
  manifest: BronzeManifest;
  cursors: Map<string, PartitionCursor>;
  /** The files this batch set aside, as recorded. */
  rejections: CaptureFileRejection[];
}

/** What the batch does with one of its files. */
type FileOutcome =
  | { file: BronzeOffsetFile; kind: 'referenced'; ref: ManifestFile; traceparents: string[] }
  | { file: BronzeOffsetFile; kind: 'rejected'; rejection: CaptureFileRejection };

export async function runBronzeBatch(deps: BronzeBatchDeps, batch: number, input: BronzeBatchInput, previous: ReadonlyMap<string, PartitionCursor>): Promise<BronzeBatchResult> {
  const redo = input.kind === 'recorded';
  return inSpan(
    'bronze.batch',
    {
      attributes: { 'pipeline.batch': batch, 'pipeline.bronze.redo': redo },
      // A re-done batch links to the span that planned it, whose trace context its manifest carries.
      links: redo ? linksFromTraceparents([input.offsets.traceparent]) : [],
    },
    async (span) => {
      const offsets = redo ? input.offsets : await input.record(planned(input.plan, traceHeaders(span).traceparent));

      const outcomes = await decide(deps, batch, offsets, redo);
      const rejections: CaptureFileRejection[] = [];
      // Set aside before the manifest: a re-done batch finds the decision and keeps it.
      for (const o of outcomes) if (o.kind === 'rejected') rejections.push(await deps.rejected.reject(o.rejection));
      const referenced = outcomes.flatMap((o) => (o.kind === 'referenced' ? [o] : []));
      const producerSpans = referenced.flatMap((r) => r.traceparents);
      if (producerSpans.length > 0) span.addLinks(linksFromTraceparents(producerSpans, MAX_LINKS));

      const manifest: BronzeManifest = {
        version: MANIFEST_VERSION,
        layer: 'bronze',
        pipeline: deps.pipeline,
        session: BRONZE_SESSION,
        sequence: batch,
        batch,
        createdAt: offsets.createdAt,
        inputs: [],
        files: referenced.map((r) => r.ref),
        ...(offsets.partitions ? { partitions: offsets.partitions } : {}),
        ...(offsets.traceparent ? { traceparent: offsets.traceparent } : {}),
      };
      const pointer = await deps.manifests.publish(manifest);
      for (const o of outcomes) {
        if (!o.file.restore) continue;
        await deps.rejected.taken({
          version: REJECTED_RECORD_VERSION,
          kind: 'taken',
          path: o.file.path,
          bronzeBatch: o.file.restore.rejection,
          takenBy: batch,
          outcome: o.kind,
        });
      }

      const cursors = advanceCursors(deps, previous, outcomes);
      const state: BronzeState = { partitions: Object.fromEntries([...cursors].map(([id, cursor]) => [id, cursor.snapshot()])) };
      const commit = commitOf(batch, pointer.path, manifest.files, outcomes);
      span.setAttributes({
        'pipeline.bronze.files': commit.files,
        'pipeline.bronze.records': commit.records,
        'pipeline.bronze.bytes': commit.bytes,
        'pipeline.bronze.rejected': rejections.length,
        'pipeline.manifest': pointer.path,
      });
      return { offsets, state, manifest, cursors, commit, rejections };
    },
    'bronze',
  );
}

function planned(plan: BronzePlan, traceparent: string | undefined): BronzeOffsets {
  const { createdAt, partitions, files } = plan;
  return traceparent ? { createdAt, traceparent, partitions, files } : { createdAt, partitions, files };
}

/**
 * What happens to each file of the batch. A re-done batch keeps what is durable: the files of its
 * manifest, if it was written, and the rejections it recorded; only the rest is read again.
 */
async function decide(deps: BronzeBatchDeps, batch: number, offsets: BronzeOffsets, redo: boolean): Promise<FileOutcome[]> {
  const written = redo ? await deps.manifests.read('bronze', BRONZE_SESSION, batch) : undefined;
  const outcomes: FileOutcome[] = [];
  for (const file of offsets.files) {
    const ref = written?.files.find((f) => f.path === file.path);
    if (ref) outcomes.push({ file, kind: 'referenced', ref, traceparents: [] });
    else if (redo && (await deps.lake.exists(rejectionRecordPath(file.path, batch))))
      outcomes.push({ file, kind: 'rejected', rejection: await deps.rejected.read(file.path, batch) });
    else outcomes.push(await referenceFile(deps, batch, file));
  }
  return outcomes;
}

/** Reads a capture file once: its SHA-256, size, record count and sequence range; or why it is set aside. */
async function referenceFile(deps: BronzeBatchDeps, batch: number, file: BronzeOffsetFile): Promise<FileOutcome> {
  const reject = (reason: RejectionReason, problem: string, found: FileFingerprint | null): FileOutcome => ({
    file,
    kind: 'rejected',
    rejection: { version: REJECTED_RECORD_VERSION, kind: 'rejected', path: file.path, partitionId: file.partitionId, stage: 'bronze', bronzeBatch: batch, reason, problem, found },
  });
  const missing = () => reject('missing', `the file was listed, then deleted from the lake at ${deps.lake.location} before bronze read it.`, null);
  let read: HashingStream;
  try {
    // A file of the size capture closes every window is read whole; a big one is streamed.
    read = await readHashing(deps.lake, file.path, file.bytes);
  } catch (error) {
    if (error instanceof LakeNotFoundError) return missing();
    throw error;
  }
  let scan: CaptureFileScan;
  try {
    // Only the sequence numbers and the first traceparents are used: the records are walked, not built.
    scan = await scanCaptureFile(read.chunks, file.path, { property: EventProperty.traceparent, limit: MAX_LINKS });
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    // The reader stopped early: the fingerprint is of the whole file (read again if it was streamed).
    let whole: Buffer;
    try {
      whole = read.whole ?? (await deps.lake.read(file.path));
    } catch (readError) {
      if (readError instanceof LakeNotFoundError) return missing();
      throw readError;
    }
    const found = { bytes: whole.byteLength, sha256: sha256Hex(whole) };
    if (whole.byteLength === 0) {
      return reject(
        'empty',
        'the file has 0 bytes. Event Hubs Capture never writes an empty file (a window without events gives a file with an Avro header and no records, or no file with skip-empty), so this is a failed upload or copy.',
        found,
      );
    }
    return reject('unreadable', error.message, found);
  }
  const ref: ManifestFile = { path: file.path, rows: scan.records, bytes: read.bytes, sha256: read.sha256(), partitionId: file.partitionId };
  if (scan.firstSequenceNumber !== undefined && scan.lastSequenceNumber !== undefined) {
    ref.fromSequenceNumber = scan.firstSequenceNumber;
    ref.toSequenceNumber = scan.lastSequenceNumber;
  }
  return { file, kind: 'referenced', ref, traceparents: scan.values };
}

function advanceCursors(deps: BronzeBatchDeps, previous: ReadonlyMap<string, PartitionCursor>, outcomes: readonly FileOutcome[]): Map<string, PartitionCursor> {
  const byPartition = new Map<string, ConsumedFile[]>();
  for (const o of outcomes) {
    const { path, partitionId } = o.file;
    const time = captureFileTime(deps.layout, partitionId, path) as number;
    // A set-aside file is consumed (listing never takes it again) but not counted; a file silver set
    // aside was counted when bronze first referenced it.
    const uncounted = o.kind === 'rejected' || o.file.restore?.stage === 'silver';
    const consumed: ConsumedFile = { path, time, records: o.kind === 'referenced' ? o.ref.rows : 0, ...(uncounted ? { uncounted } : {}) };
    byPartition.set(partitionId, [...(byPartition.get(partitionId) ?? []), consumed]);
  }
  const cursors = new Map(previous);
  for (const [partitionId, consumed] of byPartition) cursors.set(partitionId, PartitionCursor.advance(previous.get(partitionId), consumed, deps.lookbackMs));
  return new Map([...cursors].sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b)));
}

function commitOf(batch: number, manifest: string, files: readonly ManifestFile[], outcomes: readonly FileOutcome[]): BronzeCommit {
  const partitions: Record<string, PartitionCounts> = {};
  for (const file of files) {
    const counts = (partitions[file.partitionId as string] ??= { files: 0, records: 0 });
    counts.files++;
    counts.records += file.rows;
  }
  const rejected = outcomes.flatMap((o) => (o.kind === 'rejected' ? [o.file.path] : []));
  const restored = outcomes.flatMap((o) => (o.file.restore ? [o.file.path] : []));
  return {
    batch,
    manifest,
    files: files.length,
    records: files.reduce((n, f) => n + f.rows, 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    partitions,
    ...(rejected.length > 0 ? { rejected } : {}),
    ...(restored.length > 0 ? { restored } : {}),
  };
}

/**
 * One bronze batch. Order of writes for batch N, each create-if-absent:
 *   offsets/N (the exact files) → the manifest (files referenced in place) → bus announcement →
 *   state/N (cursors) → commits/N.
 * Everything written is a function of offsets/N and the state before it — `createdAt` and the
 * manifest's trace context come from offsets/N — so a batch re-done after a crash at any step writes
 * the same bytes, and a step that already happened is recognised (the manifest log accepts an
 * identical manifest; state and commit keep the first write).
 *
 * Bronze copies nothing and changes nothing: each file is streamed once to count its records and
 * hash its bytes. A file that cannot be read fails the batch, naming the file and the byte offset;
 * nothing is skipped.
 */
import { createHash } from 'node:crypto';
import { CaptureFormatError, readCaptureFile } from '@pipeline/capture-format';
import type { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { EventProperty, MANIFEST_VERSION, type BronzeManifest, type ManifestFile } from '@pipeline/contracts';
import { LakeNotFoundError, type Lake } from '@pipeline/ports';
import { inSpan, linksFromTraceparents, traceHeaders } from '@pipeline/telemetry';
import { captureFileTime, type CaptureLayout } from './capture-layout';
import type { BronzeCommit, BronzeOffsetFile, BronzeOffsets, BronzeState, PartitionCounts } from './bronze-checkpoint';
import { PartitionCursor, type ConsumedFile } from './partition-cursor';

export const BRONZE_SESSION = 'bronze';
/** Producer spans a batch span links to, at most (a link list is not an index). */
const MAX_LINKS = 128;

export class BronzeBatchError extends Error {
  override readonly name = 'BronzeBatchError';
  constructor(
    readonly batch: number,
    readonly file: string,
    problem: string,
    readonly checkpointRoot: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Bronze batch ${batch} failed on ${file}: ${problem}\n` +
        `Nothing was skipped: batch ${batch} is recorded in ${checkpointRoot}/offsets and is re-done, with the same files, on the next start. ` +
        'Restore an intact copy of the file (for Azure Capture, from the capture storage account), then restart.',
      options,
    );
  }
}

export interface BronzeBatchDeps {
  lake: Lake;
  checkpoint: StageCheckpoint<BronzeOffsets, BronzeCommit, BronzeState>;
  manifests: ManifestLog;
  layout: CaptureLayout;
  pipeline: string;
  lookbackMs: number;
}

/** A new batch (its offsets are written first) or one whose offsets are already recorded. */
export type BronzeBatchInput = { kind: 'planned'; files: BronzeOffsetFile[]; createdAt: number; partitions: string[] } | { kind: 'recorded'; offsets: BronzeOffsets };

export interface BronzeBatchResult {
  /** The offsets that held for the batch (a planned batch may find another writer's recorded first). */
  offsets: BronzeOffsets;
  manifest: BronzeManifest;
  cursors: Map<string, PartitionCursor>;
  commit: BronzeCommit;
}

interface ReferencedFile {
  ref: ManifestFile;
  traceparents: string[];
}

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
      const offsets = redo ? input.offsets : await deps.checkpoint.writeOffsets(batch, planned(input, traceHeaders(span).traceparent));

      const referenced: ReferencedFile[] = [];
      for (const file of offsets.files) referenced.push(await referenceFile(deps, batch, file));
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

      const cursors = advanceCursors(deps, previous, manifest.files);
      await deps.checkpoint.writeState(batch, { partitions: Object.fromEntries([...cursors].map(([id, cursor]) => [id, cursor.snapshot()])) });

      const commit = commitOf(batch, pointer.path, manifest.files);
      await deps.checkpoint.commit(batch, commit);
      span.setAttributes({
        'pipeline.bronze.files': commit.files,
        'pipeline.bronze.records': commit.records,
        'pipeline.bronze.bytes': commit.bytes,
        'pipeline.manifest': pointer.path,
      });
      return { offsets, manifest, cursors, commit };
    },
    'bronze',
  );
}

function planned(input: Extract<BronzeBatchInput, { kind: 'planned' }>, traceparent: string | undefined): BronzeOffsets {
  const { createdAt, partitions, files } = input;
  return traceparent ? { createdAt, traceparent, partitions, files } : { createdAt, partitions, files };
}

/** Streams a capture file once: its SHA-256, size, record count and sequence range. */
async function referenceFile(deps: BronzeBatchDeps, batch: number, file: BronzeOffsetFile): Promise<ReferencedFile> {
  const fail = (problem: string, cause?: unknown): never => {
    throw new BronzeBatchError(batch, file.path, problem, deps.checkpoint.root, cause === undefined ? undefined : { cause });
  };
  let stream: AsyncIterable<Uint8Array>;
  try {
    stream = await deps.lake.readStream(file.path);
  } catch (error) {
    if (error instanceof LakeNotFoundError)
      return fail(`the file is no longer in the lake at ${deps.lake.location}; a capture file must never be deleted before bronze has referenced it.`, error);
    throw error;
  }
  const hash = createHash('sha256');
  let bytes = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  let rows = 0;
  let first: number | undefined;
  let last: number | undefined;
  const traceparents: string[] = [];
  try {
    for await (const record of readCaptureFile(hashed(), file.path)) {
      first ??= record.sequenceNumber;
      last = record.sequenceNumber;
      rows++;
      const traceparent = record.properties[EventProperty.traceparent];
      if (typeof traceparent === 'string' && traceparents.length < MAX_LINKS) traceparents.push(traceparent);
    }
  } catch (error) {
    if (error instanceof CaptureFormatError) return fail(error.message, error);
    throw error;
  }
  const ref: ManifestFile = { path: file.path, rows, bytes, sha256: hash.digest('hex'), partitionId: file.partitionId };
  if (first !== undefined && last !== undefined) {
    ref.fromSequenceNumber = first;
    ref.toSequenceNumber = last;
  }
  return { ref, traceparents };
}

function advanceCursors(deps: BronzeBatchDeps, previous: ReadonlyMap<string, PartitionCursor>, files: readonly ManifestFile[]): Map<string, PartitionCursor> {
  const byPartition = new Map<string, ConsumedFile[]>();
  for (const file of files) {
    const partitionId = file.partitionId as string;
    const time = captureFileTime(deps.layout, partitionId, file.path) as number;
    byPartition.set(partitionId, [...(byPartition.get(partitionId) ?? []), { path: file.path, time, records: file.rows }]);
  }
  const cursors = new Map(previous);
  for (const [partitionId, consumed] of byPartition) cursors.set(partitionId, PartitionCursor.advance(previous.get(partitionId), consumed, deps.lookbackMs));
  return new Map([...cursors].sort(([a], [b]) => Number(a) - Number(b) || a.localeCompare(b)));
}

function commitOf(batch: number, manifest: string, files: readonly ManifestFile[]): BronzeCommit {
  const partitions: Record<string, PartitionCounts> = {};
  for (const file of files) {
    const counts = (partitions[file.partitionId as string] ??= { files: 0, records: 0 });
    counts.files++;
    counts.records += file.rows;
  }
  return {
    batch,
    manifest,
    files: files.length,
    records: files.reduce((n, f) => n + f.rows, 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    partitions,
  };
}

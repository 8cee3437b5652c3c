/**
 * One silver batch: bronze manifests [from..to] → typed rows in the silver Delta table (split into
 * the spec's shards), failures in the quarantine table with a reason, duplicates counted; then one
 * silver manifest per shard, announced on the bus.
 *
 * Every output is a function of the batch's offsets and the state of the batch before: file names,
 * Parquet bytes, Delta commits (with `txn {appId: queryId, version: N}`) and manifests, all timed by
 * the batch time recorded in the offsets. So a batch re-run after a crash at any step rewrites the
 * same bytes, and a step that already happened is recognised and not repeated.
 *
 * The manifests' trace context is the planning span's, recorded in offsets/N, never the span of
 * the run that happens to write them.
 *
 * Event time (DESIGN invariant 11): every typed row moves its source partition's progress; an event
 * id seen before is dropped while gold could still aggregate it (see EventTimeDedup); each shard's
 * manifest carries the partitions' progress and the watermark gold applies to the next batch.
 *
 * With a capture-time range (a replay), capture files outside it are skipped unread and counted
 * nowhere but `captureFiles.outOfRange`: the batch's counts cover exactly the files in range.
 *
 * A capture file whose bytes are not those bronze referenced (changed or deleted since) is set
 * aside, not read: its records (bronze's count) are the commit's `rejectedFiles`, so every record
 * bronze referenced is in silver, quarantine, duplicates or a rejected file. The decision is a
 * function of the file's bytes, so a re-run decides the same, and it is recorded in the commit
 * and in the rejected-file log (libs/contracts rejected-file.ts), from which
 * `pipeline rejected restore` sends the file back through bronze.
 */
import { parseEnqueuedTimeUtc, readCaptureBlocks } from '@pipeline/capture-format';
import {
  DEFAULT_MANIFEST_ROOT,
  fixedWindowsOf,
  REJECTED_RECORD_VERSION,
  RejectedFileLog,
  rejectionRecordPath,
  sessionWindowsOf,
  settleAll,
  shardSession,
  timestampMillis,
  windowDefinitionOf,
  type BronzeManifest,
  type CaptureFileRejection,
  type FileFingerprint,
  type ManifestFile,
  type ManifestInput,
  type PipelineSpec,
  type SilverManifest,
  type TableRow,
} from '@pipeline/contracts';
import { ManifestLog, sha256HexAside, type BatchInput, type BatchOutcome } from '@pipeline/checkpoint';
import { PARQUET_WRITER_VERSION, parquetWriterOf, type DeltaTable, type ParquetWriterVersion, type WrittenDataFile } from '@pipeline/delta';
import { LakeNotFoundError, type Lake } from '@pipeline/ports';
import { inSpan, linksFromTraceparents, traceHeaders } from '@pipeline/telemetry';
import { EventTimeDedup, isJsonObject, SOURCE_PROPERTY_KEYS, type EventTimeDedupConfig, type SilverTransform, type SourceEvent } from '@pipeline/transform';
import { EVERY_CAPTURE_FILE, inCaptureTimeRange, isEveryCaptureFile, type CaptureTimeRange } from './capture-time-range';
import { emptyCounts, type PartitionCounts, type SilverCommit, type SilverOffsets, type SilverRejectedFile, type SilverState } from './silver-offsets';

const SILVER_SELECTION = { properties: SOURCE_PROPERTY_KEYS, systemProperties: [], offset: false };
/**
 * The file is in memory whole: its blocks are read in place, not copied. Rows keep none of its
 * bytes, and a quarantine row keeps a copy of its raw body (a view would keep the whole file).
 */
const IN_PLACE = { viewSource: true };

export interface SilverBatchDeps {
  lake: Lake;
  spec: PipelineSpec;
  transform: SilverTransform;
  silverTable: DeltaTable;
  quarantineTable: DeltaTable;
  /** Where silver manifests are written and announced. */
  manifests: ManifestLog;
  /** Where bronze manifests are read (default: the lake's `manifests` folder, where bronze writes them). */
  bronzeManifests?: ManifestLog;
  /** Capture files read (default: every one); see `capture-time-range`. */
  captureRange?: CaptureTimeRange;
  queryId: string;
  /** The watermark rule and windows that decide how long event ids are remembered: see `eventTimeConfig`. */
  eventTime: EventTimeDedupConfig;
}

/** What the next silver batch consumes: bronze manifests [from..to], at the batch time. */
export interface SilverPlan {
  bronze: { from: number; to: number };
  batchTime: number;
}

/** A batch to run: planned now (its offsets are recorded first, in its span) or recorded before a crash. */
export type SilverBatchInput = BatchInput<SilverPlan, SilverOffsets>;

/** Silver's state in memory between batches; `SilverState` is its snapshot in the checkpoint. */
export interface SilverLiveState {
  eventTime: EventTimeDedup;
  totals: Record<string, PartitionCounts>;
}

export interface SilverBatchResult extends BatchOutcome<SilverOffsets, SilverState, SilverCommit> {
  manifests: SilverManifest[];
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** How silver tracks event time and how long it remembers event ids: the spec's watermark and every window gold aggregates. */
export function eventTimeConfig(spec: PipelineSpec): EventTimeDedupConfig {
  return {
    delayMs: spec.watermark.delayMs,
    idleTimeoutMs: spec.watermark.idleTimeoutMs,
    windows: fixedWindowsOf(spec).map(windowDefinitionOf),
    ...(sessionWindowsOf(spec).length === 0 ? {} : { sessions: sessionWindowsOf(spec).map((w) => ('gapColumn' in w ? { gapColumn: w.gapColumn } : { gapMs: w.gapMs })) }),
  };
}

/** Silver's live state from the snapshot of a committed batch (`undefined`: before the first batch). */
export function restoreSilverState(deps: Pick<SilverBatchDeps, 'eventTime'>, snapshot: SilverState | undefined): SilverLiveState {
  if (snapshot !== undefined && !(isJsonObject(snapshot.eventTime) && isJsonObject(snapshot.totals))) throw new RangeError('expected { eventTime, totals }');
  return { eventTime: EventTimeDedup.build(deps.eventTime, snapshot?.eventTime), totals: snapshot?.totals ?? {} };
}

/**
 * Runs silver batch N on the live state after N−1, which it advances in place. Its state is final
 * once the tables are committed: `saveState` has it written while the manifests are.
 */
export async function runSilverBatch(
  deps: SilverBatchDeps,
  batch: number,
  input: SilverBatchInput,
  live: SilverLiveState,
  saveState: (state: SilverState) => void,
): Promise<SilverBatchResult> {
  const bronzeLog = deps.bronzeManifests ?? new ManifestLog(deps.lake);
  const bronzeRange = input.kind === 'planned' ? input.plan.bronze : input.offsets.bronze;
  const bronze: BronzeManifest[] = [];
  for (let sequence = bronzeRange.from; sequence <= bronzeRange.to; sequence++) {
    const manifest = await bronzeLog.read('bronze', 'bronze', sequence);
    if (!manifest || manifest.layer !== 'bronze') throw new Error(`Silver batch ${batch} needs bronze manifest ${sequence}, which is not in the lake at ${deps.lake.location}.`);
    bronze.push(manifest);
  }
  const inputs: ManifestInput[] = bronze.map((m) => ({
    layer: 'bronze',
    session: m.session,
    sequence: m.sequence,
    path: bronzeLog.pathOf('bronze', m.session, m.sequence),
  }));

  return inSpan(
    'silver.batch',
    {
      // A re-run batch links to the span that planned it, whose trace context its manifests carry.
      links: linksFromTraceparents([...bronze.map((m) => m.traceparent), ...(input.kind === 'recorded' ? [input.offsets.traceparent] : [])]),
      attributes: { 'pipeline.batch': batch, 'pipeline.bronze.from': bronzeRange.from, 'pipeline.bronze.to': bronzeRange.to, 'pipeline.silver.redo': input.kind === 'recorded' },
    },
    async (span) => {
      const offsets = input.kind === 'recorded' ? input.offsets : await input.record(planned(input.plan.bronze, input.plan.batchTime, traceHeaders(span).traceparent));
      const eventTime = live.eventTime;
      const { byShard, quarantined, counts, reasons, captureFiles, rejectedFiles } = await transformBatch(deps, batch, input.kind, bronze, eventTime);
      const commitTime = offsets.batchTime;
      const { silverFiles, silverVersion, quarantineVersion } = await writeTables(deps, batch, byShard, quarantined, commitTime, parquetWriterOf(offsets.parquetWriter));
      const handed = eventTime.endBatch();
      const totals = addTotals(live.totals, counts);
      live.totals = totals;
      const state: SilverState = { eventTime: eventTime.snapshot(), totals };
      saveState(state);
      const manifests = silverManifests(deps, batch, silverFiles, { inputs, commitTime, silverVersion, eventTime: handed, traceparent: offsets.traceparent });
      // Durable first, then announced: a pointer never names a manifest that is not in the lake.
      // Each shard's manifest is its own create-if-absent, so they are written at once; announced in shard order, in one send.
      const pointers = await Promise.all(manifests.map((manifest) => deps.manifests.write(manifest)));
      await deps.manifests.announceAll(pointers.map((pointer, i) => ({ pointer, traceparent: manifests[i]?.traceparent })));

      span.setAttributes({
        'pipeline.rows': Object.values(counts).reduce((n, c) => n + c.rows, 0),
        'pipeline.quarantined': quarantined.length,
        'pipeline.duplicates': Object.values(counts).reduce((n, c) => n + c.duplicates, 0),
        'pipeline.watermark': handed.watermark,
      });
      return {
        offsets,
        state,
        commit: {
          batch,
          bronze: offsets.bronze,
          inputs,
          captureFiles,
          counts,
          totals,
          quarantineReasons: reasons,
          silverVersion,
          quarantineVersion,
          ...(rejectedFiles.length > 0 ? { rejectedFiles } : {}),
        },
        manifests,
      };
    },
    'silver',
  );
}

/** The silver rows, split per shard, and the quarantine rows as Delta files, each table committed with the batch's txn. */
async function writeTables(
  deps: SilverBatchDeps,
  batch: number,
  byShard: readonly TableRow[][],
  quarantined: readonly TableRow[],
  commitTime: number,
  parquetWriter: ParquetWriterVersion,
): Promise<{ silverFiles: WrittenDataFile[][]; silverVersion: number; quarantineVersion: number }> {
  // Every file has its own name and bytes, so the shards' files (and the quarantine's) are written
  // together: one shard's last stores overlap the next shard's encoding. All settle before the commit.
  const written = await settleAll([
    ...byShard.map((rows, shard) =>
      rows.length === 0 ? Promise.resolve([]) : deps.silverTable.writeDataFiles(rows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime, parquetWriter }),
    ),
    quarantined.length === 0 ? Promise.resolve([]) : deps.quarantineTable.writeDataFiles(quarantined, { filePrefix: `part-${pad(batch, 8)}`, commitTime, parquetWriter }),
  ]);
  const silverFiles = written.slice(0, byShard.length);
  const quarantineAdds = (written[byShard.length] as WrittenDataFile[]).map((file) => file.add);
  const txn = { appId: deps.queryId, version: batch };
  // Two tables, each committed with the batch's txn (a commit already in its log is recognised),
  // so neither waits for the other; both are committed before anything names their versions.
  const [silverCommit, quarantineCommit] = await settleAll([
    deps.silverTable.commit(
      silverFiles.flat().map((f) => f.add),
      { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', batch }, consecutive: true },
    ),
    deps.quarantineTable.commit(quarantineAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', batch }, consecutive: true }),
  ]);
  return { silverFiles, silverVersion: silverCommit.version, quarantineVersion: quarantineCommit.version };
}

/** One manifest per shard: its files (digest as written, event-time range from the rows), the partitions' progress and the watermark gold applies next. */
function silverManifests(
  deps: SilverBatchDeps,
  batch: number,
  silverFiles: readonly WrittenDataFile[][],
  at: { inputs: ManifestInput[]; commitTime: number; silverVersion: number; eventTime: SilverManifest['eventTime']; traceparent: string | undefined },
): SilverManifest[] {
  // The lake holds exactly the bytes written (writeDataFiles refuses other bytes under a name), so
  // their digest is taken as written, and the event-time range from the rows themselves.
  return silverFiles.map((written, shard) => ({
    version: 1,
    layer: 'silver',
    pipeline: deps.spec.name,
    session: shardSession(shard),
    sequence: batch,
    batch,
    createdAt: at.commitTime,
    inputs: at.inputs,
    files: written.map((file): ManifestFile => ({ path: file.lakePath, rows: file.rows.length, bytes: file.add.size, sha256: file.sha256, ...eventTimeRange(file.rows) })),
    shard,
    table: deps.silverTable.root,
    deltaVersion: at.silverVersion,
    eventTime: at.eventTime,
    ...(at.traceparent ? { traceparent: at.traceparent } : {}),
  }));
}

/** What a batch's capture files give: rows per shard, quarantine rows, and the counts of each outcome. */
interface TransformedBatch {
  byShard: TableRow[][];
  quarantined: TableRow[];
  counts: Record<string, PartitionCounts>;
  reasons: Record<string, number>;
  captureFiles: { inRange: number; outOfRange: number };
  rejectedFiles: SilverRejectedFile[];
}

/**
 * Reads every capture file the bronze manifests reference (those in the capture-time range), checks
 * its bytes against bronze's digest (setting aside one that differs), and sends each record through
 * the transform and the event-time de-duplication.
 */
async function transformBatch(
  deps: SilverBatchDeps,
  batch: number,
  kind: SilverBatchInput['kind'],
  bronze: readonly BronzeManifest[],
  eventTime: EventTimeDedup,
): Promise<TransformedBatch> {
  const shards = deps.spec.gold.shards;
  const range = deps.captureRange ?? EVERY_CAPTURE_FILE;
  for (const manifest of bronze)
    eventTime.declarePartitions([...(manifest.partitions ?? []), ...manifest.files.flatMap((f) => (f.partitionId === undefined ? [] : [f.partitionId]))]);
  const byShard: TableRow[][] = Array.from({ length: shards }, () => []);
  const quarantined: TableRow[] = [];
  const counts: Record<string, PartitionCounts> = {};
  const reasons: Record<string, number> = {};
  const captureFiles = { inRange: 0, outOfRange: 0 };
  const rejectedFiles: SilverRejectedFile[] = [];
  const keepsLog = isEveryCaptureFile(range) && deps.manifests.root === DEFAULT_MANIFEST_ROOT;

  const files: ReferencedFile[] = [];
  for (const manifest of bronze) {
    for (const file of manifest.files) {
      if (inCaptureTimeRange(range, file.path)) files.push({ manifest, file });
      else captureFiles.outOfRange++;
    }
  }
  captureFiles.inRange = files.length;
  // Each file is read and hashed while the one before it is transformed.
  const readFile = (f: number) => (f < files.length ? readAhead(deps.lake, (files[f] as ReferencedFile).file.path) : undefined);
  let next = readFile(0);
  for (let f = 0; f < files.length; f++) {
    const { manifest, file } = files[f] as ReferencedFile;
    const read = next as Promise<FingerprintedFile>;
    next = readFile(f + 1);
    const partition = file.partitionId ?? 'unknown';
    const partitionCounts = (counts[partition] ??= emptyCounts());
    // Set aside by this batch before a crash: the decision stands, even if the file was put back since.
    const recorded = keepsLog && kind === 'recorded' ? await rejectedBefore(deps.lake, file.path, manifest.batch, batch) : undefined;
    const { bytes, found } = recorded ? NOT_READ : await read;
    if (recorded || bytes === undefined || found?.sha256 !== file.sha256) {
      // Not the bytes bronze referenced: their records count as rejected, and the file is set
      // aside for `pipeline rejected restore` (the pipeline's own silver only: a replay or a
      // run under other roots counts it in its commit and leaves the log to the pipeline).
      const rejection = recorded ?? rejectionOf(deps, manifest, file, found, batch);
      rejectedFiles.push({ path: file.path, partitionId: partition, bronzeBatch: manifest.batch, rows: file.rows, reason: rejection.reason });
      if (keepsLog && !recorded) await new RejectedFileLog(deps.lake).reject(rejection);
      continue;
    }
    // The transform reads a few properties only: the others are skipped, not decoded (nor the offset).
    // One event object per file, refilled per record: the transform keeps none of it.
    const event: SourceEvent = { body: null, properties: {}, enqueuedTime: 0, partitionId: partition, sequenceNumber: 0, captureFile: file.path };
    for await (const block of readCaptureBlocks(single(bytes), file.path, SILVER_SELECTION, IN_PLACE)) {
      for (const record of block) {
        partitionCounts.records++;
        event.body = record.body;
        event.properties = record.properties;
        event.enqueuedTime = parseEnqueuedTimeUtc(record.enqueuedTimeUtc);
        event.sequenceNumber = record.sequenceNumber;
        const result = deps.transform(event);
        if (result.kind === 'quarantine') {
          const raw = result.row['raw_body'];
          if (raw instanceof Uint8Array) result.row['raw_body'] = Buffer.from(raw);
          quarantined.push(result.row);
          partitionCounts.quarantined++;
          reasons[result.reason] = (reasons[result.reason] ?? 0) + 1;
          continue;
        }
        const shard = result.row['shard'] as number;
        if (eventTime.admit(result.eventId, partition, result.eventTime, event.enqueuedTime, result.row) === 'duplicate') {
          partitionCounts.duplicates++;
          continue;
        }
        // The transform assigned the row's gold shard from its grouping key.
        (byShard[shard] as TableRow[]).push(result.row);
        partitionCounts.rows++;
      }
    }
  }
  return { byShard, quarantined, counts, reasons, captureFiles, rejectedFiles };
}

/** A new batch's offsets: it writes its files with the current Parquet writer, and says so for a re-run. */
function planned(bronze: { from: number; to: number }, batchTime: number, traceparent: string | undefined): SilverOffsets {
  return { bronze, batchTime, ...(traceparent ? { traceparent } : {}), parquetWriter: PARQUET_WRITER_VERSION };
}

function addTotals(into: Record<string, PartitionCounts>, from: Record<string, PartitionCounts>): Record<string, PartitionCounts> {
  const out: Record<string, PartitionCounts> = {};
  for (const key of [...new Set([...Object.keys(into), ...Object.keys(from)])].sort()) {
    const a = into[key] ?? emptyCounts();
    const b = from[key] ?? emptyCounts();
    out[key] = { records: a.records + b.records, rows: a.rows + b.rows, quarantined: a.quarantined + b.quarantined, duplicates: a.duplicates + b.duplicates };
  }
  return out;
}

/** The earliest and latest event time of a file's rows, in epoch milliseconds (rounded down). */
function eventTimeRange(rows: readonly TableRow[]): { minEventTime: number | null; maxEventTime: number | null } {
  let min: number | null = null;
  let max: number | null = null;
  for (const row of rows) {
    const value = row['event_time'];
    if (typeof value !== 'number' && typeof value !== 'bigint') continue;
    // A number is epoch milliseconds already (and needs no call through the library's re-exports).
    const ms = typeof value === 'number' ? value : timestampMillis(value);
    if (min === null || ms < min) min = ms;
    if (max === null || ms > max) max = ms;
  }
  return { minEventTime: min, maxEventTime: max };
}

/** A capture file a bronze manifest references. */
interface ReferencedFile {
  manifest: BronzeManifest;
  file: ManifestFile;
}

/** A capture file's bytes (`undefined` when it is gone) and their fingerprint. */
interface FingerprintedFile {
  bytes: Buffer | undefined;
  found: FileFingerprint | null;
}

const NOT_READ: FingerprintedFile = { bytes: undefined, found: null };

/**
 * Reads a capture file and hashes it off the event loop. The promise is handled at once, so a file
 * read ahead whose turn never comes (the batch failed before it) fails nothing; the caller that
 * awaits it still sees its error.
 */
function readAhead(lake: Lake, path: string): Promise<FingerprintedFile> {
  const read = (async () => {
    const bytes = await readReferenced(lake, path);
    return bytes === undefined ? NOT_READ : { bytes, found: { bytes: bytes.byteLength, sha256: await sha256HexAside(bytes) } };
  })();
  read.catch(() => undefined);
  return read;
}

/** The file's bytes, or `undefined` when it is no longer in the lake. */
async function readReferenced(lake: Lake, path: string): Promise<Buffer | undefined> {
  try {
    return await lake.read(path);
  } catch (error) {
    if (error instanceof LakeNotFoundError) return undefined;
    throw error;
  }
}

/** The rejection silver batch `batch` recorded for the file of bronze batch `bronzeBatch`, if any. */
async function rejectedBefore(lake: Lake, path: string, bronzeBatch: number, batch: number): Promise<CaptureFileRejection | undefined> {
  if (!(await lake.exists(rejectionRecordPath(path, bronzeBatch)))) return undefined;
  const rejection = await new RejectedFileLog(lake).read(path, bronzeBatch);
  return rejection.stage === 'silver' && rejection.silverBatch === batch ? rejection : undefined;
}

function rejectionOf(deps: SilverBatchDeps, manifest: BronzeManifest, file: ManifestFile, found: FileFingerprint | null, batch: number): CaptureFileRejection {
  const referenced = { rows: file.rows, bytes: file.bytes, sha256: file.sha256 };
  const problem = found
    ? `its bytes (${found.bytes} bytes, SHA-256 ${found.sha256}) differ from those bronze referenced in batch ${manifest.batch} (${file.bytes} bytes, SHA-256 ${file.sha256}): the raw record changed after bronze referenced it.`
    : `the file is no longer in the lake at ${deps.lake.location}, where bronze referenced it in batch ${manifest.batch}.`;
  return {
    version: REJECTED_RECORD_VERSION,
    kind: 'rejected',
    path: file.path,
    partitionId: file.partitionId ?? 'unknown',
    stage: 'silver',
    bronzeBatch: manifest.batch,
    silverBatch: batch,
    reason: found ? 'checksum' : 'missing',
    problem,
    found,
    referenced,
  };
}

async function* single(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

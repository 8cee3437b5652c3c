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
 * With a capture-time range (a replay), capture files outside it are skipped unread and counted
 * nowhere but `captureFiles.outOfRange`: the batch's counts cover exactly the files in range.
 */
import { parseEnqueuedTimeUtc, readCaptureFile } from '@pipeline/capture-format';
import { shardSession, type BronzeManifest, type ManifestFile, type ManifestInput, type PipelineSpec, type SilverManifest, type TableRow } from '@pipeline/contracts';
import { ManifestLog, sha256Hex } from '@pipeline/checkpoint';
import type { AddFile, DeltaTable } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';
import { inSpan, linksFromTraceparents, traceHeaders } from '@pipeline/telemetry';
import { Deduplicator, type SilverTransform, type SourceEvent } from '@pipeline/transform';
import { EVERY_CAPTURE_FILE, inCaptureTimeRange, type CaptureTimeRange } from './capture-time-range';
import { emptyCounts, type PartitionCounts, type SilverCommit, type SilverOffsets, type SilverState } from './silver-offsets';

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
  /** How long (in event time) event ids are remembered: see `dedupHorizonMs`. */
  dedupHorizonMs: number;
}

export interface SilverBatchResult {
  state: SilverState;
  commit: SilverCommit;
  manifests: SilverManifest[];
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Event ids are remembered for the watermark delay plus the longest window: a repeat older than
 * that can no longer be aggregated by gold (every window it falls in has closed; it is late), so
 * within everything gold still counts, de-duplication is exact.
 */
export function dedupHorizonMs(spec: PipelineSpec): number {
  return spec.watermark.delayMs + Math.max(0, ...spec.windows.map((w) => w.sizeMs));
}

export async function runSilverBatch(deps: SilverBatchDeps, batch: number, offsets: SilverOffsets, previous: SilverState | undefined): Promise<SilverBatchResult> {
  const bronzeLog = deps.bronzeManifests ?? new ManifestLog(deps.lake);
  const range = deps.captureRange ?? EVERY_CAPTURE_FILE;
  const bronze: BronzeManifest[] = [];
  for (let sequence = offsets.bronze.from; sequence <= offsets.bronze.to; sequence++) {
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
      links: linksFromTraceparents(bronze.map((m) => m.traceparent)),
      attributes: { 'pipeline.batch': batch, 'pipeline.bronze.from': offsets.bronze.from, 'pipeline.bronze.to': offsets.bronze.to },
    },
    async (span) => {
      const shards = deps.spec.gold.shards;
      // One deduplicator per shard: a duplicate has the same grouping key, so the same shard, and
      // each shard's horizon then follows the same event times as the gold shard that aggregates it.
      const dedups = Array.from({ length: shards }, (_, shard) => {
        const state = (previous?.dedup as Parameters<typeof Deduplicator.restore>[0][] | undefined)?.[shard];
        return state ? Deduplicator.restore(state) : new Deduplicator({ horizonMs: deps.dedupHorizonMs });
      });
      const byShard: TableRow[][] = Array.from({ length: shards }, () => []);
      const quarantined: TableRow[] = [];
      const counts: Record<string, PartitionCounts> = {};
      const reasons: Record<string, number> = {};
      const captureFiles = { inRange: 0, outOfRange: 0 };

      for (const manifest of bronze) {
        for (const file of manifest.files) {
          if (!inCaptureTimeRange(range, file.path)) {
            captureFiles.outOfRange++;
            continue;
          }
          captureFiles.inRange++;
          const partition = file.partitionId ?? 'unknown';
          const partitionCounts = (counts[partition] ??= emptyCounts());
          const bytes = await deps.lake.read(file.path);
          if (sha256Hex(bytes) !== file.sha256) {
            throw new Error(
              `Capture file ${file.path} no longer matches bronze manifest ${manifest.sequence} (checksum differs): the raw record was changed after bronze referenced it.`,
            );
          }
          for await (const record of readCaptureFile(single(bytes), file.path)) {
            partitionCounts.records++;
            const event: SourceEvent = {
              body: record.body,
              properties: record.properties,
              enqueuedTime: parseEnqueuedTimeUtc(record.enqueuedTimeUtc),
              partitionId: partition,
              sequenceNumber: record.sequenceNumber,
              captureFile: file.path,
            };
            const result = deps.transform(event);
            if (result.kind === 'quarantine') {
              quarantined.push(result.row);
              partitionCounts.quarantined++;
              reasons[result.reason] = (reasons[result.reason] ?? 0) + 1;
              continue;
            }
            const shard = result.row['shard'] as number;
            if ((dedups[shard] as Deduplicator).observe(result.eventId, result.eventTime) === 'duplicate') {
              partitionCounts.duplicates++;
              continue;
            }
            // The transform assigned the row's gold shard from its grouping key.
            (byShard[shard] as TableRow[]).push(result.row);
            partitionCounts.rows++;
          }
        }
      }

      const commitTime = offsets.batchTime;
      const silverAdds: AddFile[][] = [];
      for (let shard = 0; shard < shards; shard++) {
        const rows = byShard[shard] as TableRow[];
        silverAdds.push(rows.length === 0 ? [] : await deps.silverTable.writeFiles(rows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime }));
      }
      const quarantineAdds = quarantined.length === 0 ? [] : await deps.quarantineTable.writeFiles(quarantined, { filePrefix: `part-${pad(batch, 8)}`, commitTime });
      const txn = { appId: deps.queryId, version: batch };
      const silverCommit = await deps.silverTable.commit(silverAdds.flat(), { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', batch } });
      const quarantineCommit = await deps.quarantineTable.commit(quarantineAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', batch } });

      const traceparent = traceHeaders(span).traceparent;
      const manifests: SilverManifest[] = [];
      for (let shard = 0; shard < shards; shard++) {
        const files: ManifestFile[] = [];
        for (const add of silverAdds[shard] as AddFile[]) {
          const path = `${deps.silverTable.root}/${add.path}`;
          const stats = add.stats ? (JSON.parse(add.stats) as { numRecords?: number; minValues?: Record<string, unknown>; maxValues?: Record<string, unknown> }) : {};
          files.push({
            path,
            rows: stats.numRecords ?? 0,
            bytes: add.size,
            sha256: sha256Hex(await deps.lake.read(path)),
            minEventTime: toEpoch(stats.minValues?.['event_time']),
            maxEventTime: toEpoch(stats.maxValues?.['event_time']),
          });
        }
        manifests.push({
          version: 1,
          layer: 'silver',
          pipeline: deps.spec.name,
          session: shardSession(shard),
          sequence: batch,
          batch,
          createdAt: commitTime,
          inputs,
          files,
          shard,
          table: deps.silverTable.root,
          deltaVersion: silverCommit.version,
          ...(traceparent ? { traceparent } : {}),
        });
      }
      // Durable first, then announced: a pointer never names a manifest that is not in the lake.
      const pointers = [];
      for (const manifest of manifests) pointers.push(await deps.manifests.write(manifest));
      for (const [i, pointer] of pointers.entries()) await deps.manifests.announce(pointer, manifests[i]?.traceparent);

      const totals = addTotals(previous?.totals ?? {}, counts);
      span.setAttributes({
        'pipeline.rows': Object.values(counts).reduce((n, c) => n + c.rows, 0),
        'pipeline.quarantined': quarantined.length,
        'pipeline.duplicates': Object.values(counts).reduce((n, c) => n + c.duplicates, 0),
      });
      return {
        state: { dedup: dedups.map((d) => d.snapshot()), totals },
        commit: {
          batch,
          bronze: offsets.bronze,
          inputs,
          captureFiles,
          counts,
          quarantineReasons: reasons,
          silverVersion: silverCommit.version,
          quarantineVersion: quarantineCommit.version,
        },
        manifests,
      };
    },
    'silver',
  );
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

function toEpoch(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

async function* single(bytes: Buffer): AsyncIterable<Uint8Array> {
  yield bytes;
}

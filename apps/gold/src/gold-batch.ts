/**
 * One gold batch of one shard: the shard's silver manifests [from..to] → the event-time engine →
 * final windows appended to the gold Delta table, late rows to the late Delta table, changed and
 * final windows to the serving store; the engine's state goes into the shard's checkpoint.
 *
 * Re-running a batch changes nothing: the Delta commits carry `txn {appId: shard query id,
 * version: N}`, serving documents carry version N (an upsert of an equal version is skipped), and
 * the engine restarts from the state of batch N−1, so it computes the same output again.
 */
import { shardSession, type PipelineSpec, type SilverManifest, type TableRow, type TableSchema } from '@pipeline/contracts';
import type { ManifestLog } from '@pipeline/checkpoint';
import { readTableFile, type DeltaTable } from '@pipeline/delta';
import { WindowedAggregation, type AggregationConfig, type EngineRow, type EngineValue, type WindowResult } from '@pipeline/engine';
import { groupKeyText, windowDocumentId, type KeyValue, type Lake, type ServingStore, type WindowDocument } from '@pipeline/ports';
import { inSpan, linksFromTraceparents } from '@pipeline/telemetry';
import type { GoldCommit, GoldOffsets, GoldState } from './gold-offsets';
import { utcDate } from '@pipeline/transform';

export interface GoldBatchDeps {
  lake: Lake;
  spec: PipelineSpec;
  config: AggregationConfig;
  silverSchema: TableSchema;
  goldTable: DeltaTable;
  lateTable: DeltaTable;
  store: ServingStore;
  manifests: ManifestLog;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export async function runGoldBatch(
  deps: GoldBatchDeps,
  shard: number,
  queryId: string,
  batch: number,
  offsets: GoldOffsets,
  previous: GoldState | undefined,
): Promise<{ state: GoldState; commit: GoldCommit }> {
  const session = shardSession(shard);
  const manifests: SilverManifest[] = [];
  for (let sequence = offsets.silver.from; sequence <= offsets.silver.to; sequence++) {
    const manifest = await deps.manifests.read('silver', session, sequence);
    if (!manifest || manifest.layer !== 'silver') throw new Error(`Gold shard ${shard} batch ${batch} needs silver manifest ${sequence} of ${session}, which is not in the lake.`);
    manifests.push(manifest);
  }
  return inSpan(
    'gold.batch',
    { links: linksFromTraceparents(manifests.map((m) => m.traceparent)), attributes: { 'pipeline.shard': shard, 'pipeline.batch': batch } },
    async (span) => {
      const rows: EngineRow[] = [];
      for (const manifest of manifests) {
        for (const file of manifest.files) {
          for (const row of await readTableFile(deps.lake, file.path, deps.silverSchema)) {
            // event_date is silver's partition column: not stored in the file, derived from event_time.
            row['event_date'] = utcDate(row['event_time'] as number);
            rows.push(row as unknown as EngineRow);
          }
        }
      }
      const engine = WindowedAggregation.build(deps.config, previous?.engine as Parameters<typeof WindowedAggregation.build>[1]);
      const result = engine.processBatch(rows);
      const modes = new Set(deps.spec.gold.outputModes);
      const commitTime = offsets.batchTime;
      const txn = { appId: queryId, version: batch };

      const goldRows = modes.has('append') ? result.emitted.map((w) => goldRow(deps.spec, w, shard, batch)) : [];
      const goldAdds = goldRows.length > 0 ? await deps.goldTable.writeFiles(goldRows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime }) : [];
      const goldCommit = await deps.goldTable.commit(goldAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', shard, batch } });

      const lateRows = result.late.map(({ row, windows }) => ({
        ...(row as unknown as TableRow),
        late_windows: JSON.stringify(windows.map((w) => ({ window: w.window, start: new Date(w.windowStart).toISOString(), end: new Date(w.windowEnd).toISOString() }))),
        late_threshold: result.lateThreshold,
        gold_batch: batch,
      }));
      const lateAdds = lateRows.length > 0 ? await deps.lateTable.writeFiles(lateRows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime }) : [];
      const lateCommit = await deps.lateTable.commit(lateAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', shard, batch } });

      // Update mode serves every changed window; append mode serves each window once it is final.
      const documents = new Map<string, WindowDocument>();
      const serve = (w: WindowResult) => {
        const doc = toDocument(deps.spec, w, shard, batch, result.watermark);
        const existing = documents.get(doc.id);
        if (!existing || (doc.final && !existing.final)) documents.set(doc.id, doc);
      };
      if (modes.has('update')) result.updated.forEach(serve);
      result.emitted.forEach(serve);
      const upserted = await deps.store.upsert([...documents.values()]);

      const totals = {
        rows: (previous?.totals.rows ?? 0) + rows.length,
        lateRows: (previous?.totals.lateRows ?? 0) + result.late.length,
        windowsEmitted: (previous?.totals.windowsEmitted ?? 0) + result.emitted.length,
      };
      await deps.store.putShardStatus({
        pipeline: deps.spec.name,
        shard,
        batch,
        watermark: Number.isFinite(result.watermark) ? result.watermark : null,
        maxEventTime: result.maxEventTime,
        rows: totals.rows,
        lateRows: totals.lateRows,
        windowsEmitted: totals.windowsEmitted,
        updatedAt: commitTime,
      });
      span.setAttributes({
        'pipeline.rows': rows.length,
        'pipeline.late': result.late.length,
        'pipeline.windows.emitted': result.emitted.length,
        'pipeline.watermark': result.watermark,
      });
      return {
        state: { engine: engine.snapshot(), totals },
        commit: {
          batch,
          silver: offsets.silver,
          rows: rows.length,
          lateRows: result.late.length,
          rowsDroppedByWatermark: result.rowsDroppedByWatermark,
          windowsEmitted: result.emitted.length,
          documentsWritten: upserted.written,
          watermark: result.watermark,
          goldVersion: goldCommit.version,
          lateVersion: lateCommit.version,
        },
      };
    },
    'gold',
  );
}

function goldRow(spec: PipelineSpec, w: WindowResult, shard: number, batch: number): TableRow {
  const row: TableRow = { window: w.window, window_start: w.windowStart, window_end: w.windowEnd };
  for (const column of spec.groupBy) row[column] = (w.key[column] ?? null) as TableRow[string];
  for (const a of spec.aggregates) row[a.name] = w.aggregates[a.name] ?? null;
  row['shard'] = shard;
  row['gold_batch'] = batch;
  row['window_date'] = utcDate(w.windowStart);
  return row;
}

function toDocument(spec: PipelineSpec, w: WindowResult, shard: number, batch: number, watermark: number): WindowDocument {
  const key: Record<string, KeyValue> = {};
  for (const column of spec.groupBy) key[column] = (w.key[column] ?? null) as EngineValue as KeyValue;
  const pk = groupKeyText(key, spec.groupBy);
  return {
    id: windowDocumentId(w.window, pk, w.windowStart),
    pk,
    pipeline: spec.name,
    window: w.window,
    windowStart: w.windowStart,
    windowEnd: w.windowEnd,
    key,
    aggregates: { ...w.aggregates },
    final: w.final,
    watermark,
    shard,
    version: batch,
  };
}

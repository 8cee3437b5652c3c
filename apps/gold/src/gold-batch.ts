/**
 * One gold batch of one shard: the shard's silver manifests [from..to] → the event-time engine →
 * final windows appended to the gold Delta table, late rows to the late Delta table, changed and
 * final windows to the serving store; the engine's state goes into the shard's checkpoint.
 *
 * Event time: each silver manifest is one engine batch, under the watermark silver handed over
 * with the manifest before it (each source partition's progress, merged into the engine), so a row
 * is late exactly when silver may already have forgotten its id, and gold's output does not depend
 * on how many manifests a batch takes. An end-of-input batch then moves the watermark past every
 * open window.
 *
 * Re-running a batch changes nothing: the Delta commits carry `txn {appId: shard query id,
 * version: N}`, serving documents carry version N (an upsert of an equal version is skipped), and
 * the engine restarts from the state of batch N−1, so it computes the same output again.
 */
import { KEY_FILTER_TAG, keyFilterOfRows, shardSession, type PipelineSpec, type SilverManifest, type TableRow, type TableSchema } from '@pipeline/contracts';
import type { BatchInput, BatchOutcome, ManifestLog } from '@pipeline/checkpoint';
import { PARQUET_WRITER_VERSION, parquetWriterOf, readTableFile, type DeltaTable } from '@pipeline/delta';
import { WindowedAggregation, type AggregationConfig, type BatchResult, type EngineRow, type LateRow, type WindowResult } from '@pipeline/engine';
import type { Lake, ServingStore } from '@pipeline/ports';
import { inSpan, linksFromTraceparents } from '@pipeline/telemetry';
import type { GoldCommit, GoldOffsets, GoldState, GoldTotals } from './gold-offsets';
import { ServedDocuments } from './served-documents';
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
  /** This instance's id, recorded in each shard status it writes. */
  instanceId?: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Silver and gold disagree on event time: gold's watermark fell behind the one silver handed over. */
export class WatermarkMismatchError extends Error {
  override readonly name = 'WatermarkMismatchError';
}

/** A gold shard's state in memory between batches; `GoldState` is its snapshot in the checkpoint. */
export interface GoldLiveState {
  engine: WindowedAggregation;
  totals: GoldTotals;
}

/** The shard's live state from the snapshot of a committed batch (`undefined`: before the first batch). */
export function restoreGoldState(config: AggregationConfig, snapshot: GoldState | undefined): GoldLiveState {
  return {
    engine: WindowedAggregation.build(config, snapshot?.engine as Parameters<typeof WindowedAggregation.build>[1]),
    totals: snapshot?.totals ?? { rows: 0, lateRows: 0, windowsEmitted: 0, numRowsDroppedByWatermark: 0 },
  };
}

/**
 * Runs gold batch N of a shard on the live state after N−1, which it advances in place. Its state
 * is written after the batch's outputs, not saved early: the engine's snapshot would then be held
 * beside the batch's documents and rows, gold's largest objects.
 */
export async function runGoldBatch(
  deps: GoldBatchDeps,
  shard: number,
  queryId: string,
  batch: number,
  input: BatchInput<GoldOffsets, GoldOffsets>,
  live: GoldLiveState,
): Promise<BatchOutcome<GoldOffsets, GoldState, GoldCommit>> {
  // A new batch records the Parquet writer it uses; a re-run uses the one recorded (absent: the one before versions were).
  const offsets = input.kind === 'recorded' ? input.offsets : await input.record({ ...input.plan, parquetWriter: PARQUET_WRITER_VERSION });
  const parquetWriter = parquetWriterOf(offsets.parquetWriter);
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
      const engine = live.engine;
      // One engine batch per silver manifest, each under the watermark silver handed over with the
      // manifest before it: what is late never depends on how many manifests a gold batch takes.
      const steps: Array<BatchResult<EngineRow>> = [];
      let rowCount = 0;
      const lateOrigins: RowOrigin[] = [];
      const columns = engineColumns(deps.config);
      for (const manifest of manifests) {
        const { rows, files } = await readManifestRows(deps, manifest, columns);
        rowCount += rows.length;
        const step = engine.processBatch(rows, manifest.eventTime === undefined ? {} : { progress: manifest.eventTime });
        if (manifest.eventTime !== undefined && step.watermark < manifest.eventTime.watermark) {
          throw new WatermarkMismatchError(
            `Gold shard ${shard}'s watermark after silver manifest ${manifest.sequence} is ${iso(step.watermark)}, behind the ${iso(manifest.eventTime.watermark)} silver computed: ` +
              'silver and gold are running with different watermark settings (watermark.delay, watermark.idleTimeout), so silver may have forgotten event ids gold could still count. ' +
              'Run both with the same spec.',
          );
        }
        lateOrigins.push(...originsOf(step.late, rows, files));
        steps.push(step);
      }
      if (offsets.endOfInput === true) steps.push(engine.processBatch([], { endOfInput: true }));
      const result = combine(steps, engine.watermark);
      const totals = {
        rows: live.totals.rows + rowCount,
        lateRows: live.totals.lateRows + result.late.length,
        windowsEmitted: live.totals.windowsEmitted + result.emitted.length,
        numRowsDroppedByWatermark: (live.totals.numRowsDroppedByWatermark ?? 0) + result.numRowsDroppedByWatermark,
      };
      live.totals = totals;
      const modes = new Set(deps.spec.gold.outputModes);
      const commitTime = offsets.batchTime;
      const txn = { appId: queryId, version: batch };

      const goldRows = modes.has('append') ? result.emitted.map((w) => goldRow(deps.spec, w, shard, batch)) : [];
      const goldAdds =
        goldRows.length > 0 ? await deps.goldTable.writeFiles(goldRows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime, parquetWriter }) : [];
      const goldCommit = await deps.goldTable.commit(goldAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', shard, batch }, consecutive: true });

      const whole = await wholeRows(deps, lateOrigins);
      const lateRows = result.late.map(({ windows, threshold }, i) => ({
        ...(whole[i] as TableRow),
        late_windows: JSON.stringify(
          windows.map((w) => ({
            window: w.window,
            start: new Date(w.windowStart).toISOString(),
            end: new Date(w.windowEnd).toISOString(),
            // Session windows say why: the row's own session had closed, or the row has no valid gap.
            ...(w.reason === undefined ? {} : { reason: w.reason }),
          })),
        ),
        late_threshold: threshold,
        gold_batch: batch,
      }));
      // Each late file carries a filter of its grouping keys in the log, so a key's late rows are found without opening the others.
      const fileTags = (rows: readonly TableRow[]) => ({ [KEY_FILTER_TAG]: keyFilterOfRows(rows, deps.spec.groupBy) });
      const lateAdds =
        lateRows.length > 0 ? await deps.lateTable.writeFiles(lateRows, { filePrefix: `part-${pad(batch, 8)}-shard-${pad(shard, 3)}`, commitTime, fileTags, parquetWriter }) : [];
      const lateCommit = await deps.lateTable.commit(lateAdds, { txn, commitTime, operation: 'WRITE', operationParameters: { mode: 'Append', shard, batch }, consecutive: true });

      // Update mode serves every changed window; append mode serves each window once it is final.
      // Later engine batches override earlier ones: a window's last state is what is served. A
      // session start a merge superseded is retired in the same write, unless served again later.
      // A window a step changed and closed is in both of its lists (the same result): with append
      // mode on, it is served once, from the final ones.
      const served = new ServedDocuments(deps.spec, shard, batch, result.watermark);
      const updatesFinal = !modes.has('append');
      for (const step of steps) {
        for (const s of step.superseded ?? []) served.retire(s.window, s.key, s.windowStart);
        if (modes.has('update')) for (const w of step.updated) if (updatesFinal || !w.final) served.serve(w);
        for (const w of step.emitted) served.serve(w);
      }
      const upserted = await deps.store.upsert(served.documents(), served.retiredWindows());

      const eventTime = engine.eventTimeStatus;
      await deps.store.putShardStatus({
        pipeline: deps.spec.name,
        shard,
        batch,
        watermark: Number.isFinite(result.watermark) ? result.watermark : null,
        maxEventTime: result.maxEventTime,
        rows: totals.rows,
        lateRows: totals.lateRows,
        windowsEmitted: totals.windowsEmitted,
        numRowsDroppedByWatermark: totals.numRowsDroppedByWatermark,
        eventTime: { holdingPartition: eventTime.holdingPartition, idlePartitions: eventTime.idlePartitions, partitions: engine.eventTimeProgress.partitions },
        updatedAt: commitTime,
        ...(deps.instanceId === undefined ? {} : { owner: deps.instanceId }),
      });
      span.setAttributes({
        'pipeline.rows': rowCount,
        'pipeline.late': result.late.length,
        'pipeline.windows.emitted': result.emitted.length,
        'pipeline.watermark': result.watermark,
      });
      return {
        offsets,
        state: { engine: engine.snapshot(), totals },
        commit: {
          batch,
          silver: offsets.silver,
          rows: rowCount,
          lateRows: result.late.length,
          rowsDroppedByWatermark: result.late.length,
          numRowsDroppedByWatermark: result.numRowsDroppedByWatermark,
          windowsEmitted: result.emitted.length,
          documentsWritten: upserted.written,
          watermark: result.watermark,
          holdingPartition: eventTime.holdingPartition,
          idlePartitions: eventTime.idlePartitions,
          ...(offsets.endOfInput === true ? { endOfInput: true as const } : {}),
          goldVersion: goldCommit.version,
          lateVersion: lateCommit.version,
        },
      };
    },
    'gold',
  );
}

/** Where an engine row was read: its silver file and its index there, to read the whole row if it is late. */
interface RowOrigin {
  path: string;
  index: number;
}

/** A manifest's silver files in the order their rows were read, each with the position of its first row. */
type ReadFiles = Array<{ path: string; start: number }>;

/** The silver columns the engine reads: event time, source partition and capture time, grouping keys, aggregated columns, session gaps. */
function engineColumns(config: AggregationConfig): string[] {
  const columns = new Set<string>(['event_time', ...config.groupBy]);
  if (config.partitionColumn !== undefined) columns.add(config.partitionColumn);
  if (config.captureTimeColumn !== undefined) columns.add(config.captureTimeColumn);
  for (const a of config.aggregates) if (a.column !== undefined) columns.add(a.column);
  for (const w of config.sessions ?? []) if (w.gapColumn !== undefined) columns.add(w.gapColumn);
  return [...columns];
}

/** A manifest's rows with the engine's columns only (the others are not decoded), and where each file's rows start. */
async function readManifestRows(deps: GoldBatchDeps, manifest: SilverManifest, columns: readonly string[]): Promise<{ rows: EngineRow[]; files: ReadFiles }> {
  let rows: EngineRow[] = [];
  const files: ReadFiles = [];
  for (const file of manifest.files) {
    const fileRows = (await readTableFile(deps.lake, file.path, deps.silverSchema, { columns })) as unknown as EngineRow[];
    files.push({ path: file.path, start: rows.length });
    if (rows.length === 0) rows = fileRows;
    else for (let index = 0; index < fileRows.length; index++) rows.push(fileRows[index]);
  }
  return { rows, files };
}

/**
 * Where the late rows of one engine batch were read. The engine hands them back in input order, so
 * one walk over the batch's rows finds them all; a batch without late rows costs nothing.
 */
function originsOf(late: ReadonlyArray<LateRow<EngineRow>>, rows: readonly EngineRow[], files: ReadFiles): RowOrigin[] {
  const origins: RowOrigin[] = [];
  let position = 0;
  let file = 0;
  for (const { row } of late) {
    while (position < rows.length && rows[position] !== row) position++;
    if (position === rows.length) throw new Error('A late row gold did not read from a silver file: the engine handed back a row it was not given, or out of input order.');
    while (file + 1 < files.length && files[file + 1].start <= position) file++;
    origins.push({ path: files[file].path, index: position - files[file].start });
    position++;
  }
  return origins;
}

/** The whole silver rows of late engine rows, from where they were read (late rows are few: only their files are read again). */
async function wholeRows(deps: GoldBatchDeps, origins: readonly RowOrigin[]): Promise<TableRow[]> {
  const files = new Map<string, TableRow[]>();
  const rows: TableRow[] = [];
  for (const origin of origins) {
    let fileRows = files.get(origin.path);
    if (fileRows === undefined) files.set(origin.path, (fileRows = await readTableFile(deps.lake, origin.path, deps.silverSchema)));
    const whole = fileRows[origin.index] as TableRow;
    // event_date is silver's partition column: not stored in the file, derived from event_time.
    whole['event_date'] = utcDate(whole['event_time'] as number);
    rows.push(whole);
  }
  return rows;
}

interface CombinedResult {
  emitted: WindowResult[];
  late: Array<LateRow<EngineRow> & { threshold: number }>;
  watermark: number;
  maxEventTime: number | null;
  numRowsDroppedByWatermark: number;
}

/** The engine batches of one gold batch as one result; each late row keeps the threshold it missed. */
function combine(steps: ReadonlyArray<BatchResult<EngineRow>>, watermark: number): CombinedResult {
  let maxEventTime: number | null = null;
  for (const step of steps) if (step.maxEventTime !== null && (maxEventTime === null || step.maxEventTime > maxEventTime)) maxEventTime = step.maxEventTime;
  return {
    emitted: steps.flatMap((s) => s.emitted),
    late: steps.flatMap((s) => s.late.map((l) => ({ ...l, threshold: s.lateThreshold }))),
    watermark,
    maxEventTime,
    numRowsDroppedByWatermark: steps.reduce((n, s) => n + s.numRowsDroppedByWatermark, 0),
  };
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

function goldRow(spec: PipelineSpec, w: WindowResult, shard: number, batch: number): TableRow {
  const row: TableRow = { window: w.window, window_start: w.windowStart, window_end: w.windowEnd };
  for (const column of spec.groupBy) row[column] = (w.key[column] ?? null) as TableRow[string];
  for (const a of spec.aggregates) row[a.name] = w.aggregates[a.name] ?? null;
  row['shard'] = shard;
  row['gold_batch'] = batch;
  row['window_date'] = utcDate(w.windowStart);
  return row;
}

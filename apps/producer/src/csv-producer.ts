/**
 * Streams a CSV file into the event hub in constant memory: read → map → pace → batch → send.
 * Batches of several partitions that fill together go in one hub call (`sendBatches`: one commit
 * on the embedded hub). Each call is one span; its W3C trace context is stamped on every event it
 * sends. A partition's rows are acknowledged only once the call that carried them returned.
 * At-least-once: after a failure, `--from-row` with the reported row resumes, and the stable
 * event ids let silver drop the few rows sent twice.
 *
 * A file may still be written while it is read. A run reads the bytes the file had when it started,
 * never more, so a row appended meanwhile is left whole to the next run. The last line without a
 * line break is a record (RFC 4180), but it may be a line cut short by a writer: it is sent only when
 * the file kept its size and modification time from before the read until a second after the read
 * began; otherwise it is held back, not counted as sent, and the next run reads it again.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { compileEventTimeParser, EventProperty, type PipelineSpec } from '@pipeline/contracts';
import { readCsv, type CsvRecordOrBytes } from '@pipeline/csv';
import { partitionIndexForKey, type Clock } from '@pipeline/engine';
import { eventSizeInBytes, type EventHubProducer, type EventToSend } from '@pipeline/ports';

import { inSpan, MessagingMetrics, traceHeaders, type Logger } from '@pipeline/telemetry';
import { EventMapper, type MappedEvent } from './event-mapper';
import { Pacer, type Pacing, type Sleep } from './pacer';
import { ProgressReporter } from './progress';
import { SendBatcher, sendGroups, type PendingBatch } from './send-batcher';

/** How much of an oversized record its marker carries, for a person to recognise it. */
const TOO_LARGE_PREFIX_BYTES = 1024;
/** How long a file must stay unchanged before its last line without a line break is sent. */
const SETTLE_MS = 1_000;
/**
 * The linger time is checked every this many rows (and before each read), not every row: reading
 * the clock costs more than mapping a short row, and rows come in a chunk at a time.
 */
const LINGER_CHECK_ROWS = 32;
/** Most partition keys whose partition the producer remembers instead of hashing them again. */
const MAX_REMEMBERED_KEYS = 100_000;

export interface ProduceOptions {
  csvFile: string;
  fromRow: number;
  pacing: Pacing;
  maxBatchEvents: number;
  /** Linger: pending events older than this are sent even if their batch is not full. */
  maxBatchDelayMs: number;
  /**
   * Largest record sent as it is (also the CSV reader's record limit); default and ceiling: what the
   * hub takes in one event. A larger one is sent as a `record_too_large` marker holding its first
   * bytes, so silver quarantines it and nothing is lost or stops the run.
   */
  maxRecordBytes?: number;
  /** Stop after this many rows (for samples and tests); `undefined`: the whole file. */
  limitRows?: number;
  progress?: ProgressReporter;
  signal?: AbortSignal;
  /**
   * Told, at most every `positionIntervalMs` (default: after every send), the first row not yet
   * acknowledged by the hub and, per partition, the last row the hub acknowledged.
   */
  onPosition?: (position: AcknowledgedPosition) => Promise<void>;
  positionIntervalMs?: number;
  /**
   * Per partition, the last row an earlier run had acknowledged: rows from `fromRow` on that are at
   * or before it in their partition are in the hub already and are skipped, not sent again.
   */
  acknowledged?: Record<string, number>;
}

/** Where a run stands: every row before `nextRow` is in the hub, and each partition's rows up to its entry. */
export interface AcknowledgedPosition {
  nextRow: number;
  /** Partition id ('' for rows without a key) → last row the hub acknowledged there. */
  partitions: Record<string, number>;
  /** Bytes of the file the run read: the file's size when the run started. */
  size: number;
  /**
   * Set when the last row sent had no line break after it: it ended the file at byte `end`. If the
   * file later goes on with that line, the row was sent cut short and a resume sends it again.
   */
  unterminated?: { row: number; end: number };
}

export interface ProduceSummary {
  csvFile: string;
  /** The first data row this run was asked to send. */
  fromRow: number;
  rowsRead: number;
  eventsSent: number;
  /** Rows an earlier run had already sent (acknowledged in their partition), not sent again. */
  rowsSkipped: number;
  malformed: Record<string, number>;
  batchesSent: number;
  firstRow: number | undefined;
  lastRow: number | undefined;
  elapsedMs: number;
  /** Set when the run stopped before the end: the row to pass to `--from-row` to go on. */
  resumeFromRow: number | undefined;
  /** The last line, without a line break while the file was still changing: not sent, the next run reads it again. */
  heldBackRow: number | undefined;
  stoppedEarly: boolean;
}

export class CsvProducer {
  private readonly metrics = new MessagingMetrics();

  constructor(
    private readonly spec: PipelineSpec,
    private readonly hub: EventHubProducer,
    private readonly clock: Clock,
    private readonly sleep: Sleep,
    private readonly logger: Logger,
  ) {}

  async produce(options: ProduceOptions): Promise<ProduceSummary> {
    const started = this.clock.now();
    // The run reads the bytes the file has now; whatever is appended meanwhile is the next run's.
    const before = await stat(options.csvFile);
    const totalBytes = before.size;
    const source = totalBytes === 0 ? Readable.from([]) : createReadStream(options.csvFile, { highWaterMark: 256 * 1024, end: totalBytes - 1 });
    const reader = readCsv(source, {
      delimiter: this.spec.source.delimiter,
      header: this.spec.source.header,
      expectedColumns: this.spec.source.header ? undefined : this.spec.source.columns.length,
      fromRow: options.fromRow,
      // Event bodies are written from the bytes of each record: its fields are not decoded one by one.
      rowsAsBytes: true,
      ...(options.maxRecordBytes === undefined ? {} : { maxRecordBytes: options.maxRecordBytes }),
    });
    const maxEventBytes = Math.min(options.maxRecordBytes ?? this.hub.maxBatchBytes, this.hub.maxBatchBytes);
    const header = await reader.header();
    const mapper = new EventMapper(this.spec, header?.names, { eventTimeText: options.pacing.kind === 'replay' });
    const undeclared = mapper.undeclaredColumns(this.spec);
    if (undeclared.length > 0) this.logger.warn({ columns: undeclared }, 'CSV columns not declared in the spec are sent along and ignored downstream');

    const parseTime = compileEventTimeParser(this.spec.eventTime);
    const partitionOf = await this.partitionResolver();
    const pacer = new Pacer(options.pacing, this.clock, this.sleep);
    const batcher = new SendBatcher({
      maxEvents: options.maxBatchEvents,
      maxBytes: this.hub.maxBatchBytes,
      maxPendingEvents: 20_000,
      // A hub that takes one batch per call gets them as they fill, each acknowledged on its own.
      together: this.hub.sendBatches !== undefined,
    });
    const summary: ProduceSummary = {
      csvFile: options.csvFile,
      fromRow: options.fromRow,
      rowsRead: 0,
      eventsSent: 0,
      rowsSkipped: 0,
      malformed: {},
      batchesSent: 0,
      firstRow: undefined,
      lastRow: undefined,
      elapsedMs: 0,
      resumeFromRow: undefined,
      heldBackRow: undefined,
      stoppedEarly: false,
    };
    let lastFlush = this.clock.now();
    let lastPosition = Number.NEGATIVE_INFINITY;
    let nextUnread = options.fromRow;
    let unterminated: AcknowledgedPosition['unterminated'];
    // A partition's batches go out in file order, so the hub holds each partition's rows up to the last one acknowledged.
    const acknowledged = new Map<string, number>(Object.entries(options.acknowledged ?? {}));
    const position = (): AcknowledgedPosition => ({
      // Every row before the oldest one still pending (or before the next unread) has been acknowledged.
      nextRow: batcher.oldestPendingRow() ?? nextUnread,
      partitions: Object.fromEntries([...acknowledged].sort(([a], [b]) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0))),
      size: totalBytes,
      ...(unterminated ? { unterminated } : {}),
    });
    // Batches handed out of the batcher and not yet acknowledged by the hub (only while a send is under way).
    const unacknowledged = new Set<PendingBatch>();
    const acknowledge = (batch: PendingBatch): void => {
      unacknowledged.delete(batch);
      acknowledged.set(batch.partitionId ?? '', batch.rows[batch.rows.length - 1] as number);
      summary.eventsSent += batch.events.length;
      summary.batchesSent++;
    };
    const send = async (batches: PendingBatch[]) => {
      if (batches.length === 0) return;
      for (const batch of batches) unacknowledged.add(batch);
      for (const group of sendGroups(batches)) await this.sendGroup(group, acknowledge);
      // Linger counts from the last send, not from the last row read.
      lastFlush = this.clock.now();
      if (options.onPosition && lastFlush - lastPosition >= (options.positionIntervalMs ?? 0)) {
        lastPosition = lastFlush;
        await options.onPosition(position());
      }
    };

    let rowsSinceLingerCheck = 0;
    // Pending events that waited the linger time are sent.
    const lingered = async () => {
      rowsSinceLingerCheck = 0;
      if (batcher.size > 0 && this.clock.now() - lastFlush >= options.maxBatchDelayMs) await send(batcher.drain());
    };

    try {
      // A chunk's records at a time: one promise per chunk of the file, not one per row.
      reading: for await (const records of reader.batches()) {
        for (const record of records) {
          if (options.signal?.aborted) {
            // Everything read so far is still sent below; this record is where a resume starts.
            summary.stoppedEarly = true;
            summary.resumeFromRow = record.row;
            break reading;
          }
          if (options.limitRows !== undefined && summary.rowsRead >= options.limitRows) break reading;
          if (record.unterminated) {
            if (!(await this.unchangedSince(options.csvFile, before, started))) {
              summary.heldBackRow = record.row;
              this.logger.warn(
                { row: record.row, line: record.line },
                `row ${record.row} (line ${record.line}) is the last line, has no line break and the file is still being written: not sent; the next run sends it`,
              );
              break reading;
            }
            unterminated = { row: record.row, end: totalBytes };
          }
          summary.rowsRead++;
          // Until its event is handed to the batcher, this row counts as not acknowledged.
          nextUnread = record.row;
          summary.firstRow ??= record.row;
          summary.lastRow = record.row;
          this.warnMalformed(record);
          const mapped = this.withinSize(mapper.map(record), maxEventBytes);
          // Counted by what is sent: a record cut by the CSV reader and still too large goes as record_too_large.
          const reason = mapped.event.properties?.[EventProperty.malformed];
          if (typeof reason === 'string') summary.malformed[reason] = (summary.malformed[reason] ?? 0) + 1;
          if (options.pacing.kind !== 'unlimited') {
            const time = mapped.eventTimeText === undefined ? undefined : parseTime(mapped.eventTimeText);
            const wait = pacer.delayFor(typeof time === 'number' ? time : undefined);
            // Waiting is a good moment to send what is pending, so paced events are not held back.
            if (wait > 0) {
              await send(batcher.drain());
              await this.sleep(wait);
            }
          }
          const partition = mapped.partitionKey === null ? null : partitionOf(mapped.partitionKey);
          if (mapped.row <= (acknowledged.get(partition ?? '') ?? 0)) {
            // An earlier run's batch with this row was acknowledged: the row is in the hub already.
            summary.rowsSkipped++;
            nextUnread = record.row + 1;
            continue;
          }
          // Most rows only join a pending batch: awaiting nothing saves a promise per row.
          const ready = batcher.add(mapped.event, partition, mapped.row, mapped.size);
          if (ready.length > 0) await send(ready);
          nextUnread = record.row + 1;
          if (++rowsSinceLingerCheck >= LINGER_CHECK_ROWS) await lingered();
          options.progress?.update({ events: summary.eventsSent, bytesRead: reader.bytesRead, totalBytes });
        }
        // Before waiting for the next chunk of the file.
        await lingered();
      }
      await send(batcher.drain());
      await options.onPosition?.({ ...position(), nextRow: summary.resumeFromRow ?? nextUnread });
    } catch (error) {
      // Rows of a failed call went back to neither the batcher nor the hub: the resume starts at the oldest of them.
      summary.resumeFromRow = minRow(firstRowOf([...unacknowledged]), batcher.oldestPendingRow()) ?? summary.lastRow;
      summary.elapsedMs = this.clock.now() - started;
      throw new ProduceError(error as Error, summary);
    } finally {
      options.progress?.finish({ events: summary.eventsSent, bytesRead: reader.bytesRead, totalBytes });
    }
    summary.elapsedMs = this.clock.now() - started;
    return summary;
  }

  /**
   * Whether the file kept the size and modification time it had before the read until SETTLE_MS
   * after the read began (waiting out the rest of that time when the read was quicker).
   */
  private async unchangedSince(file: string, before: Stats, readStarted: number): Promise<boolean> {
    const wait = readStarted + SETTLE_MS - this.clock.now();
    if (wait > 0) await this.sleep(wait);
    const after = await stat(file);
    return after.size === before.size && after.mtimeMs === before.mtimeMs;
  }

  /**
   * Key → partition, with Event Hubs' own hash (the partition the service would pick for the key):
   * batches then go to a partition by id, so a partition's events keep the file's order across keys.
   */
  private async partitionResolver(): Promise<(key: string) => string> {
    const ids = [...(await this.hub.getPartitionIds())].sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0));
    if (ids.length === 0) throw new Error(`The event hub ${this.hub.hubName} reports no partitions.`);
    // Keys repeat (devices, users): hash each once, remembering a bounded number of them.
    const known = new Map<string, string>();
    return (key) => {
      let id = known.get(key);
      if (id === undefined) {
        id = ids[partitionIndexForKey(key, ids.length)] as string;
        if (known.size >= MAX_REMEMBERED_KEYS) known.clear();
        known.set(key, id);
      }
      return id;
    };
  }

  /**
   * The event itself, or a bounded `record_too_large` marker when it is larger than the run sends,
   * with the size of what is sent (`eventSizeInBytes`).
   */
  private withinSize(mapped: MappedEvent, maxEventBytes: number): MappedEvent {
    const size = mapped.size;
    if (size <= maxEventBytes) return mapped;
    const properties = mapped.event.properties ?? {};
    const marker: EventToSend = {
      body: Buffer.from(mapped.event.body.subarray(0, TOO_LARGE_PREFIX_BYTES)),
      properties: {
        ...(properties[EventProperty.eventId] === undefined ? {} : { [EventProperty.eventId]: properties[EventProperty.eventId] as string }),
        [EventProperty.source]: properties[EventProperty.source] ?? this.spec.source.name,
        [EventProperty.row]: mapped.row,
        [EventProperty.contentType]: 'raw',
        [EventProperty.malformed]: 'record_too_large',
        [EventProperty.recordBytes]: size,
      },
    };
    this.logger.warn(
      { row: mapped.row, bytes: size, max_bytes: maxEventBytes, reason: 'record_too_large' },
      `row ${mapped.row} makes an event of ${size} bytes, more than ${maxEventBytes}: sent as a record_too_large marker with its first ${TOO_LARGE_PREFIX_BYTES} bytes, for quarantine`,
    );
    return { ...mapped, event: marker, eventTimeText: undefined, size: eventSizeInBytes(marker) };
  }

  private warnMalformed(record: CsvRecordOrBytes): void {
    if (record.kind !== 'malformed') return;
    this.logger.warn({ row: record.row, line: record.line, reason: record.reason }, `row ${record.row} is not valid CSV (${record.message}); sent raw for quarantine`);
  }

  /**
   * One span for batches of distinct partitions (or one keyless batch): one `sendBatches` call when
   * there are several and the hub has it, else one `send` per batch. `acknowledge` is told of each
   * batch once the hub has it.
   */
  private async sendGroup(group: readonly PendingBatch[], acknowledge: (batch: PendingBatch) => void): Promise<void> {
    let events = 0;
    for (const batch of group) events += batch.events.length;
    await inSpan(
      'producer.send',
      {},
      async (span) => {
        span.setAttributes({
          'messaging.system': 'eventhubs',
          'messaging.destination.name': this.hub.hubName,
          'messaging.batch.message_count': events,
          'pipeline.batches': group.length,
          'pipeline.rows.first': firstRowOf(group) ?? -1,
          'pipeline.rows.last': Math.max(-1, ...group.map((batch) => batch.rows[batch.rows.length - 1] ?? -1)),
        });
        const trace = traceHeaders(span);
        for (const batch of group) {
          for (const event of batch.events) {
            const properties = (event.properties ??= {});
            if (trace.traceparent) properties[EventProperty.traceparent] = trace.traceparent;
            if (trace.tracestate) properties[EventProperty.tracestate] = trace.tracestate;
          }
        }
        const target = { system: 'eventhubs', destination: this.hub.hubName };
        const started = performance.now();
        const together = group.length > 1 && this.hub.sendBatches !== undefined;
        // Batches sent one by one are acknowledged one by one: a failure then leaves fewer to send again.
        let done = 0;
        try {
          if (together) {
            await this.hub.sendBatches?.(group.map((batch) => ({ partitionId: batch.partitionId as string, events: batch.events })));
          } else {
            for (const batch of group) {
              await this.hub.send(batch.events, batch.partitionId === null ? {} : { partitionId: batch.partitionId });
              acknowledge(batch);
              done++;
            }
          }
        } catch (error) {
          const errorType = error instanceof Error ? error.name : typeof error;
          const elapsed = performance.now() - started;
          // The batches the hub took before the failure count as sent, the others as failed.
          for (const batch of group.slice(0, done)) this.metrics.sentBatch(target, batch.events.length, elapsed, batch.partitionId);
          for (const batch of group.slice(done)) this.metrics.sentBatch(target, batch.events.length, elapsed, batch.partitionId, errorType);
          throw error;
        }
        const elapsed = performance.now() - started;
        for (const batch of group) this.metrics.sentBatch(target, batch.events.length, elapsed, batch.partitionId);
        if (together) group.forEach(acknowledge);
      },
      'producer',
    );
  }
}

/** The smallest first row of `batches`, or undefined when there are none. */
function firstRowOf(batches: readonly PendingBatch[]): number | undefined {
  let first: number | undefined;
  for (const batch of batches) first = minRow(first, batch.rows[0]);
  return first;
}

function minRow(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

export class ProduceError extends Error {
  override readonly name = 'ProduceError';
  constructor(
    override readonly cause: Error,
    readonly summary: ProduceSummary,
  ) {
    super(`${cause.message}${summary.resumeFromRow !== undefined ? ` — resume with --from-row ${summary.resumeFromRow}` : ''}`);
  }
}

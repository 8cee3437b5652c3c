/**
 * The embedded event hub: a partitioned append log in one SQLite file, shared safely by several
 * producing and consuming processes (see `local.sqlite.ts` for WAL, busy timeout and durability).
 *
 * Storage: one row per `send` (`eh_batches`), its events packed in one blob (`batch-records.ts`),
 * so a send is one insert and a receive reads a few rows, however many events they hold. A send
 * whose properties Capture's `Properties` map keeps exactly (`capturesExactly`: no booleans,
 * well-formed text, integers within ±2^52; every send the producer makes) stores them in that
 * map's Avro binary, which capture copies into its
 * files as they are (`ReceivedEvent.captureProperties`); other sends store them as typed JSON
 * (`local.event-properties.ts`), as every row did before the Avro form. Received properties are
 * decoded when first read. A file written with one row per event (`eh_events`) is moved to this
 * layout, events, sequence numbers and offsets unchanged, the first time it is opened; a file
 * written before the Avro form gets its `properties_encoding` column (its rows: JSON) then too.
 *
 * Invariants:
 * - One `send` call is one IMMEDIATE transaction: its events are appended together or not at all,
 *   with contiguous sequence numbers, and no other producer interleaves with them.
 * - One `sendBatches` call is one IMMEDIATE transaction too, one batch row per partition: all its
 *   batches are appended or none, with one commit (one fsync) for them all; a bad batch (too large,
 *   not bytes, unknown partition) rolls back the whole call.
 * - Per hub and partition, sequence numbers start at 0 and grow by one. The offset is the event's
 *   byte position in the partition log, as a decimal string: each record takes its payload (body
 *   and properties, as counted against `maxBatchBytes`) plus a one-byte separator, so offsets
 *   strictly increase even for empty events.
 * - A partition key goes to the partition Event Hubs would pick (`partitionIndexForKey`); batches
 *   with neither key nor id rotate over the partitions with a counter shared by all processes.
 * - A hub's partition count is fixed on first open; several hubs may share one file.
 * - better-sqlite3 is synchronous: a send waiting for another process's write lock holds this
 *   process's event loop for at most the busy timeout; `receive` waits between polls with timers.
 */
import type Database from 'better-sqlite3';
import { partitionIndexForKey, systemClock, type Clock } from '@pipeline/engine';
import {
  assertPartitionBatches,
  assertSendArguments,
  EventHubError,
  EventTooLargeError,
  type EventHubConsumer,
  type EventHubProducer,
  type EventToSend,
  type PartitionBatch,
  type PartitionProperties,
  type PropertyValue,
  type ReceiveOptions,
  type ReceivedEvent,
  type SendOptions,
} from '@pipeline/ports';
import { readCaptureProperties } from '@pipeline/capture-format';
import { packCaptureBatch, packRecords, PropertiesEncoding, RECORD_SEPARATOR_BYTES, unpackRecords, type PackedEvent } from './local.batch-records';
import { decodeProperties, encodeProperties, measureProperties, propertiesSize } from './local.event-properties';
import { openSharedSqlite } from './local.sqlite';

export interface LocalEventHubOptions {
  /** The SQLite file (created if absent). */
  file: string;
  hubName: string;
  partitionCount: number;
  /** Reported as `fullyQualifiedNamespace`; default `local`. */
  namespace?: string;
  /** Default `$Default`. */
  consumerGroup?: string;
  /** Stamps `enqueuedTime`; default the system clock. */
  clock?: Clock;
  /** Largest payload of one `send`; default 1 MiB, the Event Hubs standard tier limit. */
  maxBatchBytes?: number;
}

/** Event Hubs standard tier: 1 MiB per batch. */
export const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
/** Pause between polls while `receive` waits for events. */
const RECEIVE_POLL_INTERVAL_MS = 25;
/** The largest partition count `partitionIndexForKey` spreads keys over (the hash is 16-bit). */
const MAX_PARTITION_COUNT = 32_767;
/** Events per batch row when a file of the one-row-per-event layout is moved. */
const MOVED_BATCH_EVENTS = 2_000;

/**
 * The page size of a hub file created from now on. A send's events are one blob of up to a
 * megabyte, which SQLite keeps as a chain of overflow pages: 16 KiB pages make a quarter of the
 * page writes (and system calls) of the default 4 KiB, while a small send still commits a few
 * pages only. A hub file created before keeps its 4 KiB pages.
 */
export const HUB_PAGE_BYTES = 16 * 1024;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS eh_hubs (
    hub TEXT PRIMARY KEY,
    partition_count INTEGER NOT NULL,
    next_round_robin INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS eh_partitions (
    hub TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    next_sequence INTEGER NOT NULL DEFAULT 0,
    next_offset INTEGER NOT NULL DEFAULT 0,
    last_offset INTEGER NOT NULL DEFAULT -1,
    last_enqueued_time INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hub, partition_id)
  );
  CREATE TABLE IF NOT EXISTS eh_batches (
    hub TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    first_sequence INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    first_offset INTEGER NOT NULL,
    enqueued_time INTEGER NOT NULL,
    partition_key TEXT,
    records BLOB NOT NULL,
    properties_encoding INTEGER NOT NULL DEFAULT ${PropertiesEncoding.json}
  );
  CREATE UNIQUE INDEX IF NOT EXISTS eh_batches_by_last_sequence ON eh_batches (hub, partition_id, last_sequence);
`;

/** A row of `eh_batches` as `.raw()` returns it. */
type BatchRow = [firstSequence: number, firstOffset: number, enqueuedTime: number, partitionKey: string | null, records: Buffer, encoding: PropertiesEncoding];

/** The events of one send, packed: their blob, how it stores their properties, and their sizes summed and the last one's. */
interface SendRecords {
  blob: Buffer;
  encoding: PropertiesEncoding;
  count: number;
  totalSize: number;
  lastSize: number;
}

interface PartitionRow {
  next_sequence: number;
  next_offset: number;
  last_offset: number;
  last_enqueued_time: number;
}

export class LocalEventHub implements EventHubProducer, EventHubConsumer {
  readonly fullyQualifiedNamespace: string;
  readonly consumerGroup: string;
  readonly maxBatchBytes: number;
  private readonly partitionIds: readonly string[];
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly appendBatch: (records: SendRecords, partitionKey: string | null, partition: number | undefined, enqueuedTime: number) => void;
  private readonly appendBatches: (batches: readonly PartitionBatch[], enqueuedTime: number) => void;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly hubName: string,
    private readonly partitionCount: number,
    private readonly clock: Clock,
    options: LocalEventHubOptions,
  ) {
    this.fullyQualifiedNamespace = options.namespace ?? 'local';
    this.consumerGroup = options.consumerGroup ?? '$Default';
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.partitionIds = Array.from({ length: partitionCount }, (_, i) => String(i));
    this.statements = prepareStatements(db);
    this.appendBatch = db.transaction(this.append.bind(this)).immediate;
    // Packed inside the transaction, one batch at a time: the packer reuses one buffer, and a batch
    // that cannot be packed rolls back the ones appended before it.
    this.appendBatches = db.transaction((batches: readonly PartitionBatch[], enqueuedTime: number) => {
      for (const { partitionId, events } of batches) {
        if (events.length > 0) this.append(this.packWithin(events), null, this.partitionIndex(partitionId), enqueuedTime);
      }
    }).immediate;
  }

  /** Open (creating if needed) the hub `hubName` in `file`. */
  static open(options: LocalEventHubOptions): LocalEventHub {
    const { file, hubName, partitionCount, maxBatchBytes } = options;
    if (typeof hubName !== 'string' || hubName === '') {
      throw new EventHubError(`The local event hub needs a hubName, got ${JSON.stringify(hubName)}.`);
    }
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > MAX_PARTITION_COUNT) {
      throw new EventHubError(`partitionCount of event hub "${hubName}" must be an integer from 1 to ${MAX_PARTITION_COUNT}, got ${String(partitionCount)}.`);
    }
    if (maxBatchBytes !== undefined && (!Number.isInteger(maxBatchBytes) || maxBatchBytes < 1)) {
      throw new EventHubError(`maxBatchBytes of event hub "${hubName}" must be a positive integer, got ${String(maxBatchBytes)}.`);
    }
    const db = openSharedSqlite(file, SCHEMA, 'local event hub', { pageSize: HUB_PAGE_BYTES });
    try {
      addPropertiesEncoding(db);
      moveEventRows(db);
      registerHub(db, file, hubName, partitionCount);
      return new LocalEventHub(db, hubName, partitionCount, options.clock ?? systemClock, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async getPartitionIds(): Promise<string[]> {
    this.assertOpen();
    return [...this.partitionIds];
  }

  async send(events: readonly EventToSend[], options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    assertSendArguments(events, options);
    const { partitionKey, partitionId } = options;
    if (events.length === 0) return;

    // Packed before the transaction, so the write lock is held only for the insert.
    const records = this.packWithin(events);
    const partition =
      partitionId !== undefined ? this.partitionIndex(partitionId) : partitionKey !== undefined ? partitionIndexForKey(partitionKey, this.partitionCount) : undefined;
    this.appendBatch(records, partitionKey ?? null, partition, this.clock.now());
  }

  async sendBatches(batches: readonly PartitionBatch[]): Promise<void> {
    this.assertOpen();
    assertPartitionBatches(batches);
    for (const { partitionId } of batches) this.partitionIndex(partitionId);
    if (batches.some((batch) => batch.events.length > 0)) this.appendBatches(batches, this.clock.now());
  }

  /** The events packed, or `EventTooLargeError` when they are more than one batch takes. */
  private packWithin(events: readonly EventToSend[]): SendRecords {
    const records = packEvents(events);
    const total = records.totalSize;
    if (total > this.maxBatchBytes) {
      throw new EventTooLargeError(
        `A batch of ${events.length} event(s) is ${total} bytes (bodies + properties), over the ${this.maxBatchBytes}-byte limit of event hub "${this.hubName}". Send fewer or smaller events per call.`,
      );
    }
    return records;
  }

  async getPartitionProperties(partitionId: string): Promise<PartitionProperties> {
    this.assertOpen();
    const row = this.statements.partition.get(this.hubName, this.partitionIndex(partitionId));
    if (row === undefined) throw new EventHubError(`Event hub "${this.hubName}" has no partition ${partitionId} in its file; was the file replaced?`);
    return {
      partitionId,
      lastSequenceNumber: row.next_sequence - 1,
      lastOffset: String(row.last_offset),
      lastEnqueuedTime: row.last_enqueued_time,
    };
  }

  async receive(partitionId: string, afterSequenceNumber: number, options: ReceiveOptions): Promise<ReceivedEvent[]> {
    this.assertOpen();
    const partition = this.partitionIndex(partitionId);
    const { maxCount, maxWaitMs } = options;
    if (!Number.isInteger(afterSequenceNumber) || afterSequenceNumber < -1) {
      throw new EventHubError(`afterSequenceNumber must be an integer ≥ -1 (-1 reads from the start), got ${String(afterSequenceNumber)}.`);
    }
    if (!Number.isInteger(maxCount) || maxCount < 1) throw new EventHubError(`maxCount must be a positive integer, got ${String(maxCount)}.`);
    if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0)) throw new EventHubError(`maxWaitMs must be a number ≥ 0, got ${String(maxWaitMs)}.`);

    // Waiting is real elapsed time (the injected clock only stamps events).
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const events = this.read(partitionId, partition, afterSequenceNumber, maxCount);
      if (events.length > 0) return events;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return [];
      await sleep(Math.min(RECEIVE_POLL_INTERVAL_MS, remaining));
      // Closed while waiting: nothing more will arrive through this instance.
      if (this.closed) return [];
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Runs inside the IMMEDIATE transaction of `appendBatch`. */
  private append(records: SendRecords, partitionKey: string | null, partition: number | undefined, enqueuedTime: number): void {
    const target = partition ?? this.nextRoundRobin();
    const state = this.statements.partition.get(this.hubName, target);
    if (state === undefined) throw new EventHubError(`Event hub "${this.hubName}" has no partition ${target} in its file; was the file replaced?`);
    const first = state.next_sequence;
    const last = first + records.count - 1;
    // Each event takes its size and a separator; the last one starts its own size before the end.
    const offset = state.next_offset + records.totalSize + records.count * RECORD_SEPARATOR_BYTES;
    const lastOffset = offset - records.lastSize - RECORD_SEPARATOR_BYTES;
    this.statements.insertBatch.run(this.hubName, target, first, last, state.next_offset, enqueuedTime, partitionKey, records.blob, records.encoding);
    this.statements.advance.run(last + 1, offset, lastOffset, enqueuedTime, this.hubName, target);
  }

  /** Up to `maxCount` events after `afterSequenceNumber`, from the batch rows that hold them. */
  private read(partitionId: string, partition: number, afterSequenceNumber: number, maxCount: number): ReceivedEvent[] {
    const events: ReceivedEvent[] = [];
    for (const row of this.statements.batchesAfter.iterate(this.hubName, partition, afterSequenceNumber) as IterableIterator<BatchRow>) {
      const [firstSequence, firstOffset, enqueuedTime, partitionKey, records, encoding] = row;
      const avro = encoding === PropertiesEncoding.captureAvro;
      if (!avro && encoding !== PropertiesEncoding.json) throw unknownEncoding(this.hubName, firstSequence, encoding);
      unpackRecords(records, firstSequence, firstOffset, afterSequenceNumber + 1, maxCount - events.length, (sequenceNumber, offset, properties, body) => {
        events.push(new StoredEvent(partitionId, sequenceNumber, String(offset), enqueuedTime, partitionKey, body, properties, avro));
      });
      // Leaving the loop early resets the statement.
      if (events.length >= maxCount) break;
    }
    return events;
  }

  private nextRoundRobin(): number {
    const counter = this.statements.roundRobin.get(this.hubName);
    if (counter === undefined) throw new EventHubError(`Event hub "${this.hubName}" is missing from its file; was the file replaced?`);
    this.statements.bumpRoundRobin.run(this.hubName);
    return counter.next_round_robin % this.partitionCount;
  }

  private partitionIndex(partitionId: string): number {
    const index = typeof partitionId === 'string' && /^(0|[1-9][0-9]*)$/.test(partitionId) ? Number(partitionId) : -1;
    if (index < 0 || index >= this.partitionCount) {
      throw new EventHubError(`Event hub "${this.hubName}" has no partition ${JSON.stringify(partitionId)}; its partitions are "0" to "${this.partitionCount - 1}".`);
    }
    return index;
  }

  private assertOpen(): void {
    if (this.closed) throw new EventHubError(`The local event hub "${this.hubName}" is closed; open it again to use it.`);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    partition: db.prepare<[string, number], PartitionRow>(
      'SELECT next_sequence, next_offset, last_offset, last_enqueued_time FROM eh_partitions WHERE hub = ? AND partition_id = ?',
    ),
    batchesAfter: db
      .prepare<[string, number, number], BatchRow>(
        `SELECT first_sequence, first_offset, enqueued_time, partition_key, records, properties_encoding
         FROM eh_batches WHERE hub = ? AND partition_id = ? AND last_sequence > ? ORDER BY last_sequence`,
      )
      .raw(true),
    insertBatch: db.prepare<[string, number, number, number, number, number, string | null, Buffer, PropertiesEncoding]>(
      `INSERT INTO eh_batches (hub, partition_id, first_sequence, last_sequence, first_offset, enqueued_time, partition_key, records, properties_encoding)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    advance: db.prepare<[number, number, number, number, string, number]>(
      'UPDATE eh_partitions SET next_sequence = ?, next_offset = ?, last_offset = ?, last_enqueued_time = ? WHERE hub = ? AND partition_id = ?',
    ),
    roundRobin: db.prepare<[string], { next_round_robin: number }>('SELECT next_round_robin FROM eh_hubs WHERE hub = ?'),
    bumpRoundRobin: db.prepare<[string]>('UPDATE eh_hubs SET next_round_robin = next_round_robin + 1 WHERE hub = ?'),
  };
}

/** A row of the one-row-per-event layout, as `.raw()` returns it. */
type EventRow = [hub: string, partition: number, sequence: number, byteOffset: number, enqueuedTime: number, partitionKey: string | null, properties: string, body: Buffer];

/**
 * Move the events of a file written one row per event (`eh_events`) into batch rows, in one
 * transaction, and drop the old table. Consecutive events of one partition share a row when they
 * share their enqueued time and partition key and their offsets follow on, so every event keeps
 * its sequence number, offset, time, key, properties and body.
 */
function moveEventRows(db: Database.Database): void {
  const move = db.transaction(() => {
    const old = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'eh_events'").get();
    if (old === undefined) return;
    const insert = db.prepare<[string, number, number, number, number, number, string | null, Buffer]>(
      'INSERT INTO eh_batches (hub, partition_id, first_sequence, last_sequence, first_offset, enqueued_time, partition_key, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Read a page at a time: better-sqlite3 cannot insert while a statement is still iterating.
    const page = db
      .prepare<[string, number, number], EventRow>(
        `SELECT hub, partition_id, sequence_number, byte_offset, enqueued_time, partition_key, properties, body FROM eh_events
         WHERE (hub, partition_id, sequence_number) > (?, ?, ?) ORDER BY hub, partition_id, sequence_number LIMIT ${MOVED_BATCH_EVENTS}`,
      )
      .raw(true);
    function* allRows(): Generator<EventRow> {
      let rows = page.all('', -1, -1);
      while (rows.length > 0) {
        yield* rows;
        const last = rows[rows.length - 1] as EventRow;
        rows = page.all(last[0], last[1], last[2]);
      }
    }
    let pending: EventRow[] = [];
    let packed: PackedEvent[] = [];
    let nextOffset = 0;
    const flush = (): void => {
      if (pending.length === 0) return;
      const head = pending[0] as EventRow;
      const tail = pending[pending.length - 1] as EventRow;
      insert.run(head[0], head[1], head[2], tail[2], head[3], head[4], head[5], packRecords(packed));
      pending = [];
      packed = [];
    };
    for (const row of allRows()) {
      const previous = pending[pending.length - 1];
      const follows =
        previous !== undefined &&
        previous[0] === row[0] &&
        previous[1] === row[1] &&
        previous[2] + 1 === row[2] &&
        previous[4] === row[4] &&
        previous[5] === row[5] &&
        nextOffset === row[3];
      if (!follows || pending.length >= MOVED_BATCH_EVENTS) flush();
      const size = row[7].byteLength + propertiesSize(decodeProperties(row[6]));
      pending.push(row);
      packed.push({ propertiesJson: row[6], body: row[7], size });
      nextOffset = row[3] + size + RECORD_SEPARATOR_BYTES;
    }
    flush();
    db.exec('DROP TABLE eh_events');
  });
  move.immediate();
}

/** Record the hub and its partitions on first open; refuse a different partition count later. */
function registerHub(db: Database.Database, file: string, hubName: string, partitionCount: number): void {
  const register = db.transaction(() => {
    const existing = db.prepare<[string], { partition_count: number }>('SELECT partition_count FROM eh_hubs WHERE hub = ?').get(hubName);
    if (existing !== undefined) {
      if (existing.partition_count !== partitionCount) {
        throw new EventHubError(
          `Event hub "${hubName}" in ${file} has ${existing.partition_count} partitions, but it was opened with partitionCount ${partitionCount}. ` +
            `A hub's partition count cannot change: open it with ${existing.partition_count}, or use another hub name or file.`,
        );
      }
      return;
    }
    db.prepare('INSERT INTO eh_hubs (hub, partition_count) VALUES (?, ?)').run(hubName, partitionCount);
    const addPartition = db.prepare('INSERT INTO eh_partitions (hub, partition_id) VALUES (?, ?)');
    for (let i = 0; i < partitionCount; i++) addPartition.run(hubName, i);
  });
  register.immediate();
}

/**
 * Checks, measures and packs the events of a send: stored as Capture's map when every event's
 * properties fit it exactly (one pass, `packCaptureBatch`), else all as typed JSON (one encoding
 * per row), measured the general way, which names what is wrong with a bad event.
 */
function packEvents(events: readonly EventToSend[]): SendRecords {
  const avro = packCaptureBatch(events);
  if (avro !== undefined) {
    return { blob: avro.blob, encoding: PropertiesEncoding.captureAvro, count: events.length, totalSize: avro.totalSize, lastSize: avro.lastSize };
  }
  const json: PackedEvent[] = new Array(events.length);
  let totalSize = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as EventToSend;
    const body = bodyOf(event, i);
    const size = body.byteLength + measureProperties(event.properties).size;
    json[i] = { body, propertiesJson: encodeProperties(event.properties).json, size };
    totalSize += size;
  }
  return { blob: packRecords(json), encoding: PropertiesEncoding.json, count: events.length, totalSize, lastSize: (json[json.length - 1] as PackedEvent).size };
}

function bodyOf(event: EventToSend, index: number): Buffer {
  if (typeof event !== 'object' || event === null || !(event.body instanceof Uint8Array)) {
    throw new EventHubError(`Event ${index} of the batch needs a body of bytes (Buffer or Uint8Array).`);
  }
  return Buffer.isBuffer(event.body) ? event.body : Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength);
}

/**
 * An event read from a batch row. Its properties are decoded when first read: capture copies
 * `captureProperties` and never asks for most of them.
 */
class StoredEvent implements ReceivedEvent {
  readonly captureProperties: Buffer | undefined;
  #stored: Buffer | undefined;
  #properties: Record<string, PropertyValue> | undefined;

  constructor(
    readonly partitionId: string,
    readonly sequenceNumber: number,
    readonly offset: string,
    readonly enqueuedTime: number,
    readonly partitionKey: string | null,
    readonly body: Buffer,
    stored: Buffer,
    avro: boolean,
  ) {
    this.captureProperties = avro ? stored : undefined;
    this.#stored = avro ? undefined : stored;
  }

  get properties(): Record<string, PropertyValue> {
    if (this.#properties === undefined) {
      const avro = this.captureProperties;
      this.#properties = avro === undefined ? decodeProperties((this.#stored as Buffer).toString('utf8')) : readStoredAvro(avro, this.partitionId, this.sequenceNumber);
      this.#stored = undefined;
    }
    return this.#properties;
  }
}

function readStoredAvro(bytes: Buffer, partitionId: string, sequenceNumber: number): Record<string, PropertyValue> {
  try {
    return readCaptureProperties(bytes);
  } catch (error) {
    throw new EventHubError(
      `The properties of event ${sequenceNumber} of partition ${partitionId} in the embedded hub are damaged (${(error as Error).message}). The hub file was changed outside the pipeline; restore it from a copy or start a new pipeline home.`,
    );
  }
}

function unknownEncoding(hubName: string, firstSequence: number, encoding: unknown): EventHubError {
  return new EventHubError(
    `The batch of event hub "${hubName}" starting at sequence number ${firstSequence} stores its properties with encoding ${String(encoding)}, which this version does not read; open the file with the version that wrote it.`,
  );
}

/**
 * Give a file written before properties could be stored as Capture's map its `properties_encoding`
 * column; its rows keep their typed JSON (the column's default).
 */
function addPropertiesEncoding(db: Database.Database): void {
  const add = db.transaction(() => {
    const columns = db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('eh_batches')").all();
    if (columns.some((column) => column.name === 'properties_encoding')) return;
    db.exec(`ALTER TABLE eh_batches ADD COLUMN properties_encoding INTEGER NOT NULL DEFAULT ${PropertiesEncoding.json}`);
  });
  add.immediate();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

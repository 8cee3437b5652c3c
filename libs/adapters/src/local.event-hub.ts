/**
 * The embedded event hub: a partitioned append log in one SQLite file, shared safely by several
 * producing and consuming processes (see `local.sqlite.ts` for WAL, busy timeout and durability).
 *
 * Invariants:
 * - One `send` call is one IMMEDIATE transaction: its events are appended together or not at all,
 *   with contiguous sequence numbers, and no other producer interleaves with them.
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
  assertSendArguments,
  EventHubError,
  EventTooLargeError,
  type EventHubConsumer,
  type EventHubProducer,
  type EventToSend,
  type PartitionProperties,
  type ReceiveOptions,
  type ReceivedEvent,
  type SendOptions,
} from '@pipeline/ports';
import { decodeProperties, encodeProperties } from './local.event-properties';
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
/** Bytes each record takes in the partition log besides its payload. */
const RECORD_SEPARATOR_BYTES = 1;
/** The largest partition count `partitionIndexForKey` spreads keys over (the hash is 16-bit). */
const MAX_PARTITION_COUNT = 32_767;
const EMPTY_BODY = Buffer.alloc(0);
/** Rows per multi-row INSERT: fewer statement runs per batch (8 parameters a row, far below SQLite's limit). */
const INSERT_ROWS = 64;
const INSERT_COLUMNS = 8;

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
  CREATE TABLE IF NOT EXISTS eh_events (
    hub TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    sequence_number INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    enqueued_time INTEGER NOT NULL,
    partition_key TEXT,
    properties TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (hub, partition_id, sequence_number)
  );
`;

/** A row of `eh_events` as `.raw()` returns it from `events`, the body's length in place of the body. */
type EventRow = [sequenceNumber: number, byteOffset: number, enqueuedTime: number, partitionKey: string | null, properties: string, bodyLength: number];
/** The same with the body, from `eventsWithBodies`. */
type EventRowWithBody = [...EventRow, body: Buffer];

interface PartitionRow {
  next_sequence: number;
  next_offset: number;
  last_offset: number;
  last_enqueued_time: number;
}

/** The parameters of `insertMany`: INSERT_ROWS rows of INSERT_COLUMNS values. */
type InsertParameters = Array<string | number | Buffer | null>;

interface EncodedEvent {
  body: Buffer;
  properties: string;
  size: number;
}

export class LocalEventHub implements EventHubProducer, EventHubConsumer {
  readonly fullyQualifiedNamespace: string;
  readonly consumerGroup: string;
  readonly maxBatchBytes: number;
  private readonly partitionIds: readonly string[];
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insertParameters: InsertParameters = new Array<string | number | Buffer | null>(INSERT_ROWS * INSERT_COLUMNS).fill(null);
  private readonly appendBatch: (events: EncodedEvent[], partitionKey: string | null, partition: number | undefined, enqueuedTime: number) => void;
  private closed = false;
  /** Whether the file's text encoding is UTF-8, so group_concat passes blob bytes through unchanged. */
  private readonly utf8: boolean;

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
    this.utf8 = db.pragma('encoding', { simple: true }) === 'UTF-8';
    this.appendBatch = db.transaction(this.append.bind(this)).immediate;
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
    const db = openSharedSqlite(file, SCHEMA, 'local event hub');
    try {
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

    const encoded: EncodedEvent[] = new Array(events.length);
    let total = 0;
    for (let i = 0; i < events.length; i++) {
      const event = encodeEvent(events[i] as EventToSend, i);
      encoded[i] = event;
      total += event.size;
    }
    if (total > this.maxBatchBytes) {
      throw new EventTooLargeError(
        `A batch of ${encoded.length} event(s) is ${total} bytes (bodies + properties), over the ${this.maxBatchBytes}-byte limit of event hub "${this.hubName}". Send fewer or smaller events per call.`,
      );
    }
    const partition =
      partitionId !== undefined ? this.partitionIndex(partitionId) : partitionKey !== undefined ? partitionIndexForKey(partitionKey, this.partitionCount) : undefined;
    this.appendBatch(encoded, partitionKey ?? null, partition, this.clock.now());
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
      const rows = this.statements.events.all(this.hubName, partition, afterSequenceNumber, maxCount);
      if (rows.length > 0) return this.toReceived(partitionId, partition, rows);
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
  private append(events: EncodedEvent[], partitionKey: string | null, partition: number | undefined, enqueuedTime: number): void {
    const target = partition ?? this.nextRoundRobin();
    const state = this.statements.partition.get(this.hubName, target);
    if (state === undefined) throw new EventHubError(`Event hub "${this.hubName}" has no partition ${target} in its file; was the file replaced?`);
    let sequence = state.next_sequence;
    let offset = state.next_offset;
    let lastOffset = state.last_offset;
    // Whole groups of INSERT_ROWS go through the multi-row statement, the rest one row at a time.
    const grouped = events.length - (events.length % INSERT_ROWS);
    const parameters = grouped > 0 ? this.insertParameters : [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as EncodedEvent;
      if (i < grouped) {
        const at = (i % INSERT_ROWS) * INSERT_COLUMNS;
        parameters[at] = this.hubName;
        parameters[at + 1] = target;
        parameters[at + 2] = sequence;
        parameters[at + 3] = offset;
        parameters[at + 4] = enqueuedTime;
        parameters[at + 5] = partitionKey;
        parameters[at + 6] = event.properties;
        parameters[at + 7] = event.body;
        if (i % INSERT_ROWS === INSERT_ROWS - 1) this.statements.insertMany.run(parameters);
      } else {
        this.statements.insert.run(this.hubName, target, sequence, offset, enqueuedTime, partitionKey, event.properties, event.body);
      }
      lastOffset = offset;
      sequence += 1;
      offset += event.size + RECORD_SEPARATOR_BYTES;
    }
    // Let the bodies go: the array is kept for the next batch.
    if (grouped > 0) parameters.fill(null);
    this.statements.advance.run(sequence, offset, lastOffset, enqueuedTime, this.hubName, target);
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

  /**
   * The events of `rows`. Their bodies are read in one piece (one Buffer for the batch instead of one
   * per event) and handed out as views of it; rows never change once written, so the piece holds
   * exactly the listed rows' bodies, which its length confirms before it is used.
   */
  private toReceived(partitionId: string, partition: number, rows: EventRow[]): ReceivedEvent[] {
    const first = (rows[0] as EventRow)[0];
    const last = (rows[rows.length - 1] as EventRow)[0];
    let expected = 0;
    for (let i = 0; i < rows.length; i++) expected += (rows[i] as EventRow)[5];
    const joined = expected === 0 ? EMPTY_BODY : this.utf8 ? this.statements.bodies.get(this.hubName, partition, first, last) : null;
    const bodies: Buffer[] = new Array(rows.length);
    if (joined instanceof Buffer && joined.byteLength === expected && last - first === rows.length - 1) {
      let at = 0;
      for (let i = 0; i < rows.length; i++) {
        const length = (rows[i] as EventRow)[5];
        bodies[i] = joined.subarray(at, at + length);
        at += length;
      }
    } else {
      const full = this.statements.eventsWithBodies.all(this.hubName, partition, first - 1, rows.length);
      for (let i = 0; i < rows.length; i++) bodies[i] = (full[i] as EventRowWithBody)[6];
    }
    const events: ReceivedEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as EventRow;
      events[i] = {
        partitionId,
        sequenceNumber: row[0],
        offset: String(row[1]),
        enqueuedTime: row[2],
        partitionKey: row[3],
        properties: decodeProperties(row[4]),
        body: bodies[i] as Buffer,
      };
    }
    return events;
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
    events: db
      .prepare<[string, number, number, number], EventRow>(
        `SELECT sequence_number, byte_offset, enqueued_time, partition_key, properties, length(body)
         FROM eh_events WHERE hub = ? AND partition_id = ? AND sequence_number > ? ORDER BY sequence_number LIMIT ?`,
      )
      .raw(true),
    eventsWithBodies: db
      .prepare<[string, number, number, number], EventRowWithBody>(
        `SELECT sequence_number, byte_offset, enqueued_time, partition_key, properties, length(body), body
         FROM eh_events WHERE hub = ? AND partition_id = ? AND sequence_number > ? ORDER BY sequence_number LIMIT ?`,
      )
      .raw(true),
    // group_concat copies each blob's bytes as they are (the file's text encoding is UTF-8).
    bodies: db
      .prepare<[string, number, number, number], Buffer | null>(
        `SELECT CAST(group_concat(body, x'' ORDER BY sequence_number) AS BLOB)
         FROM eh_events WHERE hub = ? AND partition_id = ? AND sequence_number BETWEEN ? AND ?`,
      )
      .pluck(true),
    insert: db.prepare<[string, number, number, number, number, string | null, string, Buffer]>(
      `INSERT INTO eh_events (hub, partition_id, sequence_number, byte_offset, enqueued_time, partition_key, properties, body)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertMany: db.prepare<[InsertParameters]>(
      `INSERT INTO eh_events (hub, partition_id, sequence_number, byte_offset, enqueued_time, partition_key, properties, body)
       VALUES ${Array.from({ length: INSERT_ROWS }, () => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    advance: db.prepare<[number, number, number, number, string, number]>(
      'UPDATE eh_partitions SET next_sequence = ?, next_offset = ?, last_offset = ?, last_enqueued_time = ? WHERE hub = ? AND partition_id = ?',
    ),
    roundRobin: db.prepare<[string], { next_round_robin: number }>('SELECT next_round_robin FROM eh_hubs WHERE hub = ?'),
    bumpRoundRobin: db.prepare<[string]>('UPDATE eh_hubs SET next_round_robin = next_round_robin + 1 WHERE hub = ?'),
  };
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

function encodeEvent(event: EventToSend, index: number): EncodedEvent {
  if (typeof event !== 'object' || event === null || !(event.body instanceof Uint8Array)) {
    throw new EventHubError(`Event ${index} of the batch needs a body of bytes (Buffer or Uint8Array).`);
  }
  const body = Buffer.isBuffer(event.body) ? event.body : Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength);
  const properties = encodeProperties(event.properties);
  return { body, properties: properties.json, size: body.byteLength + properties.size };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The embedded bus: durable peek-lock queues in one SQLite file, shared safely by several
 * processes (see `local.sqlite.ts` for WAL, busy timeout and durability). Semantics: libs/ports/src/bus.ts.
 *
 * Invariants:
 * - Every claim (receive, accept a session) and every settlement is one IMMEDIATE transaction, so two
 *   processes never hold the same message or session at once.
 * - Send order is the `seq` column (commit order). A scheduled message is skipped, not waited for,
 *   until its `enqueued_time`; an abandoned message keeps its `seq` and is hidden until `hidden_until`.
 * - `delivery_count` counts deliveries (incremented when a lock is taken). A message whose count has
 *   reached the queue's maxDeliveryCount is dead-lettered (`MaxDeliveryCountExceeded`) when it is
 *   abandoned, or when it would be delivered again after its lock expired.
 * - Session queues: a message's lock lives as long as its session lock (as on Service Bus). Taking a
 *   session clears the message locks a previous holder left, so the new holder redelivers them.
 *   Within a session, delivery stops at the first message that is locked or hidden by an abandon
 *   delay: the holder gets the session's messages strictly in send order.
 * - Lock expiry, scheduling and abandon delays read the injected clock; waiting for messages uses
 *   real timers, polling the file every `pollIntervalMs`.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { systemClock, type Clock } from '@pipeline/engine';
import {
  BusError,
  MessageLockLostError,
  QueueNotFoundError,
  SessionLockLostError,
  type Bus,
  type BusValue,
  type DeadLetter,
  type OutgoingMessage,
  type QueueOptions,
  type MessageSettlement,
  type QueueReceiver,
  type ReceivedMessage,
  type ReceiveMessagesOptions,
  type SessionReceiver,
} from '@pipeline/ports';
import { openSharedSqlite } from './local.sqlite';

export interface LocalBusOptions {
  /** The SQLite file (created if absent). */
  file: string;
  /** Lock expiry, scheduling and enqueue times; default the system clock. */
  clock?: Clock;
  /** Pause between polls while a receive or acceptSession waits, in ms; default 25. */
  pollIntervalMs?: number;
}

/** The reason the bus gives a message it dead-letters after too many deliveries. */
export const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';
/** Service Bus standard tier: 256 KiB per message; a bus message is only a pointer (DESIGN invariant 1). */
export const MAX_MESSAGE_BYTES = 256 * 1024;
const DEFAULT_POLL_INTERVAL_MS = 25;
const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** Service Bus entity names are at most 260 characters. */
const MAX_QUEUE_NAME_LENGTH = 260;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_queues (
    queue TEXT PRIMARY KEY,
    sessions INTEGER NOT NULL,
    lock_duration_ms INTEGER NOT NULL,
    max_delivery_count INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS bus_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    session_id TEXT,
    subject TEXT,
    properties TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_time INTEGER NOT NULL,
    hidden_until INTEGER NOT NULL DEFAULT 0,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS bus_messages_by_queue ON bus_messages (queue, seq);
  CREATE INDEX IF NOT EXISTS bus_messages_by_session ON bus_messages (queue, session_id, seq);
  CREATE UNIQUE INDEX IF NOT EXISTS bus_messages_by_lock ON bus_messages (lock_token);
  CREATE TABLE IF NOT EXISTS bus_sessions (
    queue TEXT NOT NULL,
    session_id TEXT NOT NULL,
    lock_token TEXT NOT NULL,
    locked_until INTEGER NOT NULL,
    PRIMARY KEY (queue, session_id)
  );
  CREATE TABLE IF NOT EXISTS bus_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    session_id TEXT,
    subject TEXT,
    properties TEXT NOT NULL,
    body TEXT NOT NULL,
    delivery_count INTEGER NOT NULL,
    reason TEXT NOT NULL,
    description TEXT NOT NULL,
    dead_lettered_time INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS bus_dead_letters_by_queue ON bus_dead_letters (queue, id);
  CREATE INDEX IF NOT EXISTS bus_dead_letters_by_message ON bus_dead_letters (queue, message_id, id);
`;

interface QueueRow {
  sessions: number;
  lock_duration_ms: number;
  max_delivery_count: number;
}

interface MessageRow {
  seq: number;
  queue: string;
  message_id: string;
  session_id: string | null;
  subject: string | null;
  properties: string;
  body: string;
  enqueued_time: number;
  hidden_until: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number;
}

interface SessionRow {
  lock_token: string;
  locked_until: number;
}

interface DeadLetterRow {
  id: number;
  message_id: string;
  session_id: string | null;
  subject: string | null;
  properties: string;
  body: string;
  delivery_count: number;
  reason: string;
  description: string;
  dead_lettered_time: number;
}

interface EncodedMessage {
  messageId: string;
  sessionId: string | null;
  subject: string | null;
  properties: string;
  body: string;
  enqueuedTime: number;
}

/** Who holds a lock: a plain receiver, or the holder of a session lock. */
type Holder = { queue: string; session?: { sessionId: string; lockToken: string } };

type Statements = ReturnType<typeof prepareStatements>;

export class LocalBus implements Bus {
  readonly location: string;

  private constructor(private readonly store: BusStore) {
    this.location = store.location;
  }

  /** Open (creating if needed) the bus in `file`. */
  static open(options: LocalBusOptions): LocalBus {
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    if (typeof pollIntervalMs !== 'number' || !(pollIntervalMs > 0) || !Number.isFinite(pollIntervalMs)) {
      throw new BusError(`pollIntervalMs of the local bus must be a positive number of ms, got ${String(pollIntervalMs)}.`);
    }
    const db = openSharedSqlite(options.file, SCHEMA, 'local bus');
    return new LocalBus(new BusStore(db, options.file, options.clock ?? systemClock, pollIntervalMs));
  }

  ensureQueue(queue: string, options: QueueOptions): Promise<void> {
    return this.store.ensureQueue(queue, options);
  }

  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.store.send(queue, messages);
  }

  receiver(queue: string): QueueReceiver {
    this.store.assertOpen();
    checkQueueName(queue);
    return new LocalQueueReceiver(this.store, queue);
  }

  acceptSession(queue: string, options: { sessionId?: string; maxWaitMs: number }): Promise<SessionReceiver | undefined> {
    return this.store.acceptSession(queue, options);
  }

  listDeadLetters(queue: string, options?: { limit?: number }): Promise<DeadLetter[]> {
    return this.store.listDeadLetters(queue, options);
  }

  resubmitDeadLetter(queue: string, messageId: string): Promise<void> {
    return this.store.resubmitDeadLetter(queue, messageId);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The SQLite file and every operation on it; the receivers share it with the bus that made them. */
class BusStore {
  readonly location: string;
  private readonly statements: Statements;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    file: string,
    private readonly clock: Clock,
    private readonly pollIntervalMs: number,
  ) {
    this.location = `local bus ${path.resolve(file)}`;
    this.statements = prepareStatements(db);
  }

  async ensureQueue(queue: string, options: QueueOptions): Promise<void> {
    this.assertOpen();
    checkQueueName(queue);
    checkQueueOptions(queue, options);
    this.immediate(() => {
      const existing = this.statements.queue.get(queue);
      if (existing === undefined) {
        this.statements.insertQueue.run(queue, options.sessions ? 1 : 0, options.lockDurationMs, options.maxDeliveryCount);
        return;
      }
      const stored = toQueueOptions(existing);
      if (stored.sessions !== options.sessions || stored.lockDurationMs !== options.lockDurationMs || stored.maxDeliveryCount !== options.maxDeliveryCount) {
        throw new BusError(
          `Queue "${queue}" already exists in ${this.location} with ${JSON.stringify(stored)}, but ensureQueue was called with ` +
            `${JSON.stringify({ sessions: options.sessions, lockDurationMs: options.lockDurationMs, maxDeliveryCount: options.maxDeliveryCount })}. ` +
            `A queue's options do not change once created: pass the existing options, or use another queue name.`,
        );
      }
    });
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(messages)) throw new BusError(`send to queue "${queue}" expects an array of messages, got ${typeof messages}.`);
    const options = this.queueOptions(queue);
    const now = this.clock.now();
    const encoded = messages.map((message, index) => encodeMessage(queue, options, message, index, now));
    if (encoded.length === 0) return;
    this.immediate(() => {
      for (const m of encoded) this.statements.insertMessage.run(queue, m.messageId, m.sessionId, m.subject, m.properties, m.body, m.enqueuedTime, 0);
    });
  }

  async acceptSession(queue: string, options: { sessionId?: string; maxWaitMs: number }): Promise<SessionReceiver | undefined> {
    this.assertOpen();
    const { sessionId, maxWaitMs } = options;
    if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId === '')) {
      throw new BusError(`acceptSession on queue "${queue}" needs a non-empty sessionId string or none (any free session), got ${JSON.stringify(sessionId)}.`);
    }
    checkWait(maxWaitMs, `acceptSession on queue "${queue}"`);
    const queueOptions = this.queueOptions(queue);
    if (!queueOptions.sessions) {
      throw new BusError(`Queue "${queue}" does not use sessions; receive from it with bus.receiver("${queue}") instead of acceptSession.`);
    }
    const accepted = await this.poll(
      maxWaitMs,
      () => false,
      () => this.immediate(() => this.tryAcceptSession(queue, sessionId, queueOptions)),
    );
    return accepted && new LocalSessionReceiver(this, queue, accepted.sessionId, accepted.lockToken);
  }

  async listDeadLetters(queue: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    const limit = options.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new BusError(`listDeadLetters limit must be a positive integer, got ${String(limit)}.`);
    this.queueOptions(queue);
    return this.statements.deadLetters.all(queue, limit).map(toDeadLetter);
  }

  async resubmitDeadLetter(queue: string, messageId: string): Promise<void> {
    this.assertOpen();
    this.queueOptions(queue);
    const now = this.clock.now();
    this.immediate(() => {
      const row = this.statements.deadLetterById.get(queue, messageId);
      if (row === undefined) {
        throw new BusError(`Queue "${queue}" has no dead letter with messageId ${JSON.stringify(messageId)}; listDeadLetters("${queue}") shows what is there.`);
      }
      this.statements.insertMessage.run(queue, row.message_id, row.session_id, row.subject, row.properties, row.body, now, 0);
      this.statements.deleteDeadLetter.run(row.id);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Claims up to `maxMessages` of a plain queue; waiting ends early once `stopped()`. */
  receiveFromQueue(queue: string, options: ReceiveMessagesOptions, stopped: () => boolean): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const { maxMessages, maxWaitMs } = checkReceiveOptions(queue, options);
    const queueOptions = this.queueOptions(queue);
    if (queueOptions.sessions) {
      throw new BusError(`Queue "${queue}" uses sessions; take a session with bus.acceptSession("${queue}", …) and receive from it.`);
    }
    return this.pollBatch(maxWaitMs, stopped, () => this.immediate(() => this.claimFromQueue(queue, queueOptions, maxMessages)));
  }

  /** Claims up to `maxMessages` of a held session, in order; waiting ends early once `stopped()`. */
  receiveFromSession(holder: Required<Holder>, options: ReceiveMessagesOptions, stopped: () => boolean): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const { maxMessages, maxWaitMs } = checkReceiveOptions(holder.queue, options);
    const queueOptions = this.queueOptions(holder.queue);
    return this.pollBatch(maxWaitMs, stopped, () => this.immediate(() => this.claimFromSession(holder, queueOptions, maxMessages)));
  }

  complete(holder: Holder, message: ReceivedMessage): void {
    this.settle(holder, message, (row) => this.statements.deleteMessage.run(row.seq));
  }

  abandon(holder: Holder, message: ReceivedMessage, delayMs: number): void {
    if (typeof delayMs !== 'number' || !(delayMs >= 0) || !Number.isFinite(delayMs)) {
      throw new BusError(`abandon delayMs must be a finite number ≥ 0, got ${String(delayMs)} (message ${message.messageId} of queue "${holder.queue}").`);
    }
    this.settle(holder, message, (row, options, now) => {
      if (row.delivery_count >= options.maxDeliveryCount) {
        this.moveToDeadLetters(row, MAX_DELIVERY_COUNT_EXCEEDED, maxDeliveriesDescription(row, options), now);
      } else {
        this.statements.release.run(now + delayMs, row.seq);
      }
    });
  }

  deadLetter(holder: Holder, message: ReceivedMessage, reason: string, description: string): void {
    if (typeof reason !== 'string' || reason === '' || typeof description !== 'string') {
      throw new BusError(`deadLetter needs a non-empty reason and a description string (message ${message.messageId} of queue "${holder.queue}").`);
    }
    this.settle(holder, message, (row, _options, now) => this.moveToDeadLetters(row, reason, description, now));
  }

  renewMessageLock(holder: Holder, message: ReceivedMessage): number {
    let lockedUntil = 0;
    this.settle(holder, message, (row, options, now) => {
      lockedUntil = now + options.lockDurationMs;
      // A session message's lock is its session's lock: renewing one renews the other.
      if (holder.session) this.renewSession(holder as Required<Holder>, lockedUntil);
      else this.statements.renewMessage.run(lockedUntil, row.seq);
    });
    return lockedUntil;
  }

  renewSessionLock(holder: Required<Holder>): number {
    this.assertOpen();
    const options = this.queueOptions(holder.queue);
    return this.immediate(() => {
      const now = this.clock.now();
      this.assertSessionHeld(holder, now);
      const lockedUntil = now + options.lockDurationMs;
      this.renewSession(holder, lockedUntil);
      return lockedUntil;
    });
  }

  /** Gives a session up; its unsettled messages go back to the session for the next holder. */
  releaseSession(holder: Required<Holder>): void {
    if (this.closed) return;
    const { queue, session } = holder;
    this.immediate(() => {
      const row = this.statements.session.get(queue, session.sessionId);
      if (row === undefined || row.lock_token !== session.lockToken) return;
      this.statements.deleteSession.run(queue, session.sessionId);
      this.statements.unlockSessionMessages.run(queue, session.sessionId);
    });
  }

  assertOpen(): void {
    if (this.closed) throw new BusError(`The ${this.location} is closed; open it again to use it.`);
  }

  private queueOptions(queue: string): QueueOptions {
    checkQueueName(queue);
    const row = this.statements.queue.get(queue);
    if (row === undefined) {
      throw new QueueNotFoundError(
        `Queue "${queue}" does not exist in the ${this.location}. Create it first with bus.ensureQueue("${queue}", { sessions, lockDurationMs, maxDeliveryCount }), or check the queue name.`,
      );
    }
    return toQueueOptions(row);
  }

  private tryAcceptSession(queue: string, sessionId: string | undefined, options: QueueOptions): { sessionId: string; lockToken: string } | undefined {
    const now = this.clock.now();
    let chosen = sessionId;
    if (chosen === undefined) {
      chosen = this.statements.freeSession.get({ queue, now })?.session_id ?? undefined;
      if (chosen === undefined) return undefined;
    } else {
      const held = this.statements.session.get(queue, chosen);
      if (held !== undefined && held.locked_until > now) return undefined;
    }
    const lockToken = randomUUID();
    this.statements.upsertSession.run(queue, chosen, lockToken, now + options.lockDurationMs);
    // Locks a previous holder left died with its session lock; the new holder redelivers those messages.
    this.statements.unlockSessionMessages.run(queue, chosen);
    return { sessionId: chosen, lockToken };
  }

  private claimFromQueue(queue: string, options: QueueOptions, maxMessages: number): ReceivedMessage[] {
    const claimed: ReceivedMessage[] = [];
    for (;;) {
      const now = this.clock.now();
      const rows = this.statements.availableInQueue.all({ queue, now, limit: maxMessages - claimed.length });
      if (rows.length === 0) return claimed;
      for (const row of rows) {
        const message = this.deliver(row, options, now, now + options.lockDurationMs);
        if (message) claimed.push(message);
      }
      if (claimed.length >= maxMessages) return claimed;
    }
  }

  private claimFromSession(holder: Required<Holder>, options: QueueOptions, maxMessages: number): ReceivedMessage[] {
    const now = this.clock.now();
    const session = this.assertSessionHeld(holder, now);
    const claimed: ReceivedMessage[] = [];
    let afterSeq = -1;
    for (;;) {
      const rows = this.statements.presentInSession.all({ queue: holder.queue, sessionId: holder.session.sessionId, now, afterSeq, limit: maxMessages });
      if (rows.length === 0) return claimed;
      for (const row of rows) {
        // Strict order: nothing after a message still in the holder's hands or waiting out an abandon delay.
        if (row.lock_token !== null || row.hidden_until > now) return claimed;
        const message = this.deliver(row, options, now, session.locked_until);
        if (message) claimed.push(message);
        if (claimed.length >= maxMessages) return claimed;
        afterSeq = row.seq;
      }
    }
  }

  /** Locks `row` for a new delivery, or dead-letters it when it has had its deliveries. */
  private deliver(row: MessageRow, options: QueueOptions, now: number, lockedUntil: number): ReceivedMessage | undefined {
    if (row.delivery_count >= options.maxDeliveryCount) {
      this.moveToDeadLetters(row, MAX_DELIVERY_COUNT_EXCEEDED, maxDeliveriesDescription(row, options), now);
      return undefined;
    }
    const lockToken = randomUUID();
    this.statements.lock.run(lockToken, lockedUntil, row.seq);
    return Object.freeze({
      messageId: row.message_id,
      body: JSON.parse(row.body) as unknown,
      sessionId: row.session_id ?? undefined,
      subject: row.subject ?? undefined,
      applicationProperties: decodeProperties(row.properties),
      deliveryCount: row.delivery_count + 1,
      enqueuedTime: row.enqueued_time,
      lockToken,
      lockedUntil,
    });
  }

  /** Runs `action` on the message row in one IMMEDIATE transaction, once the holder's lock is proven. */
  private settle(holder: Holder, message: ReceivedMessage, action: (row: MessageRow, options: QueueOptions, now: number) => void): void {
    this.assertOpen();
    if (typeof message !== 'object' || message === null || typeof message.lockToken !== 'string') {
      throw new BusError(`Settlement on queue "${holder.queue}" needs a message received from it, got ${describe(message)}.`);
    }
    const options = this.queueOptions(holder.queue);
    this.immediate(() => {
      const now = this.clock.now();
      if (holder.session) this.assertSessionHeld(holder as Required<Holder>, now);
      const row = this.statements.messageByLock.get(message.lockToken);
      const valid =
        row !== undefined && row.queue === holder.queue && (holder.session ? row.session_id === holder.session.sessionId : row.session_id === null && row.locked_until > now);
      if (!valid) {
        throw new MessageLockLostError(
          `The lock on message ${message.messageId} of queue "${holder.queue}" was lost: it expired, the message was settled already, or another receiver took it. ` +
            `The message will be (or was) delivered again; make its handling idempotent.`,
        );
      }
      action(row, options, now);
    });
  }

  private assertSessionHeld(holder: Required<Holder>, now: number): SessionRow {
    const { queue, session } = holder;
    const row = this.statements.session.get(queue, session.sessionId);
    if (row === undefined || row.lock_token !== session.lockToken || row.locked_until <= now) {
      throw new SessionLockLostError(
        `The lock on session "${session.sessionId}" of queue "${queue}" was lost (it expired, was released, or another receiver took the session). ` +
          `Accept the session again; its unsettled messages will be delivered again.`,
      );
    }
    return row;
  }

  private renewSession(holder: Required<Holder>, lockedUntil: number): void {
    this.statements.renewSession.run(lockedUntil, holder.queue, holder.session.sessionId);
    this.statements.renewSessionMessages.run(lockedUntil, holder.queue, holder.session.sessionId);
  }

  private moveToDeadLetters(row: MessageRow, reason: string, description: string, now: number): void {
    this.statements.insertDeadLetter.run(row.queue, row.message_id, row.session_id, row.subject, row.properties, row.body, row.delivery_count, reason, description, now);
    this.statements.deleteMessage.run(row.seq);
  }

  private immediate<T>(work: () => T): T {
    this.assertOpen();
    return this.db.transaction(work).immediate();
  }

  /** Tries `attempt` until it returns a value, `maxWaitMs` of real time passed, or the caller stopped. */
  private async poll<T>(maxWaitMs: number, stopped: () => boolean, attempt: () => T | undefined): Promise<T | undefined> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      const value = attempt();
      if (value !== undefined) return value;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return undefined;
      await sleep(Math.min(this.pollIntervalMs, remaining));
      // Closed while waiting: nothing more will arrive through this instance.
      if (this.closed || stopped()) return undefined;
    }
  }

  private async pollBatch(maxWaitMs: number, stopped: () => boolean, attempt: () => ReceivedMessage[]): Promise<ReceivedMessage[]> {
    return (
      (await this.poll(maxWaitMs, stopped, () => {
        const batch = attempt();
        return batch.length > 0 ? batch : undefined;
      })) ?? []
    );
  }
}

/** Settlement is the same for both receivers; only who holds the lock differs. */
abstract class LocalSettlement implements MessageSettlement {
  protected closed = false;

  constructor(
    protected readonly bus: BusStore,
    protected readonly holder: Holder,
  ) {}

  protected abstract assertOpen(): void;

  async complete(message: ReceivedMessage): Promise<void> {
    this.assertOpen();
    this.bus.complete(this.holder, message);
  }

  async abandon(message: ReceivedMessage, options: { delayMs?: number } = {}): Promise<void> {
    this.assertOpen();
    this.bus.abandon(this.holder, message, options.delayMs ?? 0);
  }

  async deadLetter(message: ReceivedMessage, reason: string, description: string): Promise<void> {
    this.assertOpen();
    this.bus.deadLetter(this.holder, message, reason, description);
  }

  /** On a session queue a message's lock is the session lock: this renews the session. */
  async renewMessageLock(message: ReceivedMessage): Promise<number> {
    this.assertOpen();
    return this.bus.renewMessageLock(this.holder, message);
  }
}

class LocalQueueReceiver extends LocalSettlement implements QueueReceiver {
  constructor(
    bus: BusStore,
    readonly queue: string,
  ) {
    super(bus, { queue });
  }

  async receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]> {
    this.assertOpen();
    return this.bus.receiveFromQueue(this.queue, options, () => this.closed);
  }

  /** Stops receiving; locks of unsettled messages run out on their own (as on Service Bus). */
  async close(): Promise<void> {
    this.closed = true;
  }

  protected assertOpen(): void {
    if (this.closed) throw new BusError(`The receiver of queue "${this.queue}" is closed; create another with bus.receiver("${this.queue}").`);
    this.bus.assertOpen();
  }
}

class LocalSessionReceiver extends LocalSettlement implements SessionReceiver {
  private readonly session: Required<Holder>;

  constructor(
    bus: BusStore,
    readonly queue: string,
    readonly sessionId: string,
    lockToken: string,
  ) {
    const holder = { queue, session: { sessionId, lockToken } };
    super(bus, holder);
    this.session = holder;
  }

  async receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]> {
    this.assertOpen();
    return this.bus.receiveFromSession(this.session, options, () => this.closed);
  }

  async renewSessionLock(): Promise<number> {
    this.assertOpen();
    return this.bus.renewSessionLock(this.session);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.releaseSession(this.session);
  }

  protected assertOpen(): void {
    if (this.closed) {
      throw new BusError(`The receiver of session "${this.sessionId}" of queue "${this.queue}" is closed; accept the session again to go on.`);
    }
    this.bus.assertOpen();
  }
}

function prepareStatements(db: Database.Database) {
  const messageColumns = 'seq, queue, message_id, session_id, subject, properties, body, enqueued_time, hidden_until, delivery_count, lock_token, locked_until';
  return {
    queue: db.prepare<[string], QueueRow>('SELECT sessions, lock_duration_ms, max_delivery_count FROM bus_queues WHERE queue = ?'),
    insertQueue: db.prepare<[string, number, number, number]>('INSERT INTO bus_queues (queue, sessions, lock_duration_ms, max_delivery_count) VALUES (?, ?, ?, ?)'),
    insertMessage: db.prepare<[string, string, string | null, string | null, string, string, number, number]>(
      `INSERT INTO bus_messages (queue, message_id, session_id, subject, properties, body, enqueued_time, delivery_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    availableInQueue: db.prepare<[{ queue: string; now: number; limit: number }], MessageRow>(
      `SELECT ${messageColumns} FROM bus_messages
       WHERE queue = @queue AND enqueued_time <= @now AND hidden_until <= @now AND (lock_token IS NULL OR locked_until <= @now)
       ORDER BY seq LIMIT @limit`,
    ),
    presentInSession: db.prepare<[{ queue: string; sessionId: string; now: number; afterSeq: number; limit: number }], MessageRow>(
      `SELECT ${messageColumns} FROM bus_messages
       WHERE queue = @queue AND session_id = @sessionId AND enqueued_time <= @now AND seq > @afterSeq
       ORDER BY seq LIMIT @limit`,
    ),
    // The session whose first due message was sent earliest, among those whose lock is free and whose head is not held back.
    freeSession: db.prepare<[{ queue: string; now: number }], { session_id: string }>(
      `SELECT m.session_id FROM bus_messages m
       WHERE m.queue = @queue AND m.enqueued_time <= @now AND m.hidden_until <= @now
         AND m.seq = (SELECT MIN(h.seq) FROM bus_messages h WHERE h.queue = m.queue AND h.session_id = m.session_id AND h.enqueued_time <= @now)
         AND NOT EXISTS (SELECT 1 FROM bus_sessions s WHERE s.queue = m.queue AND s.session_id = m.session_id AND s.locked_until > @now)
       ORDER BY m.seq LIMIT 1`,
    ),
    messageByLock: db.prepare<[string], MessageRow>(`SELECT ${messageColumns} FROM bus_messages WHERE lock_token = ?`),
    lock: db.prepare<[string, number, number]>('UPDATE bus_messages SET lock_token = ?, locked_until = ?, delivery_count = delivery_count + 1 WHERE seq = ?'),
    release: db.prepare<[number, number]>('UPDATE bus_messages SET lock_token = NULL, locked_until = 0, hidden_until = ? WHERE seq = ?'),
    renewMessage: db.prepare<[number, number]>('UPDATE bus_messages SET locked_until = ? WHERE seq = ?'),
    deleteMessage: db.prepare<[number]>('DELETE FROM bus_messages WHERE seq = ?'),
    session: db.prepare<[string, string], SessionRow>('SELECT lock_token, locked_until FROM bus_sessions WHERE queue = ? AND session_id = ?'),
    upsertSession: db.prepare<[string, string, string, number]>(
      `INSERT INTO bus_sessions (queue, session_id, lock_token, locked_until) VALUES (?, ?, ?, ?)
       ON CONFLICT (queue, session_id) DO UPDATE SET lock_token = excluded.lock_token, locked_until = excluded.locked_until`,
    ),
    renewSession: db.prepare<[number, string, string]>('UPDATE bus_sessions SET locked_until = ? WHERE queue = ? AND session_id = ?'),
    renewSessionMessages: db.prepare<[number, string, string]>('UPDATE bus_messages SET locked_until = ? WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL'),
    deleteSession: db.prepare<[string, string]>('DELETE FROM bus_sessions WHERE queue = ? AND session_id = ?'),
    unlockSessionMessages: db.prepare<[string, string]>(
      'UPDATE bus_messages SET lock_token = NULL, locked_until = 0 WHERE queue = ? AND session_id = ? AND lock_token IS NOT NULL',
    ),
    insertDeadLetter: db.prepare<[string, string, string | null, string | null, string, string, number, string, string, number]>(
      `INSERT INTO bus_dead_letters (queue, message_id, session_id, subject, properties, body, delivery_count, reason, description, dead_lettered_time)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deadLetters: db.prepare<[string, number], DeadLetterRow>(
      `SELECT id, message_id, session_id, subject, properties, body, delivery_count, reason, description, dead_lettered_time
       FROM bus_dead_letters WHERE queue = ? ORDER BY id LIMIT ?`,
    ),
    deadLetterById: db.prepare<[string, string], DeadLetterRow>(
      `SELECT id, message_id, session_id, subject, properties, body, delivery_count, reason, description, dead_lettered_time
       FROM bus_dead_letters WHERE queue = ? AND message_id = ? ORDER BY id LIMIT 1`,
    ),
    deleteDeadLetter: db.prepare<[number]>('DELETE FROM bus_dead_letters WHERE id = ?'),
  };
}

function toQueueOptions(row: QueueRow): QueueOptions {
  return { sessions: row.sessions === 1, lockDurationMs: row.lock_duration_ms, maxDeliveryCount: row.max_delivery_count };
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return Object.freeze({
    messageId: row.message_id,
    body: JSON.parse(row.body) as unknown,
    sessionId: row.session_id ?? undefined,
    subject: row.subject ?? undefined,
    applicationProperties: decodeProperties(row.properties),
    deliveryCount: row.delivery_count,
    reason: row.reason,
    description: row.description,
    deadLetteredTime: row.dead_lettered_time,
  });
}

function maxDeliveriesDescription(row: MessageRow, options: QueueOptions): string {
  return `Delivered ${row.delivery_count} time(s) without being completed; the queue's maxDeliveryCount is ${options.maxDeliveryCount}.`;
}

function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.trim() !== queue || queue === '' || queue.length > MAX_QUEUE_NAME_LENGTH) {
    throw new BusError(`A queue name must be a non-empty string of at most ${MAX_QUEUE_NAME_LENGTH} characters without surrounding spaces, got ${JSON.stringify(queue)}.`);
  }
}

function checkQueueOptions(queue: string, options: QueueOptions): void {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) {
    throw new BusError(`ensureQueue("${queue}") needs options { sessions, lockDurationMs, maxDeliveryCount }, got ${describe(options)}.`);
  }
  if (typeof options.sessions !== 'boolean') problems.push(`sessions must be true or false, got ${describe(options.sessions)}`);
  if (!Number.isSafeInteger(options.lockDurationMs) || options.lockDurationMs < 1) {
    problems.push(`lockDurationMs must be a positive integer of ms, got ${describe(options.lockDurationMs)}`);
  }
  if (!Number.isSafeInteger(options.maxDeliveryCount) || options.maxDeliveryCount < 1) {
    problems.push(`maxDeliveryCount must be a positive integer, got ${describe(options.maxDeliveryCount)}`);
  }
  if (problems.length > 0) throw new BusError(`ensureQueue("${queue}") was given invalid options: ${problems.join('; ')}.`);
}

function checkWait(maxWaitMs: number, what: string): void {
  if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0) || !Number.isFinite(maxWaitMs)) {
    throw new BusError(`${what} needs maxWaitMs, a finite number ≥ 0, got ${describe(maxWaitMs)}.`);
  }
}

function checkReceiveOptions(queue: string, options: ReceiveMessagesOptions): ReceiveMessagesOptions {
  if (typeof options !== 'object' || options === null) throw new BusError(`receive on queue "${queue}" needs options { maxMessages, maxWaitMs }.`);
  if (!Number.isSafeInteger(options.maxMessages) || options.maxMessages < 1) {
    throw new BusError(`receive on queue "${queue}" needs maxMessages, a positive integer, got ${describe(options.maxMessages)}.`);
  }
  checkWait(options.maxWaitMs, `receive on queue "${queue}"`);
  return options;
}

function encodeMessage(queue: string, options: QueueOptions, message: OutgoingMessage, index: number, now: number): EncodedMessage {
  const where = `Message ${index} sent to queue "${queue}"`;
  if (typeof message !== 'object' || message === null) throw new BusError(`${where} must be an object with a body, got ${describe(message)}.`);
  const { messageId, sessionId, subject, scheduledEnqueueTime } = message;
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '')) {
    throw new BusError(`${where} has messageId ${describe(messageId)}; give a non-empty string or leave it out.`);
  }
  if (options.sessions && (typeof sessionId !== 'string' || sessionId === '')) {
    throw new BusError(`${where} needs a sessionId: the queue uses sessions. Set sessionId to the key whose messages must stay in order.`);
  }
  if (!options.sessions && sessionId !== undefined) {
    throw new BusError(`${where} has sessionId ${describe(sessionId)}, but the queue does not use sessions; leave sessionId out or use a session queue.`);
  }
  if (subject !== undefined && typeof subject !== 'string') throw new BusError(`${where} has subject ${describe(subject)}; give a string or leave it out.`);
  if (scheduledEnqueueTime !== undefined && (typeof scheduledEnqueueTime !== 'number' || !Number.isFinite(scheduledEnqueueTime))) {
    throw new BusError(`${where} has scheduledEnqueueTime ${describe(scheduledEnqueueTime)}; give epoch milliseconds or leave it out.`);
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(message.body);
  } catch (error) {
    throw new BusError(`${where} has a body that cannot be serialised to JSON: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
  if (body === undefined) throw new BusError(`${where} has a body of type ${typeof message.body}; the body must be JSON-serialisable (use null for none).`);
  const properties = encodeProperties(where, message.applicationProperties);
  const size = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(properties, 'utf8');
  if (size > MAX_MESSAGE_BYTES) {
    throw new BusError(
      `${where} is ${size} bytes (body + properties as JSON), over the ${MAX_MESSAGE_BYTES}-byte limit. A bus message is a pointer: put the data in the lake and send its path.`,
    );
  }
  return {
    messageId: messageId ?? randomUUID(),
    sessionId: sessionId ?? null,
    subject: subject ?? null,
    properties,
    body,
    enqueuedTime: Math.max(now, scheduledEnqueueTime ?? now),
  };
}

function encodeProperties(where: string, properties: Record<string, BusValue> | undefined): string {
  if (properties === undefined) return '{}';
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new BusError(`${where} has applicationProperties ${describe(properties)}; give a plain object of string, number or boolean values.`);
  }
  for (const [key, value] of Object.entries(properties)) {
    const ok = typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw new BusError(`${where} has application property ${JSON.stringify(key)} = ${describe(value)}; values must be strings, finite numbers or booleans.`);
    }
  }
  return JSON.stringify(properties);
}

function decodeProperties(json: string): Record<string, BusValue> {
  const stored = JSON.parse(json) as Record<string, BusValue>;
  const properties: Record<string, BusValue> = {};
  // defineProperty keeps a key named "__proto__" an ordinary own key.
  for (const [key, value] of Object.entries(stored)) Object.defineProperty(properties, key, { value, enumerable: true, writable: true, configurable: true });
  return properties;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

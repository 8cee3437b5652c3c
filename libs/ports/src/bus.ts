/**
 * The bus: durable queues of small JSON messages (Azure Service Bus, or the embedded SQLite bus).
 * A message is only a pointer to something already durable in the lake (DESIGN invariant 1).
 *
 * Semantics (the same for every adapter):
 * - Peek-lock: a received message is invisible to other receivers until its lock expires; the
 *   holder completes it (gone), abandons it (visible again, after `delayMs`), or dead-letters it.
 * - Each delivery increments `deliveryCount`; a message delivered `maxDeliveryCount` times and
 *   not completed is moved to the dead-letter queue with the reason `MaxDeliveryCountExceeded`.
 * - Session queues: every message has a `sessionId`; messages of one session are delivered in
 *   send order, and only to the receiver that holds the session's lock (one at a time). The lock
 *   is renewed by the holder and expires if the holder dies, letting another receiver take over.
 */

export type BusValue = string | number | boolean;

export interface OutgoingMessage {
  /** JSON-serialisable payload. */
  body: unknown;
  /** Used for duplicate detection where the transport supports it; a random id otherwise. */
  messageId?: string;
  /** Required on session queues, forbidden on others. */
  sessionId?: string;
  /** What the message is about (Service Bus `subject`); the NestJS transport routes on it. */
  subject?: string;
  applicationProperties?: Record<string, BusValue>;
  /** Not delivered before this time (epoch ms). */
  scheduledEnqueueTime?: number;
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly body: unknown;
  readonly sessionId: string | undefined;
  readonly subject: string | undefined;
  readonly applicationProperties: Record<string, BusValue>;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly enqueuedTime: number;
  /** Opaque token proving the lock; settlement with an expired or foreign token fails. */
  readonly lockToken: string;
  /** When the lock expires (epoch ms), unless renewed. */
  readonly lockedUntil: number;
}

export interface DeadLetter {
  readonly messageId: string;
  readonly body: unknown;
  readonly sessionId: string | undefined;
  readonly subject: string | undefined;
  readonly applicationProperties: Record<string, BusValue>;
  readonly deliveryCount: number;
  readonly reason: string;
  readonly description: string;
  readonly deadLetteredTime: number;
}

export interface QueueOptions {
  sessions: boolean;
  /** Lock duration in ms (Service Bus default 60 s). */
  lockDurationMs: number;
  /** Deliveries before dead-lettering (Service Bus default 10). */
  maxDeliveryCount: number;
}

export interface ReceiveMessagesOptions {
  maxMessages: number;
  /** How long to wait for the first message when none is there, in ms. */
  maxWaitMs: number;
}

/** Settlement of received messages; shared by plain and session receivers. */
export interface MessageSettlement {
  complete(message: ReceivedMessage): Promise<void>;
  /** Makes the message visible again, after `delayMs` (0: at once). Counts as a failed delivery. */
  abandon(message: ReceivedMessage, options?: { delayMs?: number }): Promise<void>;
  deadLetter(message: ReceivedMessage, reason: string, description: string): Promise<void>;
  /** Extends the message's lock by the queue's lock duration; returns the new expiry. */
  renewMessageLock(message: ReceivedMessage): Promise<number>;
}

export interface QueueReceiver extends MessageSettlement {
  readonly queue: string;
  receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
}

export interface SessionReceiver extends MessageSettlement {
  readonly queue: string;
  readonly sessionId: string;
  /** Messages of this session only, in send order. */
  receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]>;
  /** Extends the session lock; throws `SessionLockLostError` once it was lost. */
  renewSessionLock(): Promise<number>;
  /** Releases the session (messages stay for the next holder). */
  close(): Promise<void>;
}

export interface Bus {
  /** A human-readable location for messages; never contains secrets. */
  readonly location: string;
  /** Creates the queue if it does not exist (adapters for managed services may only check it). */
  ensureQueue(queue: string, options: QueueOptions): Promise<void>;
  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void>;
  receiver(queue: string): QueueReceiver;
  /**
   * Takes the lock of a session: the given one, or else any session with available messages
   * whose lock is free. `undefined` when none is free within `maxWaitMs`.
   */
  acceptSession(queue: string, options: { sessionId?: string; maxWaitMs: number }): Promise<SessionReceiver | undefined>;
  listDeadLetters(queue: string, options?: { limit?: number }): Promise<DeadLetter[]>;
  /** Sends a dead letter back to its queue (delivery count reset) and removes it from the dead-letter queue. */
  resubmitDeadLetter(queue: string, messageId: string): Promise<void>;
  close(): Promise<void>;
}

export class BusError extends Error {
  override readonly name: string = 'BusError';
}

/** Settling or renewing with a lock that expired or was taken by another receiver. */
export class MessageLockLostError extends BusError {
  override readonly name = 'MessageLockLostError';
}

export class SessionLockLostError extends BusError {
  override readonly name = 'SessionLockLostError';
}

export class QueueNotFoundError extends BusError {
  override readonly name = 'QueueNotFoundError';
}

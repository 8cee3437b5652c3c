/**
 * Port messages ↔ Service Bus messages, and sending in batches.
 *
 * Invariants:
 * - The body travels as UTF-8 JSON bytes with content type `application/json`; receivers read the
 *   raw bytes (`skipParsingBodyAsJson`) and parse them here. Bytes that are not JSON arrive as their
 *   text, so a foreign message reaches its handler (and, failing, the dead-letter queue) instead of
 *   blocking the queue.
 * - The SDK reports the AMQP delivery count, which starts at 0; the port's starts at 1.
 * - Application properties are strings, finite numbers and booleans; other values a foreign sender
 *   set are left out. The dead-letter bookkeeping properties are not application data and are
 *   stripped from dead letters.
 * - Sending keeps order: batches are sent one after another, each in order, and a batch holds the
 *   messages of one session only (partitioned entities refuse mixed batches).
 */
import { randomUUID } from 'node:crypto';
import type { ServiceBusMessage, ServiceBusMessageBatch, ServiceBusReceivedMessage } from '@azure/service-bus';
import { BusError, type BusValue, type DeadLetter, type OutgoingMessage, type ReceivedMessage } from '@pipeline/ports';

export const JSON_CONTENT_TYPE = 'application/json';
/** Set on a message this adapter dead-letters: when it did (epoch ms); Service Bus records no such time. */
export const DEAD_LETTERED_AT_PROPERTY = 'pipeline-dead-lettered-at';
/** Service Bus puts the reason and description among the application properties of a dead letter. */
const DEAD_LETTER_PROPERTIES = new Set(['DeadLetterReason', 'DeadLetterErrorDescription', DEAD_LETTERED_AT_PROPERTY]);

/** What a queue's recorded options say about its messages; `undefined` when not recorded (no checks). */
export interface SendRules {
  sessions: boolean;
}

/** A port message as a Service Bus message; throws a `BusError` naming the message and the fix. */
export function toServiceBusMessage(queue: string, message: OutgoingMessage, index: number, rules: SendRules | undefined): ServiceBusMessage {
  const where = `Message ${index} sent to queue "${queue}"`;
  if (typeof message !== 'object' || message === null) throw new BusError(`${where} must be an object with a body, got ${describe(message)}.`);
  const { messageId, sessionId, subject, scheduledEnqueueTime } = message;
  if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '')) {
    throw new BusError(`${where} has messageId ${describe(messageId)}; give a non-empty string or leave it out.`);
  }
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId === '')) {
    throw new BusError(`${where} has sessionId ${describe(sessionId)}; give a non-empty string or leave it out.`);
  }
  if (rules?.sessions === true && sessionId === undefined) {
    throw new BusError(`${where} needs a sessionId: the queue uses sessions. Set sessionId to the key whose messages must stay in order.`);
  }
  if (rules?.sessions === false && sessionId !== undefined) {
    throw new BusError(`${where} has sessionId ${describe(sessionId)}, but the queue does not use sessions; leave sessionId out or use a session queue.`);
  }
  if (subject !== undefined && typeof subject !== 'string') throw new BusError(`${where} has subject ${describe(subject)}; give a string or leave it out.`);
  if (scheduledEnqueueTime !== undefined && (typeof scheduledEnqueueTime !== 'number' || !Number.isFinite(scheduledEnqueueTime))) {
    throw new BusError(`${where} has scheduledEnqueueTime ${describe(scheduledEnqueueTime)}; give epoch milliseconds or leave it out.`);
  }
  const properties = checkProperties(where, message.applicationProperties);
  return {
    body: encodeBody(where, message.body),
    contentType: JSON_CONTENT_TYPE,
    messageId: messageId ?? randomUUID(),
    ...(sessionId !== undefined ? { sessionId } : {}),
    ...(subject !== undefined ? { subject } : {}),
    ...(properties ? { applicationProperties: { ...properties } } : {}),
    ...(scheduledEnqueueTime !== undefined ? { scheduledEnqueueTimeUtc: new Date(scheduledEnqueueTime) } : {}),
  };
}

function encodeBody(where: string, body: unknown): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch (error) {
    throw new BusError(`${where} has a body that cannot be serialised to JSON: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
  if (json === undefined) throw new BusError(`${where} has a body of type ${typeof body}; the body must be JSON-serialisable (use null for none).`);
  return Buffer.from(json, 'utf8');
}

function checkProperties(where: string, properties: Record<string, BusValue> | undefined): Record<string, BusValue> | undefined {
  if (properties === undefined) return undefined;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new BusError(`${where} has applicationProperties ${describe(properties)}; give a plain object of string, number or boolean values.`);
  }
  for (const [key, value] of Object.entries(properties)) {
    if (!isBusValue(value)) {
      throw new BusError(`${where} has application property ${JSON.stringify(key)} = ${describe(value)}; values must be strings, finite numbers or booleans.`);
    }
  }
  return properties;
}

/** The parts of a received Service Bus message the port reads (the SDK type, or a test's plain object). */
export type ServiceBusReceivedShape = Pick<
  ServiceBusReceivedMessage,
  'body' | 'messageId' | 'sessionId' | 'subject' | 'applicationProperties' | 'deliveryCount' | 'enqueuedTimeUtc' | 'lockToken' | 'lockedUntilUtc'
>;

/**
 * A received Service Bus message as the port's; `fallbackLockedUntil` is the session lock's expiry,
 * for session messages that carry no lock time of their own.
 */
export function fromServiceBusMessage(message: ServiceBusReceivedShape, fallbackLockedUntil?: number): ReceivedMessage {
  if (typeof message.lockToken !== 'string' || message.lockToken === '') {
    throw new BusError(`A message received from Service Bus (messageId ${describe(message.messageId)}) has no lock token; receive in peek-lock mode.`);
  }
  return Object.freeze({
    ...commonFields(message),
    deliveryCount: deliveryCount(message),
    enqueuedTime: message.enqueuedTimeUtc?.getTime() ?? 0,
    lockToken: message.lockToken,
    lockedUntil: message.lockedUntilUtc?.getTime() ?? fallbackLockedUntil ?? 0,
  });
}

/** A message peeked from a dead-letter sub-queue as the port's `DeadLetter`. */
export function toDeadLetter(message: ServiceBusReceivedShape & Pick<ServiceBusReceivedMessage, 'deadLetterReason' | 'deadLetterErrorDescription'>): DeadLetter {
  const stamped = message.applicationProperties?.[DEAD_LETTERED_AT_PROPERTY];
  return Object.freeze({
    ...commonFields(message),
    deliveryCount: deliveryCount(message),
    reason: message.deadLetterReason ?? '',
    description: message.deadLetterErrorDescription ?? '',
    // Service Bus keeps no dead-lettering time: ours when this adapter dead-lettered, else the enqueue time.
    deadLetteredTime: typeof stamped === 'number' && Number.isFinite(stamped) ? stamped : (message.enqueuedTimeUtc?.getTime() ?? 0),
  });
}

/** A dead letter's copy for its queue: same body bytes, id, session, subject and application data. */
export function resubmissionOf(message: ServiceBusReceivedShape & Pick<ServiceBusReceivedMessage, 'contentType'>): ServiceBusMessage {
  return {
    body: message.body,
    ...(message.contentType !== undefined ? { contentType: message.contentType } : {}),
    ...(message.messageId !== undefined ? { messageId: message.messageId } : {}),
    ...(message.sessionId !== undefined ? { sessionId: message.sessionId } : {}),
    ...(message.subject !== undefined ? { subject: message.subject } : {}),
    applicationProperties: applicationProperties(message.applicationProperties),
  };
}

function commonFields(message: ServiceBusReceivedShape) {
  return {
    messageId: messageIdText(message.messageId),
    body: decodeBody(message.body),
    sessionId: message.sessionId ?? undefined,
    subject: message.subject ?? undefined,
    applicationProperties: applicationProperties(message.applicationProperties),
  };
}

function deliveryCount(message: Pick<ServiceBusReceivedShape, 'deliveryCount'>): number {
  return (message.deliveryCount ?? 0) + 1;
}

/** UTF-8 JSON bytes as their value; bytes that are not JSON as their text; anything else as it is. */
export function decodeBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body) && !(body instanceof Uint8Array)) return body;
  const text = Buffer.from(body).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function messageIdText(id: ServiceBusReceivedShape['messageId']): string {
  if (id === undefined) return '';
  if (Buffer.isBuffer(id)) return id.toString('hex');
  return String(id);
}

function applicationProperties(properties: ServiceBusReceivedShape['applicationProperties']): Record<string, BusValue> {
  const result: Record<string, BusValue> = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    if (DEAD_LETTER_PROPERTIES.has(key) || !isBusValue(value)) continue;
    // defineProperty keeps a key named "__proto__" an ordinary own key.
    Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return result;
}

function isBusValue(value: unknown): value is BusValue {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Runs of consecutive messages with the same session (or none): each run may share batches. */
export function sessionRuns<T extends { sessionId?: string }>(messages: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (const message of messages) {
    const last = runs[runs.length - 1];
    if (last && last[0].sessionId === message.sessionId) last.push(message);
    else runs.push([message]);
  }
  return runs;
}

/** What sending in batches uses of a Service Bus message batch. */
export type MessageBatch = Pick<ServiceBusMessageBatch, 'tryAddMessage' | 'count' | 'maxSizeInBytes'>;

/** The part of a Service Bus sender that sending in batches needs. */
export interface BatchSender<B extends MessageBatch> {
  createMessageBatch(): Promise<B>;
  sendMessages(batch: B): Promise<void>;
}

/**
 * Sends `messages` in order, as few batches as the size limit allows, never mixing sessions in one
 * batch. Batches before a failure were sent; the caller retries the whole call (handlers are idempotent).
 */
export async function sendInBatches<B extends MessageBatch>(sender: BatchSender<B>, queue: string, messages: readonly ServiceBusMessage[]): Promise<number> {
  let batches = 0;
  const indexed = messages.map((message, index) => ({ message, index, sessionId: message.sessionId }));
  for (const run of sessionRuns(indexed)) {
    let batch = await sender.createMessageBatch();
    for (const { message, index } of run) {
      if (batch.tryAddMessage(message)) continue;
      if (batch.count === 0) throw tooLarge(queue, index, batch.maxSizeInBytes);
      await sender.sendMessages(batch);
      batches++;
      batch = await sender.createMessageBatch();
      if (!batch.tryAddMessage(message)) throw tooLarge(queue, index, batch.maxSizeInBytes);
    }
    if (batch.count > 0) {
      await sender.sendMessages(batch);
      batches++;
    }
  }
  return batches;
}

function tooLarge(queue: string, index: number, maxSizeInBytes: number): BusError {
  return new BusError(
    `Message ${index} sent to queue "${queue}" does not fit in a Service Bus message (at most ${maxSizeInBytes} bytes with its properties). ` +
      'A bus message is a pointer: put the data in the lake and send its path.',
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

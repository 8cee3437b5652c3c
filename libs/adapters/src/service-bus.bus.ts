/**
 * The bus on Azure Service Bus (or its emulator). Semantics: libs/ports/src/bus.ts.
 *
 * Invariants:
 * - Peek-lock everywhere, with the SDK's automatic lock renewal off: the holder (the NestJS
 *   transport) renews message and session locks itself, so a stuck handler loses its lock.
 * - A received message is settled through the SDK message it came from, found by its lock token; a
 *   token this receiver does not hold (settled already, abandoned, foreign) is a `MessageLockLostError`
 *   without asking the service.
 * - Abandon with a delay keeps session order (see `service-bus.retry-delay.ts`): the session state
 *   holds "retry not before", which every holder of the session honours.
 * - Queues are infrastructure: `ensureQueue` only records the options (to check messages and
 *   receivers against them) unless the bus was opened with `manageEntities`, which needs Manage
 *   rights (Azure Service Bus Data Owner) that production identities do not have.
 * - Failures surface as the port's errors (`service-bus.errors.ts`); `location` names the namespace
 *   host only, never a key.
 */
import {
  isServiceBusError,
  parseServiceBusConnectionString,
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusClientOptions,
  type ServiceBusMessageBatch,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
  type ServiceBusSessionReceiver,
  type ServiceBusSessionReceiverOptions,
} from '@azure/service-bus';
import type { NamespaceAccess } from './azure-access';
import { systemClock, type Clock } from '@pipeline/engine';
import {
  BusError,
  FatalBackendError,
  MessageLockLostError,
  type Bus,
  type DeadLetter,
  type MessageSettlement,
  type OutgoingMessage,
  type QueueOptions,
  type QueueReceiver,
  type ReceivedMessage,
  type ReceiveMessagesOptions,
  type SessionReceiver,
} from '@pipeline/ports';
import { classifyServiceBusError, toBusError, type ServiceBusOperation } from './service-bus.errors';
import { DEAD_LETTERED_AT_PROPERTY, fromServiceBusMessage, resubmissionOf, sendInBatches, toDeadLetter, toServiceBusMessage } from './service-bus.messages';
import { decodeSessionRetryState, encodeSessionRetryState, nextHoldStep, planSessionReceive } from './service-bus.retry-delay';
import { NextSessionPool, retryWithin } from './service-bus.sessions';

/** Entra ID (production) or a connection string (emulators and tests only). */
export type ServiceBusAccess = NamespaceAccess;

export interface ServiceBusBusOptions {
  /** Create missing queues in `ensureQueue` and check existing ones; needs Manage rights. Default false. */
  manageEntities?: boolean;
  /** Abandon delays and dead-lettering times; default the system clock. */
  clock?: Clock;
  /** Release a session locked for a caller that stopped waiting when no other caller takes it within this, in ms. Default 2000. */
  idleSessionReleaseMs?: number;
  /** Passed to the SDK clients (retry policy, WebSockets, a custom endpoint). */
  clientOptions?: ServiceBusClientOptions;
}

/** Service Bus lock durations lie between 5 seconds and 5 minutes. */
const MIN_LOCK_DURATION_MS = 5_000;
const MAX_LOCK_DURATION_MS = 300_000;
/** Service Bus entity names are at most 260 characters. */
const MAX_QUEUE_NAME_LENGTH = 260;
/** A receive needs a round trip to see a message: shorter waits are raised to this. */
export const MIN_RECEIVE_WAIT_MS = 100;
const DEFAULT_DEAD_LETTER_LIMIT = 100;
/** How far resubmitDeadLetter looks through the dead-letter queue for the message. */
const MAX_DEAD_LETTERS_SCANNED = 5_000;
const DEAD_LETTER_SCAN_BATCH = 100;
const DEAD_LETTER_SCAN_WAIT_MS = 2_000;
/** Pause between tries to take a session when none was free. */
const SESSION_RETRY_PAUSE_MS = 250;
/** A session kept for the next caller is handed out only with this much of its lock left. */
const FRESH_SESSION_MARGIN_MS = 5_000;

const SESSION_RECEIVER_OPTIONS: ServiceBusSessionReceiverOptions = { receiveMode: 'peekLock', maxAutoLockRenewalDurationInMs: 0, skipParsingBodyAsJson: true };

export class ServiceBusBus implements Bus {
  readonly location: string;
  private readonly queues = new Map<string, QueueOptions>();
  private readonly senders = new Map<string, ServiceBusSender>();
  private readonly pools = new Map<string, NextSessionPool<ServiceBusSessionReceiver>>();
  private readonly receivers = new Set<{ close(): Promise<void> }>();
  private admin: ServiceBusAdministrationClient | undefined;
  /** What the receivers this bus makes use of it. */
  private readonly context: ReceiverContext;
  private closed = false;

  private constructor(
    private readonly access: ServiceBusAccess,
    private readonly namespace: string,
    private readonly client: ServiceBusClient,
    private readonly options: Required<Omit<ServiceBusBusOptions, 'clientOptions'>> & Pick<ServiceBusBusOptions, 'clientOptions'>,
  ) {
    this.location = `Service Bus namespace ${namespace}`;
    this.context = {
      client,
      clock: options.clock,
      assertOpen: () => this.assertOpen(),
      failure: (error, operation, queue) => this.failure(error, operation, queue),
      forget: (receiver) => this.receivers.delete(receiver),
    };
  }

  static open(access: ServiceBusAccess, options: ServiceBusBusOptions = {}): ServiceBusBus {
    const namespace = serviceBusNamespaceOf(access);
    const idleSessionReleaseMs = options.idleSessionReleaseMs ?? 2_000;
    if (!Number.isFinite(idleSessionReleaseMs) || idleSessionReleaseMs <= 0) {
      throw new BusError(`idleSessionReleaseMs of the Service Bus bus must be a positive number of ms, got ${String(idleSessionReleaseMs)}.`);
    }
    const client =
      'connectionString' in access
        ? new ServiceBusClient(access.connectionString, options.clientOptions)
        : new ServiceBusClient(namespace, access.credential, options.clientOptions);
    return new ServiceBusBus(access, namespace, client, {
      manageEntities: options.manageEntities ?? false,
      clock: options.clock ?? systemClock,
      idleSessionReleaseMs,
      clientOptions: options.clientOptions,
    });
  }

  async ensureQueue(queue: string, options: QueueOptions): Promise<void> {
    this.assertOpen();
    checkQueueName(queue);
    checkQueueOptions(queue, options);
    const recorded = this.queues.get(queue);
    if (recorded && !sameOptions(recorded, options)) {
      throw new BusError(
        `Queue "${queue}" was ensured before with ${JSON.stringify(recorded)}, and now with ${JSON.stringify(pickOptions(options))}. ` +
          'Ensure each queue with the same options everywhere.',
      );
    }
    if (this.options.manageEntities) await this.manageQueue(queue, options);
    this.queues.set(queue, pickOptions(options));
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    checkQueueName(queue);
    if (!Array.isArray(messages)) throw new BusError(`send to queue "${queue}" expects an array of messages, got ${typeof messages}.`);
    const recorded = this.queues.get(queue);
    const outgoing = messages.map((message, index) => toServiceBusMessage(queue, message, index, recorded && { sessions: recorded.sessions }));
    if (outgoing.length === 0) return;
    try {
      await sendInBatches<ServiceBusMessageBatch>(this.sender(queue), queue, outgoing);
    } catch (error) {
      throw this.failure(error, 'send', queue);
    }
  }

  receiver(queue: string): QueueReceiver {
    this.assertOpen();
    checkQueueName(queue);
    if (this.queues.get(queue)?.sessions === true) {
      throw new BusError(`Queue "${queue}" uses sessions; take a session with bus.acceptSession("${queue}", …) and receive from it.`);
    }
    return this.track(new AzureQueueReceiver(this.context, queue));
  }

  async acceptSession(queue: string, options: { sessionId?: string; maxWaitMs: number }): Promise<SessionReceiver | undefined> {
    this.assertOpen();
    checkQueueName(queue);
    const { sessionId, maxWaitMs } = options;
    if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId === '')) {
      throw new BusError(`acceptSession on queue "${queue}" needs a non-empty sessionId string or none (any free session), got ${JSON.stringify(sessionId)}.`);
    }
    checkWait(maxWaitMs, `acceptSession on queue "${queue}"`);
    if (this.queues.get(queue)?.sessions === false) {
      throw new BusError(`Queue "${queue}" does not use sessions; receive from it with bus.receiver("${queue}") instead of acceptSession.`);
    }
    let session: ServiceBusSessionReceiver | undefined;
    try {
      session = sessionId === undefined ? await this.pool(queue).take(maxWaitMs) : await this.takeNamedSession(queue, sessionId, maxWaitMs);
    } catch (error) {
      throw this.failure(error, 'accept a session', queue);
    }
    if (!session) return undefined;
    let retryNotBefore: number | undefined;
    try {
      // A previous holder's abandon delay still applies (it survives a takeover).
      retryNotBefore = decodeSessionRetryState(await session.getSessionState());
    } catch (error) {
      await session.close().catch(() => undefined);
      throw this.failure(error, 'accept a session', queue);
    }
    return this.track(new AzureSessionReceiver(this.context, queue, session, retryNotBefore));
  }

  async listDeadLetters(queue: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.assertOpen();
    checkQueueName(queue);
    const limit = options.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new BusError(`listDeadLetters limit must be a positive integer, got ${String(limit)}.`);
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock', skipParsingBodyAsJson: true });
    try {
      const letters: DeadLetter[] = [];
      while (letters.length < limit) {
        // Each peek goes on from where the previous one of this receiver ended.
        const peeked = await receiver.peekMessages(limit - letters.length);
        if (peeked.length === 0) break;
        letters.push(...peeked.map(toDeadLetter));
      }
      return letters;
    } catch (error) {
      throw this.failure(error, 'read dead letters', queue);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }

  /**
   * Finds the dead letter by locking the dead-letter queue's messages in order, sends its copy, then
   * completes it. Dead letters locked on the way are abandoned, which counts a delivery for each.
   */
  async resubmitDeadLetter(queue: string, messageId: string): Promise<void> {
    this.assertOpen();
    checkQueueName(queue);
    if (typeof messageId !== 'string' || messageId === '') throw new BusError(`resubmitDeadLetter on queue "${queue}" needs a messageId, got ${JSON.stringify(messageId)}.`);
    const receiver = this.client.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock', maxAutoLockRenewalDurationInMs: 0, skipParsingBodyAsJson: true });
    const passed: ServiceBusReceivedMessage[] = [];
    try {
      const found = await findDeadLetter(receiver, messageId, passed);
      if (!found) {
        throw new BusError(`Queue "${queue}" has no dead letter with messageId ${JSON.stringify(messageId)}; listDeadLetters("${queue}") shows what is there.`);
      }
      await this.sender(queue).sendMessages(resubmissionOf(found));
      await receiver.completeMessage(found);
    } catch (error) {
      throw this.failure(error, 'resubmit a dead letter', queue);
    } finally {
      await Promise.allSettled(passed.map((message) => receiver.abandonMessage(message)));
      await receiver.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pools.values()].map((pool) => pool.close()));
    await Promise.allSettled([...this.receivers].map((receiver) => receiver.close()));
    await Promise.allSettled([...this.senders.values()].map((sender) => sender.close()));
    await this.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new BusError(`The bus on ${this.location} is closed; open it again to use it.`);
  }

  private failure(error: unknown, operation: ServiceBusOperation, queue: string): Error {
    return toBusError(error, { operation, namespace: this.namespace, queue });
  }

  private sender(queue: string): ServiceBusSender {
    let sender = this.senders.get(queue);
    if (!sender) {
      sender = this.client.createSender(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }

  private track<T extends { close(): Promise<void> }>(receiver: T): T {
    this.receivers.add(receiver);
    return receiver;
  }

  private pool(queue: string): NextSessionPool<ServiceBusSessionReceiver> {
    let pool = this.pools.get(queue);
    if (!pool) {
      pool = new NextSessionPool<ServiceBusSessionReceiver>(
        {
          acceptNext: () => this.client.acceptNextSession(queue, SESSION_RECEIVER_OPTIONS),
          sessionIdOf: (session) => session.sessionId,
          // Lock times come from the service: compare them with the wall clock.
          isFresh: (session) => session.sessionLockedUntilUtc.getTime() - Date.now() > FRESH_SESSION_MARGIN_MS,
          release: (session) => session.close(),
          isNoSession,
        },
        { idleReleaseMs: this.options.idleSessionReleaseMs, retryPauseMs: SESSION_RETRY_PAUSE_MS },
      );
      this.pools.set(queue, pool);
    }
    return pool;
  }

  private takeNamedSession(queue: string, sessionId: string, maxWaitMs: number): Promise<ServiceBusSessionReceiver | undefined> {
    return retryWithin(
      async () => {
        // A poll for "any session" of this bus may have locked it for nobody yet.
        const ready = this.pools.get(queue)?.takeReadyById(sessionId);
        if (ready) return ready;
        try {
          return await this.client.acceptSession(queue, sessionId, SESSION_RECEIVER_OPTIONS);
        } catch (error) {
          if (isNoSession(error)) return undefined;
          throw error;
        }
      },
      maxWaitMs,
      SESSION_RETRY_PAUSE_MS,
      () => this.closed,
    );
  }

  private async manageQueue(queue: string, options: QueueOptions): Promise<void> {
    const admin = (this.admin ??=
      'connectionString' in this.access
        ? new ServiceBusAdministrationClient(this.access.connectionString)
        : new ServiceBusAdministrationClient(this.namespace, this.access.credential));
    let existing: { requiresSession: boolean } | undefined;
    try {
      existing = await admin.getQueue(queue);
    } catch (error) {
      if (!isMissing(error)) throw this.failure(error, 'manage', queue);
    }
    if (!existing) {
      try {
        await admin.createQueue(queue, {
          requiresSession: options.sessions,
          lockDuration: toIsoDuration(options.lockDurationMs),
          maxDeliveryCount: options.maxDeliveryCount,
          deadLetteringOnMessageExpiration: true,
        });
        return;
      } catch (error) {
        if (classifyServiceBusError(error) !== 'already-exists') throw this.failure(error, 'manage', queue);
      }
      // Created meanwhile by another instance: check what it made.
      existing = await admin.getQueue(queue).catch((error: unknown) => {
        throw this.failure(error, 'manage', queue);
      });
    }
    if (existing.requiresSession !== options.sessions) {
      const resource = `Service Bus queue "${queue}"`;
      throw new FatalBackendError(
        `${resource} in namespace ${this.namespace} exists with requiresSession ${existing.requiresSession}, but the pipeline uses it with sessions ${options.sessions}. ` +
          "A queue's session setting cannot change: recreate the queue with the right setting (infra/ declares it; its messages only point into the lake), or fix the queue name.",
        resource,
      );
    }
  }
}

/** Looks through the dead-letter queue in order; every message locked on the way is put in `passed`. */
async function findDeadLetter(receiver: ServiceBusReceiver, messageId: string, passed: ServiceBusReceivedMessage[]): Promise<ServiceBusReceivedMessage | undefined> {
  while (passed.length < MAX_DEAD_LETTERS_SCANNED) {
    const batch = await receiver.receiveMessages(DEAD_LETTER_SCAN_BATCH, { maxWaitTimeInMs: DEAD_LETTER_SCAN_WAIT_MS });
    if (batch.length === 0) return undefined;
    for (const message of batch) {
      if (message.messageId === messageId) {
        passed.push(...batch.filter((other) => other !== message));
        return message;
      }
    }
    passed.push(...batch);
  }
  return undefined;
}

/** The part of the bus its receivers use. */
interface ReceiverContext {
  client: ServiceBusClient;
  clock: Clock;
  assertOpen(): void;
  failure(error: unknown, operation: ServiceBusOperation, queue: string): Error;
  forget(receiver: { close(): Promise<void> }): void;
}

/** Settlement is the same for both receivers; what a delayed abandon does differs. */
abstract class AzureSettlement implements MessageSettlement {
  /** SDK messages by lock token: what this receiver holds and may settle. */
  protected readonly locked = new Map<string, ServiceBusReceivedMessage>();
  protected closed = false;
  /** Ends waits (receives, backoff pauses) when the receiver closes. */
  protected readonly closing = new AbortController();

  constructor(
    protected readonly bus: ReceiverContext,
    readonly queue: string,
  ) {}

  protected abstract get sdkReceiver(): ServiceBusReceiver;
  protected abstract describeReceiver(): string;

  async complete(message: ReceivedMessage): Promise<void> {
    await this.settle(message, 'settle', (sdkMessage) => this.sdkReceiver.completeMessage(sdkMessage));
  }

  abstract abandon(message: ReceivedMessage, options?: { delayMs?: number }): Promise<void>;

  async deadLetter(message: ReceivedMessage, reason: string, description: string): Promise<void> {
    if (typeof reason !== 'string' || reason === '' || typeof description !== 'string') {
      throw new BusError(`deadLetter needs a non-empty reason and a description string (message ${message.messageId} of queue "${this.queue}").`);
    }
    await this.settle(message, 'settle', (sdkMessage) =>
      this.sdkReceiver.deadLetterMessage(sdkMessage, { deadLetterReason: reason, deadLetterErrorDescription: description, [DEAD_LETTERED_AT_PROPERTY]: this.bus.clock.now() }),
    );
  }

  abstract renewMessageLock(message: ReceivedMessage): Promise<number>;

  protected assertOpen(): void {
    if (this.closed) throw new BusError(`The ${this.describeReceiver()} is closed; ${this.reopenHint()}.`);
    this.bus.assertOpen();
  }

  protected abstract reopenHint(): string;

  /** The SDK message behind `message`, still held by this receiver. */
  protected held(message: ReceivedMessage): ServiceBusReceivedMessage {
    this.assertOpen();
    if (typeof message !== 'object' || message === null || typeof message.lockToken !== 'string') {
      throw new BusError(`Settlement on queue "${this.queue}" needs a message received from it, got ${message === null ? 'null' : typeof message}.`);
    }
    const sdkMessage = this.locked.get(message.lockToken);
    if (!sdkMessage) {
      throw new MessageLockLostError(
        `The ${this.describeReceiver()} does not hold message ${message.messageId}: it was settled or abandoned already, or came from another receiver. ` +
          'The message will be (or was) delivered again; make its handling idempotent.',
      );
    }
    return sdkMessage;
  }

  /** Runs one settlement; the message leaves this receiver once settled or its lock is gone. */
  protected async settle(message: ReceivedMessage, operation: ServiceBusOperation, action: (sdkMessage: ServiceBusReceivedMessage) => Promise<void>): Promise<void> {
    const sdkMessage = this.held(message);
    try {
      await action(sdkMessage);
      this.locked.delete(message.lockToken);
    } catch (error) {
      const kind = classifyServiceBusError(error);
      if (kind === 'message-lock-lost' || kind === 'session-lock-lost') this.locked.delete(message.lockToken);
      throw this.bus.failure(error, operation, this.queue);
    }
  }

  protected remember(messages: ServiceBusReceivedMessage[], fallbackLockedUntil?: number): ReceivedMessage[] {
    return messages.map((sdkMessage) => {
      const message = fromServiceBusMessage(sdkMessage, fallbackLockedUntil);
      this.locked.set(message.lockToken, sdkMessage);
      return message;
    });
  }

  protected async receiveFrom(receiver: ServiceBusReceiver, maxMessages: number, maxWaitMs: number): Promise<ServiceBusReceivedMessage[]> {
    try {
      return await receiver.receiveMessages(maxMessages, { maxWaitTimeInMs: Math.max(MIN_RECEIVE_WAIT_MS, maxWaitMs), abortSignal: this.closing.signal });
    } catch (error) {
      if (this.closed) return [];
      throw this.bus.failure(error, 'receive', this.queue);
    }
  }
}

/** A plain queue: a delayed abandon keeps the message locked (renewed) until its time. */
class AzureQueueReceiver extends AzureSettlement implements QueueReceiver {
  private receiverOfSdk: ServiceBusReceiver | undefined;
  /** Messages abandoned with a delay, held until then: lock token → pending step. */
  private readonly delayed = new Map<string, { message: ServiceBusReceivedMessage; timer: NodeJS.Timeout }>();

  protected get sdkReceiver(): ServiceBusReceiver {
    return (this.receiverOfSdk ??= this.bus.client.createReceiver(this.queue, { receiveMode: 'peekLock', maxAutoLockRenewalDurationInMs: 0, skipParsingBodyAsJson: true }));
  }

  async receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const { maxMessages, maxWaitMs } = checkReceiveOptions(this.queue, options);
    return this.remember(await this.receiveFrom(this.sdkReceiver, maxMessages, maxWaitMs));
  }

  async abandon(message: ReceivedMessage, options: { delayMs?: number } = {}): Promise<void> {
    const delayMs = checkDelay(options.delayMs, message, this.queue);
    if (delayMs === 0) {
      await this.settle(message, 'settle', (sdkMessage) => this.sdkReceiver.abandonMessage(sdkMessage));
      return;
    }
    const sdkMessage = this.held(message);
    this.locked.delete(message.lockToken);
    this.holdUntil(message.lockToken, sdkMessage, this.bus.clock.now() + delayMs);
  }

  async renewMessageLock(message: ReceivedMessage): Promise<number> {
    const sdkMessage = this.held(message);
    try {
      return (await this.sdkReceiver.renewMessageLock(sdkMessage)).getTime();
    } catch (error) {
      if (classifyServiceBusError(error) === 'message-lock-lost') this.locked.delete(message.lockToken);
      throw this.bus.failure(error, 'renew a lock', this.queue);
    }
  }

  /** Abandons the messages held for a delay now (their delay ends early), then stops receiving. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.bus.forget(this);
    const delayed = [...this.delayed.values()];
    this.delayed.clear();
    for (const { timer } of delayed) clearTimeout(timer);
    if (this.receiverOfSdk) {
      const receiver = this.receiverOfSdk;
      await Promise.allSettled(delayed.map(({ message }) => receiver.abandonMessage(message)));
      await receiver.close().catch(() => undefined);
    }
  }

  protected describeReceiver(): string {
    return `receiver of queue "${this.queue}"`;
  }

  protected reopenHint(): string {
    return `create another with bus.receiver("${this.queue}")`;
  }

  /** Renews the lock until `retryAt`, then abandons. A failure means the lock is gone: Service Bus redelivers at its expiry. */
  private holdUntil(lockToken: string, message: ServiceBusReceivedMessage, retryAt: number): void {
    const step = nextHoldStep(this.bus.clock.now(), retryAt, message.lockedUntilUtc?.getTime() ?? 0);
    const timer = setTimeout(() => {
      this.delayed.delete(lockToken);
      if (this.closed) return;
      const work =
        step.kind === 'renew' ? this.sdkReceiver.renewMessageLock(message).then(() => this.holdUntil(lockToken, message, retryAt)) : this.sdkReceiver.abandonMessage(message);
      work.catch(() => undefined);
    }, step.inMs);
    // A pending delay does not keep the process alive: the lock expires on its own.
    timer.unref();
    this.delayed.set(lockToken, { message, timer });
  }
}

/** A held session: a delayed abandon records "retry not before" in the session state. */
class AzureSessionReceiver extends AzureSettlement implements SessionReceiver {
  readonly sessionId: string;

  constructor(
    bus: ReceiverContext,
    queue: string,
    private readonly session: ServiceBusSessionReceiver,
    private retryNotBefore: number | undefined,
  ) {
    super(bus, queue);
    this.sessionId = session.sessionId;
  }

  protected get sdkReceiver(): ServiceBusReceiver {
    return this.session;
  }

  async receive(options: ReceiveMessagesOptions): Promise<ReceivedMessage[]> {
    this.assertOpen();
    const { maxMessages, maxWaitMs } = checkReceiveOptions(this.queue, options);
    const plan = planSessionReceive(this.bus.clock.now(), this.retryNotBefore, maxWaitMs);
    if (plan.pauseMs > 0) await pause(plan.pauseMs, this.closing.signal);
    if (this.closed || plan.receiveWaitMs === undefined) return [];
    const received = await this.receiveFrom(this.session, maxMessages, plan.receiveWaitMs);
    return this.remember(received, this.session.sessionLockedUntilUtc.getTime());
  }

  async abandon(message: ReceivedMessage, options: { delayMs?: number } = {}): Promise<void> {
    const delayMs = checkDelay(options.delayMs, message, this.queue);
    await this.settle(message, 'settle', async (sdkMessage) => {
      if (delayMs > 0) {
        const retryNotBefore = this.bus.clock.now() + delayMs;
        // Recorded before the abandon: a holder that takes over in between still waits.
        await this.session.setSessionState(encodeSessionRetryState(retryNotBefore));
        this.retryNotBefore = retryNotBefore;
      }
      await this.session.abandonMessage(sdkMessage);
    });
  }

  /** A session message's lock is its session's lock (Service Bus renews no single one): this renews the session. */
  async renewMessageLock(message: ReceivedMessage): Promise<number> {
    this.held(message);
    return this.renewSessionLock();
  }

  async renewSessionLock(): Promise<number> {
    this.assertOpen();
    try {
      return (await this.session.renewSessionLock()).getTime();
    } catch (error) {
      throw this.bus.failure(error, 'renew a lock', this.queue);
    }
  }

  /** Releases the session: its unsettled messages go to the next holder. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.bus.forget(this);
    this.locked.clear();
    await this.session.close().catch(() => undefined);
  }

  protected describeReceiver(): string {
    return `receiver of session "${this.sessionId}" of queue "${this.queue}"`;
  }

  protected reopenHint(): string {
    return 'accept the session again to go on';
  }
}

/** Whether a failed accept only means that no session was free (the service's wait ran out, or it is held). */
function isNoSession(error: unknown): boolean {
  return isServiceBusError(error) && (error.code === 'ServiceTimeout' || error.code === 'SessionCannotBeLocked');
}

function isMissing(error: unknown): boolean {
  return (error as { statusCode?: unknown } | null)?.statusCode === 404;
}

/** The namespace host of the access, e.g. `pipeline.servicebus.windows.net` (never a key). */
export function serviceBusNamespaceOf(access: ServiceBusAccess): string {
  if (typeof access !== 'object' || access === null) {
    throw new BusError('The Service Bus bus needs { fullyQualifiedNamespace, credential } or { connectionString }.');
  }
  if ('connectionString' in access) {
    let host: string | undefined;
    try {
      host = parseServiceBusConnectionString(access.connectionString).fullyQualifiedNamespace;
    } catch {
      host = undefined;
    }
    // Problems never echo the string: it holds a key.
    if (!host) {
      throw new BusError(
        'The Service Bus connection string could not be read: it needs Endpoint=sb://<namespace>.servicebus.windows.net/ and SharedAccessKeyName/SharedAccessKey (copy it from the namespace\'s "Shared access policies").',
      );
    }
    return host;
  }
  const host = access.fullyQualifiedNamespace;
  if (typeof host !== 'string' || !/^[a-z0-9.-]+(:\d+)?$/i.test(host) || !host.includes('.')) {
    throw new BusError(`fullyQualifiedNamespace must be the namespace host, such as pipeline.servicebus.windows.net (no scheme, no path), got ${JSON.stringify(host)}.`);
  }
  if (!access.credential || typeof access.credential.getToken !== 'function') {
    throw new BusError(`The Service Bus namespace ${host} needs a credential (a TokenCredential such as DefaultAzureCredential).`);
  }
  return host;
}

/** Milliseconds as an ISO-8601 duration, as the administration API takes lock durations: 30000 → "PT30S". */
export function toIsoDuration(ms: number): string {
  return `PT${Number((ms / 1000).toFixed(3))}S`;
}

function pickOptions(options: QueueOptions): QueueOptions {
  return { sessions: options.sessions, lockDurationMs: options.lockDurationMs, maxDeliveryCount: options.maxDeliveryCount };
}

function sameOptions(a: QueueOptions, b: QueueOptions): boolean {
  return a.sessions === b.sessions && a.lockDurationMs === b.lockDurationMs && a.maxDeliveryCount === b.maxDeliveryCount;
}

function checkQueueName(queue: string): void {
  if (typeof queue !== 'string' || queue.trim() !== queue || queue === '' || queue.length > MAX_QUEUE_NAME_LENGTH) {
    throw new BusError(`A queue name must be a non-empty string of at most ${MAX_QUEUE_NAME_LENGTH} characters without surrounding spaces, got ${JSON.stringify(queue)}.`);
  }
}

/** Every problem at once, in Service Bus's limits. */
function checkQueueOptions(queue: string, options: QueueOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new BusError(`ensureQueue("${queue}") needs options { sessions, lockDurationMs, maxDeliveryCount }, got ${String(options)}.`);
  }
  const problems: string[] = [];
  if (typeof options.sessions !== 'boolean') problems.push(`sessions must be true or false, got ${String(options.sessions)}`);
  const { lockDurationMs, maxDeliveryCount } = options;
  if (!Number.isSafeInteger(lockDurationMs) || lockDurationMs < MIN_LOCK_DURATION_MS || lockDurationMs > MAX_LOCK_DURATION_MS) {
    problems.push(`lockDurationMs must be an integer from ${MIN_LOCK_DURATION_MS} to ${MAX_LOCK_DURATION_MS} (Service Bus allows 5 s to 5 min), got ${String(lockDurationMs)}`);
  }
  if (!Number.isSafeInteger(maxDeliveryCount) || maxDeliveryCount < 1) problems.push(`maxDeliveryCount must be a positive integer, got ${String(maxDeliveryCount)}`);
  if (problems.length > 0) throw new BusError(`ensureQueue("${queue}") was given invalid options: ${problems.join('; ')}.`);
}

function checkWait(maxWaitMs: number, what: string): void {
  if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0) || !Number.isFinite(maxWaitMs)) {
    throw new BusError(`${what} needs maxWaitMs, a finite number ≥ 0, got ${String(maxWaitMs)}.`);
  }
}

function checkReceiveOptions(queue: string, options: ReceiveMessagesOptions): ReceiveMessagesOptions {
  if (typeof options !== 'object' || options === null) throw new BusError(`receive on queue "${queue}" needs options { maxMessages, maxWaitMs }.`);
  if (!Number.isSafeInteger(options.maxMessages) || options.maxMessages < 1) {
    throw new BusError(`receive on queue "${queue}" needs maxMessages, a positive integer, got ${String(options.maxMessages)}.`);
  }
  checkWait(options.maxWaitMs, `receive on queue "${queue}"`);
  return options;
}

function checkDelay(delayMs: number | undefined, message: ReceivedMessage, queue: string): number {
  const delay = delayMs ?? 0;
  if (typeof delay !== 'number' || !(delay >= 0) || !Number.isFinite(delay)) {
    throw new BusError(`abandon delayMs must be a finite number ≥ 0, got ${String(delay)} (message ${message.messageId} of queue "${queue}").`);
  }
  return delay;
}

/** Waits `ms` of real time, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

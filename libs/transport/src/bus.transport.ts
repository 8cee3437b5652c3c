/**
 * The bus as a NestJS custom transport: handlers are plain `@EventPattern('<subject>')` methods.
 *
 * Invariants:
 * - A message is settled only after its handler finished: completed when the handler's promise or
 *   observable completes, abandoned (with `retryBackoffMs(deliveryCount)` delay) when it fails, so
 *   the bus dead-letters it after the queue's maxDeliveryCount. A subject without a handler is
 *   dead-lettered at once with the reason `NoHandler`.
 * - Session queues: at most `maxConcurrentSessions` sessions held per queue; each session's messages
 *   are handled one at a time in order, its lock renewed while held, and the session released after
 *   `sessionIdleMs` without messages so that another instance may take it.
 * - Owned sessions (`ownedSessions` given): the transport holds exactly the sessions the stage's
 *   ownership names, taken by id and released once no longer named, whatever the traffic; idle time
 *   and wake-ups never keep or drop a session, so ownership alone decides who handles a shard.
 * - `close()` stops receiving, lets every handler that started finish and settles its message, then
 *   releases the sessions. Nothing is left locked by a clean shutdown.
 * - A failing receive (the bus unreachable, a busy service) is logged and retried; a loop never
 *   ends silently while the transport listens. A failure no retry fixes (`FatalBackendError`: a
 *   missing queue, refused credentials) stops every loop and is handed to `onFatal` once, so the
 *   service exits non-zero and the platform restarts it after the cause is fixed.
 */
import { SpanKind } from '@opentelemetry/api';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { isFatalBackendError, MessageLockLostError, SessionLockLostError, type Bus, type MessageSettlement, type ReceivedMessage, type SessionReceiver } from '@pipeline/ports';
import { inSpan, linksFromTraceparents, MessagingMetrics, observeDeadLetters, type Logger, type MessagingTarget } from '@pipeline/telemetry';
import { BusContext } from './bus.context';

export interface BusQueueSubscription {
  queue: string;
  sessions: boolean;
  /** Session queues: how many sessions this instance holds at once (default 1). */
  maxConcurrentSessions?: number;
  /** Plain queues: how many messages are handled at once (default 10). Session queues handle one at a time. */
  maxMessages?: number;
  /**
   * Session queues: the sessions this instance owns now (read each `receiveWaitMs`). When given, only
   * these are taken, by id, and each is held until it is no longer owned; `maxConcurrentSessions` and
   * `sessionIdleMs` do not apply.
   */
  ownedSessions?: () => Iterable<string>;
}

/** The part of a pino logger the transport writes to. */
export type TransportLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface BusTransportOptions {
  bus: Bus;
  queues: readonly BusQueueSubscription[];
  logger: TransportLogger;
  /** Delay before a failed message is delivered again, from its delivery count (1 on the first failure). */
  retryBackoffMs?: (deliveryCount: number) => number;
  /** How long one receive waits for messages; also bounds how long `close()` waits for idle loops. Default 1000. */
  receiveWaitMs?: number;
  /** Release a held session after this long without messages. Default 5000. */
  sessionIdleMs?: number;
  /** Renew message and session locks this often while working; keep it well under the queue's lock duration. Default 10 000. */
  lockRenewalMs?: number;
  /** Pause after a failed receive before trying again. Default 1000. */
  errorBackoffMs?: number;
  /** Called once with the first `FatalBackendError`; the transport has stopped receiving by then. */
  onFatal?: (error: Error) => void;
}

/** The dead-letter reason for a message whose subject no handler is registered for. */
export const NO_HANDLER_REASON = 'NoHandler';

/** 1 s, 2 s, 4 s … capped at one minute. */
export function exponentialBackoffMs(deliveryCount: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, deliveryCount - 1));
}

const DEFAULT_MAX_MESSAGES = 10;
/** `messaging.system` of the bus, whichever adapter it is: the Bus port hides which. */
const MESSAGING_SYSTEM = 'pipeline.bus';

export class BusTransport extends Server implements CustomTransportStrategy {
  private readonly bus: Bus;
  private readonly log: TransportLogger;
  private readonly backoff: (deliveryCount: number) => number;
  private readonly receiveWaitMs: number;
  private readonly sessionIdleMs: number;
  private readonly lockRenewalMs: number;
  private readonly errorBackoffMs: number;
  private readonly subscriptions: readonly BusQueueSubscription[];
  private readonly onFatal: (error: Error) => void;
  private fatalError: Error | undefined;
  private loops: Promise<void>[] = [];
  private stopping = false;
  /** Wakes loops pausing after an error, so close() does not wait out the pause. */
  private readonly wakeups = new Set<() => void>();
  private readonly metrics = new MessagingMetrics();
  private stopObservingDeadLetters: (() => void) | undefined;

  constructor(options: BusTransportOptions) {
    super();
    this.bus = options.bus;
    this.log = options.logger;
    this.backoff = options.retryBackoffMs ?? exponentialBackoffMs;
    this.receiveWaitMs = positive(options.receiveWaitMs ?? 1_000, 'receiveWaitMs');
    this.sessionIdleMs = positive(options.sessionIdleMs ?? 5_000, 'sessionIdleMs');
    this.lockRenewalMs = positive(options.lockRenewalMs ?? 10_000, 'lockRenewalMs');
    this.errorBackoffMs = positive(options.errorBackoffMs ?? 1_000, 'errorBackoffMs');
    this.subscriptions = checkSubscriptions(options.queues);
    this.onFatal = options.onFatal ?? (() => undefined);
  }

  /** The failure that stopped the transport, if one did. */
  get fatal(): Error | undefined {
    return this.fatalError;
  }

  /** Stops every loop on a failure no retry fixes; true when `error` was one. */
  private stopOnFatal(error: unknown, fields: Record<string, unknown>): boolean {
    if (!isFatalBackendError(error)) return false;
    if (this.fatalError) return true;
    this.fatalError = error as Error;
    this.stopping = true;
    for (const wake of this.wakeups) wake();
    this.log.error({ ...fields, err: error }, `the bus failed in a way retrying cannot fix; stopping: ${(error as Error).message}`);
    this.onFatal(error as Error);
    return true;
  }

  listen(callback: (error?: unknown) => void): void {
    if (this.loops.length > 0) {
      callback(new Error('The bus transport is already listening; close it before listening again.'));
      return;
    }
    this.stopping = false;
    for (const subscription of this.subscriptions) {
      if (subscription.sessions && subscription.ownedSessions) {
        this.loops.push(this.ownedSessionLoop(subscription.queue, subscription.ownedSessions));
      } else if (subscription.sessions) {
        const workers = subscription.maxConcurrentSessions ?? 1;
        for (let i = 0; i < workers; i++) this.loops.push(this.sessionLoop(subscription.queue));
      } else {
        this.loops.push(this.queueLoop(subscription.queue, subscription.maxMessages ?? DEFAULT_MAX_MESSAGES));
      }
    }
    const queues = this.subscriptions.map((s) => s.queue);
    this.stopObservingDeadLetters = observeDeadLetters(queues, MESSAGING_SYSTEM, async (queue, limit) => (await this.bus.listDeadLetters(queue, { limit })).length);
    this.log.info({ queues, bus: this.bus.location }, 'bus transport listening');
    callback();
  }

  /** Stops receiving, waits for running handlers and settles their messages, releases sessions. */
  async close(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakeups) wake();
    this.stopObservingDeadLetters?.();
    this.stopObservingDeadLetters = undefined;
    await Promise.all(this.loops);
    this.loops = [];
  }

  on(event: string): never {
    throw new Error(`The bus transport emits no events (asked for ${JSON.stringify(event)}); watch the logs instead.`);
  }

  unwrap<T>(): T {
    return this.bus as T;
  }

  private async queueLoop(queue: string, maxMessages: number): Promise<void> {
    const receiver = this.bus.receiver(queue);
    try {
      while (!this.stopping) {
        let messages: ReceivedMessage[];
        try {
          messages = await receiver.receive({ maxMessages, maxWaitMs: this.receiveWaitMs });
        } catch (error) {
          if (this.stopOnFatal(error, { queue })) break;
          this.log.error({ err: error, queue }, 'receiving from the bus failed; retrying');
          await this.pause(this.errorBackoffMs);
          continue;
        }
        // Messages already received are handled even when closing: they are locked to this instance.
        await Promise.all(messages.map((message) => this.handleWithRenewal(receiver, queue, message)));
      }
    } finally {
      await receiver.close();
    }
  }

  private async sessionLoop(queue: string): Promise<void> {
    while (!this.stopping) {
      let session: SessionReceiver | undefined;
      try {
        session = await this.bus.acceptSession(queue, { maxWaitMs: this.receiveWaitMs });
      } catch (error) {
        if (this.stopOnFatal(error, { queue })) break;
        this.log.error({ err: error, queue }, 'accepting a bus session failed; retrying');
        await this.pause(this.errorBackoffMs);
        continue;
      }
      if (session) await this.runSession(queue, session);
    }
  }

  /** Takes each owned session not held yet, by id; each runs until it is no longer owned. */
  private async ownedSessionLoop(queue: string, ownedSessions: () => Iterable<string>): Promise<void> {
    const held = new Map<string, Promise<void>>();
    const owned = () => new Set(ownedSessions());
    while (!this.stopping) {
      for (const sessionId of owned()) {
        if (held.has(sessionId) || this.stopping) continue;
        let session: SessionReceiver | undefined;
        try {
          // A session a dead owner held stays locked until its lock expires; the owner catches up from the lake meanwhile.
          session = await this.bus.acceptSession(queue, { sessionId, maxWaitMs: 0 });
        } catch (error) {
          if (this.stopOnFatal(error, { queue, sessionId })) break;
          this.log.debug({ err: error, queue, sessionId }, 'an owned bus session is not free yet; trying again');
          continue;
        }
        if (session) {
          const run = this.runSession(queue, session, () => !this.stopping && owned().has(sessionId)).finally(() => held.delete(sessionId));
          held.set(sessionId, run);
        }
      }
      await this.pause(this.receiveWaitMs);
    }
    await Promise.all(held.values());
  }

  /**
   * Handles one session's messages in order until it is lost, the transport closes, and either it
   * is idle (shared sessions) or `keep` says it is no longer owned (owned sessions).
   */
  private async runSession(queue: string, session: SessionReceiver, keep?: () => boolean): Promise<void> {
    const { sessionId } = session;
    let lost = false;
    const renewal = setInterval(() => {
      session.renewSessionLock().catch((error: unknown) => {
        lost = true;
        this.log.warn({ err: error, queue, sessionId }, 'lost the lock of a bus session; another instance will take it over');
      });
    }, this.lockRenewalMs);
    this.log.debug({ queue, sessionId }, 'took a bus session');
    try {
      let idleSince = performance.now();
      while (!this.stopping && !lost) {
        const [message] = await session.receive({ maxMessages: 1, maxWaitMs: this.receiveWaitMs });
        if (message) {
          await this.handle(session, queue, message);
          idleSince = performance.now();
        } else if (keep === undefined && performance.now() - idleSince >= this.sessionIdleMs) {
          break;
        }
        if (keep !== undefined && !keep()) break;
      }
    } catch (error) {
      if (this.stopOnFatal(error, { queue, sessionId })) return;
      const level = error instanceof SessionLockLostError ? 'warn' : 'error';
      this.log[level]({ err: error, queue, sessionId }, 'stopped handling a bus session; its messages stay for the next holder');
    } finally {
      clearInterval(renewal);
      await session.close().catch((error: unknown) => this.log.warn({ err: error, queue, sessionId }, 'releasing a bus session failed; its lock will expire'));
      this.log.debug({ queue, sessionId }, 'released a bus session');
    }
  }

  /** Plain queues: keeps the message's lock alive while its handler runs. */
  private async handleWithRenewal(receiver: MessageSettlement, queue: string, message: ReceivedMessage): Promise<void> {
    const renewal = setInterval(() => {
      receiver.renewMessageLock(message).catch((error: unknown) => this.log.warn({ err: error, queue, messageId: message.messageId }, 'renewing a message lock failed'));
    }, this.lockRenewalMs);
    try {
      await this.handle(receiver, queue, message);
    } finally {
      clearInterval(renewal);
    }
  }

  /** Runs the handler for the message's subject and settles the message by its outcome. Never throws. */
  private async handle(settlement: MessageSettlement, queue: string, message: ReceivedMessage): Promise<void> {
    const subject = message.subject ?? '';
    const fields = { queue, messageId: message.messageId, subject, sessionId: message.sessionId, deliveryCount: message.deliveryCount };
    const target: MessagingTarget = { system: MESSAGING_SYSTEM, destination: queue };
    const handler = subject === '' ? null : this.getHandlerByPattern(subject);
    if (!handler) {
      const known = [...this.getHandlers().keys()].map((pattern) => JSON.stringify(pattern)).join(', ') || 'none';
      const description = `No @EventPattern handler for subject ${JSON.stringify(subject)} of queue "${queue}" (handlers: ${known}). Add a handler, then resubmit the dead letter.`;
      this.log.error(fields, description);
      await this.settle(fields, () => settlement.deadLetter(message, NO_HANDLER_REASON, description));
      this.metrics.deadLetteredOne(target);
      return;
    }
    const traceparent = message.applicationProperties['traceparent'];
    const attributes = {
      'messaging.system': 'pipeline.bus',
      'messaging.operation.type': 'process',
      'messaging.destination.name': queue,
      'messaging.message.id': message.messageId,
      'messaging.message.delivery_count': message.deliveryCount,
    };
    let failure: unknown;
    const started = performance.now();
    try {
      await inSpan(`pipeline.bus.handle ${subject}`, { kind: SpanKind.CONSUMER, attributes, links: linksFromTraceparents([traceparent]) }, async () => {
        const result: unknown = await handler(message.body, new BusContext(message, queue));
        await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
      });
    } catch (error) {
      failure = error;
    }
    this.metrics.processed(target, performance.now() - started, failure === undefined ? undefined : failure instanceof Error ? failure.name : typeof failure);
    if (failure === undefined) {
      await this.settle(fields, () => settlement.complete(message));
      return;
    }
    const delayMs = this.backoff(message.deliveryCount);
    this.log.warn({ ...fields, err: failure, retryInMs: delayMs }, 'a bus message handler failed; the message will be retried');
    await this.settle(fields, () => settlement.abandon(message, { delayMs }));
  }

  private async settle(fields: Record<string, unknown>, settlement: () => Promise<void>): Promise<void> {
    try {
      await settlement();
    } catch (error) {
      if (this.stopOnFatal(error, fields)) return;
      // A lost lock means the message is redelivered: handlers are idempotent (DESIGN invariant 4).
      const lockLost = error instanceof MessageLockLostError || error instanceof SessionLockLostError;
      this.log[lockLost ? 'warn' : 'error']({ ...fields, err: error }, 'settling a bus message failed; it will be delivered again');
    }
  }

  /** Waits `ms` of real time, or less if the transport closes meanwhile. */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeups.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakeups.add(wake);
    });
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new Error(`BusTransport option ${name} must be a positive number of ms, got ${String(value)}.`);
  }
  return value;
}

function checkSubscriptions(queues: readonly BusQueueSubscription[]): readonly BusQueueSubscription[] {
  if (!Array.isArray(queues) || queues.length === 0) {
    throw new Error('BusTransport needs at least one queue: pass queues: [{ queue, sessions }].');
  }
  const seen = new Set<string>();
  for (const [index, subscription] of queues.entries()) {
    const { queue, sessions, maxConcurrentSessions, maxMessages, ownedSessions } = subscription;
    const where = `BusTransport queues[${index}]`;
    if (typeof queue !== 'string' || queue === '') throw new Error(`${where} needs a queue name, got ${JSON.stringify(queue)}.`);
    if (seen.has(queue)) throw new Error(`${where}: queue "${queue}" is listed twice; list each queue once.`);
    seen.add(queue);
    if (typeof sessions !== 'boolean') throw new Error(`${where} ("${queue}") needs sessions: true or false, matching the queue.`);
    for (const [name, value] of [
      ['maxConcurrentSessions', maxConcurrentSessions],
      ['maxMessages', maxMessages],
    ] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
        throw new Error(`${where} ("${queue}"): ${name} must be a positive integer, got ${String(value)}.`);
      }
    }
    if (sessions && maxMessages !== undefined) {
      throw new Error(`${where} ("${queue}"): maxMessages applies to plain queues; a session queue handles one message at a time per session, so set maxConcurrentSessions.`);
    }
    if (ownedSessions !== undefined && (!sessions || typeof ownedSessions !== 'function')) {
      throw new Error(`${where} ("${queue}"): ownedSessions must be a function and applies to session queues only.`);
    }
    if (!sessions && maxConcurrentSessions !== undefined) {
      throw new Error(`${where} ("${queue}"): maxConcurrentSessions applies to session queues; set maxMessages for a plain queue.`);
    }
  }
  return queues;
}

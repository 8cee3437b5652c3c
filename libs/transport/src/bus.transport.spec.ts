import * as path from 'node:path';
import { Controller, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload, type MicroserviceOptions } from '@nestjs/microservices';
import type { INestMicroservice } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { LocalBus } from '@pipeline/adapters';
import type { Clock } from '@pipeline/engine';
import { FatalBackendError, type Bus, type QueueOptions } from '@pipeline/ports';
import { makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import { BusClient } from './bus.client';
import { BusContext } from './bus.context';
import { BusTransport, NO_HANDLER_REASON, type BusTransportOptions, type TransportLogger } from './bus.transport';

const RECORDER = Symbol('recorder');

interface Call {
  pattern: string;
  body: unknown;
  messageId: string;
  sessionId: string | undefined;
  deliveryCount: number;
}

/** What the handlers do and what they saw; each test sets the behaviour it needs. */
class Recorder {
  calls: Call[] = [];
  /** Awaited by the `slow.batch` handler. */
  gate: Promise<void> = Promise.resolve();
  finished = 0;
  /** Awaited by the first message of each session. */
  sessionBarrier: Promise<void> = Promise.resolve();
  sessionsWaiting = new Set<string>();

  record(pattern: string, body: unknown, ctx: BusContext): void {
    const message = ctx.getMessage();
    this.calls.push({ pattern, body, messageId: message.messageId, sessionId: ctx.getSessionId(), deliveryCount: message.deliveryCount });
  }
}

@Controller()
class BatchController {
  constructor(@Inject(RECORDER) private readonly recorder: Recorder) {}

  @EventPattern('bronze.batch')
  bronze(@Payload() body: unknown, @Ctx() ctx: BusContext): void {
    this.recorder.record('bronze.batch', body, ctx);
  }

  @EventPattern('broken.batch')
  async broken(@Payload() body: unknown, @Ctx() ctx: BusContext): Promise<void> {
    this.recorder.record('broken.batch', body, ctx);
    throw new Error('the manifest cannot be read');
  }

  @EventPattern('slow.batch')
  async slow(@Payload() body: unknown, @Ctx() ctx: BusContext): Promise<void> {
    this.recorder.record('slow.batch', body, ctx);
    await this.recorder.gate;
    this.recorder.finished += 1;
  }

  @EventPattern('gold.batch')
  async gold(@Payload() body: { n: number }, @Ctx() ctx: BusContext): Promise<void> {
    const sessionId = ctx.getSessionId() ?? '';
    if (body.n === 0) {
      this.recorder.sessionsWaiting.add(sessionId);
      await this.recorder.sessionBarrier;
    }
    this.recorder.record('gold.batch', body, ctx);
  }
}

const plain: QueueOptions = { sessions: false, lockDurationMs: 30_000, maxDeliveryCount: 3 };
const sessions: QueueOptions = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 3 };

function collectingLogger(): { logger: TransportLogger; lines: Array<{ level: string; fields: unknown; message: unknown }> } {
  const lines: Array<{ level: string; fields: unknown; message: unknown }> = [];
  const at = (level: string) => (fields: unknown, message?: unknown) => lines.push({ level, fields, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as TransportLogger, lines };
}

describe('BusTransport', () => {
  let dir: TempDir;
  let bus: LocalBus;
  let recorder: Recorder;
  let app: INestMicroservice | undefined;
  /** Moved forward to expire every lock once the transport closed. */
  let clockOffset: number;
  const clock: Clock = { now: () => Date.now() + clockOffset };

  beforeEach(async () => {
    dir = await makeTempDir('bus-transport-');
    clockOffset = 0;
    bus = LocalBus.open({ file: path.join(dir.path, 'bus.db'), clock, pollIntervalMs: 5 });
    await bus.ensureQueue('bronze', plain);
    await bus.ensureQueue('gold', sessions);
    recorder = new Recorder();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await bus.close();
    await dir.dispose();
  });

  async function start(options: Partial<BusTransportOptions> = {}): Promise<{ transport: BusTransport; lines: ReturnType<typeof collectingLogger>['lines'] }> {
    @Module({ controllers: [BatchController], providers: [{ provide: RECORDER, useValue: recorder }] })
    class AppModule {}
    const { logger, lines } = collectingLogger();
    const transport = new BusTransport({
      bus,
      queues: [
        { queue: 'bronze', sessions: false, maxMessages: 4 },
        { queue: 'gold', sessions: true, maxConcurrentSessions: 3 },
      ],
      logger,
      retryBackoffMs: () => 10,
      receiveWaitMs: 50,
      sessionIdleMs: 100,
      ...options,
    });
    app = await NestFactory.createMicroservice<MicroserviceOptions>(AppModule, { strategy: transport, logger: false });
    await app.listen();
    return { transport, lines };
  }

  /** Once the transport closed: every lock expired, what is still in the queue, and the dead letters. */
  async function leftOver(queue: string): Promise<{ messages: unknown[]; deadLetters: unknown[] }> {
    await app?.close();
    app = undefined;
    clockOffset += 3_600_000;
    const messages: unknown[] = [];
    if (queue === 'gold') {
      for (;;) {
        const session = await bus.acceptSession(queue, { maxWaitMs: 0 });
        if (!session) break;
        messages.push(...(await session.receive({ maxMessages: 100, maxWaitMs: 0 })).map((m) => m.body));
        await session.close();
      }
    } else {
      messages.push(...(await bus.receiver(queue).receive({ maxMessages: 100, maxWaitMs: 0 })).map((m) => m.body));
    }
    return { messages, deadLetters: await bus.listDeadLetters(queue) };
  }

  const callsOf = (pattern: string, count: number) =>
    waitFor(() => (recorder.calls.filter((c) => c.pattern === pattern).length >= count ? recorder.calls.filter((c) => c.pattern === pattern) : undefined), {
      timeoutMs: 10_000,
      description: `${count} call(s) of the ${pattern} handler`,
    });

  it('calls the handler of the message subject with the body and the context, and completes the message', async () => {
    await start();
    await bus.send('bronze', [{ subject: 'bronze.batch', body: { manifest: 'bronze/_manifests/1.json' }, messageId: 'm-1' }]);
    const [call] = await callsOf('bronze.batch', 1);
    expect(call).toEqual({ pattern: 'bronze.batch', body: { manifest: 'bronze/_manifests/1.json' }, messageId: 'm-1', sessionId: undefined, deliveryCount: 1 });
    await expect(leftOver('bronze')).resolves.toEqual({ messages: [], deadLetters: [] });
  });

  it('retries a failing handler with backoff, then the bus dead-letters the message', async () => {
    const backoffs: number[] = [];
    const { lines } = await start({ retryBackoffMs: (deliveryCount) => (backoffs.push(deliveryCount), 10 * deliveryCount) });
    await bus.send('bronze', [{ subject: 'broken.batch', body: { manifest: 'x' } }]);
    const letters = await waitFor(
      async () => {
        const found = await bus.listDeadLetters('bronze');
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 10_000, description: 'the failing message to be dead-lettered' },
    );
    expect(letters).toMatchObject([{ subject: 'broken.batch', reason: 'MaxDeliveryCountExceeded', deliveryCount: 3 }]);
    expect(recorder.calls.map((c) => c.deliveryCount)).toEqual([1, 2, 3]);
    expect(backoffs).toEqual([1, 2, 3]);
    expect(lines.filter((l) => l.level === 'warn' && l.message === 'a bus message handler failed; the message will be retried')).toHaveLength(3);
    await expect(leftOver('bronze')).resolves.toMatchObject({ messages: [] });
  });

  it('dead-letters a message whose subject has no handler, with the reason NoHandler', async () => {
    await start();
    await bus.send('bronze', [{ subject: 'unknown.batch', body: 1 }]);
    const [letter] = await waitFor(
      async () => {
        const found = await bus.listDeadLetters('bronze');
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 10_000, description: 'the unhandled message to be dead-lettered' },
    );
    expect(letter.reason).toBe(NO_HANDLER_REASON);
    expect(letter.description).toMatch(/No @EventPattern handler for subject "unknown.batch" of queue "bronze" \(handlers: .*"bronze.batch"/);
    expect(letter.deliveryCount).toBe(1);
  });

  it('handles the messages of each session in order, several sessions at once, and releases them on close', async () => {
    const sessionIds = ['shard-0', 'shard-1', 'shard-2'];
    let release!: () => void;
    // The first message of every session waits for the other sessions: it passes only if they run concurrently.
    recorder.sessionBarrier = new Promise<void>((resolve) => (release = resolve));
    await start();
    await bus.send(
      'gold',
      [0, 1, 2, 3, 4].flatMap((n) => sessionIds.map((sessionId) => ({ subject: 'gold.batch', body: { n }, sessionId }))),
    );
    await waitFor(() => (recorder.sessionsWaiting.size === sessionIds.length ? true : undefined), {
      timeoutMs: 10_000,
      description: 'three sessions to be handled at once',
    });
    release();
    const calls = await callsOf('gold.batch', 15);
    for (const sessionId of sessionIds) {
      expect(calls.filter((c) => c.sessionId === sessionId).map((c) => c.body)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    }
    await app?.close();
    app = undefined;
    const taken = await Promise.all(sessionIds.map((sessionId) => bus.acceptSession('gold', { sessionId, maxWaitMs: 0 })));
    expect(taken.map((s) => s?.sessionId)).toEqual(sessionIds);
    for (const session of taken) await session?.close();
    await expect(leftOver('gold')).resolves.toEqual({ messages: [], deadLetters: [] });
  });

  it('waits on close for a running handler to finish, then completes its message', async () => {
    let open!: () => void;
    recorder.gate = new Promise<void>((resolve) => (open = resolve));
    await start();
    await bus.send('bronze', [{ subject: 'slow.batch', body: 'slow' }]);
    await callsOf('slow.batch', 1);
    let closed = false;
    const closing = app?.close().then(() => (closed = true));
    app = undefined;
    // Let the close run as far as it can without the handler.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    open();
    await closing;
    expect(recorder.finished).toBe(1);
    await expect(leftOver('bronze')).resolves.toEqual({ messages: [], deadLetters: [] });
  });

  it('delivers events emitted with BusClient to the handler, routed by the client', async () => {
    await start();
    const client = new BusClient({ bus, route: (_pattern, data) => ({ queue: 'bronze', messageId: (data as { id: string }).id }) });
    await lastValueFrom(client.emit('bronze.batch', { id: 'batch-7', manifest: 'bronze/_manifests/7.json' }), { defaultValue: undefined });
    const [call] = await callsOf('bronze.batch', 1);
    expect(call).toMatchObject({ body: { id: 'batch-7', manifest: 'bronze/_manifests/7.json' }, messageId: 'batch-7' });
    await expect(lastValueFrom(client.send('bronze.batch', {}))).rejects.toThrow(/does not support request-response.*Use emit\(pattern, data\)/);
    await expect(leftOver('bronze')).resolves.toEqual({ messages: [], deadLetters: [] });
  });

  it('routes session events to their session with BusClient', async () => {
    const client = new BusClient({ bus, route: (_pattern, data) => ({ queue: 'gold', sessionId: `shard-${(data as { shard: number }).shard}` }) });
    await lastValueFrom(client.emit('gold.batch', { shard: 2, n: 1 }), { defaultValue: undefined });
    const session = await bus.acceptSession('gold', { maxWaitMs: 0 });
    expect(session?.sessionId).toBe('shard-2');
    await expect(session?.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ subject: 'gold.batch', body: { shard: 2, n: 1 } }]);
    await session?.close();
  });

  it('stops every loop and reports once when the bus fails in a way no retry fixes', async () => {
    const missing = new FatalBackendError('Service Bus queue "gold" does not exist: create it (infra/ does) or fix the name.', 'Service Bus queue "gold"');
    let attempts = 0;
    const failing = new Proxy(bus, {
      get(target, property) {
        if (property === 'acceptSession')
          return async () => {
            attempts += 1;
            throw missing;
          };
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as Bus;
    const reported: Error[] = [];
    const { transport, lines } = await start({ bus: failing, onFatal: (error) => reported.push(error), errorBackoffMs: 5 });
    await waitFor(() => reported.length > 0 || undefined, { timeoutMs: 10_000, description: 'the fatal failure to be reported' });
    // Every loop stopped at the first failure: the three session loops tried once each at most.
    await app?.close();
    app = undefined;
    expect(reported).toEqual([missing]);
    expect(transport.fatal).toBe(missing);
    expect(attempts).toBeLessThanOrEqual(3);
    expect(lines.filter((l) => l.level === 'error' && String(l.message).includes('retrying cannot fix'))).toHaveLength(1);
  });

  it('holds exactly the owned sessions whatever the traffic, and hands one over once it is no longer owned', async () => {
    const owned = new Set(['shard-0']);
    await start({ queues: [{ queue: 'gold', sessions: true, ownedSessions: () => owned }], sessionIdleMs: 50 });
    await bus.send('gold', [
      { subject: 'gold.batch', sessionId: 'shard-0', body: { n: 1 } },
      { subject: 'gold.batch', sessionId: 'shard-1', body: { n: 1 } },
    ]);
    await callsOf('gold.batch', 1);
    // Long past the idle time, the owned session is still held: another receiver cannot take it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(bus.acceptSession('gold', { sessionId: 'shard-0', maxWaitMs: 0 })).resolves.toBeUndefined();
    // shard-1 is not owned: it was never taken, its message waits.
    expect(recorder.calls.map((c) => c.sessionId)).toEqual(['shard-0']);
    owned.delete('shard-0');
    owned.add('shard-1');
    await callsOf('gold.batch', 2);
    const released = await waitFor(() => bus.acceptSession('gold', { sessionId: 'shard-0', maxWaitMs: 0 }), { timeoutMs: 10_000, description: 'shard-0 to be released' });
    await released.close();
    expect(recorder.calls.map((c) => c.sessionId)).toEqual(['shard-0', 'shard-1']);
  });

  it('rejects a queue list it cannot serve, naming the problem', () => {
    const { logger } = collectingLogger();
    expect(() => new BusTransport({ bus, logger, queues: [] })).toThrow(/at least one queue/);
    expect(() => new BusTransport({ bus, logger, queues: [{ queue: 'gold', sessions: true, maxMessages: 5 }] })).toThrow(/set maxConcurrentSessions/);
    expect(
      () =>
        new BusTransport({
          bus,
          logger,
          queues: [
            { queue: 'a', sessions: false },
            { queue: 'a', sessions: false },
          ],
        }),
    ).toThrow(/listed twice/);
  });
});

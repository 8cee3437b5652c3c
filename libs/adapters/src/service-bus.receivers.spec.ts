/**
 * The receivers' own logic — settlement by lock token, delayed abandons, dead-letter stamps, closing —
 * over an in-memory stand-in for the SDK client (no namespace). The live contract covers the wire.
 */
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { TestClock } from '@pipeline/engine';
import { BusError, MessageLockLostError, SessionLockLostError, type ReceivedMessage, type SessionReceiver } from '@pipeline/ports';
import { ServiceBusBus } from './service-bus.bus';
import { DEAD_LETTERED_AT_PROPERTY } from './service-bus.messages';

const fakeClients: FakeClient[] = [];

jest.mock('@azure/service-bus', () => {
  const actual = jest.requireActual<typeof import('@azure/service-bus')>('@azure/service-bus');
  return {
    ...actual,
    ServiceBusClient: jest.fn(() => {
      const client = new FakeClient(actual.ServiceBusError);
      fakeClients.push(client);
      return client;
    }),
  };
});

type SdkError = new (message: string, code: 'MessageLockLost' | 'SessionLockLost' | 'SessionCannotBeLocked') => Error;

/** A received message as the SDK gives it: raw body bytes, AMQP delivery count (from 0). */
function sdkMessage(n: number, sessionId?: string): ServiceBusReceivedMessage {
  return {
    body: Buffer.from(JSON.stringify({ n })),
    messageId: `m-${n}`,
    sessionId,
    deliveryCount: 0,
    enqueuedTimeUtc: new Date(1_767_225_600_000),
    lockToken: `lock-${n}-${Math.random()}`,
    lockedUntilUtc: sessionId ? undefined : new Date(Date.now() + 30_000),
    state: 'active',
    _rawAmqpMessage: {} as ServiceBusReceivedMessage['_rawAmqpMessage'],
  };
}

class FakeReceiver {
  readonly calls: string[] = [];
  readonly waiting: ServiceBusReceivedMessage[] = [];
  lockLost = new Set<string>();
  sessionLockedUntilUtc = new Date(Date.now() + 30_000);
  closed = false;

  constructor(
    private readonly client: FakeClient,
    readonly sessionId?: string,
  ) {}

  async receiveMessages(max: number): Promise<ServiceBusReceivedMessage[]> {
    this.calls.push('receive');
    return this.waiting.splice(0, max);
  }
  async completeMessage(message: ServiceBusReceivedMessage): Promise<void> {
    if (this.lockLost.has(message.messageId as string)) throw new this.client.SdkError('lock expired', 'MessageLockLost');
    this.calls.push(`complete ${String(message.messageId)}`);
  }
  async abandonMessage(message: ServiceBusReceivedMessage): Promise<void> {
    this.calls.push(`abandon ${String(message.messageId)}`);
  }
  async deadLetterMessage(message: ServiceBusReceivedMessage, options: Record<string, unknown>): Promise<void> {
    this.calls.push(`dead-letter ${String(message.messageId)} ${JSON.stringify(options)}`);
  }
  async renewMessageLock(): Promise<Date> {
    return new Date(1_767_225_700_000);
  }
  async renewSessionLock(): Promise<Date> {
    if (this.closed) throw new this.client.SdkError('session lock lost', 'SessionLockLost');
    return new Date(1_767_225_800_000);
  }
  async setSessionState(state: Buffer): Promise<void> {
    this.calls.push(`set-state ${state.toString()}`);
    this.client.sessionStates.set(this.sessionId as string, state);
  }
  async getSessionState(): Promise<unknown> {
    return this.client.sessionStates.get(this.sessionId as string);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.calls.push('close');
  }
}

class FakeClient {
  readonly receivers: FakeReceiver[] = [];
  readonly sessionStates = new Map<string, Buffer>();
  /** Messages a session receiver gets when it is accepted. */
  readonly sessionMessages = new Map<string, ServiceBusReceivedMessage[]>();

  constructor(readonly SdkError: SdkError) {}

  createReceiver(): FakeReceiver {
    const receiver = new FakeReceiver(this);
    this.receivers.push(receiver);
    return receiver;
  }
  async acceptSession(_queue: string, sessionId: string): Promise<FakeReceiver> {
    const receiver = new FakeReceiver(this, sessionId);
    receiver.waiting.push(...(this.sessionMessages.get(sessionId) ?? []));
    this.receivers.push(receiver);
    return receiver;
  }
  async acceptNextSession(): Promise<FakeReceiver> {
    throw new this.SdkError('no session', 'SessionCannotBeLocked');
  }
  createSender() {
    return { close: async () => undefined };
  }
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }
}

const CONNECTION = 'Endpoint=sb://fake.servicebus.windows.net/;SharedAccessKeyName=test;SharedAccessKey=a2V5';

describe('Service Bus receivers (over a stand-in SDK client)', () => {
  let clock: TestClock;
  let bus: ServiceBusBus;
  let client: FakeClient;

  beforeEach(() => {
    clock = new TestClock(1_767_225_600_000);
    bus = ServiceBusBus.open({ connectionString: CONNECTION }, { clock });
    client = fakeClients[fakeClients.length - 1];
  });

  afterEach(async () => {
    await bus.close();
  });

  async function session(sessionId: string, ...messages: number[]): Promise<{ receiver: SessionReceiver; sdk: FakeReceiver }> {
    client.sessionMessages.set(
      sessionId,
      messages.map((n) => sdkMessage(n, sessionId)),
    );
    const receiver = await bus.acceptSession('gold', { sessionId, maxWaitMs: 0 });
    if (!receiver) throw new Error(`session ${sessionId} was not accepted`);
    return { receiver, sdk: client.receivers[client.receivers.length - 1] };
  }

  it('maps received messages, counting deliveries from 1 and taking the session lock as their lock', async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 5, maxWaitMs: 0 });
    expect(message).toMatchObject({ messageId: 'm-1', body: { n: 1 }, sessionId: 'shard-1', deliveryCount: 1, lockedUntil: sdk.sessionLockedUntilUtc.getTime() });
    await receiver.complete(message);
    expect(sdk.calls).toContain('complete m-1');
  });

  it('refuses to settle a message twice, or one it did not receive, without asking the service', async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.complete(message);
    await expect(receiver.complete(message)).rejects.toThrow(MessageLockLostError);
    const foreign: ReceivedMessage = { ...message, lockToken: 'someone-else' };
    await expect(receiver.abandon(foreign)).rejects.toThrow(MessageLockLostError);
    expect(sdk.calls.filter((call) => call.startsWith('complete') || call.startsWith('abandon'))).toEqual(['complete m-1']);
  });

  it('turns a lock the service reports lost into MessageLockLostError and forgets the message', async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    sdk.lockLost.add('m-1');
    await expect(receiver.complete(message)).rejects.toThrow(MessageLockLostError);
    sdk.lockLost.clear();
    await expect(receiver.complete(message)).rejects.toThrow(/does not hold message m-1/);
  });

  it('records "retry not before" in the session state before abandoning, and receives nothing until then', async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.abandon(message, { delayMs: 60_000 });
    expect(sdk.calls.slice(-2)).toEqual([`set-state {"retryNotBefore":${clock.now() + 60_000}}`, 'abandon m-1']);
    sdk.waiting.push(sdkMessage(1, 'shard-1'));
    const receives = sdk.calls.filter((call) => call === 'receive').length;
    await expect(receiver.receive({ maxMessages: 1, maxWaitMs: 5 })).resolves.toEqual([]);
    expect(sdk.calls.filter((call) => call === 'receive')).toHaveLength(receives);
    clock.advance(60_000);
    await expect(receiver.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ messageId: 'm-1' }]);
  });

  it('keeps the delay for an instance that takes the session over', async () => {
    const first = await session('shard-1', 1);
    const [message] = await first.receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await first.receiver.abandon(message, { delayMs: 30_000 });
    await first.receiver.close();
    const heir = await session('shard-1', 1);
    await expect(heir.receiver.receive({ maxMessages: 1, maxWaitMs: 5 })).resolves.toEqual([]);
    expect(heir.sdk.calls).not.toContain('receive');
    clock.advance(30_000);
    await expect(heir.receiver.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ messageId: 'm-1' }]);
  });

  it('abandons at once without touching the session state when there is no delay', async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.abandon(message);
    expect(sdk.calls.filter((call) => call.startsWith('set-state'))).toEqual([]);
    expect(sdk.calls).toContain('abandon m-1');
  });

  it("stamps a dead letter with the clock's time, beside the reason and description", async () => {
    const { receiver, sdk } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.deadLetter(message, 'ManifestMissing', 'gone');
    expect(sdk.calls).toContain(
      `dead-letter m-1 ${JSON.stringify({ deadLetterReason: 'ManifestMissing', deadLetterErrorDescription: 'gone', [DEAD_LETTERED_AT_PROPERTY]: clock.now() })}`,
    );
    await expect(receiver.deadLetter(message, '', 'x')).rejects.toThrow(/needs a non-empty reason/);
  });

  it('renews the session for a message lock, and reports the session lost after close', async () => {
    const { receiver } = await session('shard-1', 1);
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await expect(receiver.renewMessageLock(message)).resolves.toBe(1_767_225_800_000);
    await expect(receiver.renewSessionLock()).resolves.toBe(1_767_225_800_000);
    await receiver.close();
    await expect(receiver.renewSessionLock()).rejects.toThrow(/is closed; accept the session again/);
    await expect(receiver.complete(message)).rejects.toThrow(BusError);
  });

  it('maps a session lock the service reports lost to SessionLockLostError', async () => {
    const { receiver, sdk } = await session('shard-1');
    sdk.closed = true;
    await expect(receiver.renewSessionLock()).rejects.toThrow(SessionLockLostError);
  });

  it('returns nothing when no session is free within the wait', async () => {
    await expect(bus.acceptSession('gold', { maxWaitMs: 5 })).resolves.toBeUndefined();
  });

  it('holds a plain-queue message abandoned with a delay, and abandons it when the receiver closes', async () => {
    const receiver = bus.receiver('bronze');
    await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    const sdk = client.receivers[0];
    sdk.waiting.push(sdkMessage(7));
    const [message] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.abandon(message, { delayMs: 60_000 });
    expect(sdk.calls).not.toContain('abandon m-7');
    await expect(receiver.complete(message)).rejects.toThrow(MessageLockLostError);
    await receiver.close();
    expect(sdk.calls.slice(-2)).toEqual(['abandon m-7', 'close']);
  });
});

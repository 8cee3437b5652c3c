/**
 * The bus contract (libs/ports/src/bus.ts), written once and run against every adapter.
 *
 * It must also hold on a live, shared namespace: every test uses queues of its own (a run id in the
 * name) and never assumes more than what it sent. Lock expiry, abandon delays and scheduled times are
 * driven with the adapter's `TestClock` when it has one; otherwise the tests wait for real time with
 * short durations (polling receives, never sleeps).
 */
import { randomUUID } from 'node:crypto';
import type { TestClock } from '@pipeline/engine';
import { BusError, MessageLockLostError, QueueNotFoundError, SessionLockLostError, type Bus, type QueueOptions, type ReceivedMessage, type SessionReceiver } from '@pipeline/ports';
import { waitFor } from './wait-for';

export interface BusUnderTest {
  bus: Bus;
  /** Present when the adapter reads lock expiry, delays and schedules from this clock. */
  clock?: TestClock;
  dispose(): Promise<void>;
}

export interface BusContractOptions {
  /**
   * Whether `makeBus` returns a `clock` that drives lock expiry. Tests that need it are declared
   * skipped (with the reason in their name) when it is false; known up front because Jest declares
   * tests before `makeBus` runs.
   */
  drivableClock: boolean;
}

/** The reason the bus gives a message it dead-letters after too many deliveries. */
const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';
/** Lock duration of queues whose locks the tests do not let expire. */
const LONG_LOCK_MS = 30_000;
/** Lock duration when expiry is waited for in real time (Service Bus allows 5 s at least). */
const REAL_LOCK_MS = 5_000;
/** Abandon delays and schedules waited for in real time. */
const REAL_DELAY_MS = 2_000;
/** How long a receive waits for a message the test expects. */
const ARRIVAL_WAIT_MS = 10_000;
/** How long a receive waits to show that nothing is there. */
const NOTHING_WAIT_MS = 300;

export function describeBusContract(adapterName: string, makeBus: () => Promise<BusUnderTest>, options: BusContractOptions = { drivableClock: false }): void {
  describe(`Bus contract (${adapterName})`, () => {
    let subject: BusUnderTest;
    let bus: Bus;
    let run: string;
    const opened: Array<{ close(): Promise<void> }> = [];

    beforeEach(async () => {
      subject = await makeBus();
      bus = subject.bus;
      run = randomUUID().slice(0, 8);
    });

    afterEach(async () => {
      for (const receiver of opened.splice(0)) await receiver.close().catch(() => undefined);
      await bus.close();
      await subject.dispose();
    });

    /** A queue of this test only. */
    async function queue(purpose: string, queueOptions: Partial<QueueOptions> = {}): Promise<string> {
      const name = `contract-${run}-${purpose}`;
      await bus.ensureQueue(name, { sessions: false, lockDurationMs: LONG_LOCK_MS, maxDeliveryCount: 10, ...queueOptions });
      return name;
    }

    function plainReceiver(name: string) {
      const receiver = bus.receiver(name);
      opened.push(receiver);
      return receiver;
    }

    async function accept(name: string, sessionId?: string, maxWaitMs = ARRIVAL_WAIT_MS): Promise<SessionReceiver | undefined> {
      const receiver = await bus.acceptSession(name, { sessionId, maxWaitMs });
      if (receiver) opened.push(receiver);
      return receiver;
    }

    async function acceptOrFail(name: string, sessionId?: string): Promise<SessionReceiver> {
      const receiver = await accept(name, sessionId);
      if (!receiver) throw new Error(`No session ${sessionId ?? '(any)'} of queue ${name} could be accepted within ${ARRIVAL_WAIT_MS} ms.`);
      return receiver;
    }

    async function receiveOne(receiver: { receive: SessionReceiver['receive'] }, maxWaitMs = ARRIVAL_WAIT_MS): Promise<ReceivedMessage> {
      const [message, ...more] = await receiver.receive({ maxMessages: 1, maxWaitMs });
      if (!message) throw new Error(`No message arrived within ${maxWaitMs} ms.`);
      expect(more).toEqual([]);
      return message;
    }

    async function expectNothing(receiver: { receive: SessionReceiver['receive'] }): Promise<void> {
      await expect(receiver.receive({ maxMessages: 10, maxWaitMs: NOTHING_WAIT_MS })).resolves.toEqual([]);
    }

    /** Every message of a session, completed one by one, as bodies. */
    async function drain(receiver: SessionReceiver): Promise<unknown[]> {
      const bodies: unknown[] = [];
      for (;;) {
        const batch = await receiver.receive({ maxMessages: 3, maxWaitMs: NOTHING_WAIT_MS });
        if (batch.length === 0) return bodies;
        for (const message of batch) {
          bodies.push(message.body);
          await receiver.complete(message);
        }
      }
    }

    /** Lets `ms` pass: on the test clock when there is one, else in real time within the next receive. */
    function pass(ms: number): number {
      subject.clock?.advance(ms);
      return subject.clock ? 0 : ms;
    }

    const now = () => subject.clock?.now() ?? Date.now();

    it("keeps a message's body, subject, id and application properties", async () => {
      const name = await queue('fields');
      const body = { manifest: 'silver/_manifests/00000000000000000007.json', rows: 42, nested: { ok: true, list: [1, 'two'] } };
      await bus.send(name, [{ body, subject: 'silver.batch', messageId: `m-${run}`, applicationProperties: { shard: 3, stage: 'silver', replay: false } }]);
      const receiver = plainReceiver(name);
      const message = await receiveOne(receiver);
      expect(message).toMatchObject({ body, subject: 'silver.batch', messageId: `m-${run}`, sessionId: undefined, deliveryCount: 1 });
      expect(message.applicationProperties).toEqual({ shard: 3, stage: 'silver', replay: false });
      expect(typeof message.lockToken).toBe('string');
      expect(message.lockedUntil).toBeGreaterThan(message.enqueuedTime);
      await receiver.complete(message);
    });

    it('delivers the messages of each session in send order', async () => {
      const name = await queue('order', { sessions: true });
      await bus.send(
        name,
        [1, 2, 3].flatMap((n) => [
          { body: `a${n}`, sessionId: 'a' },
          { body: `b${n}`, sessionId: 'b' },
        ]),
      );
      await bus.send(name, [{ body: 'a4', sessionId: 'a' }]);
      const a = await acceptOrFail(name, 'a');
      expect(a.sessionId).toBe('a');
      expect(await drain(a)).toEqual(['a1', 'a2', 'a3', 'a4']);
      const any = await acceptOrFail(name);
      expect(any.sessionId).toBe('b');
      expect(await drain(any)).toEqual(['b1', 'b2', 'b3']);
    });

    it('lets one receiver at a time hold a session', async () => {
      const name = await queue('holder', { sessions: true });
      await bus.send(name, [{ body: 'only', sessionId: 's' }]);
      const first = await acceptOrFail(name, 's');
      await expect(accept(name, 's', NOTHING_WAIT_MS)).resolves.toBeUndefined();
      await expect(accept(name, undefined, NOTHING_WAIT_MS)).resolves.toBeUndefined();
      await first.close();
      const second = await acceptOrFail(name, 's');
      expect((await receiveOne(second)).body).toBe('only');
    });

    const sessionExpiry = 'hands a session whose lock expired to another receiver, which gets the uncompleted message again';
    if (options.drivableClock) it(sessionExpiry, sessionLockExpiry);
    else it.skip(`${sessionExpiry} (skipped: the ${adapterName} adapter's lock expiry cannot be driven by a test clock)`, () => undefined);

    async function sessionLockExpiry(): Promise<void> {
      const clock = subject.clock;
      if (!clock) throw new Error(`The ${adapterName} bus contract was told its lock expiry can be driven (drivableClock), but makeBus returned no clock.`);
      const name = await queue('session-expiry', { sessions: true });
      await bus.send(name, [
        { body: 'first', sessionId: 's' },
        { body: 'second', sessionId: 's' },
      ]);
      const dead = await acceptOrFail(name, 's');
      const taken = await receiveOne(dead);
      expect(taken).toMatchObject({ body: 'first', deliveryCount: 1 });
      clock.advance(LONG_LOCK_MS + 1);
      const heir = await acceptOrFail(name, 's');
      const again = await receiveOne(heir);
      expect(again).toMatchObject({ body: 'first', deliveryCount: 2, messageId: taken.messageId });
      await expect(dead.complete(taken)).rejects.toThrow(BusError);
      await expect(dead.renewSessionLock()).rejects.toThrow(SessionLockLostError);
      await heir.complete(again);
      expect(await drain(heir)).toEqual(['second']);
    }

    it('redelivers a message of a plain queue once its lock expired', async () => {
      const lockDurationMs = subject.clock ? LONG_LOCK_MS : REAL_LOCK_MS;
      const name = await queue('message-expiry', { lockDurationMs });
      await bus.send(name, [{ body: 'retry me' }]);
      const receiver = plainReceiver(name);
      const first = await receiveOne(receiver);
      expect(first.deliveryCount).toBe(1);
      const extraWait = pass(lockDurationMs + 1);
      const second = await receiveOne(receiver, ARRIVAL_WAIT_MS + extraWait);
      expect(second).toMatchObject({ body: 'retry me', messageId: first.messageId, deliveryCount: 2 });
      expect(second.lockToken).not.toBe(first.lockToken);
      await expect(receiver.complete(first)).rejects.toThrow(MessageLockLostError);
      await receiver.complete(second);
    });

    it('extends a message lock on renewal', async () => {
      const name = await queue('renew');
      await bus.send(name, [{ body: 'long job' }]);
      const receiver = plainReceiver(name);
      const message = await receiveOne(receiver);
      pass(LONG_LOCK_MS / 2);
      const lockedUntil = await receiver.renewMessageLock(message);
      expect(lockedUntil).toBeGreaterThanOrEqual(message.lockedUntil);
      pass(LONG_LOCK_MS / 2 + 1);
      await expectNothing(receiver);
      await receiver.complete(message);
    });

    it('removes a completed message', async () => {
      const name = await queue('complete');
      await bus.send(name, [{ body: 'done' }]);
      const receiver = plainReceiver(name);
      await receiver.complete(await receiveOne(receiver));
      await expectNothing(receiver);
      await expect(bus.listDeadLetters(name)).resolves.toEqual([]);
    });

    it('redelivers an abandoned message at once, counting the delivery', async () => {
      const name = await queue('abandon');
      await bus.send(name, [{ body: 'try again' }]);
      const receiver = plainReceiver(name);
      const first = await receiveOne(receiver);
      await receiver.abandon(first);
      const second = await receiveOne(receiver);
      expect(second).toMatchObject({ body: 'try again', messageId: first.messageId, deliveryCount: 2 });
      await receiver.complete(second);
    });

    it('hides a message abandoned with a delay until the delay has passed', async () => {
      const delayMs = subject.clock ? 60_000 : REAL_DELAY_MS;
      const name = await queue('backoff');
      await bus.send(name, [{ body: 'later' }]);
      const receiver = plainReceiver(name);
      await receiver.abandon(await receiveOne(receiver), { delayMs });
      await expectNothing(receiver);
      const extraWait = pass(delayMs);
      const again = await receiveOne(receiver, ARRIVAL_WAIT_MS + extraWait);
      expect(again).toMatchObject({ body: 'later', deliveryCount: 2 });
      await receiver.complete(again);
    });

    it('keeps a session message abandoned in its place, ahead of the later ones', async () => {
      const name = await queue('session-abandon', { sessions: true });
      await bus.send(name, [
        { body: 1, sessionId: 's' },
        { body: 2, sessionId: 's' },
      ]);
      const receiver = await acceptOrFail(name, 's');
      const first = await receiveOne(receiver);
      await receiver.abandon(first);
      const again = await receiveOne(receiver);
      expect(again).toMatchObject({ body: 1, deliveryCount: 2 });
      await receiver.complete(again);
      expect(await drain(receiver)).toEqual([2]);
    });

    it('dead-letters a message delivered maxDeliveryCount times, with the reason MaxDeliveryCountExceeded', async () => {
      const name = await queue('max-deliveries', { maxDeliveryCount: 2 });
      await bus.send(name, [{ body: { poison: true }, subject: 'bronze.batch', messageId: `poison-${run}`, applicationProperties: { attempt: 'x' } }]);
      const receiver = plainReceiver(name);
      await receiver.abandon(await receiveOne(receiver));
      const last = await receiveOne(receiver);
      expect(last.deliveryCount).toBe(2);
      await receiver.abandon(last);
      await expectNothing(receiver);
      // Some services move the message to the dead-letter queue a moment after the abandon.
      const [letter] = await waitFor(
        async () => {
          const letters = await bus.listDeadLetters(name);
          return letters.length > 0 ? letters : undefined;
        },
        {
          timeoutMs: ARRIVAL_WAIT_MS,
          description: `the dead letter of queue ${name}`,
        },
      );
      expect(letter).toMatchObject({
        messageId: `poison-${run}`,
        body: { poison: true },
        subject: 'bronze.batch',
        applicationProperties: { attempt: 'x' },
        reason: MAX_DELIVERY_COUNT_EXCEEDED,
        deliveryCount: 2,
      });
    });

    it('dead-letters a message on request with the reason and description given', async () => {
      const name = await queue('dead-letter');
      await bus.send(name, [{ body: 'unreadable', messageId: `bad-${run}` }]);
      const receiver = plainReceiver(name);
      const before = now();
      await receiver.deadLetter(await receiveOne(receiver), 'ManifestMissing', 'lake path silver/_manifests/7.json does not exist');
      await expectNothing(receiver);
      const letters = await bus.listDeadLetters(name);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        messageId: `bad-${run}`,
        body: 'unreadable',
        reason: 'ManifestMissing',
        description: 'lake path silver/_manifests/7.json does not exist',
        deliveryCount: 1,
      });
      expect(letters[0].deadLetteredTime).toBeGreaterThanOrEqual(before - 1_000);
    });

    it('resubmits a dead letter with its delivery count reset, behind the messages already queued', async () => {
      const name = await queue('resubmit', { sessions: true });
      await bus.send(name, [{ body: 'first', sessionId: 's', messageId: `first-${run}` }]);
      const receiver = await acceptOrFail(name, 's');
      const first = await receiveOne(receiver);
      await receiver.abandon(first);
      await receiver.deadLetter(await receiveOne(receiver), 'Test', 'parked by the test');
      await receiver.close();
      await bus.send(name, [{ body: 'second', sessionId: 's' }]);
      const [letter] = await bus.listDeadLetters(name, { limit: 10 });
      expect(letter).toMatchObject({ messageId: `first-${run}`, deliveryCount: 2, sessionId: 's' });
      await bus.resubmitDeadLetter(name, letter.messageId);
      await expect(bus.listDeadLetters(name)).resolves.toEqual([]);
      const again = await acceptOrFail(name, 's');
      const second = await receiveOne(again);
      expect(second.body).toBe('second');
      await again.complete(second);
      const resubmitted = await receiveOne(again);
      expect(resubmitted).toMatchObject({ body: 'first', messageId: `first-${run}`, sessionId: 's', deliveryCount: 1 });
      await again.complete(resubmitted);
    });

    it('delivers a scheduled message not before its time', async () => {
      const aheadMs = subject.clock ? 60_000 : REAL_DELAY_MS;
      const name = await queue('scheduled');
      await bus.send(name, [{ body: 'on time', scheduledEnqueueTime: now() + aheadMs }, { body: 'now' }]);
      const receiver = plainReceiver(name);
      const immediate = await receiveOne(receiver);
      expect(immediate.body).toBe('now');
      await receiver.complete(immediate);
      await expectNothing(receiver);
      const extraWait = pass(aheadMs);
      const scheduled = await receiveOne(receiver, ARRIVAL_WAIT_MS + extraWait);
      expect(scheduled.body).toBe('on time');
      await receiver.complete(scheduled);
    });

    it('refuses to settle a message whose lock is no longer held', async () => {
      const name = await queue('stale');
      await bus.send(name, [{ body: 'once' }]);
      const receiver = plainReceiver(name);
      const message = await receiveOne(receiver);
      await receiver.complete(message);
      await expect(receiver.complete(message)).rejects.toThrow(MessageLockLostError);
      await expect(receiver.abandon(message)).rejects.toThrow(MessageLockLostError);
      await expect(receiver.deadLetter(message, 'Late', 'too late')).rejects.toThrow(MessageLockLostError);
    });

    it('names the queue when sending to a queue that does not exist', async () => {
      const missing = `contract-${run}-missing`;
      const sending = bus.send(missing, [{ body: 'lost' }]);
      await expect(sending).rejects.toThrow(QueueNotFoundError);
      await expect(bus.send(missing, [{ body: 'lost' }])).rejects.toThrow(missing);
    });
  });
}

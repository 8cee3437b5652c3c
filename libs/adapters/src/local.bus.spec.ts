import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestClock } from '@pipeline/engine';
import { BusError, QueueNotFoundError, SessionLockLostError, type QueueOptions } from '@pipeline/ports';
import { describeBusContract, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import { LocalBus, MAX_DELIVERY_COUNT_EXCEEDED } from './local.bus';

const repoRoot = path.resolve(__dirname, '../../..');
const adapterModule = path.join(__dirname, 'local.bus.ts');

describeBusContract(
  'local',
  async () => {
    const dir = await makeTempDir('local-bus-');
    const clock = new TestClock(1_767_225_600_000);
    const bus = LocalBus.open({ file: path.join(dir.path, 'bus.db'), clock, pollIntervalMs: 5 });
    return { bus, clock, dispose: () => dir.dispose() };
  },
  { drivableClock: true },
);

/** A child Node process running `script` with the TypeScript sources compiled on the fly. */
function runNode(script: string): { exited: Promise<void>; stdout: string[] } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, SWC_NODE_PROJECT: path.join(repoRoot, 'tsconfig.base.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    stdout.push(...lines);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`child process exited with ${code}: ${stderr}`))));
  });
  return { exited, stdout };
}

describe('LocalBus', () => {
  let dir: TempDir;
  let file: string;
  let clock: TestClock;
  const plain: QueueOptions = { sessions: false, lockDurationMs: 30_000, maxDeliveryCount: 3 };
  const sessions: QueueOptions = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 3 };
  const open = () => LocalBus.open({ file, clock, pollIntervalMs: 5 });

  beforeEach(async () => {
    dir = await makeTempDir('local-bus-');
    file = path.join(dir.path, 'queues', 'bus.db');
    clock = new TestClock(1_767_225_600_000);
  });

  afterEach(async () => {
    await dir.dispose();
  });

  it('refuses to re-ensure a queue with other options, saying what it has', async () => {
    const bus = open();
    await bus.ensureQueue('gold', sessions);
    await bus.ensureQueue('gold', sessions);
    const changing = bus.ensureQueue('gold', { ...sessions, maxDeliveryCount: 5 });
    await expect(changing).rejects.toThrow(BusError);
    await expect(bus.ensureQueue('gold', { ...sessions, sessions: false })).rejects.toThrow(
      /Queue "gold" already exists .* with \{"sessions":true,"lockDurationMs":30000,"maxDeliveryCount":3\}.*pass the existing options, or use another queue name/,
    );
    await bus.close();
  });

  it('rejects invalid queue options, listing every problem', async () => {
    const bus = open();
    await expect(bus.ensureQueue('q', { sessions: 'yes', lockDurationMs: 0, maxDeliveryCount: 1.5 } as unknown as QueueOptions)).rejects.toThrow(
      /sessions must be true or false.*lockDurationMs must be a positive integer.*maxDeliveryCount must be a positive integer/,
    );
    await bus.close();
  });

  it('tells how to create a queue that does not exist, for every operation', async () => {
    const bus = open();
    await expect(bus.send('nowhere', [{ body: 1 }])).rejects.toThrow(/Queue "nowhere" does not exist .* bus\.ensureQueue\("nowhere"/);
    await expect(bus.receiver('nowhere').receive({ maxMessages: 1, maxWaitMs: 0 })).rejects.toThrow(QueueNotFoundError);
    await expect(bus.acceptSession('nowhere', { maxWaitMs: 0 })).rejects.toThrow(QueueNotFoundError);
    await expect(bus.listDeadLetters('nowhere')).rejects.toThrow(QueueNotFoundError);
    await bus.close();
  });

  it('requires a sessionId on a session queue and forbids it on a plain one', async () => {
    const bus = open();
    await bus.ensureQueue('ordered', sessions);
    await bus.ensureQueue('plain', plain);
    await expect(bus.send('ordered', [{ body: 1 }])).rejects.toThrow(/Message 0 sent to queue "ordered" needs a sessionId/);
    await expect(bus.send('plain', [{ body: 1 }, { body: 2, sessionId: 's' }])).rejects.toThrow(/Message 1 .* does not use sessions/);
    await expect(bus.receiver('plain').receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toEqual([]);
    await expect(bus.receiver('ordered').receive({ maxMessages: 1, maxWaitMs: 0 })).rejects.toThrow(/uses sessions; take a session/);
    await expect(bus.acceptSession('plain', { maxWaitMs: 0 })).rejects.toThrow(/does not use sessions/);
    await bus.close();
  });

  it('rejects a body that is not JSON, a bad property and an oversized message, naming the message', async () => {
    const bus = open();
    await bus.ensureQueue('plain', plain);
    await expect(bus.send('plain', [{ body: undefined }])).rejects.toThrow(/Message 0 .* must be JSON-serialisable/);
    await expect(bus.send('plain', [{ body: 1, applicationProperties: { n: Number.NaN } }])).rejects.toThrow(/application property "n"/);
    await expect(bus.send('plain', [{ body: 'x'.repeat(300 * 1024) }])).rejects.toThrow(/over the 262144-byte limit.*put the data in the lake/);
    await expect(bus.receiver('plain').receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toEqual([]);
    await bus.close();
  });

  it('sends a batch all or nothing', async () => {
    const bus = open();
    await bus.ensureQueue('plain', plain);
    await expect(bus.send('plain', [{ body: 'fine' }, { body: () => 1 }])).rejects.toThrow(/Message 1/);
    await expect(bus.receiver('plain').receive({ maxMessages: 5, maxWaitMs: 0 })).resolves.toEqual([]);
    await bus.close();
  });

  it("holds back the next message of a session while an earlier one is in the holder's hands", async () => {
    const bus = open();
    await bus.ensureQueue('ordered', sessions);
    await bus.send(
      'ordered',
      [1, 2, 3].map((n) => ({ body: n, sessionId: 's' })),
    );
    const receiver = await bus.acceptSession('ordered', { sessionId: 's', maxWaitMs: 0 });
    if (!receiver) throw new Error('session s was not accepted');
    const [first] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    expect(first.body).toBe(1);
    await expect(receiver.receive({ maxMessages: 2, maxWaitMs: 20 })).resolves.toEqual([]);
    await receiver.complete(first);
    await expect(receiver.receive({ maxMessages: 5, maxWaitMs: 0 })).resolves.toMatchObject([{ body: 2 }, { body: 3 }]);
    await receiver.close();
    await bus.close();
  });

  it('holds a session back while its first message waits out an abandon delay', async () => {
    const bus = open();
    await bus.ensureQueue('ordered', sessions);
    await bus.send(
      'ordered',
      [1, 2].map((n) => ({ body: n, sessionId: 's' })),
    );
    const receiver = await bus.acceptSession('ordered', { maxWaitMs: 0 });
    if (!receiver) throw new Error('no session was accepted');
    const [first] = await receiver.receive({ maxMessages: 1, maxWaitMs: 0 });
    await receiver.abandon(first, { delayMs: 10_000 });
    await expect(receiver.receive({ maxMessages: 2, maxWaitMs: 0 })).resolves.toEqual([]);
    await receiver.close();
    await expect(bus.acceptSession('ordered', { maxWaitMs: 0 })).resolves.toBeUndefined();
    clock.advance(10_000);
    const next = await bus.acceptSession('ordered', { maxWaitMs: 0 });
    await expect(next?.receive({ maxMessages: 2, maxWaitMs: 0 })).resolves.toMatchObject([
      { body: 1, deliveryCount: 2 },
      { body: 2, deliveryCount: 1 },
    ]);
    await next?.close();
    await bus.close();
  });

  it('gives the unsettled messages of a released session to its next holder', async () => {
    const bus = open();
    await bus.ensureQueue('ordered', sessions);
    await bus.send('ordered', [{ body: 'a', sessionId: 's' }]);
    const first = await bus.acceptSession('ordered', { maxWaitMs: 0 });
    const [message] = (await first?.receive({ maxMessages: 1, maxWaitMs: 0 })) ?? [];
    await first?.close();
    await expect(first?.complete(message)).rejects.toThrow(/is closed; accept the session again/);
    const second = await bus.acceptSession('ordered', { maxWaitMs: 0 });
    await expect(second?.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ body: 'a', deliveryCount: 2 }]);
    await second?.close();
    await bus.close();
  });

  it('renews a session lock, and reports it lost once another receiver took the session', async () => {
    const bus = open();
    await bus.ensureQueue('ordered', sessions);
    const holder = await bus.acceptSession('ordered', { sessionId: 's', maxWaitMs: 0 });
    clock.advance(20_000);
    await expect(holder?.renewSessionLock()).resolves.toBe(clock.now() + 30_000);
    clock.advance(20_000);
    await expect(bus.acceptSession('ordered', { sessionId: 's', maxWaitMs: 0 })).resolves.toBeUndefined();
    clock.advance(10_001);
    const heir = await bus.acceptSession('ordered', { sessionId: 's', maxWaitMs: 0 });
    expect(heir?.sessionId).toBe('s');
    await expect(holder?.renewSessionLock()).rejects.toThrow(SessionLockLostError);
    await expect(holder?.receive({ maxMessages: 1, maxWaitMs: 0 })).rejects.toThrow(/lock on session "s" of queue "ordered" was lost/);
    await heir?.close();
    await bus.close();
  });

  it('dead-letters a message whose lock expired once it had its deliveries', async () => {
    const bus = open();
    await bus.ensureQueue('plain', { ...plain, maxDeliveryCount: 1 });
    await bus.send('plain', [
      { body: 'crashes its consumer', messageId: 'm1' },
      { body: 'fine', messageId: 'm2' },
    ]);
    const receiver = bus.receiver('plain');
    await expect(receiver.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ messageId: 'm1' }]);
    clock.advance(30_000);
    await expect(receiver.receive({ maxMessages: 5, maxWaitMs: 0 })).resolves.toMatchObject([{ messageId: 'm2' }]);
    await expect(bus.listDeadLetters('plain')).resolves.toMatchObject([{ messageId: 'm1', reason: MAX_DELIVERY_COUNT_EXCEEDED, deliveryCount: 1, deadLetteredTime: clock.now() }]);
    await bus.close();
  });

  it('ends a waiting receive when its receiver or the bus closes, and refuses work afterwards', async () => {
    const bus = open();
    await bus.ensureQueue('plain', plain);
    const receiver = bus.receiver('plain');
    const waiting = receiver.receive({ maxMessages: 1, maxWaitMs: 30_000 });
    await receiver.close();
    await expect(waiting).resolves.toEqual([]);
    const other = bus.receiver('plain');
    const alsoWaiting = other.receive({ maxMessages: 1, maxWaitMs: 30_000 });
    await bus.close();
    await expect(alsoWaiting).resolves.toEqual([]);
    await expect(bus.send('plain', [{ body: 1 }])).rejects.toThrow(/is closed; open it again/);
  });

  it('keeps queues, messages, locks and dead letters across close and reopen', async () => {
    const writer = open();
    await writer.ensureQueue('plain', plain);
    await writer.ensureQueue('ordered', sessions);
    await writer.send('plain', [{ body: { n: 1 }, subject: 'bronze.batch' }, { body: { n: 2 } }, { body: { n: 3 } }]);
    await writer.send('ordered', [{ body: 'x', sessionId: 'k' }]);
    const receiver = writer.receiver('plain');
    const [first, second] = await receiver.receive({ maxMessages: 2, maxWaitMs: 0 });
    await receiver.complete(first);
    await receiver.deadLetter(second, 'Broken', 'for the test');
    await writer.close();

    const reader = open();
    await expect(reader.ensureQueue('ordered', { ...sessions, lockDurationMs: 1 })).rejects.toThrow(/already exists/);
    await expect(reader.receiver('plain').receive({ maxMessages: 5, maxWaitMs: 0 })).resolves.toMatchObject([{ body: { n: 3 }, deliveryCount: 1 }]);
    await expect(reader.listDeadLetters('plain')).resolves.toMatchObject([{ body: { n: 2 }, reason: 'Broken' }]);
    const session = await reader.acceptSession('ordered', { maxWaitMs: 0 });
    await expect(session?.receive({ maxMessages: 1, maxWaitMs: 0 })).resolves.toMatchObject([{ body: 'x', sessionId: 'k' }]);
    await session?.close();
    await reader.close();
  });

  it('lets several processes share a session queue: never one session in two processes, every message completed once', async () => {
    const setup = LocalBus.open({ file });
    await setup.ensureQueue('work', { sessions: true, lockDurationMs: 60_000, maxDeliveryCount: 5 });
    const sessionIds = Array.from({ length: 6 }, (_, i) => `shard-${i}`);
    const perSession = 8;
    await setup.send('work', Array.from({ length: perSession }, (_, n) => sessionIds.map((sessionId) => ({ body: { sessionId, n }, sessionId }))).flat());
    const markers = path.join(dir.path, 'held');
    const go = path.join(dir.path, 'go');
    const script = `
      const fs = require('node:fs');
      const path = require('node:path');
      const { LocalBus } = require(${JSON.stringify(adapterModule)});
      (async () => {
        fs.mkdirSync(${JSON.stringify(markers)}, { recursive: true });
        const bus = LocalBus.open({ file: ${JSON.stringify(file)}, pollIntervalMs: 5 });
        // Start together, so that the processes compete for the sessions.
        console.log('ready');
        while (!fs.existsSync(${JSON.stringify(go)})) await new Promise((resolve) => setTimeout(resolve, 5));
        for (;;) {
          const session = await bus.acceptSession('work', { maxWaitMs: 500 });
          if (!session) break;
          // Fails with EEXIST if another process holds the same session right now.
          const marker = path.join(${JSON.stringify(markers)}, session.sessionId);
          fs.writeFileSync(marker, String(process.pid), { flag: 'wx' });
          // Take a few messages, then give the session up so the processes trade sessions.
          for (let i = 0; i < 3; i++) {
            const [message] = await session.receive({ maxMessages: 1, maxWaitMs: 0 });
            if (!message) break;
            console.log(JSON.stringify({ session: session.sessionId, body: message.body, deliveryCount: message.deliveryCount }));
            // Appended while the session is held, so each file records the order across processes.
            fs.appendFileSync(path.join(${JSON.stringify(markers)}, 'order-' + session.sessionId), message.body.n + '\\n');
            await new Promise((resolve) => setTimeout(resolve, 2));
            await session.complete(message);
          }
          fs.unlinkSync(marker);
          await session.close();
        }
        await bus.close();
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const children = Array.from({ length: 3 }, () => runNode(script));
    await waitFor(() => (children.every((child) => child.stdout[0] === 'ready') ? true : undefined), {
      timeoutMs: 30_000,
      description: 'the three consumer processes to start',
    });
    fs.writeFileSync(go, '');
    await Promise.all(children.map((child) => child.exited));

    const handled = children.flatMap((child) =>
      child.stdout.slice(1).map((line) => JSON.parse(line) as { session: string; body: { sessionId: string; n: number }; deliveryCount: number }),
    );
    expect(handled).toHaveLength(sessionIds.length * perSession);
    expect(handled.every((h) => h.deliveryCount === 1 && h.body.sessionId === h.session)).toBe(true);
    for (const sessionId of sessionIds) {
      const order = fs
        .readFileSync(path.join(markers, `order-${sessionId}`), 'utf8')
        .trim()
        .split('\n')
        .map(Number);
      expect(order).toEqual(Array.from({ length: perSession }, (_, n) => n));
    }
    // Several processes took part, so sessions really moved between them.
    expect(children.filter((child) => child.stdout.length > 1).length).toBeGreaterThan(1);
    await expect(setup.acceptSession('work', { maxWaitMs: 0 })).resolves.toBeUndefined();
    await expect(setup.listDeadLetters('work')).resolves.toEqual([]);
    await setup.close();
  }, 60_000);
});

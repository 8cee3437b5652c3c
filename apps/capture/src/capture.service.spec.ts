import * as path from 'node:path';
import * as avro from 'avsc';
import pino from 'pino';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { LocalCheckpointStore, LocalEventHub, LocalLake } from '@pipeline/adapters';
import { readCaptureFile, type CaptureRecord } from '@pipeline/capture-format';
import { TestClock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { startTelemetry, type Telemetry } from '@pipeline/telemetry';
import { collect, CountingLake, FaultyLake, makeTempDir, SimulatedCrash, type TempDir } from '@pipeline/testing';
import { CaptureLog } from './capture-log';
import { CaptureService, type CaptureServiceOptions } from './capture.service';
import { CAPTURE_RETAINED_BATCHES } from '@pipeline/checkpoint';
import { PartitionCapture } from './partition-capture';

const silent = pino({ level: 'silent' });
const PARTITIONS = 3;
const EVENTS = 90;

const options = (over: Partial<CaptureServiceOptions> = {}): CaptureServiceOptions => ({
  namespace: 'testns',
  prefix: 'raw',
  checkpointName: 'capture-events',
  ownerId: 'instance-a',
  pollWaitMs: 100,
  ownershipIntervalMs: 1_000,
  ownershipExpiryMs: 5_000,
  windowMs: 60_000,
  maxFileBytes: 2_048,
  codec: 'null',
  skipEmpty: true,
  blockTargetBytes: 512,
  receiveBatch: 7,
  ...over,
});

interface World {
  dir: TempDir;
  clock: TestClock;
  hub: LocalEventHub;
  lake: LocalLake;
  store: LocalCheckpointStore;
}

async function world(): Promise<World> {
  const dir = await makeTempDir('capture-spec-');
  const clock = new TestClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  const hub = LocalEventHub.open({ file: path.join(dir.path, 'hub.sqlite'), hubName: 'events', partitionCount: PARTITIONS, namespace: 'testns', clock });
  const lake = new LocalLake(path.join(dir.path, 'lake'));
  const store = new LocalCheckpointStore(path.join(dir.path, 'checkpoints.sqlite'), clock);
  return { dir, clock, hub, lake, store };
}

async function sendEvents(w: World, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await w.hub.send([{ body: Buffer.from(JSON.stringify({ n: i, pad: 'x'.repeat(40) })), properties: { event_id: `e-${i}`, row: i + 1 } }], { partitionKey: `device-${i % 7}` });
    w.clock.advance(10);
  }
}

/** Every captured record by partition, read with the project's reader, plus the files. */
async function captured(lake: Lake): Promise<{ files: string[]; byPartition: Map<string, CaptureRecord[]> }> {
  const files = (await collect(lake.list('raw/'))).map((e) => e.path);
  const byPartition = new Map<string, CaptureRecord[]>();
  for (const file of files) {
    const partition = file.split('/')[3] as string;
    const records = await collect(readCaptureFile(await lake.readStream(file), file));
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), ...records]);
  }
  return { files, byPartition };
}

function runService(w: World, lake: Lake, over: Partial<CaptureServiceOptions> = {}, drain = true) {
  const service = new CaptureService(w.hub, lake, w.store, w.clock, silent, options(over), async (ms) => w.clock.advance(ms));
  return service.run(new AbortController().signal, drain);
}

function expectExactlyOnce(byPartition: Map<string, CaptureRecord[]>, lastSequence: Map<string, number>): void {
  for (const [partition, last] of lastSequence) {
    const seqs = (byPartition.get(partition) ?? []).map((r) => r.sequenceNumber);
    expect(seqs).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
  }
}

async function lastSequences(w: World): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of await w.hub.getPartitionIds()) out.set(id, (await w.hub.getPartitionProperties(id)).lastSequenceNumber);
  return out;
}

describe('capture', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });
  afterEach(async () => {
    await w.hub.close();
    await w.store.close();
    await w.dir.dispose();
  });

  it('writes every event of every partition once, in sequence order, under the Capture path layout', async () => {
    await sendEvents(w, EVENTS);
    const summary = await runService(w, w.lake);
    const { files, byPartition } = await captured(w.lake);
    expect(summary.events).toBe(EVENTS);
    expect(files.length).toBe(summary.files);
    expect(files.length).toBeGreaterThan(PARTITIONS);
    for (const file of files) expect(file).toMatch(/^raw\/testns\/events\/[0-2]\/2026\/01\/01\/\d{2}\/\d{2}\/\d{2}\.avro$/);
    expectExactlyOnce(byPartition, await lastSequences(w));
    const first = byPartition.get('0')?.[0] as CaptureRecord;
    expect(JSON.parse((first.body as Buffer).toString('utf8'))).toHaveProperty('n');
    expect(first.properties).toMatchObject({ event_id: expect.stringMatching(/^e-\d+$/) });
    expect(first.enqueuedTimeUtc).toMatch(/^1\/1\/2026 12:00:\d{2} PM$/);
  });

  it('writes files that plain avsc decodes to the same records as the project reader', async () => {
    await sendEvents(w, 20);
    await runService(w, w.lake, { codec: 'deflate' });
    const files = (await collect(w.lake.list('raw/'))).map((e) => e.path);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const ours = await collect(readCaptureFile(await w.lake.readStream(file), file));
      const plain = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const records: Record<string, unknown>[] = [];
        avro
          .createFileDecoder(path.join(w.lake.location, file), { codecs: { deflate: require('node:zlib').inflateRaw } })
          .on('data', (r: Record<string, unknown>) => records.push(r))
          .on('end', () => resolve(records))
          .on('error', reject);
      });
      expect(plain.map((r) => Number(r['SequenceNumber']))).toEqual(ours.map((r) => r.sequenceNumber));
      expect(plain.map((r) => r['EnqueuedTimeUtc'])).toEqual(ours.map((r) => r.enqueuedTimeUtc));
      expect(plain.map((r) => (r['Body'] as Buffer).toString('base64'))).toEqual(ours.map((r) => (r.body as Buffer).toString('base64')));
    }
  });

  it('names damaged checkpoint metadata and how to put it right', async () => {
    const log = new CaptureLog(w.lake, 'checkpoints/capture-events');
    const metadata = { version: 1, namespace: 'testns', eventHub: 'events', consumerGroup: '$Default' };
    await log.bind(metadata);
    await w.lake.write('checkpoints/capture-events/metadata', '{"version": 1, "names');
    await expect(log.bind(metadata)).rejects.toThrow(
      new RegExp(`^The checkpoint record ${w.lake.location}/checkpoints/capture-events/metadata is damaged \\(21 bytes that are not JSON: .+\\).+Put a good copy back`),
    );
  });

  it('closes a file when its time window elapses, not before, even when it is small', async () => {
    await w.hub.send([{ body: Buffer.from('{"n":1}') }], { partitionId: '1' });
    const log = new CaptureLog(w.lake, 'checkpoints/capture-events');
    const parts = { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: '1' };
    const capture = new PartitionCapture('1', parts, w.hub, w.lake, log, w.store, w.clock, silent, options({ windowMs: 1_000, maxFileBytes: 1 << 20 }));
    expect(await capture.poll(0)).toBe(1);
    w.clock.advance(999);
    await capture.poll(0);
    expect(await collect(w.lake.list('raw/'))).toEqual([]);
    w.clock.advance(1);
    await capture.poll(0);
    const files = await collect(w.lake.list('raw/'));
    expect(files.map((f) => f.path)).toEqual(['raw/testns/events/1/2026/01/01/12/00/01.avro']);
    expect(capture.committedSequenceNumber).toBe(0);
  });

  it('names the files of a window under a second by their millisecond, and the one on a whole second plainly', async () => {
    const log = new CaptureLog(w.lake, 'checkpoints/capture-events');
    const parts = { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: '1' };
    const capture = new PartitionCapture('1', parts, w.hub, w.lake, log, w.store, w.clock, silent, options({ windowMs: 250, maxFileBytes: 1 << 20 }));
    for (let i = 0; i < 5; i++) {
      await w.hub.send([{ body: Buffer.from(`{"n":${i}}`) }], { partitionId: '1' });
      await capture.poll(0);
      w.clock.advance(250);
      await capture.poll(0);
    }
    const paths = (await collect(w.lake.list('raw/'))).map((f) => f.path);
    expect(paths).toEqual([
      'raw/testns/events/1/2026/01/01/12/00/00_250.avro',
      'raw/testns/events/1/2026/01/01/12/00/00_500.avro',
      'raw/testns/events/1/2026/01/01/12/00/00_750.avro',
      'raw/testns/events/1/2026/01/01/12/00/01.avro',
      'raw/testns/events/1/2026/01/01/12/00/01_250.avro',
    ]);
    expect(capture.committedSequenceNumber).toBe(4);
  });

  it('closes a file once it reaches the size limit, before its window elapses', async () => {
    await sendEvents(w, EVENTS);
    const log = new CaptureLog(w.lake, 'checkpoints/capture-events');
    const parts = { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: '0' };
    const capture = new PartitionCapture('0', parts, w.hub, w.lake, log, w.store, w.clock, silent, options({ windowMs: 3_600_000, maxFileBytes: 1_024 }));
    while ((await capture.poll(0)) > 0);
    const files = await collect(w.lake.list('raw/testns/events/0/'));
    expect(files.length).toBeGreaterThan(1);
    // Paths strictly increase even when several files close within the same second.
    const paths = files.map((f) => f.path);
    expect([...paths].sort()).toEqual(paths);
    expect(new Set(paths).size).toBe(paths.length);
    for (const file of files) expect(file.size).toBeLessThan(1_024 + 512);
  });

  it('writes an empty file for a window without events when skip-empty is off, as Azure Capture does', async () => {
    const stop = new AbortController();
    let polls = 0;
    const service = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ windowMs: 1_000, skipEmpty: false }), async (ms) => {
      w.clock.advance(ms);
      if (++polls === 25) stop.abort();
    });
    await service.run(stop.signal);
    const files = await collect(w.lake.list('raw/'));
    expect(files.length).toBeGreaterThanOrEqual(PARTITIONS * 2);
    for (const file of files) expect(await collect(readCaptureFile(await w.lake.readStream(file.path), file.path))).toEqual([]);
  });

  it('loses no event and duplicates none when killed at any write step and restarted', async () => {
    await sendEvents(w, EVENTS);
    const expected = await lastSequences(w);
    let crashes = 0;
    for (let crashAt = 1; ; crashAt++) {
      const attempt = await world();
      try {
        // Same events in a fresh world, so each crash point is tried from the start.
        await sendEvents(attempt, EVENTS);
        const faulty = new FaultyLake(attempt.lake, crashAt);
        let crashed = false;
        try {
          await runService(attempt, faulty, { ownerId: 'first' });
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          crashed = true;
          crashes++;
        }
        // The restarted instance has another identity and must wait out the dead one's claim.
        attempt.clock.advance(10_000);
        await runService(attempt, attempt.lake, { ownerId: 'second' });
        const { byPartition } = await captured(attempt.lake);
        expectExactlyOnce(byPartition, expected);
        if (!crashed) break;
      } finally {
        await attempt.hub.close();
        await attempt.store.close();
        await attempt.dir.dispose();
      }
    }
    // Each file takes at least an intent, the file and a commit: many distinct crash points were tried.
    expect(crashes).toBeGreaterThan(20);
  });

  it('follows another instance that wrote the partition while this one held read events, instead of appending them out of order', async () => {
    await sendEvents(w, 60);
    const partition = (await lastSequences(w)).get('1') as number;
    expect(partition).toBeGreaterThan(20);
    const log = new CaptureLog(w.lake, 'checkpoints/capture-events');
    const parts = { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: '1' };
    // The paused owner recovered before the other instance wrote anything; it reads everything at once, in small files.
    const paused = new PartitionCapture('1', parts, w.hub, w.lake, log, w.store, w.clock, silent, options({ maxFileBytes: 1_024, receiveBatch: 1_000 }));
    await paused.recover();
    const other = new PartitionCapture('1', parts, w.hub, w.lake, log, w.store, w.clock, silent, options({ maxFileBytes: 1_000_000, receiveBatch: 1_000 }));
    await other.poll(0);
    await other.flush();
    expect(other.committedSequenceNumber).toBe(partition);
    // Its first file is the other's file 0 already: it adopts it and drops the rest of what it read.
    await paused.poll(0);
    expect(paused.committedSequenceNumber).toBe(partition);
    expect(paused.pendingEvents).toBe(0);
    const { files, byPartition } = await captured(w.lake);
    expect(files.filter((f) => f.split('/')[3] === '1')).toHaveLength(1);
    expect(byPartition.get('1')?.map((r) => r.sequenceNumber)).toEqual(Array.from({ length: partition + 1 }, (_, i) => i));
  });

  it('costs each file its intent, the file and its commit, and past retention the two deletes of the records that crossed it: no probe, no state record', async () => {
    const files = CAPTURE_RETAINED_BATCHES + 5;
    await w.hub.send(
      Array.from({ length: files }, (_, i) => ({ body: Buffer.from(JSON.stringify({ n: i })), properties: { event_id: `e-${i}` } })),
      { partitionId: '0' },
    );
    const counting = new CountingLake(w.lake);
    const log = new CaptureLog(counting, 'checkpoints/capture-events');
    const parts = { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: '0' };
    // One event per file: each event fills the file past the size limit.
    const capture = new PartitionCapture('0', parts, w.hub, counting, log, w.store, w.clock, silent, options({ maxFileBytes: 1, receiveBatch: 1_000 }));
    await capture.recover();
    counting.reset();
    await capture.poll(0);
    expect(capture.committedSequenceNumber).toBe(files - 1);
    const ops = counting.operations.map((op) => op.split(' ')[0] as string);
    const count = (op: string) => ops.filter((o) => o === op).length;
    expect(count('createIfAbsent')).toBe(3 * files);
    expect(counting.operationsOf(/^createIfAbsent raw\//)).toHaveLength(files);
    expect(count('delete')).toBe(2 * (files - CAPTURE_RETAINED_BATCHES));
    expect(counting.operationsOf(/^delete checkpoints\/capture-events\/partitions\/0\/(commits|offsets)\/0{19}[0-4]$/)).toHaveLength(2 * 5);
    expect(counting.operationsOf(/\/state\//)).toEqual([]);
    expect(ops.length).toBe(3 * files + 2 * (files - CAPTURE_RETAINED_BATCHES));
    // What is kept is unchanged: the newest CAPTURE_RETAINED_BATCHES intents and commits.
    const kept = (await collect(w.lake.list('checkpoints/capture-events/partitions/0/'))).map((e) => e.path);
    expect(kept).toHaveLength(2 * CAPTURE_RETAINED_BATCHES);
    expect(kept[0]).toMatch(/commits\/0{19}5$/);
  });

  it('re-does an interrupted file to the same path with the same bytes', async () => {
    await sendEvents(w, 30);
    const reference = await world();
    try {
      await sendEvents(reference, 30);
      await runService(reference, reference.lake);
      const referenceFiles = await captured(reference.lake);
      // Crash right after the first file was written, before its commit.
      const faulty = new FaultyLake(w.lake, 3);
      await expect(runService(w, faulty)).rejects.toBeInstanceOf(SimulatedCrash);
      expect(faulty.journal).toEqual([expect.stringMatching(/^createIfAbsent checkpoints\/capture-events\/metadata$/), expect.stringMatching(/offsets\/0{20}$/)]);
      w.clock.set(reference.clock.now());
      const firstIntent = JSON.parse((await w.lake.read((faulty.journal[1] as string).split(' ')[1] as string)).toString('utf8')) as { path: string };
      w.clock.advance(10_000);
      await runService(w, w.lake, { ownerId: 'second' });
      const redone = await w.lake.read(firstIntent.path);
      expect(referenceFiles.files).toContain(firstIntent.path);
      expect(redone.equals(await reference.lake.read(firstIntent.path))).toBe(true);
    } finally {
      await reference.hub.close();
      await reference.store.close();
      await reference.dir.dispose();
    }
  });

  it('hands a partition over to a second instance without duplicating or losing events', async () => {
    await sendEvents(w, 45);
    const a = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'a' }), async (ms) => w.clock.advance(ms));
    const b = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'b' }), async (ms) => w.clock.advance(ms));
    const ids = await w.hub.getPartitionIds();
    await a.balance(ids);
    expect(a.ownedPartitions.sort()).toEqual(ids);
    await b.balance(ids);
    expect(b.ownedPartitions).toEqual([]);
    // a dies without releasing; once its claims expire b takes everything and finishes the job.
    w.clock.advance(6_000);
    await sendEvents(w, 45, 45);
    await b.run(new AbortController().signal, true);
    const { byPartition } = await captured(w.lake);
    expectExactlyOnce(byPartition, await lastSequences(w));
  });

  it('splits the partitions with a second instance: the first writes the open file of the partition it hands over, and nothing is lost or doubled', async () => {
    await sendEvents(w, 30);
    const ids = await w.hub.getPartitionIds();
    const b = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'b' }), async (ms) => w.clock.advance(ms));
    const stopA = new AbortController();
    let sleeps = 0;
    let handedOver: string[] = [];
    const a = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'a' }), async (ms) => {
      w.clock.advance(ms);
      sleeps++;
      // a read everything and holds open files; b starts now.
      if (sleeps === 1) await b.balance(ids);
      if (sleeps === 1) w.clock.advance(1_000);
      // a's next balance saw b and gave one partition up; b takes it, more events come, a stops.
      if (sleeps === 2) {
        await b.balance(ids);
        handedOver = b.ownedPartitions;
        expect(a.ownedPartitions).toHaveLength(2);
        expect([...a.ownedPartitions, ...handedOver].sort()).toEqual(ids);
        await sendEvents(w, 30, 30);
        stopA.abort();
      }
    });
    await a.balance(ids);
    expect(a.ownedPartitions.sort()).toEqual(ids);
    await a.run(stopA.signal);
    expect(handedOver).toHaveLength(1);
    await b.run(new AbortController().signal, true);
    const { byPartition } = await captured(w.lake);
    expectExactlyOnce(byPartition, await lastSequences(w));
  });

  it('drains beside a running instance: done once the partitions it does not own are captured by their owner, with no event lost or written twice', async () => {
    await sendEvents(w, 60);
    const ids = await w.hub.getPartitionIds();
    // Both instances share the test clock; each sleep moves it on and lets the other run. Claims
    // outlive the test (one instance may spin the clock while the other writes): partitions move by release only.
    const sleep = async (ms: number) => {
      w.clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
    };
    // The running instance's time stands still until the drain starts, so its files stay open till then.
    let startDrain = () => undefined as void;
    const drainStarted = new Promise<void>((resolve) => (startDrain = resolve));
    const running = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'running', windowMs: 10_000, ownershipExpiryMs: 60_000 }), async (ms) => {
      await drainStarted;
      await sleep(ms);
    });
    const stopRunning = new AbortController();
    const runningDone = running.run(stopRunning.signal);
    try {
      while (running.ownedPartitions.length < ids.length) await new Promise((resolve) => setImmediate(resolve));
      await sendEvents(w, 30, 60);
      const targets = await lastSequences(w);
      const drain = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'drain', windowMs: 2_000, ownershipExpiryMs: 60_000 }), sleep);
      const draining = drain.run(new AbortController().signal, true);
      startDrain();
      const summary = await draining;
      // The running instance gave the drain its share (flushing each open file first) and kept the
      // rest, whose open files close only after their 10 s window: the drain waited for those.
      expect(running.ownedPartitions.length).toBeGreaterThan(0);
      expect(running.ownedPartitions.length).toBeLessThan(ids.length);
      expect(summary.drainedByOthers).toEqual(expect.arrayContaining(running.ownedPartitions));
      for (const [id, target] of targets) {
        const log = new PartitionCapture(
          id,
          { prefix: 'raw', namespace: 'testns', eventHub: 'events', partitionId: id },
          w.hub,
          w.lake,
          new CaptureLog(w.lake, 'checkpoints/capture-events'),
          w.store,
          w.clock,
          silent,
          options(),
        );
        await log.recover();
        expect({ id, captured: log.committedSequenceNumber >= target }).toEqual({ id, captured: true });
      }
    } finally {
      stopRunning.abort();
      await runningDone;
    }
    const { files, byPartition } = await captured(w.lake);
    expect(new Set(files).size).toBe(files.length);
    expectExactlyOnce(byPartition, await lastSequences(w));
  });

  it('runs two drains at once to the end: each captures what it owns, together every event once', async () => {
    await sendEvents(w, 90);
    const sleep = async (ms: number) => {
      w.clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
    };
    const a = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'a', windowMs: 2_000, ownershipExpiryMs: 60_000 }), sleep);
    const b = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'b', windowMs: 2_000, ownershipExpiryMs: 60_000 }), sleep);
    const [sa, sb] = await Promise.all([a.run(new AbortController().signal, true), b.run(new AbortController().signal, true)]);
    expect(sa.events + sb.events).toBe(90);
    const { files, byPartition } = await captured(w.lake);
    expect(files.length).toBe(sa.files + sb.files);
    expectExactlyOnce(byPartition, await lastSequences(w));
    // Every file's commit names the instance that wrote it.
    const owners = new Set<string>();
    for (const id of await w.hub.getPartitionIds()) {
      for await (const entry of w.lake.list(`checkpoints/capture-events/partitions/${id}/commits/`)) {
        owners.add((JSON.parse((await w.lake.read(entry.path)).toString('utf8')) as { owner: string }).owner);
      }
    }
    expect([...owners].sort()).toEqual(sa.files > 0 && sb.files > 0 ? ['a', 'b'] : [sa.files > 0 ? 'a' : 'b']);
  });

  it('keeps the ownership of two capture checkpoints apart', async () => {
    const ids = await w.hub.getPartitionIds();
    const a = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'a' }));
    const other = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'x', checkpointName: 'capture-copy' }));
    await a.balance(ids);
    await other.balance(ids);
    expect([a.ownedPartitions.sort(), other.ownedPartitions.sort()]).toEqual([ids, ids]);
  });

  it('gives its partitions back when it stops, so another instance can take them at once', async () => {
    await sendEvents(w, 10);
    await runService(w, w.lake);
    const owners = await w.store.listOwnership('testns', 'events', '$Default.capture-events');
    expect(owners.filter((o) => !o.partitionId.startsWith('instance.')).map((o) => o.ownerId)).toEqual(['', '', '']);
    const next = new CaptureService(w.hub, w.lake, w.store, w.clock, silent, options({ ownerId: 'next' }), async (ms) => w.clock.advance(ms));
    await next.balance(await w.hub.getPartitionIds());
    expect(next.ownedPartitions.sort()).toEqual(['0', '1', '2']);
  });

  it('refuses a checkpoint that belongs to another event hub', async () => {
    await runService(w, w.lake);
    const other = LocalEventHub.open({ file: path.join(w.dir.path, 'hub.sqlite'), hubName: 'other', partitionCount: PARTITIONS, namespace: 'testns', clock: w.clock });
    try {
      const service = new CaptureService(other, w.lake, w.store, w.clock, silent, options(), async (ms) => w.clock.advance(ms));
      await expect(service.run(new AbortController().signal, true)).rejects.toThrow(/belongs to eventHub "events" \(now "other"\).*another checkpoint name/);
    } finally {
      await other.close();
    }
  });
});

describe('capture tracing', () => {
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'capture-spec', exporter });
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });

  it('links each file span to the producer spans of the events in it', async () => {
    const w = await world();
    try {
      const producerSpans = ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'];
      await w.hub.send(
        producerSpans.map((traceparent, i) => ({ body: Buffer.from(`{"n":${i}}`), properties: { traceparent } })),
        { partitionId: '0' },
      );
      await runService(w, w.lake);
      const fileSpans = exporter.getFinishedSpans().filter((s) => s.name === 'capture.file');
      expect(fileSpans).toHaveLength(1);
      expect(fileSpans[0]?.links.map((l) => l.context.spanId).sort()).toEqual(['00f067aa0ba902b7', 'b7ad6b7169203331']);
      expect(fileSpans[0]?.attributes['pipeline.capture.events']).toBe(2);
    } finally {
      await w.hub.close();
      await w.store.close();
      await w.dir.dispose();
    }
  });

  it('links a file span once to each producer span, in the order their events came, whatever the repeats', async () => {
    exporter.reset();
    const w = await world();
    try {
      const first = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const second = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const send = (properties: Record<string, string | number>, count: number) =>
        w.hub.send(
          Array.from({ length: count }, () => ({ body: Buffer.from('{}'), properties })),
          { partitionId: '0' },
        );
      await send({ traceparent: second, row: 1 }, 3);
      // Not a traceparent: a number, and text that does not parse; neither links anything.
      await send({ traceparent: 7 }, 1);
      await send({ traceparent: 'not-a-traceparent' }, 1);
      await send({ row: 2, traceparent: first }, 2);
      await send({ traceparent: second }, 1);
      await runService(w, w.lake);
      const fileSpans = exporter.getFinishedSpans().filter((s) => s.name === 'capture.file');
      expect(fileSpans).toHaveLength(1);
      expect(fileSpans[0]?.links.map((l) => l.context.spanId)).toEqual(['00f067aa0ba902b7', 'b7ad6b7169203331']);
    } finally {
      await w.hub.close();
      await w.store.close();
      await w.dir.dispose();
    }
  });
});

/**
 * The event hub contract (libs/ports/src/event-hub.ts), written once and run against every adapter.
 *
 * It must also hold on a live, shared hub: a test never assumes a partition is empty, it notes
 * where each partition ends before sending and tags its events with a run id.
 */
import { randomUUID } from 'node:crypto';
import { partitionIndexForKey } from '@pipeline/engine';
import { EventHubError, EventTooLargeError, type EventHubConsumer, type EventHubProducer, type EventToSend, type PartitionBatch, type ReceivedEvent } from '@pipeline/ports';
import { waitFor } from './wait-for';

export interface EventHubUnderTest {
  producer: EventHubProducer;
  consumer: EventHubConsumer;
  dispose(): Promise<void>;
}

/** Property that tags the events of one test. */
const RUN = 'contract_run';
/** How long a test waits for its own events to become readable. */
const ARRIVAL_TIMEOUT_MS = 20_000;

type Positions = Map<string, number>;

function lastSequenceOf(positions: Positions, partitionId: string): number {
  const position = positions.get(partitionId);
  if (position === undefined) throw new Error(`The hub has no partition ${partitionId}; the contract needs partition "0".`);
  return position;
}

export function describeEventHubContract(adapterName: string, makeHub: () => Promise<EventHubUnderTest>): void {
  describe(`Event hub contract (${adapterName})`, () => {
    let subject: EventHubUnderTest;
    let producer: EventHubProducer;
    let consumer: EventHubConsumer;
    let run: string;

    beforeEach(async () => {
      subject = await makeHub();
      ({ producer, consumer } = subject);
      run = randomUUID();
    });

    afterEach(async () => {
      await producer.close();
      await consumer.close();
      await subject.dispose();
    });

    const event = (body: string | Uint8Array, properties: EventToSend['properties'] = {}): EventToSend => ({
      body: typeof body === 'string' ? Buffer.from(body) : body,
      properties: { ...properties, [RUN]: run },
    });

    /** The last sequence number of every partition, before a test sends. */
    async function positions(): Promise<Positions> {
      const ids = await consumer.getPartitionIds();
      const entries = await Promise.all(ids.map(async (id) => [id, (await consumer.getPartitionProperties(id)).lastSequenceNumber] as const));
      return new Map(entries);
    }

    /** Every event of this run after `since`, per partition in order; waits until `count` arrived. */
    async function receiveRun(since: Positions, count: number): Promise<ReceivedEvent[]> {
      const seen = new Map<string, ReceivedEvent[]>();
      const cursor = new Map(since);
      return waitFor(
        async () => {
          for (const [id, after] of cursor) {
            const batch = await consumer.receive(id, after, { maxCount: 500, maxWaitMs: 0 });
            if (batch.length === 0) continue;
            cursor.set(id, batch[batch.length - 1].sequenceNumber);
            seen.set(id, [...(seen.get(id) ?? []), ...batch.filter((e) => e.properties[RUN] === run)]);
          }
          const all = [...seen.values()].flat();
          return all.length >= count ? all : undefined;
        },
        { timeoutMs: ARRIVAL_TIMEOUT_MS, intervalMs: 25, description: `${count} event(s) of run ${run}` },
      );
    }

    const bodies = (events: ReceivedEvent[]): string[] => events.map((e) => e.body.toString());
    const sequenceNumbers = (events: ReceivedEvent[]): number[] => events.map((e) => e.sequenceNumber);

    it('names its partitions "0" to "n-1", the same for producer and consumer', async () => {
      const ids = await producer.getPartitionIds();
      expect(ids.length).toBeGreaterThan(0);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => String(i)));
      await expect(consumer.getPartitionIds()).resolves.toEqual(ids);
      expect(producer.hubName).toBe(consumer.hubName);
    });

    it('puts a partition key in the partition the Event Hubs hash picks, every time', async () => {
      const ids = await producer.getPartitionIds();
      const keys = ['device-1', 'device-2', 'ключ', '😀', `${run}-key`];
      const since = await positions();
      for (const key of keys) {
        await producer.send([event(`${key}#1`)], { partitionKey: key });
        await producer.send([event(`${key}#2`)], { partitionKey: key });
      }
      const received = await receiveRun(since, keys.length * 2);
      for (const key of keys) {
        const mine = received.filter((e) => e.partitionKey === key);
        expect(bodies(mine).sort()).toEqual([`${key}#1`, `${key}#2`]);
        for (const e of mine) expect(e.partitionId).toBe(String(partitionIndexForKey(key, ids.length)));
      }
    });

    it('numbers the events of one batch contiguously, in the order sent', async () => {
      const since = await positions();
      await producer.send(
        ['a', 'b', 'c', 'd', 'e'].map((b) => event(b)),
        { partitionId: '0' },
      );
      const received = await receiveRun(since, 5);
      const first = received[0].sequenceNumber;
      expect(first).toBeGreaterThan(lastSequenceOf(since, '0'));
      expect(received.every((e) => e.partitionId === '0')).toBe(true);
      expect(bodies(received)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(sequenceNumbers(received)).toEqual([first, first + 1, first + 2, first + 3, first + 4]);
    });

    it('keeps order within a partition across many sends, with increasing offsets', async () => {
      const key = `${run}-ordered`;
      const since = await positions();
      for (let i = 0; i < 20; i++) await producer.send([event(String(i))], { partitionKey: key });
      const received = (await receiveRun(since, 20)).filter((e) => e.partitionKey === key);
      expect(bodies(received)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      const seqs = sequenceNumbers(received);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true);
      const offsets = received.map((e) => BigInt(e.offset));
      expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1])).toBe(true);
    });

    it('numbers a later batch after the earlier one in the same partition', async () => {
      const since = await positions();
      await producer.send([event('1'), event('2')], { partitionId: '0' });
      await producer.send([event('3')], { partitionId: '0' });
      const received = await receiveRun(since, 3);
      const [first, second, third] = sequenceNumbers(received);
      expect(bodies(received)).toEqual(['1', '2', '3']);
      expect(second).toBe(first + 1);
      // On a shared hub another producer may write between the two sends, so only "after" is certain.
      expect(third).toBeGreaterThan(second);
    });

    it('round-trips bodies and properties with their types', async () => {
      const body = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const properties = {
        text: 'héllo ✓',
        empty: '',
        long: 42,
        negative: -7,
        largest: Number.MAX_SAFE_INTEGER,
        double: 3.25,
        tiny: -1e-7,
        yes: true,
        no: false,
        bytes: Buffer.from([0, 1, 127, 128, 255]),
      };
      const since = await positions();
      await producer.send([event(body, properties)], { partitionKey: `${run}-types` });
      const [received] = await receiveRun(since, 1);
      expect(received.body.equals(body)).toBe(true);
      expect(Buffer.isBuffer(received.body)).toBe(true);
      expect(received.properties).toEqual({ ...properties, [RUN]: run });
      expect(Buffer.isBuffer(received.properties.bytes)).toBe(true);
      expect(typeof received.properties.long).toBe('number');
      expect(typeof received.properties.yes).toBe('boolean');
      expect(received.partitionKey).toBe(`${run}-types`);
      expect(Number.isFinite(received.enqueuedTime)).toBe(true);
    });

    it('reports partition properties of the newest event', async () => {
      const since = await positions();
      await producer.send([event('x'), event('y')], { partitionId: '0' });
      const received = await receiveRun(since, 2);
      const last = received[received.length - 1];
      const props = await consumer.getPartitionProperties('0');
      expect(props.partitionId).toBe('0');
      // A live hub may have moved on; the newest event is at least ours.
      expect(props.lastSequenceNumber).toBeGreaterThanOrEqual(last.sequenceNumber);
      if (props.lastSequenceNumber === last.sequenceNumber) {
        expect(props.lastOffset).toBe(last.offset);
        expect(props.lastEnqueuedTime).toBe(last.enqueuedTime);
      }
    });

    it('returns at most maxCount events, the oldest first', async () => {
      const since = await positions();
      await producer.send(
        ['1', '2', '3', '4', '5'].map((b) => event(b)),
        { partitionId: '0' },
      );
      await receiveRun(since, 5);
      const firstTwo = await consumer.receive('0', lastSequenceOf(since, '0'), { maxCount: 2, maxWaitMs: 0 });
      expect(bodies(firstTwo)).toEqual(['1', '2']);
      const next = await consumer.receive('0', firstTwo[1].sequenceNumber, { maxCount: 2, maxWaitMs: 0 });
      expect(bodies(next)).toEqual(['3', '4']);
    });

    it('never returns an event at or before the position asked for', async () => {
      const since = await positions();
      await producer.send(
        ['1', '2', '3'].map((b) => event(b)),
        { partitionId: '0' },
      );
      await receiveRun(since, 3);
      const after = lastSequenceOf(since, '0') + 1;
      const rest = await consumer.receive('0', after, { maxCount: 10, maxWaitMs: 0 });
      expect(rest.every((e) => e.sequenceNumber > after)).toBe(true);
      expect(bodies(rest.filter((e) => e.properties[RUN] === run))).toEqual(['2', '3']);
    });

    it('returns an empty list when nothing arrives within maxWaitMs', async () => {
      const end = lastSequenceOf(await positions(), '0');
      const received = await consumer.receive('0', end, { maxCount: 10, maxWaitMs: 100 });
      expect(received.filter((e) => e.properties[RUN] === run)).toEqual([]);
    });

    it('delivers an event sent while a receive is waiting', async () => {
      const end = lastSequenceOf(await positions(), '0');
      const waiting = consumer.receive('0', end, { maxCount: 10, maxWaitMs: ARRIVAL_TIMEOUT_MS });
      await producer.send([event('late')], { partitionId: '0' });
      const received = await waiting;
      expect(received.length).toBeGreaterThan(0);
      expect(received.every((e) => e.sequenceNumber > end)).toBe(true);
      expect(bodies(received.filter((e) => e.properties[RUN] === run))).toEqual(['late']);
    });

    it('spreads batches with neither key nor partition id over more than one partition', async () => {
      const ids = await producer.getPartitionIds();
      const since = await positions();
      const sends = Math.max(4, ids.length * 2);
      for (let i = 0; i < sends; i++) await producer.send([event(String(i))]);
      const received = await receiveRun(since, sends);
      const used = new Set(received.map((e) => e.partitionId));
      if (ids.length === 1) expect([...used]).toEqual(['0']);
      else expect(used.size).toBeGreaterThan(1);
      expect(received.every((e) => e.partitionKey === null)).toBe(true);
    });

    it('rejects a single event larger than maxBatchBytes with EventTooLargeError naming the limit', async () => {
      const since = await positions();
      const tooLarge = producer.send([event(Buffer.alloc(producer.maxBatchBytes + 1))], { partitionId: '0' });
      await expect(tooLarge).rejects.toThrow(EventTooLargeError);
      await expect(producer.send([event(Buffer.alloc(producer.maxBatchBytes + 1))], { partitionId: '0' })).rejects.toThrow(String(producer.maxBatchBytes));
      await expect(consumer.getPartitionProperties('0')).resolves.toMatchObject({ lastSequenceNumber: since.get('0') });
    });

    it('appends nothing of a batch that is too large as a whole', async () => {
      const since = await positions();
      const third = Math.floor(producer.maxBatchBytes / 3);
      const batch = [event(Buffer.alloc(third)), event(Buffer.alloc(third)), event(Buffer.alloc(third)), event(Buffer.alloc(third))];
      await expect(producer.send(batch, { partitionId: '0' })).rejects.toThrow(EventTooLargeError);
      await producer.send([event('marker')], { partitionId: '0' });
      const received = await receiveRun(since, 1);
      expect(bodies(received)).toEqual(['marker']);
    });

    /** The adapter's `sendBatches`: every adapter of this repository has one. */
    function sendBatches(batches: readonly PartitionBatch[]): Promise<void> {
      if (!producer.sendBatches) throw new Error(`The ${adapterName} producer has no sendBatches.`);
      return producer.sendBatches(batches);
    }

    it('appends several batches in one call, each to its partition, contiguous and in order, after what was there', async () => {
      const ids = await producer.getPartitionIds();
      const used = ids.slice(0, Math.min(ids.length, 3));
      const since = await positions();
      await sendBatches(used.map((id) => ({ partitionId: id, events: ['a', 'b', 'c'].map((b) => event(`${id}${b}`)) })));
      await sendBatches(used.map((id) => ({ partitionId: id, events: [event(`${id}d`)] })));
      const received = await receiveRun(since, used.length * 4);
      for (const id of used) {
        const mine = received.filter((e) => e.partitionId === id);
        expect(bodies(mine)).toEqual([`${id}a`, `${id}b`, `${id}c`, `${id}d`]);
        const [first, second, third, fourth] = sequenceNumbers(mine);
        expect(first).toBeGreaterThan(lastSequenceOf(since, id));
        expect([second, third]).toEqual([first + 1, first + 2]);
        // On a shared hub another producer may write between the two calls, so only "after" is certain.
        expect(fourth).toBeGreaterThan(third);
        const offsets = mine.map((e) => BigInt(e.offset));
        expect(offsets.every((o, i) => i === 0 || o > offsets[i - 1])).toBe(true);
      }
      expect(received).toHaveLength(used.length * 4);
    });

    it('appends no batch of a call that has a batch too large, an unknown partition or a partition twice', async () => {
      const ids = await producer.getPartitionIds();
      const other = ids[ids.length - 1];
      const since = await positions();
      const third = Math.floor(producer.maxBatchBytes / 3);
      const tooLarge = [event(Buffer.alloc(third)), event(Buffer.alloc(third)), event(Buffer.alloc(third)), event(Buffer.alloc(third))];
      await expect(
        sendBatches([
          { partitionId: '0', events: [event('kept out')] },
          { partitionId: other, events: tooLarge },
        ]),
      ).rejects.toThrow(EventTooLargeError);
      await expect(
        sendBatches([
          { partitionId: '0', events: [event('kept out')] },
          { partitionId: String(ids.length), events: [event('x')] },
        ]),
      ).rejects.toThrow(EventHubError);
      await expect(
        sendBatches([
          { partitionId: '0', events: [event('kept out')] },
          { partitionId: '0', events: [event('kept out too')] },
        ]),
      ).rejects.toThrow(/partition "0" twice/);
      await producer.send([event('marker')], { partitionId: '0' });
      const received = await receiveRun(since, 1);
      expect(bodies(received)).toEqual(['marker']);
      if (ids.length > 1) await expect(consumer.getPartitionProperties(other)).resolves.toMatchObject({ lastSequenceNumber: since.get(other) });
    });

    it('rejects an unknown partition id and a send with both a key and a partition id', async () => {
      const ids = await producer.getPartitionIds();
      await expect(producer.send([event('x')], { partitionId: String(ids.length) })).rejects.toThrow();
      await expect(producer.send([event('x')], { partitionKey: 'k', partitionId: '0' })).rejects.toThrow();
      await expect(consumer.receive(String(ids.length), -1, { maxCount: 1, maxWaitMs: 0 })).rejects.toThrow();
    });
  });
}

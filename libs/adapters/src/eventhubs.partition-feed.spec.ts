import { MessagingError } from '@azure/event-hubs';
import { FatalBackendError, type ReceivedEvent } from '@pipeline/ports';
import { waitFor } from '@pipeline/testing';
import { PartitionFeed, type FeedHandlers, type FeedSource } from './eventhubs.partition-feed';

/** A hub partition driven by the test: records subscriptions and lets the test deliver events. */
class FakePartition implements FeedSource {
  last = -1;
  readonly subscriptions: Array<{ after: number; handlers: FeedHandlers; closed: boolean }> = [];

  subscribe(_partitionId: string, after: number, handlers: FeedHandlers) {
    const subscription = { after, handlers, closed: false };
    this.subscriptions.push(subscription);
    return { close: async () => void (subscription.closed = true) };
  }

  async lastSequenceNumber(): Promise<number> {
    return this.last;
  }

  get current() {
    const latest = this.subscriptions[this.subscriptions.length - 1];
    if (!latest) throw new Error('no subscription yet');
    return latest;
  }

  /** Waits until the feed has subscribed `count` times. */
  async subscribed(count = 1): Promise<void> {
    await waitFor(() => (this.subscriptions.length >= count ? true : undefined), { timeoutMs: 5_000, description: `subscription ${count}` });
  }
}

const event = (sequenceNumber: number): ReceivedEvent => ({
  partitionId: '0',
  sequenceNumber,
  offset: String(sequenceNumber * 100),
  enqueuedTime: 1_000 + sequenceNumber,
  partitionKey: null,
  properties: {},
  body: Buffer.from(`e${sequenceNumber}`),
});
const events = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => event(from + i));
const seqs = (list: ReceivedEvent[]) => list.map((e) => e.sequenceNumber);

function feedOver(hub: FakePartition, capacity = 100) {
  return new PartitionFeed('0', hub, { capacity, catchUpWaitMs: 5_000, resource: 'Event Hubs event hub "telemetry" in namespace "test"' });
}

describe('PartitionFeed', () => {
  it('subscribes after the position asked for and serves delivered events in order, at most maxCount', async () => {
    const hub = new FakePartition();
    hub.last = 9;
    const feed = feedOver(hub);
    const first = feed.receive(4, { maxCount: 3, maxWaitMs: 0 });
    await hub.subscribed();
    expect(hub.current.after).toBe(4);
    await hub.current.handlers.processEvents(events(5, 9));
    expect(seqs(await first)).toEqual([5, 6, 7]);
    expect(seqs(await feed.receive(7, { maxCount: 10, maxWaitMs: 0 }))).toEqual([8, 9]);
    expect(hub.subscriptions).toHaveLength(1);
    await feed.close();
  });

  it('subscribes from the earliest event for position -1', async () => {
    const hub = new FakePartition();
    const feed = feedOver(hub);
    await expect(feed.receive(-1, { maxCount: 1, maxWaitMs: 0 })).resolves.toEqual([]);
    expect(hub.current.after).toBe(-1);
    await feed.close();
  });

  it('skips ahead within what it buffered without subscribing again', async () => {
    const hub = new FakePartition();
    hub.last = 9;
    const feed = feedOver(hub);
    const first = feed.receive(-1, { maxCount: 2, maxWaitMs: 0 });
    await hub.subscribed();
    await hub.current.handlers.processEvents(events(0, 9));
    expect(seqs(await first)).toEqual([0, 1]);
    expect(seqs(await feed.receive(6, { maxCount: 10, maxWaitMs: 0 }))).toEqual([7, 8, 9]);
    expect(hub.subscriptions).toHaveLength(1);
    await feed.close();
  });

  it('subscribes again, after closing the old subscription, when asked for a position it has passed', async () => {
    const hub = new FakePartition();
    hub.last = 9;
    const feed = feedOver(hub);
    const first = feed.receive(-1, { maxCount: 10, maxWaitMs: 0 });
    await hub.subscribed();
    await hub.current.handlers.processEvents(events(0, 9));
    expect(seqs(await first)).toHaveLength(10);

    const again = feed.receive(2, { maxCount: 2, maxWaitMs: 0 });
    await hub.subscribed(2);
    expect(hub.subscriptions[0]?.closed).toBe(true);
    expect(hub.current.after).toBe(2);
    await hub.current.handlers.processEvents(events(3, 9));
    expect(seqs(await again)).toEqual([3, 4]);
    await feed.close();
  });

  it('ignores events from a replaced subscription and events delivered twice', async () => {
    const hub = new FakePartition();
    hub.last = 4;
    const feed = feedOver(hub);
    const first = feed.receive(-1, { maxCount: 10, maxWaitMs: 0 });
    await hub.subscribed();
    const old = hub.current.handlers;
    await old.processEvents(events(0, 4));
    expect(seqs(await first)).toEqual([0, 1, 2, 3, 4]);

    hub.last = 9;
    const again = feed.receive(0, { maxCount: 10, maxWaitMs: 0 });
    await hub.subscribed(2);
    await old.processEvents(events(5, 6));
    // The SDK restarts a pump from its start position after some errors: the repeats are dropped.
    await hub.current.handlers.processEvents(events(1, 3));
    await hub.current.handlers.processEvents(events(1, 9));
    expect(seqs(await again)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await feed.close();
  });

  it('holds the subscription back while its buffer is full and lets it go as events are taken', async () => {
    const hub = new FakePartition();
    hub.last = 5;
    const feed = feedOver(hub, 2);
    const first = feed.receive(-1, { maxCount: 1, maxWaitMs: 0 });
    await hub.subscribed();
    let released = false;
    const delivery = hub.current.handlers.processEvents(events(0, 3)).then(() => (released = true));
    expect(seqs(await first)).toEqual([0]);
    await Promise.resolve();
    expect(released).toBe(false);
    expect(seqs(await feed.receive(0, { maxCount: 5, maxWaitMs: 0 }))).toEqual([1, 2, 3]);
    await delivery;
    expect(released).toBe(true);
    await feed.close();
  });

  it('waits for events the hub is known to have even when maxWaitMs is 0', async () => {
    const hub = new FakePartition();
    hub.last = 2;
    const feed = feedOver(hub);
    const pending = feed.receive(-1, { maxCount: 10, maxWaitMs: 0 });
    await hub.subscribed();
    await hub.current.handlers.processEvents([event(0)]);
    await hub.current.handlers.processEvents(events(1, 2));
    // It waits for the known end rather than returning the first event in transit alone.
    expect(seqs(await pending)).toEqual([0, 1, 2]);
    await feed.close();
  });

  it('returns nothing at once when the hub has nothing newer and maxWaitMs is 0', async () => {
    const hub = new FakePartition();
    hub.last = 7;
    const feed = feedOver(hub);
    await expect(feed.receive(7, { maxCount: 10, maxWaitMs: 0 })).resolves.toEqual([]);
    await expect(feed.receive(7, { maxCount: 10, maxWaitMs: 20 })).resolves.toEqual([]);
    expect(hub.subscriptions).toHaveLength(1);
    await feed.close();
  });

  it('delivers an event that arrives while a receive waits', async () => {
    const hub = new FakePartition();
    hub.last = 3;
    const feed = feedOver(hub);
    const waiting = feed.receive(3, { maxCount: 10, maxWaitMs: 10_000 });
    await hub.subscribed();
    await hub.current.handlers.processEvents([event(4)]);
    expect(seqs(await waiting)).toEqual([4]);
    await feed.close();
  });

  it('refuses a position past the end of the partition, as after the hub was recreated', async () => {
    const hub = new FakePartition();
    hub.last = 3;
    const feed = feedOver(hub);
    const reading = feed.receive(10, { maxCount: 1, maxWaitMs: 0 });
    await expect(reading).rejects.toThrow(FatalBackendError);
    await expect(feed.receive(10, { maxCount: 1, maxWaitMs: 0 })).rejects.toThrow(/ends at sequence number 3, but reading was asked to start after 10.*recreated/);
    expect(hub.subscriptions).toHaveLength(0);
    await feed.close();
  });

  it('throws a fatal subscription error on the next receive, then starts over', async () => {
    const hub = new FakePartition();
    hub.last = 5;
    const feed = feedOver(hub);
    await feed.receive(5, { maxCount: 1, maxWaitMs: 0 });
    const notFound = Object.assign(new MessagingError('The messaging entity could not be found.'), { code: 'MessagingEntityNotFoundError' });
    await hub.current.handlers.processError(notFound);
    await expect(feed.receive(5, { maxCount: 1, maxWaitMs: 0 })).rejects.toBe(notFound);
    expect(hub.subscriptions[0]?.closed).toBe(true);
    await expect(feed.receive(5, { maxCount: 1, maxWaitMs: 0 })).resolves.toEqual([]);
    expect(hub.subscriptions).toHaveLength(2);
    await feed.close();
  });

  it('leaves transient subscription errors to the SDK retries', async () => {
    const hub = new FakePartition();
    hub.last = 5;
    const feed = feedOver(hub);
    await feed.receive(5, { maxCount: 1, maxWaitMs: 0 });
    await hub.current.handlers.processError(Object.assign(new MessagingError('busy'), { code: 'ServerBusyError' }));
    await expect(feed.receive(5, { maxCount: 1, maxWaitMs: 0 })).resolves.toEqual([]);
    expect(hub.subscriptions).toHaveLength(1);
    await feed.close();
  });

  it('ends a waiting receive with nothing and releases a held-back subscription when closed', async () => {
    const hub = new FakePartition();
    hub.last = 1;
    const feed = feedOver(hub, 1);
    const first = feed.receive(1, { maxCount: 1, maxWaitMs: 30_000 });
    await hub.subscribed();
    const handlers = hub.current.handlers;
    await feed.close();
    await expect(first).resolves.toEqual([]);
    await handlers.processEvents(events(2, 5));
    expect(hub.current.closed).toBe(true);
    await expect(feed.receive(1, { maxCount: 1, maxWaitMs: 0 })).resolves.toEqual([]);
  });
});

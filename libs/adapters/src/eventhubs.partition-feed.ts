/**
 * Turns one partition's push subscription into the port's pull-based `receive`.
 *
 * Invariants:
 * - One subscription at a time, started just after the caller's position; the buffer holds, in
 *   order, events after what the caller has taken (`taken`) up to the newest delivered (`delivered`).
 * - A caller asking for a position outside [`taken`, `delivered`] gets a fresh subscription there;
 *   callbacks of a replaced subscription are ignored, and re-delivered events (the SDK restarts its
 *   pump after some errors) are dropped by sequence number.
 * - Backpressure: the subscription's `processEvents` does not return while the buffer is full, so
 *   the SDK stops asking the service for more.
 * - `maxWaitMs` bounds the wait for events the hub does not have yet. Events the hub is known to
 *   have (its last sequence number, read when subscribing, is past the position) are waited for up
 *   to `catchUpWaitMs` even when `maxWaitMs` is 0: they are only in transit.
 * - A fatal error reported by the subscription is thrown by the next `receive`, which then starts
 *   over with a fresh subscription; transient errors are left to the SDK's retries.
 */
import { EventHubError, FatalBackendError, type ReceiveOptions, type ReceivedEvent } from '@pipeline/ports';
import { classifyEventHubsError } from './eventhubs.errors';

export interface FeedHandlers {
  processEvents(events: ReceivedEvent[]): Promise<void>;
  processError(error: unknown): Promise<void>;
}

export interface FeedSubscription {
  close(): Promise<void>;
}

/** The seam to the SDK: what a partition feed needs from the hub. */
export interface FeedSource {
  /** Starts delivering the partition's events after `afterSequenceNumber` (-1: from the earliest). */
  subscribe(partitionId: string, afterSequenceNumber: number, handlers: FeedHandlers): FeedSubscription;
  /** The sequence number of the newest event the partition ever had, -1 when none. */
  lastSequenceNumber(partitionId: string): Promise<number>;
}

export interface PartitionFeedOptions {
  /** Most events buffered before the subscription is held back. */
  capacity: number;
  /** How long a receive waits for events the hub is known to have, in ms. */
  catchUpWaitMs: number;
  /** Names the hub in messages. */
  resource: string;
}

export class PartitionFeed {
  private subscription: FeedSubscription | undefined;
  /** Bumped on every (re)subscription and on close; callbacks of older generations are ignored. */
  private generation = 0;
  private buffer: ReceivedEvent[] = [];
  /** Sequence number of the last event handed to the caller (or the position subscribed after). */
  private taken = -1;
  /** Sequence number of the newest event delivered by the subscription. */
  private delivered = -1;
  /** The partition's last sequence number as last known (read at subscribe, raised by deliveries). */
  private knownLast = -1;
  private failure: unknown;
  private closed = false;
  private dataWaiters: Array<() => void> = [];
  private spaceWaiters: Array<() => void> = [];
  /** Serializes receives, so concurrent calls cannot interleave a resubscription. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly partitionId: string,
    private readonly source: FeedSource,
    private readonly options: PartitionFeedOptions,
  ) {}

  /** Whether a subscription is running (for tests and diagnostics). */
  get subscribed(): boolean {
    return this.subscription !== undefined;
  }

  get bufferedEvents(): number {
    return this.buffer.length;
  }

  receive(afterSequenceNumber: number, options: ReceiveOptions): Promise<ReceivedEvent[]> {
    const result = this.queue.then(() => this.receiveNow(afterSequenceNumber, options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.replaceSubscription();
  }

  private async receiveNow(after: number, { maxCount, maxWaitMs }: ReceiveOptions): Promise<ReceivedEvent[]> {
    if (this.closed) return [];
    if (this.failure !== undefined) await this.throwFailure();
    if (this.subscription === undefined || after < this.taken || after > this.delivered) await this.subscribeAfter(after);
    this.skipTo(after);

    const want = Math.min(maxCount, this.options.capacity);
    const catchingUp = this.knownLast > after;
    const deadline = performance.now() + (catchingUp ? Math.max(maxWaitMs, this.options.catchUpWaitMs) : maxWaitMs);
    // While catching up, wait for a full batch (or the known end) rather than the first event in transit.
    const ready = () => this.buffer.length > 0 && (this.buffer.length >= want || this.delivered >= this.knownLast);
    while (!ready() && !this.closed && this.failure === undefined) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      await this.waitForData(remaining);
    }
    if (this.failure !== undefined && this.buffer.length === 0) await this.throwFailure();
    return this.take(maxCount);
  }

  /** Throws the latched fatal error once, starting over with a fresh subscription on the next receive. */
  private async throwFailure(): Promise<never> {
    const failure = this.failure;
    this.failure = undefined;
    await this.replaceSubscription();
    throw failure;
  }

  private async subscribeAfter(after: number): Promise<void> {
    await this.replaceSubscription();
    const last = await this.source.lastSequenceNumber(this.partitionId);
    if (after > last) {
      throw new FatalBackendError(
        `Partition ${this.partitionId} of ${this.options.resource} ends at sequence number ${last}, but reading was asked to start after ${after}. ` +
          'The event hub was probably deleted and recreated: start a new checkpoint for it.',
        this.options.resource,
      );
    }
    if (this.closed) return;
    this.knownLast = last;
    this.taken = after;
    this.delivered = after;
    const generation = this.generation;
    this.subscription = this.source.subscribe(this.partitionId, after, {
      processEvents: (events) => this.onEvents(generation, events),
      processError: async (error) => this.onError(generation, error),
    });
  }

  /** Stops the current subscription (if any) and forgets its buffer, waking its held-back pump. */
  private async replaceSubscription(): Promise<void> {
    this.generation++;
    const previous = this.subscription;
    this.subscription = undefined;
    this.buffer = [];
    this.wake();
    if (previous) await previous.close().catch(() => undefined);
  }

  private async onEvents(generation: number, events: ReceivedEvent[]): Promise<void> {
    if (generation !== this.generation) return;
    for (const event of events) {
      if (event.sequenceNumber <= this.delivered) continue;
      this.buffer.push(event);
      this.delivered = event.sequenceNumber;
    }
    if (this.delivered > this.knownLast) this.knownLast = this.delivered;
    this.notify(this.dataWaiters);
    while (this.buffer.length >= this.options.capacity && generation === this.generation) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
  }

  private onError(generation: number, error: unknown): void {
    if (generation !== this.generation) return;
    if (classifyEventHubsError(error) === 'transient') return;
    this.failure = error;
    this.notify(this.dataWaiters);
  }

  /** Drops buffered events at or before `after` (the caller skipped ahead within the buffer). */
  private skipTo(after: number): void {
    if (after <= this.taken) return;
    const keep = this.buffer.findIndex((event) => event.sequenceNumber > after);
    this.buffer = keep < 0 ? [] : this.buffer.slice(keep);
    this.taken = after;
    this.notify(this.spaceWaiters);
  }

  private take(maxCount: number): ReceivedEvent[] {
    const events = this.buffer.splice(0, maxCount);
    const last = events[events.length - 1];
    if (last !== undefined) this.taken = last.sequenceNumber;
    if (this.buffer.length < this.options.capacity) this.notify(this.spaceWaiters);
    return events;
  }

  /** Resolves when events or an error arrive, or after `ms`; a timed-out waiter is removed, so idle polling keeps nothing. */
  private waitForData(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const index = this.dataWaiters.indexOf(done);
        if (index >= 0) this.dataWaiters.splice(index, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.dataWaiters.push(done);
    });
  }

  private wake(): void {
    this.notify(this.dataWaiters);
    this.notify(this.spaceWaiters);
  }

  private notify(waiters: Array<() => void>): void {
    const pending = waiters.splice(0, waiters.length);
    for (const resolve of pending) resolve();
  }
}

/** Checks the arguments of `receive` like the embedded hub does. */
export function assertReceiveArguments(afterSequenceNumber: number, options: ReceiveOptions): void {
  const { maxCount, maxWaitMs } = options ?? ({} as ReceiveOptions);
  if (!Number.isInteger(afterSequenceNumber) || afterSequenceNumber < -1) {
    throw new EventHubError(`afterSequenceNumber must be an integer ≥ -1 (-1 reads from the start), got ${String(afterSequenceNumber)}.`);
  }
  if (!Number.isInteger(maxCount) || maxCount < 1) throw new EventHubError(`maxCount must be a positive integer, got ${String(maxCount)}.`);
  if (typeof maxWaitMs !== 'number' || !(maxWaitMs >= 0)) throw new EventHubError(`maxWaitMs must be a number ≥ 0, got ${String(maxWaitMs)}.`);
}

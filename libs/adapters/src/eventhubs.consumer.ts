/**
 * The event hub consumer port on Azure Event Hubs (or its emulator), over `EventHubConsumerClient`.
 *
 * Invariants:
 * - `receive` is pull-based; each partition has a `PartitionFeed` holding one SDK subscription that
 *   starts right after the caller's position and fills a bounded buffer (see
 *   `eventhubs.partition-feed.ts`).
 * - The SDK client gets no checkpoint store and no owner level: which instance reads which
 *   partition, and where it resumes, is the caller's business (the capture app balances partitions
 *   through the `CheckpointStore` port and keeps its position in the lake).
 * - Bodies are read as bytes (`skipParsingBodyAsJson`), never parsed.
 * - Failures the SDK's bounded retries could not overcome are `FatalBackendError` when no retry can
 *   fix them, otherwise rethrown as they are. No message contains a key or connection string.
 */
import { earliestEventPosition, EventHubConsumerClient, type RetryOptions } from '@azure/event-hubs';
import { EventHubError, type EventHubConsumer, type PartitionProperties, type ReceiveOptions, type ReceivedEvent } from '@pipeline/ports';
import { DEFAULT_EVENTHUBS_RETRY_OPTIONS, namespaceOf, PartitionDirectory, type EventHubsAccess } from './eventhubs.access';
import { eventHubResource, toEventHubsFailure } from './eventhubs.errors';
import { fromReceivedEventData } from './eventhubs.event-data';
import { assertReceiveArguments, PartitionFeed, type FeedHandlers, type FeedSource, type FeedSubscription } from './eventhubs.partition-feed';

export interface EventHubsConsumerOptions {
  /** Default `$Default`. */
  consumerGroup?: string;
  /** Overrides `DEFAULT_EVENTHUBS_RETRY_OPTIONS`. */
  retryOptions?: RetryOptions;
  /** Events buffered per partition before its subscription is held back; default 2000. */
  bufferCapacity?: number;
  /** How long a receive waits for events the hub already has but that are still in transit; default 30 s. */
  catchUpWaitMs?: number;
}

const DEFAULT_BUFFER_CAPACITY = 2_000;
const DEFAULT_CATCH_UP_WAIT_MS = 30_000;
/** Events asked from the service per SDK batch (also its prefetch). */
const MAX_SDK_BATCH = 500;
/** How often an idle subscription calls back with nothing; only a heartbeat here. */
const SDK_MAX_WAIT_SECONDS = 60;

export class EventHubsConsumer implements EventHubConsumer {
  private readonly partitions: PartitionDirectory;
  private readonly feeds = new Map<string, PartitionFeed>();
  private readonly source: FeedSource;
  private closed = false;

  private constructor(
    private readonly client: EventHubConsumerClient,
    readonly hubName: string,
    readonly fullyQualifiedNamespace: string,
    readonly consumerGroup: string,
    partitionIds: readonly string[],
    private readonly capacity: number,
    private readonly catchUpWaitMs: number,
  ) {
    this.partitions = new PartitionDirectory(partitionIds, () => this.client.getPartitionIds(), this.resource);
    this.source = {
      subscribe: (partitionId, after, handlers) => this.subscribe(partitionId, after, handlers),
      lastSequenceNumber: async (partitionId) => (await this.client.getPartitionProperties(partitionId)).lastEnqueuedSequenceNumber,
    };
  }

  /** Connects and reads the partitions; fails with `FatalBackendError` when the hub cannot be used. */
  static async open(access: EventHubsAccess, hubName: string, options: EventHubsConsumerOptions = {}): Promise<EventHubsConsumer> {
    const namespace = namespaceOf(access, hubName);
    const consumerGroup = options.consumerGroup ?? '$Default';
    const capacity = options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY;
    const catchUpWaitMs = options.catchUpWaitMs ?? DEFAULT_CATCH_UP_WAIT_MS;
    if (typeof consumerGroup !== 'string' || consumerGroup === '')
      throw new EventHubError(`The consumer group of event hub "${hubName}" must be a non-empty string, got ${JSON.stringify(consumerGroup)}.`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new EventHubError(`bufferCapacity of event hub "${hubName}" must be a positive integer, got ${String(capacity)}.`);
    if (!(catchUpWaitMs >= 0)) throw new EventHubError(`catchUpWaitMs of event hub "${hubName}" must be a number ≥ 0, got ${String(catchUpWaitMs)}.`);
    const clientOptions = { retryOptions: { ...DEFAULT_EVENTHUBS_RETRY_OPTIONS, ...options.retryOptions } };
    const client =
      'connectionString' in access
        ? new EventHubConsumerClient(consumerGroup, access.connectionString, hubName, clientOptions)
        : new EventHubConsumerClient(consumerGroup, access.fullyQualifiedNamespace, hubName, access.credential, clientOptions);
    try {
      const partitionIds = await client.getPartitionIds();
      return new EventHubsConsumer(client, hubName, namespace, consumerGroup, partitionIds, capacity, catchUpWaitMs);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw toEventHubsFailure(error, 'open a consumer', eventHubResource(namespace, hubName, consumerGroup));
    }
  }

  private get resource(): string {
    return eventHubResource(this.fullyQualifiedNamespace, this.hubName, this.consumerGroup);
  }

  async getPartitionIds(): Promise<string[]> {
    this.assertOpen();
    return this.partitions.list();
  }

  async getPartitionProperties(partitionId: string): Promise<PartitionProperties> {
    this.assertOpen();
    await this.partitions.assert(partitionId);
    try {
      const properties = await this.client.getPartitionProperties(partitionId);
      // A partition that never had an event reports -1; one whose events expired keeps its last number.
      const last = properties.lastEnqueuedSequenceNumber >= 0 ? properties.lastEnqueuedSequenceNumber : -1;
      const time = properties.lastEnqueuedOnUtc?.getTime();
      return {
        partitionId,
        lastSequenceNumber: last,
        lastOffset: last < 0 || !properties.lastEnqueuedOffset ? '-1' : String(properties.lastEnqueuedOffset),
        lastEnqueuedTime: last < 0 || time === undefined || !Number.isFinite(time) ? 0 : time,
      };
    } catch (error) {
      throw toEventHubsFailure(error, `read the properties of partition ${partitionId}`, this.resource);
    }
  }

  async receive(partitionId: string, afterSequenceNumber: number, options: ReceiveOptions): Promise<ReceivedEvent[]> {
    this.assertOpen();
    await this.partitions.assert(partitionId);
    assertReceiveArguments(afterSequenceNumber, options);
    try {
      return await this.feed(partitionId).receive(afterSequenceNumber, options);
    } catch (error) {
      throw toEventHubsFailure(error, `receive from partition ${partitionId}`, this.resource);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.feeds.values()].map((feed) => feed.close()));
    this.feeds.clear();
    await this.client.close();
  }

  private feed(partitionId: string): PartitionFeed {
    let feed = this.feeds.get(partitionId);
    if (!feed) {
      feed = new PartitionFeed(partitionId, this.source, { capacity: this.capacity, catchUpWaitMs: this.catchUpWaitMs, resource: this.resource });
      this.feeds.set(partitionId, feed);
    }
    return feed;
  }

  private subscribe(partitionId: string, after: number, handlers: FeedHandlers): FeedSubscription {
    const maxBatchSize = Math.min(MAX_SDK_BATCH, this.capacity);
    return this.client.subscribe(
      partitionId,
      {
        processEvents: (events, context) => handlers.processEvents(events.map((event) => fromReceivedEventData(event, context.partitionId))),
        processError: (error) => handlers.processError(error),
      },
      {
        startPosition: after < 0 ? earliestEventPosition : { sequenceNumber: after, isInclusive: false },
        maxBatchSize,
        maxWaitTimeInSeconds: SDK_MAX_WAIT_SECONDS,
        prefetchCount: maxBatchSize,
        skipParsingBodyAsJson: true,
      },
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new EventHubError(`The consumer of ${this.resource} is closed; open it again to use it.`);
  }
}

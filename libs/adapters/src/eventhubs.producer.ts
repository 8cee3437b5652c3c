/**
 * The event hub producer port on Azure Event Hubs (or its emulator), over `EventHubProducerClient`.
 *
 * Invariants:
 * - One `send` is one `EventDataBatch` sent with one `sendBatch`: all its events or none, in order,
 *   to one partition. `sendBatches` fills one `EventDataBatch` per partition, then sends them
 *   concurrently: each batch all or none, but a failed call may have sent some of them. A batch
 *   over `maxBatchBytes` (by `eventSizeInBytes`), or one the SDK will not take whole, is refused
 *   with `EventTooLargeError` before anything is sent.
 * - `maxBatchBytes` is fixed at open from the sender link's limit, with the margin explained in
 *   `eventhubs.event-data.ts`.
 * - Failures the SDK's bounded retries could not overcome are `FatalBackendError` when no retry can
 *   fix them, otherwise rethrown as they are. No message contains a key or connection string.
 */
import { EventHubProducerClient, type CreateBatchOptions, type EventDataBatch, type RetryOptions } from '@azure/event-hubs';
import {
  assertPartitionBatches,
  assertSendArguments,
  EventHubError,
  EventTooLargeError,
  eventSizeInBytes,
  type EventHubProducer,
  type EventToSend,
  type PartitionBatch,
  type SendOptions,
} from '@pipeline/ports';
import { DEFAULT_EVENTHUBS_RETRY_OPTIONS, namespaceOf, PartitionDirectory, type EventHubsAccess } from './eventhubs.access';
import { eventHubResource, toEventHubsFailure } from './eventhubs.errors';
import { reportedMaxBatchBytes, toEventData } from './eventhubs.event-data';
import { propertiesSize } from './local.event-properties';

export interface EventHubsProducerOptions {
  /** Overrides `DEFAULT_EVENTHUBS_RETRY_OPTIONS`. */
  retryOptions?: RetryOptions;
}

export class EventHubsProducer implements EventHubProducer {
  readonly maxBatchBytes: number;
  private readonly partitions: PartitionDirectory;
  private closed = false;

  private constructor(
    private readonly client: EventHubProducerClient,
    readonly hubName: string,
    readonly fullyQualifiedNamespace: string,
    partitionIds: readonly string[],
    /** The SDK's limit for one batch, in AMQP-encoded bytes. */
    readonly sdkMaxBatchBytes: number,
  ) {
    this.partitions = new PartitionDirectory(partitionIds, () => this.client.getPartitionIds(), this.resource);
    this.maxBatchBytes = reportedMaxBatchBytes(sdkMaxBatchBytes);
  }

  /** Connects, reads the partitions and the batch limit; fails with `FatalBackendError` when the hub cannot be used. */
  static async open(access: EventHubsAccess, hubName: string, options: EventHubsProducerOptions = {}): Promise<EventHubsProducer> {
    const namespace = namespaceOf(access, hubName);
    const clientOptions = { retryOptions: { ...DEFAULT_EVENTHUBS_RETRY_OPTIONS, ...options.retryOptions } };
    const client =
      'connectionString' in access
        ? new EventHubProducerClient(access.connectionString, hubName, clientOptions)
        : new EventHubProducerClient(access.fullyQualifiedNamespace, hubName, access.credential, clientOptions);
    try {
      const partitionIds = await client.getPartitionIds();
      const probe = await client.createBatch();
      return new EventHubsProducer(client, hubName, namespace, partitionIds, probe.maxSizeInBytes);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw toEventHubsFailure(error, 'open a producer', eventHubResource(namespace, hubName));
    }
  }

  private get resource(): string {
    return eventHubResource(this.fullyQualifiedNamespace, this.hubName);
  }

  async getPartitionIds(): Promise<string[]> {
    this.assertOpen();
    return this.partitions.list();
  }

  async send(events: readonly EventToSend[], options: SendOptions = {}): Promise<void> {
    this.assertOpen();
    assertSendArguments(events, options);
    const { partitionKey, partitionId } = options;
    if (partitionId !== undefined) await this.partitions.assert(partitionId);
    if (events.length === 0) return;

    const estimate = this.estimate(events);
    const batchOptions: CreateBatchOptions = partitionKey !== undefined ? { partitionKey } : partitionId !== undefined ? { partitionId } : {};
    try {
      await this.client.sendBatch(await this.fill(events, estimate, batchOptions));
    } catch (error) {
      throw this.sendFailure(error, events.length);
    }
  }

  /**
   * Every batch is checked and filled before any is sent, then they are sent concurrently, one
   * `sendBatch` per partition. A failure is thrown once all have settled, so nothing is still being
   * sent when the call returns; the batches that did go are in the hub whole (see the port).
   */
  async sendBatches(batches: readonly PartitionBatch[]): Promise<void> {
    this.assertOpen();
    assertPartitionBatches(batches);
    for (const { partitionId } of batches) await this.partitions.assert(partitionId);
    const nonEmpty = batches.filter((batch) => batch.events.length > 0);
    const estimates = nonEmpty.map((batch) => this.estimate(batch.events));
    let filled: EventDataBatch[];
    try {
      filled = await Promise.all(nonEmpty.map((batch, i) => this.fill(batch.events, estimates[i] as number, { partitionId: batch.partitionId })));
    } catch (error) {
      throw this.sendFailure(
        error,
        nonEmpty.reduce((sum, batch) => sum + batch.events.length, 0),
      );
    }
    const sent = await Promise.allSettled(filled.map((batch) => this.client.sendBatch(batch)));
    const failed = sent.findIndex((result) => result.status === 'rejected');
    if (failed >= 0) throw this.sendFailure((sent[failed] as PromiseRejectedResult).reason, (nonEmpty[failed] as PartitionBatch).events.length);
  }

  /** Checks each event and the batch's estimated size against `maxBatchBytes`; returns the estimate. */
  private estimate(events: readonly EventToSend[]): number {
    let estimate = 0;
    events.forEach((event, index) => {
      assertEvent(event, index);
      estimate += eventSizeInBytes(event);
    });
    if (estimate > this.maxBatchBytes) {
      throw new EventTooLargeError(
        `A batch of ${events.length} event(s) is ${estimate} bytes (by eventSizeInBytes), over the ${this.maxBatchBytes}-byte limit (maxBatchBytes) of ${this.resource}. Send fewer or smaller events per call.`,
      );
    }
    return estimate;
  }

  /** An SDK batch holding every event, or `EventTooLargeError` when the AMQP batch cannot take them all. */
  private async fill(events: readonly EventToSend[], estimate: number, batchOptions: CreateBatchOptions): Promise<EventDataBatch> {
    const batch = await this.client.createBatch(batchOptions);
    const { partitionKey } = batchOptions;
    for (const [index, event] of events.entries()) {
      if (!batch.tryAdd(toEventData(event))) {
        throw new EventTooLargeError(
          `A batch of ${events.length} event(s) (${estimate} bytes by eventSizeInBytes, within maxBatchBytes ${this.maxBatchBytes}) does not fit the ${batch.maxSizeInBytes}-byte AMQP batch of ${this.resource}: ` +
            `event ${index} would take it past the limit${partitionKey !== undefined ? ` (partition keys of ${Buffer.byteLength(partitionKey)} bytes count in every event)` : ''}. Send fewer events per call.`,
        );
      }
    }
    return batch;
  }

  /** The error a failed send throws: the pipeline's own as it is, else one naming the resource. */
  private sendFailure(error: unknown, count: number): unknown {
    if (error instanceof EventHubError) return error;
    if (isMessageTooLarge(error)) {
      return new EventTooLargeError(
        `${this.resource} refused a batch of ${count} event(s) as too large; maxBatchBytes is ${this.maxBatchBytes}. Send fewer or smaller events per call.`,
        {
          cause: error,
        },
      );
    }
    return toEventHubsFailure(error, `send ${count} event(s)`, this.resource);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventHubError(`The producer of ${this.resource} is closed; open it again to use it.`);
  }
}

function assertEvent(event: EventToSend, index: number): void {
  if (typeof event !== 'object' || event === null || !(event.body instanceof Uint8Array)) {
    throw new EventHubError(`Event ${index} of the batch needs a body of bytes (Buffer or Uint8Array).`);
  }
  // Same checks as the embedded hub: names the property whose value Event Hubs cannot carry.
  propertiesSize(event.properties);
}

function isMessageTooLarge(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'MessageTooLargeError';
}

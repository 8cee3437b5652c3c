/**
 * The event hub: a partitioned, append-only log (Azure Event Hubs, or the embedded SQLite log).
 *
 * Within a partition, sequence numbers start at 0 and increase by one per event; offsets increase
 * too (opaque strings, as in Event Hubs). The same partition key always maps to the same partition.
 */

/** Values Event Hubs carries in application properties (and Capture writes into its `Properties` map). */
export type PropertyValue = string | number | boolean | Buffer;

export interface EventToSend {
  body: Uint8Array;
  /** Application properties (`Properties` in Capture files). */
  properties?: Record<string, PropertyValue>;
}

export interface ReceivedEvent {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  readonly offset: string;
  /** When the hub accepted the event, epoch milliseconds. */
  readonly enqueuedTime: number;
  readonly partitionKey: string | null;
  readonly properties: Record<string, PropertyValue>;
  readonly body: Buffer;
  /**
   * `properties` already encoded as Capture writes them (the Avro binary of the `Properties` map),
   * when the adapter stores them so (the embedded hub): capture copies these bytes instead of
   * encoding `properties` again. Absent otherwise.
   */
  readonly captureProperties?: Buffer;
}

export interface PartitionProperties {
  readonly partitionId: string;
  /** -1 when the partition is empty. */
  readonly lastSequenceNumber: number;
  readonly lastOffset: string;
  /** Epoch milliseconds of the newest event, or 0. */
  readonly lastEnqueuedTime: number;
}

export interface SendOptions {
  /** Every event of the call goes to the partition this key hashes to. */
  partitionKey?: string;
  /** Or an explicit partition (exclusive with `partitionKey`). */
  partitionId?: string;
}

/** One batch of a `sendBatches` call: its events, all for one partition. */
export interface PartitionBatch {
  partitionId: string;
  events: readonly EventToSend[];
}

export interface ReceiveOptions {
  maxCount: number;
  /** How long to wait for the first event when none is available, in ms (0: return at once). */
  maxWaitMs: number;
}

export interface EventHubProducer {
  readonly hubName: string;
  getPartitionIds(): Promise<string[]>;
  /** Largest total payload (bodies + properties) one `send` call accepts, in bytes. */
  readonly maxBatchBytes: number;
  /** Append events atomically as one batch (all or none). */
  send(events: readonly EventToSend[], options?: SendOptions): Promise<void>;
  /**
   * Optional: several batches in one call, each to its own partition (no partition twice in a
   * call), so a producer whose partitions fill together waits once instead of once per batch. Each
   * batch is what one `send` of it to its partition would be: atomic, within `maxBatchBytes`, its
   * events contiguous and in order. Every batch is checked before anything is sent, so a bad one
   * (too large, unknown partition, not bytes) sends none. What a failure after that means depends
   * on the adapter:
   * - the embedded hub appends them all in one transaction: a failed call appended none of them;
   * - Azure Event Hubs sends them concurrently, one `sendBatch` per partition: a failed call may
   *   have appended some batches whole (never part of one). The caller resumes from its last
   *   acknowledged position, and silver drops the events sent twice by their event ids.
   * Callers of a producer without it send the batches one `send` at a time.
   */
  sendBatches?(batches: readonly PartitionBatch[]): Promise<void>;
  close(): Promise<void>;
}

export interface EventHubConsumer {
  readonly hubName: string;
  readonly fullyQualifiedNamespace: string;
  readonly consumerGroup: string;
  getPartitionIds(): Promise<string[]>;
  getPartitionProperties(partitionId: string): Promise<PartitionProperties>;
  /**
   * Events of one partition with sequence number > `afterSequenceNumber` (-1: from the start), in
   * order, at most `maxCount`; waits up to `maxWaitMs` when none is there yet.
   */
  receive(partitionId: string, afterSequenceNumber: number, options: ReceiveOptions): Promise<ReceivedEvent[]>;
  close(): Promise<void>;
}

/** Mirrors `@azure/event-hubs`' `CheckpointStore`, so the blob checkpoint store fits the same port. */
export interface PartitionOwnership {
  fullyQualifiedNamespace: string;
  eventHubName: string;
  consumerGroup: string;
  partitionId: string;
  ownerId: string;
  /** Epoch ms of the last claim or renewal (set by the store). */
  lastModifiedTimeInMs?: number;
  /** Opaque concurrency token; a claim with a stale etag fails. */
  etag?: string;
}

export interface Checkpoint {
  fullyQualifiedNamespace: string;
  eventHubName: string;
  consumerGroup: string;
  partitionId: string;
  sequenceNumber: number;
  offset: string;
}

export interface CheckpointStore {
  listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]>;
  /** Returns the claims that succeeded (a claim whose etag no longer matches is left out). */
  claimOwnership(ownerships: PartitionOwnership[]): Promise<PartitionOwnership[]>;
  /**
   * Deletes an ownership record if it still carries `ownership.etag` (required), so a record
   * renewed since the caller listed it is kept. Returns whether it was deleted: `false` when the
   * etag moved on or the record is gone.
   */
  deleteOwnership(ownership: PartitionOwnership): Promise<boolean>;
  listCheckpoints(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<Checkpoint[]>;
  updateCheckpoint(checkpoint: Checkpoint): Promise<void>;
}

export class EventHubError extends Error {
  override readonly name: string = 'EventHubError';
}

/** The checks every adapter's `send` makes first, with the same messages: an array, and a key or a partition id, not both. */
export function assertSendArguments(events: unknown, options: SendOptions): void {
  if (!Array.isArray(events)) throw new EventHubError(`send expects an array of events, got ${typeof events}.`);
  const { partitionKey, partitionId } = options;
  if (partitionKey !== undefined && partitionId !== undefined) {
    throw new EventHubError(`send was given both partitionKey ${JSON.stringify(partitionKey)} and partitionId ${JSON.stringify(partitionId)}; pass one of them.`);
  }
  if (partitionKey !== undefined && typeof partitionKey !== 'string') throw new EventHubError(`partitionKey must be a string, got ${typeof partitionKey}.`);
}

/**
 * The checks every adapter's `sendBatches` makes first, with the same messages: an array of
 * batches, each with a string partition id and an array of events, no partition twice.
 */
export function assertPartitionBatches(batches: unknown): asserts batches is readonly PartitionBatch[] {
  if (!Array.isArray(batches)) throw new EventHubError(`sendBatches expects an array of batches, got ${typeof batches}.`);
  const seen = new Set<string>();
  batches.forEach((batch: unknown, index) => {
    const { partitionId, events } = (typeof batch === 'object' && batch !== null ? batch : {}) as Partial<PartitionBatch>;
    if (typeof partitionId !== 'string') throw new EventHubError(`Batch ${index} of sendBatches needs a partitionId string, got ${typeof partitionId}.`);
    if (!Array.isArray(events)) throw new EventHubError(`Batch ${index} of sendBatches (partition ${JSON.stringify(partitionId)}) needs an array of events, got ${typeof events}.`);
    if (seen.has(partitionId)) {
      throw new EventHubError(
        `sendBatches was given partition ${JSON.stringify(partitionId)} twice (batch ${index}); a call takes one batch per partition, so their order is not left to chance: send the later batch in a later call.`,
      );
    }
    seen.add(partitionId);
  });
}

/** A batch larger than `maxBatchBytes`, or a single event that can never fit. */
export class EventTooLargeError extends EventHubError {
  override readonly name = 'EventTooLargeError';
}

/**
 * Bytes an event counts for against a batch limit: body, property names and values, plus a fixed
 * per-event overhead approximating the AMQP framing Event Hubs counts.
 */
export function eventSizeInBytes(event: EventToSend): number {
  let size = EVENT_OVERHEAD_BYTES + event.body.byteLength;
  const properties = event.properties;
  if (properties) {
    const names = Object.keys(properties);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const value = properties[name];
      size += Buffer.byteLength(name) + 8;
      if (typeof value === 'string') size += Buffer.byteLength(value);
      else if (Buffer.isBuffer(value)) size += value.byteLength;
      else size += 8;
    }
  }
  return size;
}

export const EVENT_OVERHEAD_BYTES = 64;

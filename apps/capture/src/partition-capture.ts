/**
 * Captures one event hub partition into Avro files in the lake, as Event Hubs Capture does.
 *
 * A file closes when its time window elapses or it reaches the size limit, whichever comes first.
 * Files are named by the second they close in, as Event Hubs Capture names them; with a window under
 * a second, by the millisecond (see capture-layout in contracts).
 * Each file is one batch of the micro-batch runtime (libs/checkpoint), on the partition's log
 * `{checkpoint}/partitions/{p}`: intent (offsets/N) → the file (create-if-absent, atomic) →
 * commit (commits/N) → hub checkpoint. A crash anywhere leaves either nothing (the events are read
 * again) or an intent, which is re-done to the same path with the same bytes: no event is lost and
 * none lands in two files. Capture keeps no state: its position is the last intent.
 */
import { CaptureFileWriter, deriveSyncMarker, readCaptureStringProperty, type CaptureCodec } from '@pipeline/capture-format';
import { capturePrecisionFor, EventProperty, nextCapturePath, type CapturePartition } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { CheckpointStore, EventHubConsumer, Lake, ReceivedEvent } from '@pipeline/ports';
import { capturePartitionCheckpoint, MicroBatchRuntime, type BatchInput, type BatchOutcome } from '@pipeline/checkpoint';
import { captureMeasure, inSpan, linksFromTraceparents, type Logger } from '@pipeline/telemetry';
import { CAPTURE_LOG_VERSION, type CaptureCommit, type CaptureIntent, type CaptureLog } from './capture-log';

/** Producer spans a file's span links to, at most. */
const MAX_LINKS = 1024;

export interface PartitionCaptureOptions {
  windowMs: number;
  maxFileBytes: number;
  codec: CaptureCodec;
  skipEmpty: boolean;
  blockTargetBytes: number;
  /** Most events asked from the hub per poll. */
  receiveBatch: number;
  /** This instance's id, recorded in each commit it writes (the partition's owner in the status). */
  ownerId?: string;
}

export interface CapturedFile {
  path: string;
  eventCount: number;
  bytes: number;
  fromSequenceNumber: number;
  toSequenceNumber: number;
}

export class HubRetentionError extends Error {
  override readonly name = 'HubRetentionError';
}

/** The file the open window makes: its intent and bytes, as read here. */
interface CapturePlan {
  intent: CaptureIntent;
  bytes: Buffer;
}

type CaptureOutcome = BatchOutcome<CaptureIntent, undefined, CaptureCommit>;

export class PartitionCapture {
  /** Last sequence number durably captured (committed). */
  private committed = -1;
  /** Last sequence number appended to the open file. */
  private read = -1;
  private readonly runtime: MicroBatchRuntime<CapturePlan, CaptureIntent, undefined, CaptureCommit, null, CaptureOutcome>;
  private lastPath: string | undefined;
  private lastOffset: string | null = null;
  private writer: CaptureFileWriter | undefined;
  private fileFirstSequence = 0;
  private windowStart = 0;
  private traceparents: string[] = [];
  /** Events of the open file whose traceparent was read (the first MAX_LINKS). */
  private traceparentsRead = 0;
  private recovered = false;

  constructor(
    readonly partitionId: string,
    private readonly parts: CapturePartition,
    private readonly hub: EventHubConsumer,
    private readonly lake: Lake,
    log: CaptureLog,
    private readonly checkpoints: CheckpointStore,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: PartitionCaptureOptions,
    private readonly onFile: (file: CapturedFile) => void = () => undefined,
  ) {
    const checkpoint = capturePartitionCheckpoint(lake, log.root, partitionId);
    this.runtime = new MicroBatchRuntime(
      checkpoint,
      {
        restore: () => null,
        execute: (_batch, input) => this.execute(input),
        committed: (_batch, outcome) => this.committedFile(outcome),
        measure: (outcome) => captureMeasure(outcome.offsets),
      },
      { stage: 'capture', stateHolds: 'nothing' },
    );
  }

  get committedSequenceNumber(): number {
    return this.committed;
  }

  get pendingEvents(): number {
    return this.writer?.recordCount ?? 0;
  }

  /** Restores the position from the lake, re-doing a file whose commit is missing. */
  async recover(): Promise<void> {
    await this.runtime.recover();
    const last = this.runtime.lastOffsets;
    if (last) this.adopt(last);
    this.windowStart = this.clock.now();
    this.recovered = true;
  }

  /**
   * Reads what the hub has (waiting up to `maxWaitMs`), appends it, and closes files whose window
   * elapsed or that are full. Returns the number of events read.
   */
  async poll(maxWaitMs: number): Promise<number> {
    if (!this.recovered) await this.recover();
    const events = await this.hub.receive(this.partitionId, this.read, { maxCount: this.options.receiveBatch, maxWaitMs });
    for (const event of events) {
      this.append(event);
      if ((this.writer as CaptureFileWriter).byteLength < this.options.maxFileBytes) continue;
      await this.close();
      // Another instance wrote this partition's next files meanwhile (this one was paused past its
      // claim): the position moved to its last file, and the rest read here is read again from there.
      if (this.read !== event.sequenceNumber) return events.length;
    }
    if (this.clock.now() - this.windowStart >= this.options.windowMs) await this.close();
    return events.length;
  }

  /** Closes the open file now, if it has events (graceful shutdown, or draining). */
  async flush(): Promise<void> {
    if (this.writer && this.writer.recordCount > 0) await this.close();
  }

  private append(event: ReceivedEvent): void {
    if (event.sequenceNumber !== this.read + 1) {
      throw new Error(`Partition ${this.partitionId}: expected sequence number ${this.read + 1}, the hub returned ${event.sequenceNumber}.`);
    }
    if (!this.writer) {
      this.writer = this.newWriter(event.sequenceNumber);
      this.fileFirstSequence = event.sequenceNumber;
    }
    // Properties the hub stores encoded are copied, not decoded (only the first traceparents are read).
    this.writer.appendEvent(event);
    if (this.traceparentsRead < MAX_LINKS) {
      this.traceparentsRead++;
      const traceparent = traceparentOf(event);
      // A batch's events share their traceparent: a repeat adds no link (links are distinct).
      if (typeof traceparent === 'string' && traceparent !== this.traceparents[this.traceparents.length - 1]) this.traceparents.push(traceparent);
    }
    this.read = event.sequenceNumber;
    this.lastOffset = event.offset;
  }

  private newWriter(fromSequenceNumber: number): CaptureFileWriter {
    return writerFor(this.parts, this.partitionId, fromSequenceNumber, this.options.codec, this.options.blockTargetBytes);
  }

  /** Ends the current window: writes file N if it has events (or always, with skip-empty off). */
  private async close(): Promise<void> {
    const count = this.writer?.recordCount ?? 0;
    const closedAt = this.clock.now();
    this.windowStart = closedAt;
    if (count === 0 && this.options.skipEmpty) return;
    const from = count === 0 ? this.committed + 1 : this.fileFirstSequence;
    const bytes = (this.writer ?? this.newWriter(from)).finish();
    const links = linksFromTraceparents(this.traceparents);
    const lastOffset = count === 0 ? null : this.lastOffset;
    this.writer = undefined;
    this.traceparents = [];
    this.traceparentsRead = 0;
    await inSpan(
      'capture.file',
      { links },
      async (span) => {
        const outcome = await this.runtime.runNext((last) => {
          // Another instance wrote files since (the runtime recovered its position first): what was
          // read here is not the next file any more; it is read again from the new position.
          if ((last?.toSequenceNumber ?? -1) !== from - 1) return undefined;
          return {
            intent: {
              version: CAPTURE_LOG_VERSION,
              batch: this.runtime.nextBatch,
              partitionId: this.partitionId,
              fromSequenceNumber: from,
              toSequenceNumber: from + count - 1,
              eventCount: count,
              path: nextCapturePath(this.parts, closedAt, this.lastPath, capturePrecisionFor(this.options.windowMs)),
              codec: this.options.codec,
              blockTargetBytes: this.options.blockTargetBytes,
              lastOffset,
            },
            bytes,
          };
        });
        if (!outcome) {
          this.logger.warn({ partition: this.partitionId }, 'another capture instance took this partition; following its files');
          const last = this.runtime.lastOffsets;
          if (last) this.adopt(last);
          return;
        }
        span.setAttributes({
          'messaging.destination.partition.id': this.partitionId,
          'pipeline.capture.events': outcome.offsets.eventCount,
          'pipeline.capture.path': outcome.offsets.path,
        });
        span.setAttribute('pipeline.capture.bytes', outcome.commit.bytes);
      },
      'capture',
    );
  }

  /**
   * File N: the bytes read here once its intent is recorded, or the hub's events re-read for an
   * intent recorded before a crash. When another instance recorded file N first, `record` ends this
   * attempt and the runtime catches up with that instance's files (the planner then declines).
   */
  private async execute(input: BatchInput<CapturePlan, CaptureIntent>): Promise<CaptureOutcome> {
    if (input.kind === 'recorded') return this.redo(input.offsets);
    return this.write(await input.record(input.plan.intent), input.plan.bytes);
  }

  /** Writes (or re-writes) the file an intent describes from the hub's events. */
  private async redo(intent: CaptureIntent): Promise<CaptureOutcome> {
    const writer = writerFor(this.parts, this.partitionId, intent.fromSequenceNumber, intent.codec, intent.blockTargetBytes);
    let after = intent.fromSequenceNumber - 1;
    while (after < intent.toSequenceNumber) {
      const events = await this.hub.receive(this.partitionId, after, { maxCount: Math.min(intent.toSequenceNumber - after, 5000), maxWaitMs: 0 });
      const first = events[0];
      if (!first || first.sequenceNumber !== after + 1) {
        throw new HubRetentionError(
          `Partition ${this.partitionId}: cannot re-read events ${after + 1}–${intent.toSequenceNumber} for ${intent.path}: the hub no longer has them (retention). ` +
            'The capture checkpoint cannot be completed; restore the events or start a new checkpoint.',
        );
      }
      for (const event of events) writer.appendEvent(event);
      after = (events[events.length - 1] as ReceivedEvent).sequenceNumber;
    }
    return this.write(intent, writer.finish());
  }

  private async write(intent: CaptureIntent, bytes: Buffer): Promise<CaptureOutcome> {
    const created = await this.lake.createIfAbsent(intent.path, bytes);
    if (!created) this.logger.info({ partition: this.partitionId, path: intent.path }, 'capture file already present (re-done after a restart); keeping it');
    const owner = this.options.ownerId;
    return { offsets: intent, state: undefined, commit: { batch: intent.batch, path: intent.path, bytes: bytes.byteLength, ...(owner === undefined ? {} : { owner }) } };
  }

  /** After commits/N: the hub checkpoint, then the position moves on. */
  private async committedFile({ offsets: intent, commit }: CaptureOutcome): Promise<void> {
    if (intent.eventCount > 0 && intent.lastOffset !== null) {
      await this.checkpoints.updateCheckpoint({
        fullyQualifiedNamespace: this.hub.fullyQualifiedNamespace,
        eventHubName: this.hub.hubName,
        consumerGroup: this.hub.consumerGroup,
        partitionId: this.partitionId,
        sequenceNumber: intent.toSequenceNumber,
        offset: intent.lastOffset,
      });
    }
    this.adopt(intent);
    this.onFile({
      path: intent.path,
      eventCount: intent.eventCount,
      bytes: commit.bytes,
      fromSequenceNumber: intent.fromSequenceNumber,
      toSequenceNumber: intent.toSequenceNumber,
    });
    this.logger.info({ partition: this.partitionId, path: intent.path, events: intent.eventCount, bytes: commit.bytes }, 'capture file written');
  }

  private adopt(intent: CaptureIntent): void {
    this.committed = intent.toSequenceNumber;
    this.read = intent.toSequenceNumber;
    this.lastPath = intent.path;
    this.lastOffset = intent.lastOffset ?? this.lastOffset;
    this.writer = undefined;
    this.traceparents = [];
    this.traceparentsRead = 0;
  }
}

/**
 * A file's bytes depend only on its events and where it starts: the sync marker is derived from
 * the partition and first sequence number, so a re-done file is byte-for-byte the original.
 */
function writerFor(parts: CapturePartition, partitionId: string, fromSequenceNumber: number, codec: CaptureCodec, blockTargetBytes: number): CaptureFileWriter {
  const seed = `${parts.namespace}/${parts.eventHub}/${partitionId}/${fromSequenceNumber}`;
  return new CaptureFileWriter({ codec, syncMarker: deriveSyncMarker(seed), blockTargetBytes });
}

/** An event's traceparent property, read from the hub's encoded properties without decoding the rest. */
function traceparentOf(event: ReceivedEvent): unknown {
  const encoded = event.captureProperties;
  const read = encoded === undefined ? null : readCaptureStringProperty(encoded, EventProperty.traceparent);
  // null: the bytes are not plain; decoding them all names what is wrong.
  return read === null ? event.properties[EventProperty.traceparent] : read;
}

/**
 * Writes an Avro object container file exactly as Event Hubs Capture lays it out: magic, metadata
 * (`avro.codec` then `avro.schema`, Azure's order), the sync marker, then blocks of records each
 * followed by the sync marker. Output is a pure function of (codec, sync marker, block target,
 * records), so a re-run batch rewrites identical bytes.
 */
import { deflateRawSync } from 'node:zlib';
import { encodeBytes, encodeLong, OCF_MAGIC } from './avro-binary';
import type { ReceivedEvent } from '@pipeline/ports';
import { CAPTURE_RECORD_SCHEMA, type CaptureRecord } from './capture-record';
import { captureRecordFromEvent } from './capture-record-from-event';
import { formatEnqueuedTimeUtc } from './enqueued-time';
import { CaptureRecordEncoder } from './record-encoder';
import { SYNC_MARKER_BYTES } from './sync-marker';

export type CaptureCodec = 'null' | 'deflate';

export const CAPTURE_CODECS: readonly CaptureCodec[] = ['null', 'deflate'];

export interface CaptureFileWriterOptions {
  codec: CaptureCodec;
  /** 16 bytes; `deriveSyncMarker(path)` makes it deterministic. */
  syncMarker: Buffer;
  /** A block is closed once its uncompressed records reach this size. Default 64 KiB. */
  blockTargetBytes?: number;
}

const DEFAULT_BLOCK_TARGET_BYTES = 64 * 1024;

/** Room a block's buffer starts with beyond the target, so a block rarely has to grow. */
const BLOCK_SLACK_BYTES = 4 * 1024;

/** Bytes of `value` as an Avro varint long (zig-zag), without encoding it. */
function longLength(value: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let length = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 0x80);
    length++;
  }
  return length;
}

/** zlib's compressBound: the most deflate can ever produce from `n` bytes. */
function deflateBound(n: number): number {
  return n + Math.floor(n / 4096) + Math.floor(n / 16384) + Math.floor(n / 33554432) + 13;
}

function header(codec: CaptureCodec, syncMarker: Buffer): Buffer {
  const entry = (key: string, value: string) => [encodeBytes(Buffer.from(key, 'utf8')), encodeBytes(Buffer.from(value, 'utf8'))];
  return Buffer.concat([OCF_MAGIC, encodeLong(2), ...entry('avro.codec', codec), ...entry('avro.schema', JSON.stringify(CAPTURE_RECORD_SCHEMA)), encodeLong(0), syncMarker]);
}

export class CaptureFileWriter {
  private readonly codec: CaptureCodec;
  private readonly syncMarker: Buffer;
  private readonly blockTargetBytes: number;
  private readonly parts: Buffer[];
  private writtenBytes: number;
  /** The open block's records, encoded. */
  private readonly block: CaptureRecordEncoder;
  private pendingCount = 0;
  private count = 0;
  private finished: Buffer | undefined;

  constructor(options: CaptureFileWriterOptions) {
    if (!CAPTURE_CODECS.includes(options.codec)) {
      throw new RangeError(`Unsupported Capture codec ${JSON.stringify(options.codec)}; use one of ${CAPTURE_CODECS.join(', ')}.`);
    }
    if (!Buffer.isBuffer(options.syncMarker) || options.syncMarker.length !== SYNC_MARKER_BYTES) {
      throw new RangeError(`The sync marker must be a ${SYNC_MARKER_BYTES}-byte Buffer (use deriveSyncMarker(path)).`);
    }
    const target = options.blockTargetBytes ?? DEFAULT_BLOCK_TARGET_BYTES;
    if (!Number.isSafeInteger(target) || target < 1) {
      throw new RangeError(`blockTargetBytes must be a positive integer, got ${String(options.blockTargetBytes)}.`);
    }
    this.codec = options.codec;
    this.syncMarker = Buffer.from(options.syncMarker);
    this.blockTargetBytes = target;
    const head = header(this.codec, this.syncMarker);
    this.parts = [head];
    this.writtenBytes = head.length;
    this.block = new CaptureRecordEncoder(Math.min(target, DEFAULT_BLOCK_TARGET_BYTES) + BLOCK_SLACK_BYTES);
  }

  get recordCount(): number {
    return this.count;
  }

  /**
   * Bytes the file will have if finished now. Exact for the `null` codec; for `deflate` the pending
   * block counts uncompressed, so it is an upper bound until `finish`.
   */
  get byteLength(): number {
    if (this.finished) return this.finished.length;
    if (this.pendingCount === 0) return this.writtenBytes;
    const dataBytes = this.codec === 'deflate' ? deflateBound(this.block.length) : this.block.length;
    const framing = longLength(this.pendingCount) + longLength(dataBytes) + SYNC_MARKER_BYTES;
    return this.writtenBytes + framing + dataBytes;
  }

  append(record: CaptureRecord): void {
    if (this.finished) throw new Error('CaptureFileWriter.append after finish(): start a new writer for the next file.');
    this.block.append(record);
    this.appended();
  }

  /**
   * Appends the record Capture writes for a received event, as `append(captureRecordFromEvent(event))`
   * does; properties the hub hands over already encoded (`captureProperties`) are copied as they are.
   */
  appendEvent(event: ReceivedEvent): void {
    if (this.finished) throw new Error('CaptureFileWriter.append after finish(): start a new writer for the next file.');
    const encoded = event.captureProperties;
    if (encoded === undefined) this.block.append(captureRecordFromEvent(event));
    else this.block.appendEncoded(event.sequenceNumber, event.offset, formatEnqueuedTimeUtc(event.enqueuedTime), event.partitionKey, encoded, event.body);
    this.appended();
  }

  private appended(): void {
    this.pendingCount++;
    this.count++;
    if (this.block.length >= this.blockTargetBytes) this.flushBlock();
  }

  /** The complete file. With no records, the header alone: a valid empty file, as Capture writes. */
  finish(): Buffer {
    if (!this.finished) {
      this.flushBlock();
      this.finished = Buffer.concat(this.parts, this.writtenBytes);
      this.parts.length = 0;
    }
    return this.finished;
  }

  private flushBlock(): void {
    if (this.pendingCount === 0) return;
    const raw = this.block.take();
    const data = this.codec === 'deflate' ? deflateRawSync(raw) : raw;
    const block = [encodeLong(this.pendingCount), encodeLong(data.length), data, this.syncMarker];
    for (const part of block) {
      this.parts.push(part);
      this.writtenBytes += part.length;
    }
    this.pendingCount = 0;
  }
}

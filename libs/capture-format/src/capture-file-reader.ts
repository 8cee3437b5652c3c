/**
 * Streams records out of an Event Hubs Capture Avro file, one block at a time.
 *
 * Invariants: memory is bounded by one block (plus one source chunk), never the file; every byte
 * is accounted for — magic, header, each block's count/size/data and its sync marker — and the
 * first thing that does not fit raises `CaptureFormatError` with the file name and byte offset.
 * Records decode with the writer schema from the file's own header, so every Capture era reads.
 * Limitation of the format: a file cut exactly between two blocks looks complete (OCF has no footer).
 */
import { inflateRawSync } from 'node:zlib';
import type { Type } from 'avsc';
import { decodeLong, MAX_VARINT_BYTES, OCF_MAGIC } from './avro-binary';
import { ByteSource } from './byte-source';
import { CAPTURE_CODECS, type CaptureCodec } from './capture-file-writer';
import { CaptureFormatError } from './capture-format-error';
import { schemaIncompatibility, type CaptureRecord, type CaptureSchemaVariant, type CaptureValue } from './capture-record';
import { fromAvroValue, readerTypeFor } from './record-codec';
import { CaptureRecordDecoder, type RecordSelection, type UnionBranch } from './record-decoder';
import { SYNC_MARKER_BYTES } from './sync-marker';

export interface CaptureFileInfo {
  codec: CaptureCodec;
  /** The writer schema from the `avro.schema` header, parsed. */
  schema: object;
  variant: CaptureSchemaVariant;
}

/** Larger than any block Capture writes (its size window tops out at 500 MB): a bigger size is corruption. */
const MAX_BLOCK_BYTES = 1024 * 1024 * 1024;
const MAX_METADATA_VALUE_BYTES = 16 * 1024 * 1024;
/** Capture writes two metadata entries; thousands mean a corrupt count. */
const MAX_METADATA_ENTRIES = 1024;

interface Header {
  info: CaptureFileInfo;
  type: Type;
  syncMarker: Buffer;
}

class FrameReader {
  constructor(
    readonly bytes: ByteSource,
    readonly file: string,
  ) {}

  fail(byteOffset: number, problem: string): never {
    throw new CaptureFormatError(this.file, byteOffset, problem);
  }

  /** Exactly `n` bytes of `what`, or a truncation error pointing at where `what` starts. `view`: a view of the source (see `ByteSource.view`). */
  async exact(n: number, what: string, view = false): Promise<Buffer> {
    const start = this.bytes.offset;
    const available = await this.bytes.fill(n);
    if (available < n) {
      this.fail(start, `the file ends at byte ${start + available} inside ${what} (${n} bytes expected from byte ${start}); the file is truncated`);
    }
    return view ? this.bytes.view(n) : this.bytes.take(n);
  }

  async long(what: string): Promise<number> {
    const start = this.bytes.offset;
    const available = await this.bytes.fill(MAX_VARINT_BYTES);
    const decoded = decodeLong(this.bytes.peek(available));
    switch (decoded.kind) {
      case 'value':
        this.bytes.skip(decoded.length);
        return decoded.value;
      case 'incomplete':
        return this.fail(start, `the file ends at byte ${start + available} inside ${what}; the file is truncated`);
      case 'invalid':
        return this.fail(start, `${what} is not a valid Avro long; the file is corrupt`);
    }
  }

  async length(what: string, max: number): Promise<number> {
    const start = this.bytes.offset;
    const n = await this.long(`the length of ${what}`);
    if (n < 0 || n > max) this.fail(start, `${what} has length ${n}, outside 0-${max}; the file is corrupt`);
    return n;
  }
}

function isCodec(name: string): name is CaptureCodec {
  return (CAPTURE_CODECS as readonly string[]).includes(name);
}

async function readHeader(frames: FrameReader): Promise<Header> {
  const { bytes } = frames;
  if (await bytes.atEnd()) {
    frames.fail(0, 'the file is empty (0 bytes). Capture writes a header even for an empty window, so this is a truncated or failed upload; delete or re-copy the file');
  }
  const magic = await frames.exact(OCF_MAGIC.length, 'the Avro magic bytes');
  if (!magic.equals(OCF_MAGIC)) {
    frames.fail(0, `not an Avro object container file (starts with ${magic.toString('hex')}, expected ${OCF_MAGIC.toString('hex')} "Obj\\x01")`);
  }
  const metadata = new Map<string, { value: Buffer; offset: number }>();
  for (;;) {
    const blockStart = bytes.offset;
    let count = await frames.long('the header metadata entry count');
    if (count === 0) break;
    if (count < 0) {
      // A negative count is followed by the block's byte size, which a sequential reader can ignore.
      count = -count;
      await frames.long('the header metadata block size');
    }
    if (count > MAX_METADATA_ENTRIES) frames.fail(blockStart, `the header declares ${count} metadata entries; the file is corrupt`);
    for (let i = 0; i < count; i++) {
      const key = (await frames.exact(await frames.length('a metadata key', MAX_METADATA_VALUE_BYTES), 'a metadata key')).toString('utf8');
      const offset = bytes.offset;
      const value = await frames.exact(await frames.length(`metadata value "${key}"`, MAX_METADATA_VALUE_BYTES), `metadata value "${key}"`);
      metadata.set(key, { value, offset });
    }
  }
  const codecEntry = metadata.get('avro.codec');
  const codec = codecEntry ? codecEntry.value.toString('utf8') : 'null';
  if (!isCodec(codec)) {
    frames.fail(codecEntry?.offset ?? 0, `codec "${codec}" is not supported (supported: ${CAPTURE_CODECS.join(', ')}); Event Hubs Capture writes null or deflate`);
  }
  const schemaEntry = metadata.get('avro.schema');
  if (!schemaEntry) frames.fail(OCF_MAGIC.length, 'the header has no "avro.schema" metadata entry');
  const schemaText = schemaEntry.value.toString('utf8');
  let schema: unknown;
  try {
    schema = JSON.parse(schemaText);
  } catch (error) {
    frames.fail(schemaEntry.offset, `"avro.schema" is not valid JSON (${(error as Error).message})`);
  }
  const incompatibility = schemaIncompatibility(schema);
  if (incompatibility) frames.fail(schemaEntry.offset, `"avro.schema" is not an Event Hubs Capture EventData schema: ${incompatibility}`);
  let reader: { type: Type; variant: CaptureSchemaVariant };
  try {
    reader = readerTypeFor(schema as object, schemaText);
  } catch (error) {
    return frames.fail(schemaEntry.offset, `"avro.schema" is not a valid Avro schema (${(error as Error).message})`);
  }
  const { type, variant } = reader;
  const syncMarker = await frames.exact(SYNC_MARKER_BYTES, 'the header sync marker');
  return { info: { codec, schema: schema as object, variant }, type, syncMarker };
}

function decompress(frames: FrameReader, codec: CaptureCodec, data: Buffer, dataStart: number): Buffer {
  switch (codec) {
    case 'null':
      return data;
    case 'deflate':
      try {
        return inflateRawSync(data, { maxOutputLength: MAX_BLOCK_BYTES });
      } catch (error) {
        return frames.fail(dataStart, `the deflate block data does not decompress (${(error as Error).message}); the file is corrupt`);
      }
  }
}

/** How records of a file's schema decode: the schema-specific decoder for the known schemas, avsc for others. */
function recordDecoderFor(header: Header, selection: RecordSelection): (data: Buffer, position: number) => { record: CaptureRecord; offset: number } | undefined {
  const { variant } = header.info;
  if (variant !== 'other') {
    const decoder = new CaptureRecordDecoder(variant === 'current' ? CURRENT_PROPERTY_BRANCHES : ARCHIVE_PROPERTY_BRANCHES, selection);
    return (data, position) => decoder.decode(data, position);
  }
  return (data, position) => {
    const decoded = header.type.decode(data, position);
    if (decoded.offset < 0) return undefined;
    const record = fromAvroValue(decoded.value as Record<string, unknown>);
    record.systemProperties = selected(record.systemProperties, selection.systemProperties);
    record.properties = selected(record.properties, selection.properties);
    return { record, offset: decoded.offset };
  };
}

/** The entries of `map` a selection keeps (all of them without one). */
function selected(map: Record<string, CaptureValue>, keys: readonly string[] | undefined): Record<string, CaptureValue> {
  if (keys === undefined) return map;
  const kept: Record<string, CaptureValue> = {};
  // In the file's order, as the schema-specific decoder keeps them.
  for (const key of Object.keys(map)) if (keys.includes(key)) kept[key] = map[key] as CaptureValue;
  return kept;
}

const CURRENT_PROPERTY_BRANCHES: readonly UnionBranch[] = ['long', 'double', 'string', 'bytes', 'null'];
const ARCHIVE_PROPERTY_BRANCHES: readonly UnionBranch[] = ['long', 'double', 'string', 'bytes'];

/**
 * The next block's framing (checked up to its sync marker), or `undefined` at the end of the file.
 * `view`: the data is a view of the source, for a caller that keeps nothing of the block's records.
 */
async function nextBlock(frames: FrameReader, header: Header, view = false): Promise<{ blockStart: number; count: number; data: Buffer; dataStart: number } | undefined> {
  const { bytes } = frames;
  if (await bytes.atEnd()) return undefined;
  const blockStart = bytes.offset;
  const count = await frames.long(`the record count of the block at byte ${blockStart}`);
  if (count < 0) frames.fail(blockStart, `the block declares ${count} records; the file is corrupt`);
  const size = await frames.length(`the block at byte ${blockStart}`, MAX_BLOCK_BYTES);
  const dataStart = bytes.offset;
  const data = await frames.exact(size, `the data of the block at byte ${blockStart}`, view);
  const syncStart = bytes.offset;
  const sync = await frames.exact(SYNC_MARKER_BYTES, `the sync marker of the block at byte ${blockStart}`, true);
  if (!sync.equals(header.syncMarker)) {
    frames.fail(
      syncStart,
      `the sync marker after the block at byte ${blockStart} is ${sync.toString('hex')}, expected ${header.syncMarker.toString('hex')} from the header; the block size or the data is corrupt`,
    );
  }
  return { blockStart, count, data, dataStart };
}

/**
 * The records a Capture file declares, from its block headers, without decoding them: the header
 * and every block's framing and sync marker are checked, the records' contents are not (reading
 * them is what finds a damaged record). Throws `CaptureFormatError` like the reader, after
 * `counted(records)` was told the records of the blocks before the damage.
 */
export async function countCaptureRecords(source: AsyncIterable<Uint8Array>, fileName: string, counted?: (records: number) => void): Promise<number> {
  const bytes = new ByteSource(source);
  const frames = new FrameReader(bytes, fileName);
  let records = 0;
  try {
    const header = await readHeader(frames);
    for (let frame = await nextBlock(frames, header); frame !== undefined; frame = await nextBlock(frames, header)) {
      records += frame.count;
      counted?.(records);
    }
    return records;
  } finally {
    await bytes.close();
  }
}

/**
 * Steps through the `count` records of a block's `data` with `step` (the offset after the record at
 * a position, or `undefined` when it runs past the data). Returns where it stopped and, if a record
 * did not read, why; the records stepped before it were handed to `step` all the same.
 */
function stepRecords(data: Buffer, count: number, blockStart: number, step: (data: Buffer, position: number) => number | undefined): { position: number; problem?: string } {
  let position = 0;
  for (let i = 0; i < count; i++) {
    let next: number | undefined;
    try {
      next = step(data, position);
    } catch (error) {
      return { position, problem: `record ${i + 1} of ${count} in the block at byte ${blockStart} does not decode (${(error as Error).message})` };
    }
    if (next === undefined) return { position, problem: `record ${i + 1} of ${count} in the block at byte ${blockStart} runs past the end of the block` };
    position = next;
  }
  return { position };
}

/** Fails at the problem `stepRecords` met, or when bytes remain after the block's records. */
function checkBlockEnd(
  frames: FrameReader,
  codec: CaptureCodec,
  frame: { blockStart: number; count: number; dataStart: number },
  records: Buffer,
  stepped: { position: number; problem?: string },
): void {
  const { blockStart, count, dataStart } = frame;
  const { position, problem } = stepped;
  // Offsets inside deflated data mean nothing in the file: point at the block data instead.
  const at = codec === 'null' ? dataStart + position : dataStart;
  if (problem !== undefined) frames.fail(at, problem);
  if (position !== records.length) frames.fail(at, `the block at byte ${blockStart} declares ${count} records but ${records.length - position} bytes remain after them`);
}

/** The records of each block in turn: one await per block, not per record. `view`: see `CaptureReadOptions.viewSource`. */
async function* readBlocks(frames: FrameReader, header: Header, selection: RecordSelection, view: boolean, onStart: () => void): AsyncGenerator<CaptureRecord[]> {
  onStart();
  const { bytes } = frames;
  const { codec } = header.info;
  const decode = recordDecoderFor(header, selection);
  try {
    for (let frame = await nextBlock(frames, header, view); frame !== undefined; frame = await nextBlock(frames, header, view)) {
      const records = decompress(frames, codec, frame.data, frame.dataStart);
      const block: CaptureRecord[] = [];
      const stepped = stepRecords(records, frame.count, frame.blockStart, (data, position) => {
        const decoded = decode(data, position);
        if (decoded === undefined) return undefined;
        block.push(decoded.record);
        return decoded.offset;
      });
      // The records before a damaged one are handed out before the failure, as one by one.
      if (block.length > 0) yield block;
      checkBlockEnd(frames, codec, frame, records, stepped);
    }
  } finally {
    await bytes.close();
  }
}

/** What `scanCaptureFile` finds: the records' count and sequence range, and the first values of one property. */
export interface CaptureFileScan {
  records: number;
  /** Sequence numbers of the first and last records; `undefined` when the file has none. */
  firstSequenceNumber?: number;
  lastSequenceNumber?: number;
  /** The first `limit` string values of the property, in record order (records without one add nothing). */
  values: string[];
}

export interface CaptureFileScanOptions {
  /** The `Properties` key whose values to collect (none: values stay empty). */
  property?: string;
  /** How many values to collect at most (default: none). */
  limit?: number;
  /** Told the records read so far after each block, and before a failure, as `countCaptureRecords` does. */
  counted?: (records: number) => void;
}

/**
 * Counts a Capture file's records and reads their sequence range and the first `limit` string
 * values of the `Properties` key `property`, checking the file exactly as `readCaptureBlocks`
 * does: the same records read, the same `CaptureFormatError` (message and byte offset) for a file
 * that does not. Builds no record: once `limit` values are found, the property maps are walked,
 * not read. Files of an unknown compatible schema are read through avsc.
 */
export async function scanCaptureFile(source: AsyncIterable<Uint8Array>, fileName: string, options: CaptureFileScanOptions = {}): Promise<CaptureFileScan> {
  const { property, limit = 0, counted } = options;
  const bytes = new ByteSource(source);
  const frames = new FrameReader(bytes, fileName);
  const scan: CaptureFileScan = { records: 0, values: [] };
  const found = (sequenceNumber: number, value: CaptureValue | undefined) => {
    scan.firstSequenceNumber ??= sequenceNumber;
    scan.lastSequenceNumber = sequenceNumber;
    scan.records++;
    if (typeof value === 'string' && scan.values.length < limit) scan.values.push(value);
  };
  try {
    const header = await readHeader(frames);
    const { codec, variant } = header.info;
    const selection = { properties: property === undefined ? [] : [property], systemProperties: [], offset: false };
    let step: (data: Buffer, position: number) => number | undefined;
    if (variant === 'other') {
      const decode = recordDecoderFor(header, selection);
      step = (data, position) => {
        const decoded = decode(data, position);
        if (decoded !== undefined) found(decoded.record.sequenceNumber, property === undefined ? undefined : decoded.record.properties[property]);
        return decoded?.offset;
      };
    } else {
      const decoder = new CaptureRecordDecoder(variant === 'current' ? CURRENT_PROPERTY_BRANCHES : ARCHIVE_PROPERTY_BRANCHES, selection);
      step = (data, position) => {
        const next = decoder.scan(data, position, scan.values.length < limit);
        if (next !== undefined) found(decoder.scannedSequenceNumber, decoder.scannedProperty);
        return next;
      };
    }
    for (let frame = await nextBlock(frames, header, true); frame !== undefined; frame = await nextBlock(frames, header, true)) {
      const records = decompress(frames, codec, frame.data, frame.dataStart);
      const stepped = stepRecords(records, frame.count, frame.blockStart, step);
      counted?.(scan.records);
      checkBlockEnd(frames, codec, frame, records, stepped);
    }
    return scan;
  } finally {
    await bytes.close();
  }
}

/** Streams records with the header exposed. Iterate `records` to the end, or `return()` it, to release the source. */
export async function openCaptureFile(source: AsyncIterable<Uint8Array>, fileName: string): Promise<{ info: CaptureFileInfo; records: AsyncGenerator<CaptureRecord> }> {
  const { info, blocks, release } = await open(source, fileName, {});
  return { info, records: releasingUnstarted(oneByOne(blocks), release) };
}

/**
 * The records of a Capture file block by block, in constant memory (a block at a time): the fastest
 * way to read them all. With a `selection`, the records' `properties` and `systemProperties` hold
 * only the keys it names (the others are skipped, not decoded); the file is checked as fully.
 */
export async function* readCaptureBlocks(
  source: AsyncIterable<Uint8Array>,
  fileName: string,
  selection: RecordSelection = {},
  options: CaptureReadOptions = {},
): AsyncGenerator<CaptureRecord[]> {
  const { blocks, release } = await open(source, fileName, selection, options.viewSource === true);
  yield* releasingUnstarted(blocks, release);
}

/** How `readCaptureBlocks` holds the bytes it reads. */
export interface CaptureReadOptions {
  /**
   * True: a block's data, and so the records' Body and bytes values, are views of the source's
   * chunk instead of a copy of the block: no copy of the file, for a caller that holds the whole
   * file in one chunk anyway. A record kept then keeps that whole chunk alive. Default false.
   */
  viewSource?: boolean;
}

async function open(
  source: AsyncIterable<Uint8Array>,
  fileName: string,
  selection: RecordSelection,
  view = false,
): Promise<{ info: CaptureFileInfo; blocks: AsyncGenerator<CaptureRecord[]>; release: () => Promise<void> }> {
  const bytes = new ByteSource(source);
  const frames = new FrameReader(bytes, fileName);
  let header: Header;
  try {
    header = await readHeader(frames);
  } catch (error) {
    await bytes.close();
    throw error;
  }
  let started = false;
  const blocks = readBlocks(frames, header, selection, view, () => (started = true));
  // A generator closed before its first `next()` never runs its `finally`: release the source then.
  const release = async () => {
    if (!started) await bytes.close();
  };
  return { info: header.info, blocks, release };
}

async function* oneByOne(blocks: AsyncGenerator<CaptureRecord[]>): AsyncGenerator<CaptureRecord> {
  try {
    for await (const block of blocks) yield* block;
  } finally {
    await blocks.return(undefined);
  }
}

/** `generator`, calling `release` when it is returned or thrown into before its first `next()`. */
function releasingUnstarted<T>(generator: AsyncGenerator<T>, release: () => Promise<void>): AsyncGenerator<T> {
  const innerReturn = generator.return.bind(generator);
  const innerThrow = generator.throw.bind(generator);
  generator.return = async (value) => {
    await release();
    return innerReturn(value);
  };
  generator.throw = async (error: unknown) => {
    await release();
    return innerThrow(error);
  };
  return generator;
}

/** Streams the records of a Capture file in constant memory (block by block). */
export async function* readCaptureFile(source: AsyncIterable<Uint8Array>, fileName: string): AsyncGenerator<CaptureRecord> {
  const { records } = await openCaptureFile(source, fileName);
  yield* records;
}

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { CaptureFileWriter, type CaptureCodec } from './capture-file-writer';
import { readCaptureBlocks, scanCaptureFile, type CaptureFileScan } from './capture-file-reader';
import { CaptureFormatError } from './capture-format-error';
import type { CaptureRecord, CaptureValue } from './capture-record';
import { formatEnqueuedTimeUtc } from './enqueued-time';
import { chunked, FIXTURES } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

const KEY = 'traceparent';
const SYNC = deriveSyncMarker('scan-spec');

/** What a full read of every record says the scan must find, or the error it stops with. */
async function fromFullRead(bytes: Buffer, limit: number): Promise<CaptureFileScan | CaptureFormatError> {
  const scan: CaptureFileScan = { records: 0, values: [] };
  try {
    for await (const block of readCaptureBlocks(chunked(bytes, 1000), 'f.avro')) {
      for (const record of block) {
        scan.firstSequenceNumber ??= record.sequenceNumber;
        scan.lastSequenceNumber = record.sequenceNumber;
        scan.records++;
        const value = record.properties[KEY];
        if (typeof value === 'string' && scan.values.length < limit) scan.values.push(value);
      }
    }
    return scan;
  } catch (error) {
    // The records read before the failure, as the audit reports them.
    if (error instanceof CaptureFormatError) return Object.assign(error, { recordsBefore: scan.records });
    throw error;
  }
}

async function scanned(bytes: Buffer, limit: number, chunkSize = bytes.length || 1): Promise<CaptureFileScan | CaptureFormatError> {
  let counted = 0;
  try {
    return await scanCaptureFile(chunked(bytes, chunkSize), 'f.avro', { property: KEY, limit, counted: (n) => (counted = n) });
  } catch (error) {
    if (error instanceof CaptureFormatError) return Object.assign(error, { recordsBefore: counted });
    throw error;
  }
}

/** Errors compare by what a rejection and the audit record: the message (file, byte offset, problem) and the records before it. */
const comparable = (result: CaptureFileScan | CaptureFormatError) =>
  result instanceof CaptureFormatError ? { error: result.message, recordsBefore: (result as CaptureFormatError & { recordsBefore: number }).recordsBefore } : result;

const value: fc.Arbitrary<CaptureValue> = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constant(null),
  fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
);
const record: fc.Arbitrary<CaptureRecord> = fc.record({
  sequenceNumber: fc.integer({ min: 0, max: 2 ** 40 }),
  offset: fc.string({ maxLength: 20 }),
  enqueuedTimeUtc: fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) }).map((ms) => formatEnqueuedTimeUtc(ms)),
  systemProperties: fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { maxKeys: 2 }),
  // The key bronze reads is often there, sometimes as another type, sometimes absent.
  properties: fc
    .tuple(fc.dictionary(fc.string({ maxLength: 12 }), value, { maxKeys: 4 }), fc.option(value, { nil: undefined }))
    .map(([map, traceparent]) => (traceparent === undefined ? map : { ...map, [KEY]: traceparent })),
  body: fc.option(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b))),
});

function writeFile(records: CaptureRecord[], codec: CaptureCodec, blockTargetBytes: number): Buffer {
  const writer = new CaptureFileWriter({ codec, syncMarker: SYNC, blockTargetBytes });
  for (const r of records) writer.append(r);
  return writer.finish();
}

/** A file, whole or damaged: cut short, or one byte changed. */
const damage = fc.oneof(
  fc.constant((bytes: Buffer) => bytes),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => (bytes: Buffer) => bytes.subarray(0, Math.floor(at * bytes.length))),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 })).map(([at, xor]) => (bytes: Buffer) => {
    const changed = Buffer.from(bytes);
    const i = Math.min(changed.length - 1, Math.floor(at * changed.length));
    changed[i] = (changed[i] as number) ^ xor;
    return changed;
  }),
);

describe('scanCaptureFile', () => {
  it('finds the same count, sequence range and first values as reading every record, or stops with the same error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 30 }),
        fc.constantFrom<CaptureCodec>('null', 'deflate'),
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 0, max: 8 }),
        damage,
        async (records, codec, blockTargetBytes, limit, change) => {
          const bytes = change(writeFile(records, codec, blockTargetBytes));
          const expected = comparable(await fromFullRead(bytes, limit));
          expect(comparable(await scanned(bytes, limit))).toEqual(expected);
          // However the bytes arrive.
          expect(comparable(await scanned(bytes, limit, 7))).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('stops taking values at the limit but still counts every record to the last sequence number', async () => {
    const records = Array.from(
      { length: 10 },
      (_, i): CaptureRecord => ({
        sequenceNumber: 100 + i,
        offset: String(i),
        enqueuedTimeUtc: formatEnqueuedTimeUtc(Date.UTC(2026, 0, 1)),
        systemProperties: {},
        properties: i === 1 ? { [KEY]: 7 } : { other: 'x', [KEY]: `00-${i}` },
        body: null,
      }),
    );
    const scan = await scanCaptureFile(chunked(writeFile(records, 'null', 100)), 'f.avro', { property: KEY, limit: 3 });
    // Record 1's value is a number, not trace context text: it adds nothing.
    expect(scan).toEqual({ records: 10, firstSequenceNumber: 100, lastSequenceNumber: 109, values: ['00-0', '00-2', '00-3'] });
  });

  it('counts without a property, and tells the records read before a damaged one as the full read yields them', async () => {
    const records = Array.from(
      { length: 30 },
      (_, i): CaptureRecord => ({
        sequenceNumber: i,
        offset: String(i),
        enqueuedTimeUtc: formatEnqueuedTimeUtc(Date.UTC(2026, 0, 1)),
        systemProperties: {},
        properties: { [KEY]: `00-${i}` },
        body: Buffer.from(`body ${i}`),
      }),
    );
    const bytes = writeFile(records, 'null', 200);
    expect(await scanCaptureFile(chunked(bytes), 'f.avro')).toEqual({ records: 30, firstSequenceNumber: 0, lastSequenceNumber: 29, values: [] });
    // Cut inside the last block: the records before the cut are read, then the file fails.
    const cut = bytes.subarray(0, bytes.length - 30);
    let yielded = 0;
    const full = await (async () => {
      try {
        for await (const block of readCaptureBlocks(chunked(cut), 'f.avro')) yielded += block.length;
      } catch (error) {
        return error as CaptureFormatError;
      }
      throw new Error('the cut file read to the end');
    })();
    let counted = -1;
    await expect(scanCaptureFile(chunked(cut), 'f.avro', { counted: (n) => (counted = n) })).rejects.toThrow(full.message);
    expect(counted).toBe(yielded);
    expect(yielded).toBeGreaterThan(0);
  });

  it('reads a file with no records as none, with no sequence range', async () => {
    expect(await scanCaptureFile(chunked(writeFile([], 'deflate', 100)), 'f.avro', { property: KEY, limit: 3 })).toEqual({ records: 0, values: [] });
  });

  it('rejects an empty file as the reader does', async () => {
    await expect(scanCaptureFile(chunked(Buffer.alloc(0)), 'empty.avro', { property: KEY, limit: 3 })).rejects.toThrow(/empty.*0 bytes/);
  });

  it('reads the 2016 Archive-era file like the reader', async () => {
    const bytes = fs.readFileSync(path.join(FIXTURES, 'bluefrog-2016-archive.avro'));
    const scan = await scanned(bytes, 5);
    expect(scan).toEqual(await fromFullRead(bytes, 5));
    expect((scan as CaptureFileScan).records).toBe(1);
  });
});

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as avsc from 'avsc';
import { CaptureFileWriter, type CaptureCodec } from './capture-file-writer';
import { countCaptureRecords, openCaptureFile, readCaptureBlocks, readCaptureFile } from './capture-file-reader';
import { CaptureFormatError } from './capture-format-error';
import { CAPTURE_RECORD_SCHEMA, type CaptureRecord } from './capture-record';
import { parseEnqueuedTimeUtc, formatEnqueuedTimeUtc } from './enqueued-time';
import { chunked, collect, collectUntilError, FIXTURES, sampleRecord } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

const USQL = path.join(FIXTURES, 'usql-EHC.avro');
const BLUEFROG = path.join(FIXTURES, 'bluefrog-2016-archive.avro');
const SYNC = deriveSyncMarker('reader-spec');

function writeFile(records: CaptureRecord[], codec: CaptureCodec, blockTargetBytes?: number): Buffer {
  const writer = new CaptureFileWriter({ codec, syncMarker: SYNC, blockTargetBytes });
  for (const record of records) writer.append(record);
  return writer.finish();
}

/** Encodes with avsc's own BlockEncoder: a second, independent writer. */
function encodeWithAvsc(schema: object, values: unknown[], options: Partial<avsc.EncoderOptions>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const type = avsc.Type.forSchema(structuredClone(schema) as avsc.Schema, { wrapUnions: true });
    const encoder = new avsc.streams.BlockEncoder(type, options);
    const chunks: Buffer[] = [];
    encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
    encoder.on('error', reject);
    encoder.on('end', () => resolve(Buffer.concat(chunks)));
    for (const value of values) encoder.write(value);
    encoder.end();
  });
}

function expectFormatError(error: CaptureFormatError, fileName: string, fragment: string): void {
  expect(error).toBeInstanceOf(CaptureFormatError);
  expect(error.file).toBe(fileName);
  expect(error.message).toContain(fileName);
  expect(error.message).toContain(`at byte ${error.byteOffset}`);
  expect(error.message).toContain(fragment);
}

describe('reading the real Event Hubs Capture fixtures', () => {
  it('reads all 677 records of the 2018 file with the current schema', async () => {
    const { info, records } = await openCaptureFile(fs.createReadStream(USQL), 'usql-EHC.avro');
    expect(info).toEqual({ codec: 'null', schema: CAPTURE_RECORD_SCHEMA, variant: 'current' });
    const all = await collect(records);

    expect(all).toHaveLength(677);
    expect(all[0]).toEqual({
      sequenceNumber: 4141,
      offset: '353424',
      enqueuedTimeUtc: '12/7/2018 10:22:49 AM',
      systemProperties: {},
      properties: { GUID: '2f5f92bc-8cef-45fe-a59e-26a623b0bc53', RandomInt: 566 },
      body: Buffer.from('Message 1'),
    });
    expect(all[676].sequenceNumber).toBe(4817);
    expect(all[676].body?.toString()).toBe('Message 1353');
    // Sequence numbers are contiguous within a partition's capture window.
    expect(all.every((record, i) => record.sequenceNumber === 4141 + i)).toBe(true);
  });

  it('parses and re-formats every EnqueuedTimeUtc of the 2018 file to the same text', async () => {
    const all = await collect(readCaptureFile(fs.createReadStream(USQL), 'usql-EHC.avro'));
    for (const { enqueuedTimeUtc } of all) expect(formatEnqueuedTimeUtc(parseEnqueuedTimeUtc(enqueuedTimeUtc))).toBe(enqueuedTimeUtc);
    expect(parseEnqueuedTimeUtc(all[0].enqueuedTimeUtc)).toBe(Date.UTC(2018, 11, 7, 10, 22, 49));
  });

  it('reads the single record of the 2016 Archive-era file with its own schema', async () => {
    const { info, records } = await openCaptureFile(fs.createReadStream(BLUEFROG), 'bluefrog-2016-archive.avro');
    expect(info.variant).toBe('archive-2016');
    expect(info.codec).toBe('null');
    const all = await collect(records);

    expect(all).toHaveLength(1);
    const [record] = all;
    expect(record.sequenceNumber).toBe(0);
    expect(record.offset).toBe('0');
    expect(parseEnqueuedTimeUtc(record.enqueuedTimeUtc)).toBe(Date.UTC(2016, 10, 16, 16, 44, 11));
    expect(record.systemProperties).toEqual({ 'x-opt-publisher': 'buddy1234' });
    expect(record.properties).toEqual({});
    expect(JSON.parse(record.body?.toString() ?? 'null')).toEqual({ field1: 'value1', field2: 'value2' });
  });

  it('gives the same records whatever the chunk boundaries, down to one byte per chunk', async () => {
    const bytes = fs.readFileSync(USQL);
    const whole = await collect(readCaptureFile(chunked(bytes, bytes.length), 'usql-EHC.avro'));
    expect(await collect(readCaptureFile(chunked(bytes, 1), 'usql-EHC.avro'))).toEqual(whole);
    expect(await collect(readCaptureFile(chunked(bytes, 7), 'usql-EHC.avro'))).toEqual(whole);
  });
});

describe('reading a selection of keys', () => {
  const keep = (map: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(Object.entries(map).filter(([key]) => keys.includes(key)));

  it.each([
    ['usql-EHC.avro', ['RandomInt', 'GUID', 'missing'], []],
    ['bluefrog-2016-archive.avro', [], ['x-opt-publisher']],
  ])('reads the Azure fixture %s as the full reading with its maps cut to the selected keys', async (name, properties, systemProperties) => {
    const file = path.join(FIXTURES, name);
    const full = (await collect(readCaptureBlocks(fs.createReadStream(file), name))).flat();
    const some = (await collect(readCaptureBlocks(fs.createReadStream(file), name, { properties, systemProperties }))).flat();
    expect(some).toEqual(full.map((r) => ({ ...r, properties: keep(r.properties, properties), systemProperties: keep(r.systemProperties, systemProperties) })));
    expect(some.length).toBeGreaterThan(0);
    if (name === 'usql-EHC.avro') expect(some[0]?.properties).toEqual({ GUID: '2f5f92bc-8cef-45fe-a59e-26a623b0bc53', RandomInt: 566 });
  });

  it('fails at the same byte with the same message on a damaged file', async () => {
    const records = [sampleRecord(1), sampleRecord(2), sampleRecord(3)];
    const bytes = writeFile(records, 'null');
    // Cut inside the last record.
    const cut = bytes.subarray(0, bytes.length - 20);
    const failure = async (selection?: { properties: string[] }) => {
      try {
        for await (const block of readCaptureBlocks(chunked(cut), 'cut.avro', selection)) void block;
      } catch (error) {
        return error as CaptureFormatError;
      }
      throw new Error('the damaged file was read to the end');
    };
    const full = await failure();
    expect(full).toBeInstanceOf(CaptureFormatError);
    expect((await failure({ properties: [] })).message).toBe(full.message);
  });
});

describe('reading files from other writers', () => {
  it.each<CaptureCodec>(['null', 'deflate'])('reads a many-block file written by avsc with codec %s', async (codec) => {
    const records = Array.from({ length: 300 }, (_, i) => sampleRecord(i));
    const values = records.map((record) => ({
      SequenceNumber: record.sequenceNumber,
      Offset: record.offset,
      EnqueuedTimeUtc: record.enqueuedTimeUtc,
      SystemProperties: Object.fromEntries(Object.entries(record.systemProperties).map(([k, v]) => [k, { string: v }])),
      Properties: Object.fromEntries(
        Object.entries(record.properties).map(([k, v]) => [
          k,
          v === null ? null : typeof v === 'number' ? (Number.isInteger(v) ? { long: v } : { double: v }) : typeof v === 'string' ? { string: v } : { bytes: v },
        ]),
      ),
      Body: record.body === null ? null : { bytes: record.body },
    }));
    const file = await encodeWithAvsc(CAPTURE_RECORD_SCHEMA, values, { codec, blockSize: 1024 });
    const { info, records: read } = await openCaptureFile(chunked(file, 333), 'avsc.avro');

    // avsc writes the name fully qualified; it is still the current Capture schema.
    expect(file.includes('"name":"Microsoft.ServiceBus.Messaging.EventData"')).toBe(true);
    expect(info.variant).toBe('current');
    expect(await collect(read)).toEqual(records);
  });

  it('reads a compatible EventData schema that is neither known variant as "other"', async () => {
    const schema = {
      type: 'record',
      name: 'EventData',
      namespace: 'Microsoft.ServiceBus.Messaging',
      fields: [
        { name: 'SequenceNumber', type: 'long' },
        { name: 'Offset', type: 'string' },
        { name: 'EnqueuedTimeUtc', type: 'string' },
        { name: 'SystemProperties', type: { type: 'map', values: ['string', 'long'] } },
        { name: 'Properties', type: { type: 'map', values: ['null', 'string', 'double'] } },
        { name: 'Body', type: 'bytes' },
        { name: 'PartitionId', type: 'string' },
      ],
    };
    const value = {
      SequenceNumber: 7,
      Offset: '896',
      EnqueuedTimeUtc: '3/1/2024 12:00:00 AM',
      SystemProperties: { 'x-opt-partition-key': { string: 'k' } },
      Properties: { ratio: { double: 0.5 }, gone: null },
      Body: Buffer.from('x'),
      PartitionId: '3',
    };
    const file = await encodeWithAvsc(schema, [value], {});
    const { info, records } = await openCaptureFile(chunked(file), 'future.avro');

    expect(info.variant).toBe('other');
    expect(info.schema).toMatchObject({ type: 'record', fields: schema.fields });
    expect(await collect(records)).toEqual([
      {
        sequenceNumber: 7,
        offset: '896',
        enqueuedTimeUtc: '3/1/2024 12:00:00 AM',
        systemProperties: { 'x-opt-partition-key': 'k' },
        properties: { ratio: 0.5, gone: null },
        body: Buffer.from('x'),
      },
    ]);
  });

  it('rejects a codec other than null and deflate by name', async () => {
    const file = await encodeWithAvsc(CAPTURE_RECORD_SCHEMA, [], {
      codec: 'snappy',
      codecs: { snappy: (buf, cb) => cb(null, buf) },
      writeHeader: 'always',
    });
    const { error } = await collectUntilError(readCaptureFile(chunked(file), 'snappy.avro'));
    expectFormatError(error, 'snappy.avro', 'codec "snappy" is not supported (supported: null, deflate)');
  });

  it('rejects an Avro file whose schema is not EventData, naming the missing field', async () => {
    const schema = { type: 'record', name: 'Row', fields: [{ name: 'SequenceNumber', type: 'long' }] };
    const file = await encodeWithAvsc(schema, [{ SequenceNumber: 1 }], {});
    const { error } = await collectUntilError(readCaptureFile(chunked(file), 'row.avro'));
    expectFormatError(error, 'row.avro', 'not an Event Hubs Capture EventData schema: the record has no field "Offset"');
  });
});

describe('reading truncated and corrupt files', () => {
  const records = Array.from({ length: 40 }, (_, i) => sampleRecord(i));
  const headerLength = new CaptureFileWriter({ codec: 'null', syncMarker: SYNC }).finish().length;
  const file = writeFile(records, 'null', 1024);
  const firstBlockSync = file.indexOf(SYNC, headerLength);

  it('rejects a 0-byte file as a truncated upload', async () => {
    const { error } = await collectUntilError(readCaptureFile(chunked(Buffer.alloc(0)), 'raw/0/00.avro'));
    expectFormatError(error, 'raw/0/00.avro', 'the file is empty (0 bytes)');
    expect(error.byteOffset).toBe(0);
  });

  it('rejects a file that is not Avro', async () => {
    const { error } = await collectUntilError(readCaptureFile(chunked(Buffer.from('id,value\n1,2\n')), 'data.csv'));
    expectFormatError(error, 'data.csv', 'not an Avro object container file');
    expect(error.byteOffset).toBe(0);
  });

  it.each([
    ['inside the magic bytes', 2],
    ['inside the schema metadata', 100],
    ['inside the header sync marker', headerLength - 5],
    ['right after the block record count', headerLength + 1],
    ['inside the first block data', headerLength + 200],
    ['inside the first block sync marker', firstBlockSync + 8],
    ['inside the last block data', file.length - 40],
    ['inside the last sync marker', file.length - 1],
  ])('rejects a file cut %s, naming the file and the offset', async (_where, cut) => {
    const { records: read, error } = await collectUntilError(readCaptureFile(chunked(file.subarray(0, cut), 64), 'cut.avro'));
    expectFormatError(error, 'cut.avro', 'the file is truncated');
    expect(error.message).toContain(`the file ends at byte ${cut}`);
    expect(error.byteOffset).toBeLessThanOrEqual(cut);
    // Blocks before the cut still stream out; nothing after it is invented.
    expect(read).toEqual(records.slice(0, read.length));
  });

  it('rejects a corrupted sync marker at the offset of that marker', async () => {
    const corrupt = Buffer.from(file);
    corrupt[firstBlockSync + 3] ^= 0xff;
    const { records: read, error } = await collectUntilError(readCaptureFile(chunked(corrupt), 'corrupt.avro'));
    expectFormatError(error, 'corrupt.avro', 'the sync marker after the block at byte');
    expect(error.byteOffset).toBe(firstBlockSync);
    expect(read).toEqual([]);
  });

  it('rejects a block that declares fewer records than it holds', async () => {
    const single = writeFile(records.slice(0, 3), 'null');
    expect(single[headerLength]).toBe(6); // zig-zag varint of 3
    const corrupt = Buffer.from(single);
    corrupt[headerLength] = 4;
    const { error } = await collectUntilError(readCaptureFile(chunked(corrupt), 'short-count.avro'));
    expectFormatError(error, 'short-count.avro', 'declares 2 records but');
  });

  it('rejects a block that declares more records than it holds', async () => {
    const corrupt = Buffer.from(writeFile(records.slice(0, 3), 'null'));
    corrupt[headerLength] = 8;
    const { error } = await collectUntilError(readCaptureFile(chunked(corrupt), 'long-count.avro'));
    expectFormatError(error, 'long-count.avro', 'record 4 of 4');
  });

  it('rejects deflate data that does not decompress, at the block data offset', async () => {
    const deflated = writeFile(records.slice(0, 3), 'deflate');
    const deflateHeaderLength = new CaptureFileWriter({ codec: 'deflate', syncMarker: SYNC }).finish().length;
    const corrupt = Buffer.from(deflated);
    // One byte of record count, then a one- or two-byte size varint.
    const dataStart = deflateHeaderLength + 1 + (deflated[deflateHeaderLength + 1] >= 0x80 ? 2 : 1);
    corrupt.fill(0xff, dataStart, dataStart + 8);
    const { error } = await collectUntilError(readCaptureFile(chunked(corrupt), 'bad-deflate.avro'));
    expectFormatError(error, 'bad-deflate.avro', 'does not decompress');
    expect(error.byteOffset).toBe(dataStart);
  });
});

describe('releasing the source', () => {
  it('closes the file stream when the caller stops after the first record', async () => {
    const stream = fs.createReadStream(USQL, { highWaterMark: 1024 });
    for await (const record of readCaptureFile(stream, 'usql-EHC.avro')) {
      expect(record.sequenceNumber).toBe(4141);
      break;
    }
    expect(stream.destroyed).toBe(true);
  });

  it('closes the file stream when records are returned before being read', async () => {
    const stream = fs.createReadStream(USQL, { highWaterMark: 1024 });
    const { records } = await openCaptureFile(stream, 'usql-EHC.avro');
    await records.return(undefined);
    expect(stream.destroyed).toBe(true);
  });

  it('names the fix when the stream was opened with a text encoding', async () => {
    const stream = fs.createReadStream(USQL, { encoding: 'latin1' });
    await expect(collect(readCaptureFile(stream as AsyncIterable<never>, 'usql-EHC.avro'))).rejects.toThrow('open the stream without an encoding');
  });
});

describe('countCaptureRecords', () => {
  it('counts the records of the real Capture files from their block headers, as many as the reader reads', async () => {
    for (const file of [USQL, BLUEFROG]) {
      const read = await collect(readCaptureFile(fs.createReadStream(file), path.basename(file)));
      await expect(countCaptureRecords(fs.createReadStream(file), path.basename(file))).resolves.toBe(read.length);
    }
    await expect(countCaptureRecords(fs.createReadStream(USQL), 'usql-EHC.avro')).resolves.toBe(677);
  });

  it('counts every block of a multi-block file and, for a cut file, tells the blocks before the cut, then throws naming the file', async () => {
    const records = Array.from({ length: 300 }, (_, i) => sampleRecord(i));
    const file = writeFile(records, 'null', 2_048);
    await expect(countCaptureRecords(chunked(file, 100), 'whole.avro')).resolves.toBe(300);
    let before = 0;
    const cut = countCaptureRecords(chunked(file.subarray(0, file.length - 40), 100), 'cut.avro', (n) => (before = n));
    await expect(cut).rejects.toBeInstanceOf(CaptureFormatError);
    await expect(cut).rejects.toThrow('cut.avro');
    const blocks = await collect(readCaptureBlocks(chunked(file, 100), 'whole.avro'));
    expect(blocks.length).toBeGreaterThan(2);
    expect(before).toBe(300 - (blocks.at(-1) as CaptureRecord[]).length);
  });

  it.each<CaptureCodec>(['null', 'deflate'])('reads the same records in place of the source as from copies (codec %s), views only with viewSource', async (codec) => {
    const records = Array.from({ length: 300 }, (_, i) => sampleRecord(i));
    const file = writeFile(records, codec, 2_048);
    const copied = (await collect(readCaptureBlocks(chunked(file, file.length), 'copied.avro'))).flat();
    const inPlace = (await collect(readCaptureBlocks(chunked(file, file.length), 'in-place.avro', {}, { viewSource: true }))).flat();
    expect(inPlace).toEqual(copied);
    expect(inPlace).toHaveLength(300);
    const bodies = (read: CaptureRecord[]): Buffer[] => read.flatMap((record) => (record.body === null ? [] : [record.body]));
    expect(bodies(inPlace).length).toBeGreaterThan(100);
    expect(bodies(copied).some((body) => body.buffer === file.buffer)).toBe(false);
    // Deflated blocks are inflated into their own bytes either way.
    expect(bodies(inPlace).every((body) => body.buffer === file.buffer)).toBe(codec === 'null');
    // Chunks cut inside blocks: a block across two is copied, the records are the same.
    expect((await collect(readCaptureBlocks(chunked(file, 100), 'cut.avro', {}, { viewSource: true }))).flat()).toEqual(copied);
  });
});

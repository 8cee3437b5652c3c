import { CaptureFileWriter, type CaptureCodec } from './capture-file-writer';
import { openCaptureFile, readCaptureFile } from './capture-file-reader';
import { CAPTURE_RECORD_SCHEMA, type CaptureRecord } from './capture-record';
import { captureRecordFromAvsc, chunked, collect, decodeWithAvsc, sampleRecord } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

const SYNC = deriveSyncMarker('raw/ns/hub/0/2024/01/31/23/59/00.avro');

function writeFile(records: CaptureRecord[], codec: CaptureCodec, blockTargetBytes?: number): Buffer {
  const writer = new CaptureFileWriter({ codec, syncMarker: SYNC, blockTargetBytes });
  for (const record of records) writer.append(record);
  return writer.finish();
}

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count++;
  return count;
}

const records = Array.from({ length: 500 }, (_, i) => sampleRecord(i));

describe.each<CaptureCodec>(['null', 'deflate'])('CaptureFileWriter with codec %s', (codec) => {
  it('writes a file plain avsc decodes to the same records the project reader returns', async () => {
    const file = writeFile(records, codec, 4096);
    const plain = await decodeWithAvsc(file);
    const ours = await collect(readCaptureFile(chunked(file), 'written.avro'));

    expect(plain.codec).toBe(codec);
    expect(plain.values.map(captureRecordFromAvsc)).toEqual(ours);
    expect(ours).toEqual(records);
  });

  it('splits records into blocks of about blockTargetBytes, each followed by the sync marker', () => {
    const oneBlock = writeFile(records, codec);
    const manyBlocks = writeFile(records, codec, 2048);
    expect(occurrences(oneBlock, SYNC)).toBe(2);
    expect(occurrences(manyBlocks, SYNC)).toBeGreaterThan(10);
  });

  it('writes identical bytes for the same records and sync marker', () => {
    const first = writeFile(records, codec, 4096);
    const second = writeFile(records, codec, 4096);
    expect(first.equals(second)).toBe(true);
    const otherMarker = new CaptureFileWriter({ codec, syncMarker: deriveSyncMarker('another/path.avro'), blockTargetBytes: 4096 });
    for (const record of records) otherMarker.append(record);
    expect(otherMarker.finish().equals(first)).toBe(false);
  });

  it('writes a valid header-only file when no record was appended', async () => {
    const writer = new CaptureFileWriter({ codec, syncMarker: SYNC });
    expect(writer.byteLength).toBe(writer.finish().length);
    const file = writer.finish();

    const plain = await decodeWithAvsc(file);
    expect(plain.values).toEqual([]);
    expect(plain.codec).toBe(codec);
    const { info, records: read } = await openCaptureFile(chunked(file), 'empty.avro');
    expect(info).toEqual({ codec, schema: CAPTURE_RECORD_SCHEMA, variant: 'current' });
    expect(await collect(read)).toEqual([]);
  });

  it('counts records and never under-estimates the finished size', () => {
    const writer = new CaptureFileWriter({ codec, syncMarker: SYNC, blockTargetBytes: 4096 });
    for (const record of records.slice(0, 77)) writer.append(record);
    expect(writer.recordCount).toBe(77);
    const estimate = writer.byteLength;
    const finished = writer.finish().length;
    expect(estimate).toBeGreaterThanOrEqual(finished);
    if (codec === 'null') expect(estimate).toBe(finished);
    expect(writer.byteLength).toBe(finished);
  });
});

describe('CaptureFileWriter', () => {
  it('writes the exact avro.schema JSON Azure writes, codec first', () => {
    const file = new CaptureFileWriter({ codec: 'null', syncMarker: SYNC }).finish();
    const schemaJson = JSON.stringify(CAPTURE_RECORD_SCHEMA);
    expect(schemaJson).toBe(
      '{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging","fields":[{"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},{"name":"EnqueuedTimeUtc","type":"string"},{"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},{"name":"Properties","type":{"type":"map","values":["long","double","string","bytes","null"]}},{"name":"Body","type":["null","bytes"]}]}',
    );
    expect(file.indexOf('avro.codec')).toBeLessThan(file.indexOf('avro.schema'));
    expect(file.includes(schemaJson)).toBe(true);
  });

  it('rejects a null SystemProperties value, which the schema cannot hold', () => {
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: SYNC });
    const record = { ...sampleRecord(1), systemProperties: { 'x-opt-partition-key': null } };
    expect(() => writer.append(record)).toThrow('CaptureRecord.systemProperties["x-opt-partition-key"] is null');
    expect(writer.recordCount).toBe(0);
  });

  it('rejects an EnqueuedTimeUtc that is not in the Capture format', () => {
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: SYNC });
    expect(() => writer.append({ ...sampleRecord(1), enqueuedTimeUtc: '2024-01-31T23:59:00Z' })).toThrow('Invalid EnqueuedTimeUtc "2024-01-31T23:59:00Z"');
  });

  it('rejects a sync marker that is not 16 bytes and an unknown codec', () => {
    expect(() => new CaptureFileWriter({ codec: 'null', syncMarker: Buffer.alloc(8) })).toThrow('16-byte Buffer');
    expect(() => new CaptureFileWriter({ codec: 'snappy' as CaptureCodec, syncMarker: SYNC })).toThrow('Unsupported Capture codec "snappy"');
  });

  it('refuses appends after finish so a finished file is never silently extended', () => {
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: SYNC });
    writer.append(sampleRecord(1));
    const file = writer.finish();
    expect(() => writer.append(sampleRecord(2))).toThrow('append after finish()');
    expect(writer.finish()).toBe(file);
  });
});

import type { ReceivedEvent } from '@pipeline/ports';
import { CaptureFileWriter } from './capture-file-writer';
import { captureRecordFromEvent } from './capture-record-from-event';
import { decodeWithAvsc } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

function event(overrides: Partial<ReceivedEvent> = {}): ReceivedEvent {
  return {
    partitionId: '0',
    sequenceNumber: 42,
    offset: '5376',
    enqueuedTime: Date.UTC(2018, 11, 7, 12, 0, 3, 250),
    partitionKey: null,
    properties: {},
    body: Buffer.from('{"id":1}'),
    ...overrides,
  };
}

describe('captureRecordFromEvent', () => {
  it('copies sequence number, offset and body, and formats the enqueued time as Capture does', () => {
    const record = captureRecordFromEvent(event());
    expect(record).toEqual({
      sequenceNumber: 42,
      offset: '5376',
      enqueuedTimeUtc: '12/7/2018 12:00:03 PM',
      systemProperties: {},
      properties: {},
      body: Buffer.from('{"id":1}'),
    });
  });

  it('keeps the partition key in SystemProperties only when the event has one', () => {
    expect(captureRecordFromEvent(event({ partitionKey: 'device-7' })).systemProperties).toEqual({ 'x-opt-partition-key': 'device-7' });
    expect(captureRecordFromEvent(event({ partitionKey: null })).systemProperties).toEqual({});
  });

  it('maps booleans to the strings "true" and "false" since the schema has no boolean', () => {
    const record = captureRecordFromEvent(event({ properties: { ok: true, failed: false } }));
    expect(record.properties).toEqual({ ok: 'true', failed: 'false' });
  });

  it('rejects a property value of a type Event Hubs cannot carry, naming the property', () => {
    const bad = event({ properties: { nested: { a: 1 } as unknown as string } });
    expect(() => captureRecordFromEvent(bad)).toThrow('Event property "nested" has unsupported type object');
  });

  it('writes integers as long, other numbers as double, strings, bytes and booleans-as-strings', async () => {
    const record = captureRecordFromEvent(
      event({
        properties: {
          count: 5,
          negative: -3,
          ratio: 0.25,
          huge: 2 ** 60,
          name: 'sensor',
          raw: Buffer.from([1, 2, 3]),
          ok: true,
        },
      }),
    );
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker('types') });
    writer.append(record);
    const [value] = (await decodeWithAvsc(writer.finish())).values;
    // avsc wraps these ambiguous unions, so the wrapper names the branch the writer chose.
    expect(value['Properties']).toEqual({
      count: { long: 5 },
      negative: { long: -3 },
      ratio: { double: 0.25 },
      huge: { double: 2 ** 60 },
      name: { string: 'sensor' },
      raw: { bytes: Buffer.from([1, 2, 3]) },
      ok: { string: 'true' },
    });
  });
});

describe('deriveSyncMarker', () => {
  it('gives 16 bytes that depend only on the seed', () => {
    const marker = deriveSyncMarker('raw/ns/hub/0/2024/01/31/23/59/00.avro');
    expect(marker).toHaveLength(16);
    expect(deriveSyncMarker('raw/ns/hub/0/2024/01/31/23/59/00.avro').equals(marker)).toBe(true);
    expect(deriveSyncMarker('raw/ns/hub/1/2024/01/31/23/59/00.avro').equals(marker)).toBe(false);
  });
});

import * as path from 'node:path';
import type { EventData, EventDataBatch, ReceivedEventData } from '@azure/event-hubs';
import { EventProperty } from '@pipeline/contracts';
import { eventSizeInBytes, type EventToSend } from '@pipeline/ports';
import { BATCH_ENVELOPE_RESERVE_BYTES, fromReceivedEventData, MAX_COVERED_PARTITION_KEY_BYTES, reportedMaxBatchBytes, toEventData } from './eventhubs.event-data';

/**
 * A real `EventDataBatch`, built without a connection: the SDK's batch needs only its context's
 * connection id and entity names to count events exactly as `createBatch()` batches do. The class
 * is internal to @azure/event-hubs (not in its exports map), hence the path.
 */
function sdkBatch(maxSizeInBytes: number, partitionKey: string | undefined): EventDataBatch {
  const sdkDir = path.dirname(require.resolve('@azure/event-hubs'));
  const { EventDataBatchImpl } = require(path.join(sdkDir, 'eventDataBatch.js')) as {
    EventDataBatchImpl: new (context: unknown, maxSizeInBytes: number, isIdempotent: boolean, partitionKey?: string, partitionId?: string) => EventDataBatch;
  };
  const context = { connectionId: 'sizing', config: { entityPath: 'telemetry', host: 'sizing.servicebus.windows.net' } };
  return new EventDataBatchImpl(context, maxSizeInBytes, false, partitionKey);
}

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** An event as the producer app maps a CSV row (see apps/producer/src/event-mapper.ts), sized by its JSON body. */
function producerEvent(bodyBytes: number, key: string, row: number, traced: boolean): EventToSend {
  const fields: Record<string, string> = { device_id: key, event_time: '2024-03-01T12:34:56.789Z', temperature: '21.375', humidity: '0.41', note: '' };
  fields['note'] = 'n'.repeat(Math.max(0, bodyBytes - Buffer.byteLength(JSON.stringify(fields))));
  const properties: EventToSend['properties'] = {
    [EventProperty.source]: 'sensor-readings',
    [EventProperty.row]: row,
    [EventProperty.contentType]: 'json',
    [EventProperty.eventId]: `evt-${row.toString().padStart(12, '0')}`,
  };
  if (traced) properties[EventProperty.traceparent] = TRACEPARENT;
  return { body: Buffer.from(JSON.stringify(fields)), properties };
}

/** A record that was not valid CSV: sent raw, without a key (see the event mapper). */
function malformedEvent(bodyBytes: number, row: number): EventToSend {
  return {
    body: Buffer.alloc(bodyBytes, 0x2c),
    properties: {
      [EventProperty.eventId]: `sensor-readings:${row}`,
      [EventProperty.source]: 'sensor-readings',
      [EventProperty.row]: row,
      [EventProperty.contentType]: 'raw',
      [EventProperty.malformed]: 'csv_column_count',
      [EventProperty.traceparent]: TRACEPARENT,
    },
  };
}

/** Fills a batch the way the producer's SendBatcher does: events while their estimates fit `maxBytes`. */
function fillByEstimate(maxBytes: number, next: (i: number) => EventToSend): EventToSend[] {
  const events: EventToSend[] = [];
  let total = 0;
  for (let i = 0; ; i++) {
    const event = next(i);
    const size = eventSizeInBytes(event);
    if (total + size > maxBytes) return events;
    events.push(event);
    total += size;
  }
}

/** How many of `events` the SDK's batch takes, in order. */
function acceptedBySdk(events: EventToSend[], maxSizeInBytes: number, partitionKey: string | undefined): number {
  const batch = sdkBatch(maxSizeInBytes, partitionKey);
  let accepted = 0;
  for (const event of events) {
    if (!batch.tryAdd(toEventData(event))) break;
    accepted++;
  }
  return accepted;
}

const keys: Array<[string, string | undefined]> = [
  ['no key', undefined],
  ['a short key', 'device-1'],
  ['a uuid key', '3f2504e0-4f89-11d3-9a0c-0305e82c3301'],
  [`a ${MAX_COVERED_PARTITION_KEY_BYTES}-byte ASCII key`, 'k'.repeat(MAX_COVERED_PARTITION_KEY_BYTES)],
  [`a ${MAX_COVERED_PARTITION_KEY_BYTES}-byte emoji key`, '😀'.repeat(MAX_COVERED_PARTITION_KEY_BYTES / 4)],
];
const limits: Array<[string, number]> = [
  ['standard tier (1 MiB)', 1024 * 1024],
  ['basic tier (256 KiB)', 256 * 1024],
];

describe('Event Hubs batch sizing', () => {
  describe.each(limits)('on a %s sender link', (_tier, sdkMax) => {
    const maxBatchBytes = reportedMaxBatchBytes(sdkMax);

    it.each(keys)('fits every producer batch filled by eventSizeInBytes into one SDK batch, with %s', (_name, key) => {
      for (const bodyBytes of [100, 300, 500]) {
        for (const traced of [true, false]) {
          const events = fillByEstimate(maxBatchBytes, (i) => producerEvent(bodyBytes, key ?? `device-${i % 7}`, i + 1, traced));
          expect(events.length).toBeGreaterThan(10);
          expect({ bodyBytes, traced, accepted: acceptedBySdk(events, sdkMax, key) }).toEqual({ bodyBytes, traced, accepted: events.length });
        }
      }
    });

    it('fits every batch of malformed rows, which go without a key, into one SDK batch', () => {
      for (const bodyBytes of [1, 100, 500, 4_000]) {
        const events = fillByEstimate(maxBatchBytes, (i) => malformedEvent(bodyBytes, i + 1));
        expect({ bodyBytes, accepted: acceptedBySdk(events, sdkMax, undefined) }).toEqual({ bodyBytes, accepted: events.length });
      }
    });
  });

  it('needs the margin: filled to the SDK limit by estimate, a batch with long keys overflows', () => {
    const sdkMax = 1024 * 1024;
    const key = 'k'.repeat(MAX_COVERED_PARTITION_KEY_BYTES);
    const events = fillByEstimate(sdkMax - BATCH_ENVELOPE_RESERVE_BYTES, (i) => producerEvent(300, key, i + 1, true));
    expect(acceptedBySdk(events, sdkMax, key)).toBeLessThan(events.length);
  });

  it('counts an unkeyed producer event at least as large as the SDK does', () => {
    for (const bodyBytes of [100, 300, 500]) {
      const event = producerEvent(bodyBytes, 'device-1', 42, true);
      // The first event of a batch also pays for the envelope, which the reserve covers: compare the second.
      const one = sdkBatch(1024 * 1024, undefined);
      const two = sdkBatch(1024 * 1024, undefined);
      expect([one.tryAdd(toEventData(event)), two.tryAdd(toEventData(event)), two.tryAdd(toEventData(event))]).toEqual([true, true, true]);
      expect(eventSizeInBytes(event)).toBeGreaterThanOrEqual(two.sizeInBytes - one.sizeInBytes);
    }
  });

  it('reports a limit below the SDK limit and refuses one too small to hold a batch', () => {
    expect(reportedMaxBatchBytes(1024 * 1024)).toBeLessThan(1024 * 1024 - BATCH_ENVELOPE_RESERVE_BYTES);
    expect(reportedMaxBatchBytes(1024 * 1024)).toBeGreaterThan(512 * 1024);
    expect(() => reportedMaxBatchBytes(BATCH_ENVELOPE_RESERVE_BYTES)).toThrow(/must be more than 1024 bytes, the service reported 1024/);
  });
});

describe('Event Hubs event conversion', () => {
  it('sends a Uint8Array body as a Buffer over the same bytes and copies the properties', () => {
    const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
    const properties = { a: 'x', n: 1, b: Buffer.from([1]) };
    const data: EventData = toEventData({ body: bytes, properties });
    expect(Buffer.isBuffer(data.body)).toBe(true);
    expect([...(data.body as Buffer)]).toEqual([8, 7]);
    expect(data.properties).toEqual(properties);
    expect(data.properties).not.toBe(properties);
  });

  const received = (over: Partial<ReceivedEventData>): ReceivedEventData => ({
    body: Buffer.from('{"a":1}'),
    properties: {},
    enqueuedTimeUtc: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
    partitionKey: 'device-1',
    offset: '4294967296',
    sequenceNumber: 17,
    getRawAmqpMessage: () => {
      throw new Error('not used');
    },
    ...over,
  });

  it('maps a received event to the port, keeping body bytes unparsed and times in epoch ms', () => {
    const event = fromReceivedEventData(received({ properties: { text: 'é', long: 42, double: 3.25, yes: true, bytes: Buffer.from([0, 255]) } }), '3');
    expect(event).toEqual({
      partitionId: '3',
      sequenceNumber: 17,
      offset: '4294967296',
      enqueuedTime: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      partitionKey: 'device-1',
      properties: { text: 'é', long: 42, double: 3.25, yes: true, bytes: Buffer.from([0, 255]) },
      body: Buffer.from('{"a":1}'),
    });
  });

  it('turns bodies and property values other producers send into what the port carries', () => {
    const event = fromReceivedEventData(
      received({
        body: 'plain text',
        partitionKey: null as unknown as string,
        properties: { when: new Date(1_000), big: BigInt('12345678901234567890'), small: BigInt(5), gone: null, list: [1, 2], raw: new Uint8Array([1, 2]) },
      }),
      '0',
    );
    expect(event.body.toString()).toBe('plain text');
    expect(event.partitionKey).toBeNull();
    expect(event.properties).toEqual({ when: 1_000, big: '12345678901234567890', small: 5, list: '[1,2]', raw: Buffer.from([1, 2]) });
    expect(fromReceivedEventData(received({ body: { a: 1 } }), '0').body.toString()).toBe('{"a":1}');
    expect(fromReceivedEventData(received({ body: undefined }), '0').body).toEqual(Buffer.alloc(0));
  });

  it('keeps a property named __proto__ as an own property', () => {
    const properties = JSON.parse('{"__proto__":"x","other":1}') as Record<string, unknown>;
    const event = fromReceivedEventData(received({ properties }), '0');
    expect(Object.keys(event.properties)).toEqual(['__proto__', 'other']);
    expect(Object.getPrototypeOf(event.properties)).toBe(Object.prototype);
  });
});

import { deriveEventId, parseSpec, type PipelineSpec } from '@pipeline/contracts';
import { QUARANTINE_REASONS, type QuarantineReason } from './quarantine-reason';
import { silverSchema, quarantineSchema, ReservedColumnError } from './silver-schema';
import { compileSilverTransform, type SilverOutcome, type SilverTransformOptions } from './silver-transform';
import { shardOf } from './shard';
import { SOURCE_PROPERTY_KEYS, type SourceEvent } from './source-event';

const ENQUEUED = Date.UTC(2026, 0, 2, 3, 4, 5);

function specWith(overrides: { columns?: string; eventTime?: string; eventId?: string; groupBy?: string; delimiter?: string; shards?: number } = {}): PipelineSpec {
  const yaml = `
version: 1
name: sensor-readings
source:
  name: sensors
  delimiter: ${JSON.stringify(overrides.delimiter ?? ',')}
  columns:
${
  overrides.columns ??
  `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double, nullable: true }
    - { name: count, type: long }
    - { name: ok, type: boolean }`
}
eventTime: ${overrides.eventTime ?? '{ column: ts }'}
eventId: ${overrides.eventId ?? '{ column: reading_id }'}
partitionKey: device_id
groupBy: ${overrides.groupBy ?? '[device_id]'}
windows: [{ name: per_minute, type: tumbling, size: 1m }]
aggregates: [{ name: readings, fn: count }]
watermark: { delay: 30s }
gold: { shards: ${overrides.shards ?? 4} }
`;
  return parseSpec(yaml, 'test.spec.yaml');
}

const GOOD_BODY = { reading_id: 'r-1', device_id: 'dev-001', ts: '2026-01-01T00:00:10.250Z', temperature: '21.5', count: '3', ok: 'true' };

function event(body: unknown, properties: SourceEvent['properties'] = {}, bodyOverride?: Buffer | null): SourceEvent {
  return {
    body: bodyOverride !== undefined ? bodyOverride : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    properties: { event_id: 'r-1', source: 'sensors', row: 7, content_type: 'json', ...properties },
    enqueuedTime: ENQUEUED,
    partitionId: '3',
    sequenceNumber: 42,
    captureFile: 'raw/ns/hub/3/2026/01/02/03/04/05.avro',
  };
}

function expectRow(outcome: SilverOutcome): Extract<SilverOutcome, { kind: 'row' }> {
  if (outcome.kind !== 'row') throw new Error(`expected a silver row, got quarantine ${outcome.reason}: ${String(outcome.row['message'])}`);
  return outcome;
}

function expectQuarantine(outcome: SilverOutcome, reason: QuarantineReason): Extract<SilverOutcome, { kind: 'quarantine' }> {
  if (outcome.kind !== 'quarantine') throw new Error(`expected quarantine ${reason}, got a silver row ${JSON.stringify(outcome.row)}`);
  expect(outcome.reason).toBe(reason);
  expect(outcome.row['reason']).toBe(reason);
  return outcome;
}

describe('compileSilverTransform', () => {
  const spec = specWith();
  const transform = compileSilverTransform(spec);

  describe('a readable event', () => {
    it('becomes a typed silver row with event id, event time, event date and lineage', () => {
      const outcome = expectRow(transform(event(GOOD_BODY)));
      const eventTime = Date.UTC(2026, 0, 1, 0, 0, 10, 250);
      expect(outcome.eventId).toBe('r-1');
      expect(outcome.eventTime).toBe(eventTime);
      expect(outcome.row).toEqual({
        reading_id: 'r-1',
        device_id: 'dev-001',
        ts: eventTime,
        temperature: 21.5,
        count: 3,
        ok: true,
        event_id: 'r-1',
        event_time: eventTime,
        event_date: '2026-01-01',
        enqueued_time: ENQUEUED,
        partition_id: '3',
        sequence_number: 42,
        capture_file: 'raw/ns/hub/3/2026/01/02/03/04/05.avro',
        source_row: 7,
        shard: shardOf(['dev-001'], 4),
      });
    });

    it('has exactly the columns of the silver schema, in schema order', () => {
      const outcome = expectRow(transform(event(GOOD_BODY)));
      expect(Object.keys(outcome.row)).toEqual(silverSchema(spec).columns.map((c) => c.name));
    });

    it('reads a body without a content_type property as JSON', () => {
      const e = event(GOOD_BODY);
      delete e.properties['content_type'];
      expect(transform(e).kind).toBe('row');
    });

    it('reads the MIME content type application/json with parameters as JSON', () => {
      expect(transform(event(GOOD_BODY, { content_type: 'application/json; charset=utf-8' })).kind).toBe('row');
    });

    it('reads property values written as bytes as UTF-8 text', () => {
      const outcome = expectRow(transform(event(GOOD_BODY, { event_id: Buffer.from('r-bytes'), row: Buffer.from('12'), content_type: Buffer.from('json') })));
      expect(outcome.eventId).toBe('r-bytes');
      expect(outcome.row['source_row']).toBe(12);
    });

    it('ignores body fields the spec does not declare', () => {
      const outcome = expectRow(transform(event({ ...GOOD_BODY, firmware: '1.2.3', extra: { nested: [1, 2] } })));
      expect(outcome.row).not.toHaveProperty('firmware');
      expect(outcome.row).not.toHaveProperty('extra_nested');
    });

    it('accepts real JSON types in the body, not only strings', () => {
      const outcome = expectRow(transform(event({ ...GOOD_BODY, temperature: 21.5, count: 3, ok: true })));
      expect(outcome.row).toMatchObject({ temperature: 21.5, count: 3, ok: true });
    });

    it('stores null for an empty or absent nullable column', () => {
      expect(expectRow(transform(event({ ...GOOD_BODY, temperature: '' }))).row['temperature']).toBeNull();
      const { temperature: _dropped, ...withoutTemperature } = GOOD_BODY;
      expect(expectRow(transform(event(withoutTemperature))).row['temperature']).toBeNull();
      expect(expectRow(transform(event({ ...GOOD_BODY, temperature: null }))).row['temperature']).toBeNull();
    });

    it('sets source_row to null when the row property is absent or not a row number', () => {
      const e = event(GOOD_BODY);
      delete e.properties['row'];
      expect(expectRow(transform(e)).row['source_row']).toBeNull();
      expect(expectRow(transform(event(GOOD_BODY, { row: 'seven' }))).row['source_row']).toBeNull();
      expect(expectRow(transform(event(GOOD_BODY, { row: 0 }))).row['source_row']).toBeNull();
    });

    it('puts every row of one group in the same shard, computed from the typed groupBy values', () => {
      const groupedSpec = specWith({ groupBy: '[device_id, count]', shards: 16 });
      const t = compileSilverTransform(groupedSpec);
      const a = expectRow(t(event({ ...GOOD_BODY, count: '5' }, { event_id: 'a' })));
      const b = expectRow(t(event({ ...GOOD_BODY, count: 5, reading_id: 'b' }, { event_id: 'b' })));
      expect(a.row['shard']).toBe(shardOf(['dev-001', 5], 16));
      expect(b.row['shard']).toBe(a.row['shard']);
    });
  });

  describe('event ids', () => {
    it('takes the event_id property over the id column of the body', () => {
      expect(expectRow(transform(event(GOOD_BODY, { event_id: 'from-property' }))).eventId).toBe('from-property');
    });

    it('falls back to the raw text of the id column when the property is absent', () => {
      const e = event({ ...GOOD_BODY, reading_id: 'r-body' });
      delete e.properties['event_id'];
      expect(expectRow(transform(e)).eventId).toBe('r-body');
    });

    it('uses the text of a numeric id from a JSON body', () => {
      const longIdSpec = specWith({
        columns: `    - { name: id, type: long }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }`,
        eventId: '{ column: id }',
      });
      const e = event({ id: 981, device_id: 'd', ts: '2026-01-01T00:00:00Z' });
      delete e.properties['event_id'];
      const outcome = expectRow(compileSilverTransform(longIdSpec)(e));
      expect(outcome.eventId).toBe('981');
      expect(outcome.row['id']).toBe(981);
    });

    it('keeps the derived id the producer stamped for a spec without an id column', () => {
      const derivedSpec = specWith({ eventId: '{ derive: source-row }' });
      const id = deriveEventId('sensors', 7);
      expect(expectRow(compileSilverTransform(derivedSpec)(event(GOOD_BODY, { event_id: id }))).eventId).toBe(id);
    });

    describe('sent as a JSON number beyond ±(2^53 − 1)', () => {
      const bodyWithId = (id: string): string => `{"reading_id":${id},"device_id":"dev-001","ts":"2026-01-01T00:00:10Z","count":"3","ok":"true"}`;
      const withoutProperty = (body: string): SourceEvent => {
        const e = event(body);
        delete e.properties['event_id'];
        return e;
      };

      it('is quarantined as cast_error, naming the limit and the fix, since JSON.parse has rounded it', () => {
        const outcome = expectQuarantine(transform(withoutProperty(bodyWithId('9007199254740993'))), 'cast_error');
        expect(outcome.row['message']).toBe(
          'the id column "reading_id" is the JSON number 9007199254740992 (as read), beyond ±9007199254740991 (2^53 − 1): JSON numbers that large are rounded when read, ' +
            'so different ids could become one and an event be dropped as a duplicate. Send the id as a JSON string, e.g. "reading_id": "<digits>"',
        );
        expect(outcome.row['event_id']).toBeNull();
      });

      it('never gives two different ids one event id: both events are quarantined', () => {
        for (const id of ['9007199254740993', '9007199254740992', '-9007199254740993', '123456789012345678901234567890', '1e300']) {
          expect([id, transform(withoutProperty(bodyWithId(id))).kind]).toEqual([id, 'quarantine']);
        }
      });

      it('is read exactly within the limit, and as sent when it is a JSON string', () => {
        expect(expectRow(transform(withoutProperty(bodyWithId('9007199254740991')))).eventId).toBe('9007199254740991');
        expect(expectRow(transform(withoutProperty(bodyWithId('-9007199254740991')))).eventId).toBe('-9007199254740991');
        expect(expectRow(transform(withoutProperty(bodyWithId('"9007199254740993"')))).eventId).toBe('9007199254740993');
      });

      it('does not matter when the event_id property gives the id', () => {
        expect(expectRow(transform(event(bodyWithId('9007199254740993'), { event_id: 'r-9' }))).eventId).toBe('r-9');
      });
    });
  });

  describe('event time', () => {
    const columns = `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: at, type: string }`;

    it('reads an ISO 8601 time without an offset in the spec time zone', () => {
      const t = compileSilverTransform(specWith({ columns, eventTime: '{ column: at, format: iso8601, timeZone: Europe/Paris }' }));
      const outcome = expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: '2026-07-01T12:00:00' })));
      expect(outcome.eventTime).toBe(Date.UTC(2026, 6, 1, 10, 0, 0));
      expect(outcome.row['at']).toBe('2026-07-01T12:00:00'); // a string column keeps its text
    });

    it('reads a pattern in the spec time zone', () => {
      const t = compileSilverTransform(specWith({ columns, eventTime: '{ column: at, format: "dd/MM/yyyy HH:mm:ss", timeZone: America/New_York }' }));
      expect(expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: '31/12/2025 23:30:00' }))).eventTime).toBe(Date.UTC(2026, 0, 1, 4, 30, 0));
    });

    it('reads epoch milliseconds from a long column given as a JSON number', () => {
      const t = compileSilverTransform(
        specWith({
          columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: at, type: long }`,
          eventTime: '{ column: at, format: epoch_millis }',
        }),
      );
      const outcome = expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: 1767225610000 })));
      expect(outcome.eventTime).toBe(1767225610000);
      expect(outcome.row['at']).toBe(1767225610000);
      expect(outcome.row['event_date']).toBe('2026-01-01');
    });

    it('reads epoch seconds with a fraction from a double column', () => {
      const t = compileSilverTransform(
        specWith({
          columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: at, type: double }`,
          eventTime: '{ column: at, format: epoch_seconds }',
        }),
      );
      const outcome = expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: '1767225610.25' })));
      expect(outcome.eventTime).toBe(1767225610250);
      expect(outcome.row['at']).toBe(1767225610.25);
    });

    it('stores the event time as read in a timestamp event-time column with a pattern format', () => {
      const t = compileSilverTransform(
        specWith({
          columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: at, type: timestamp }`,
          eventTime: '{ column: at, format: "yyyyMMdd HHmm" }',
        }),
      );
      const outcome = expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: '20260315 0930' })));
      expect(outcome.row['at']).toBe(Date.UTC(2026, 2, 15, 9, 30));
      expect(outcome.row['event_time']).toBe(Date.UTC(2026, 2, 15, 9, 30));
    });

    it('derives event_date as the UTC date of the event time, not the local one', () => {
      const t = compileSilverTransform(specWith({ columns, eventTime: '{ column: at, timeZone: Asia/Tokyo }' }));
      expect(expectRow(t(event({ reading_id: 'r-1', device_id: 'd', at: '2026-01-01T05:00:00' }))).row['event_date']).toBe('2025-12-31');
    });
  });

  describe('timestamps to the microsecond', () => {
    it('keep the microseconds in event_time and the timestamp event-time column; windows get the millisecond below', () => {
      const outcome = expectRow(transform(event({ ...GOOD_BODY, ts: '2026-01-01T00:00:10.123456Z' })));
      expect(outcome.row['ts']).toBe(1_767_225_610_123_456n);
      expect(outcome.row['event_time']).toBe(1_767_225_610_123_456n);
      expect(outcome.eventTime).toBe(Date.UTC(2026, 0, 1, 0, 0, 10, 123));
      expect(outcome.row['event_date']).toBe('2026-01-01');
    });

    it('round down to the millisecond before 1970 too, so event_date is the day of the instant', () => {
      const outcome = expectRow(transform(event({ ...GOOD_BODY, ts: '1969-12-31T23:59:59.999999Z' })));
      expect(outcome.row['event_time']).toBe(-1n);
      expect(outcome.eventTime).toBe(-1);
      expect(outcome.row['event_date']).toBe('1969-12-31');
    });

    it('keep the microseconds of an event time read as epoch seconds', () => {
      const t = compileSilverTransform(specWith({ eventTime: '{ column: ts, format: epoch_seconds }' }));
      const outcome = expectRow(t(event({ ...GOOD_BODY, ts: '1767225610.000001' })));
      expect(outcome.row['event_time']).toBe(1_767_225_610_000_001n);
      expect(outcome.eventTime).toBe(1_767_225_610_000);
    });

    it('keep the microseconds of a timestamp column that is not the event time', () => {
      const t = compileSilverTransform(
        specWith({
          columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: seen, type: timestamp, nullable: true }`,
        }),
      );
      const outcome = expectRow(t(event({ reading_id: 'r-1', device_id: 'd', ts: '2026-01-01T00:00:10Z', seen: '0001-01-01T00:00:00.000001Z' })));
      expect(outcome.row['seen']).toBe(-62_135_596_799_999_999n);
      expect(outcome.row['event_time']).toBe(Date.UTC(2026, 0, 1, 0, 0, 10));
    });

    it('shard a timestamp grouping value by its millisecond, which is what gold groups on', () => {
      const t = compileSilverTransform(specWith({ groupBy: '[device_id, ts]', shards: 7 }));
      for (const micros of ['123456', '123999', '123000']) {
        const outcome = expectRow(t(event({ ...GOOD_BODY, ts: `2026-01-01T00:00:10.${micros}Z` })));
        expect(outcome.row['shard']).toBe(shardOf(['dev-001', Date.UTC(2026, 0, 1, 0, 0, 10, 123)], 7));
      }
    });

    it('quarantine an event time with more than 9 fraction digits as before', () => {
      expectQuarantine(transform(event({ ...GOOD_BODY, ts: '2026-01-01T00:00:10.1234567891Z' })), 'unparseable_event_time');
      expectQuarantine(transform(event({ ...GOOD_BODY, ts: '0000-12-31T23:59:59.999999Z' })), 'unparseable_event_time');
    });
  });

  describe('CSV line bodies', () => {
    const csv = (line: string, properties: SourceEvent['properties'] = {}): SourceEvent => event(line, { content_type: 'csv', ...properties });

    it('reads one CSV line into the spec columns by position', () => {
      const outcome = expectRow(transform(csv('r-9,"dev, 1",2026-01-01T00:00:00Z,,12,FALSE\n', { event_id: 'r-9' })));
      expect(outcome.row).toMatchObject({ reading_id: 'r-9', device_id: 'dev, 1', ts: Date.UTC(2026, 0, 1), temperature: null, count: 12, ok: false });
    });

    it('uses the spec delimiter and keeps doubled quotes as one', () => {
      const t = compileSilverTransform(specWith({ delimiter: ';' }));
      const outcome = expectRow(t(csv('r-9;"Lyon ""Gerland""";2026-01-01T00:00:00Z;1.5;1;1\r\n')));
      expect(outcome.row['device_id']).toBe('Lyon "Gerland"');
      // "1,5" is not a double: the decimal separator is always "."
      expect(t(csv('r-9;d;2026-01-01T00:00:00Z;1,5;1;1')).kind).toBe('quarantine');
    });

    it('reads the MIME content type text/csv as a CSV line', () => {
      expect(transform(csv('r-9,d,2026-01-01T00:00:00Z,1.5,1,1', { content_type: 'text/csv' })).kind).toBe('row');
    });

    it('quarantines a CSV line with the wrong number of fields as csv_column_count', () => {
      const outcome = expectQuarantine(transform(csv('r-9,d,2026-01-01T00:00:00Z')), 'csv_column_count');
      expect(outcome.row['message']).toContain('3 fields but the spec declares 6 columns');
    });

    it('quarantines a CSV line with broken quoting as csv_quote', () => {
      expectQuarantine(transform(csv('r-9,"Lyon "Gerland"",2026-01-01T00:00:00Z,1,1,1')), 'csv_quote');
    });

    it('quarantines a CSV line that is not UTF-8 as csv_utf8', () => {
      const body = Buffer.concat([Buffer.from('r-9,S'), Buffer.from([0xe3]), Buffer.from('o,2026-01-01T00:00:00Z,1,1,1')]);
      expectQuarantine(transform(event(null, { content_type: 'csv' }, body)), 'csv_utf8');
    });

    it('quarantines a CSV body of two lines as unknown_shape', () => {
      expectQuarantine(transform(csv('r-9,d,2026-01-01T00:00:00Z,1,1,1\nr-10,d,2026-01-01T00:00:00Z,1,1,1')), 'unknown_shape');
    });
  });

  describe('flattening', () => {
    const nestedSpec = specWith({
      columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: sensor_reading_value, type: double }
    - { name: sensor_site, type: string, nullable: true }
    - { name: tags, type: string, nullable: true }
    - { name: tags_1, type: string, nullable: true }`,
    });
    const body = {
      reading_id: 'r-1',
      device_id: 'd',
      ts: '2026-01-01T00:00:00Z',
      sensor: { reading: { value: 4.5 }, site: { name: 'Oslo' } },
      tags: ['a', 'b'],
    };

    it('joins nested object keys with underscores and keeps sub-objects as JSON text', () => {
      const outcome = expectRow(compileSilverTransform(nestedSpec)(event(body)));
      expect(outcome.row['sensor_reading_value']).toBe(4.5);
      expect(outcome.row['sensor_site']).toBe('{"name":"Oslo"}');
    });

    it('serialises arrays as JSON text by default', () => {
      const outcome = expectRow(compileSilverTransform(nestedSpec)(event(body)));
      expect(outcome.row['tags']).toBe('["a","b"]');
      expect(outcome.row['tags_1']).toBeNull();
    });

    it.each<[SilverTransformOptions['arrays'], unknown, unknown]>([
      ['json', '["a","b"]', null],
      ['index', '["a","b"]', 'b'],
      ['first', 'a', null],
    ])('flattens arrays by the %s rule', (arrays, tags, tags1) => {
      const outcome = expectRow(compileSilverTransform(nestedSpec, { arrays })(event(body)));
      expect(outcome.row['tags']).toBe(tags);
      expect(outcome.row['tags_1']).toBe(tags1);
    });

    it('reads a key with dots like nested keys', () => {
      const outcome = expectRow(compileSilverTransform(nestedSpec)(event({ ...body, sensor: undefined, 'sensor.reading.value': '7.25' })));
      expect(outcome.row['sensor_reading_value']).toBe(7.25);
    });

    it('quarantines as unknown_shape when two body fields flatten to a spec column', () => {
      const outcome = expectQuarantine(compileSilverTransform(nestedSpec)(event({ ...body, 'sensor.reading.value': 1 })), 'unknown_shape');
      expect(outcome.row['message']).toBe('column "sensor_reading_value" is ambiguous: body fields "sensor.reading.value" and "sensor.reading.value" all flatten to it');
    });

    it('ignores two fields flattening to the same name when no spec column reads it', () => {
      expect(compileSilverTransform(nestedSpec)(event({ ...body, x: { y: 1 }, 'x.y': 2 })).kind).toBe('row');
    });
  });

  describe('quarantine', () => {
    it('quarantines a record_too_large marker with the size of the record and the way to send such records', () => {
      const prefix = Buffer.from('{"reading_id":"r-9","device_id":"dev');
      const outcome = expectQuarantine(
        transform(event(null, { content_type: 'raw', malformed: 'record_too_large', event_id: 'r-9', record_bytes: 2_500_000 }, prefix)),
        'record_too_large',
      );
      expect(outcome.row).toMatchObject({ reason: 'record_too_large', raw_body: prefix, event_id: 'r-9', source_row: 7 });
      expect(outcome.row['message']).toMatch(/did not send source row 7 \(2500000 bytes\) \(record_too_large\).*raise --max-record-size/);
    });

    it.each<[QuarantineReason]>([['csv_column_count'], ['csv_quote'], ['csv_utf8'], ['csv_too_large']])(
      "quarantines an event the producer marked malformed with %s under the producer's reason",
      (reason) => {
        const raw = Buffer.from('r-1,dev,"broken');
        const outcome = expectQuarantine(transform(event(null, { content_type: 'raw', malformed: reason, event_id: 'id-7' }, raw)), reason);
        expect(outcome.row).toEqual({
          reason,
          message: expect.stringContaining(`source row 7 as CSV (${reason})`),
          raw_body: raw,
          event_id: 'id-7',
          enqueued_time: ENQUEUED,
          enqueued_date: '2026-01-02',
          partition_id: '3',
          sequence_number: 42,
          capture_file: 'raw/ns/hub/3/2026/01/02/03/04/05.avro',
          source_row: 7,
        });
      },
    );

    it('gives quarantine rows exactly the columns of the quarantine schema', () => {
      const outcome = expectQuarantine(transform(event('not json')), 'unknown_shape');
      expect(Object.keys(outcome.row)).toEqual(quarantineSchema().columns.map((c) => c.name));
    });

    it('quarantines an unknown malformed reason as unknown_shape, naming it', () => {
      const outcome = expectQuarantine(transform(event(null, { content_type: 'raw', malformed: 'csv_something_new' }, Buffer.from('x'))), 'unknown_shape');
      expect(outcome.row['message']).toContain('"csv_something_new"');
    });

    it('quarantines a raw body without a malformed marker as unknown_shape', () => {
      const outcome = expectQuarantine(transform(event(null, { content_type: 'raw' }, Buffer.from('x'))), 'unknown_shape');
      expect(outcome.row['message']).toBe('the content type "raw" without a malformed reason cannot be read; silver reads "json" (the default) and "csv" bodies');
    });

    it('quarantines an unknown content type as unknown_shape', () => {
      expectQuarantine(transform(event(GOOD_BODY, { content_type: 'avro' })), 'unknown_shape');
    });

    it('quarantines an event without a body as unknown_shape and keeps raw_body null', () => {
      const outcome = expectQuarantine(transform(event(null, {}, null)), 'unknown_shape');
      expect(outcome.row['raw_body']).toBeNull();
      expect(outcome.row['message']).toBe('the event has no body');
    });

    it('quarantines invalid JSON as unknown_shape, quoting the start of the body', () => {
      const outcome = expectQuarantine(transform(event('{"reading_id": "r-1",')), 'unknown_shape');
      expect(outcome.row['message']).toMatch(/^the body is not valid JSON \(.+\): "\{\\"reading_id\\": \\"r-1\\","$/);
      expect(outcome.row['raw_body']).toEqual(Buffer.from('{"reading_id": "r-1",'));
      expect(outcome.row['event_id']).toBe('r-1');
    });

    it.each([
      ['[1, 2]', 'an array'],
      ['42', 'a number'],
      ['"text"', 'a string'],
      ['true', 'a boolean'],
      ['null', 'null'],
    ])('quarantines the JSON %s as unknown_shape, saying it is %s', (body, kind) => {
      const outcome = expectQuarantine(transform(event(body)), 'unknown_shape');
      expect(outcome.row['message']).toBe(`the body is JSON ${kind}, not an object: ${JSON.stringify(body)}`);
    });

    it('quarantines a JSON body that is not UTF-8 as unknown_shape', () => {
      expectQuarantine(transform(event(null, {}, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))), 'unknown_shape');
    });

    it('quarantines an event with neither an event_id property nor an id value as missing_event_id', () => {
      const e = event({ ...GOOD_BODY, reading_id: '' });
      delete e.properties['event_id'];
      const outcome = expectQuarantine(transform(e), 'missing_event_id');
      expect(outcome.row['message']).toBe('the event has no "event_id" property and the id column "reading_id" is empty or absent');
      expect(outcome.row['event_id']).toBeNull();
    });

    it('quarantines a derived-id event without an event_id property as missing_event_id', () => {
      const e = event(GOOD_BODY);
      delete e.properties['event_id'];
      expectQuarantine(compileSilverTransform(specWith({ eventId: '{ derive: source-row }' }))(e), 'missing_event_id');
    });

    it('quarantines an empty, null or absent event time as missing_event_time', () => {
      expect(expectQuarantine(transform(event({ ...GOOD_BODY, ts: '' })), 'missing_event_time').row['message']).toBe('the event time column "ts" is empty');
      expect(expectQuarantine(transform(event({ ...GOOD_BODY, ts: null })), 'missing_event_time').row['message']).toBe('the event time column "ts" is null');
      const { ts: _dropped, ...withoutTs } = GOOD_BODY;
      expect(expectQuarantine(transform(event(withoutTs)), 'missing_event_time').row['message']).toBe('the event time column "ts" is absent from the body');
    });

    it('quarantines an event time that does not fit the format as unparseable_event_time, keeping the event id', () => {
      const outcome = expectQuarantine(transform(event({ ...GOOD_BODY, ts: '2026-13-01T00:16:37.400Z' })), 'unparseable_event_time');
      expect(outcome.row['message']).toContain('column "ts": the event time "2026-13-01T00:16:37.400Z" is not an ISO 8601 time');
      expect(outcome.row['event_id']).toBe('r-1');
    });

    it('quarantines an event time beyond the year 9999 as unparseable_event_time', () => {
      const t = compileSilverTransform(
        specWith({
          columns: `    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: at, type: long }`,
          eventTime: '{ column: at, format: epoch_millis }',
        }),
      );
      const outcome = expectQuarantine(t(event({ reading_id: 'r-1', device_id: 'd', at: '300000000000000' })), 'unparseable_event_time');
      expect(outcome.row['message']).toBe('column "at": the event time "300000000000000" lies outside the years 0001 to 9999');
    });

    it('quarantines an empty value in a column that is not nullable as missing_value', () => {
      const outcome = expectQuarantine(transform(event({ ...GOOD_BODY, device_id: '' })), 'missing_value');
      expect(outcome.row['message']).toBe('column "device_id" is empty but is not nullable');
    });

    it('quarantines a value that does not cast as cast_error, naming the column, the value and the type', () => {
      const outcome = expectQuarantine(transform(event({ ...GOOD_BODY, count: '4.2' })), 'cast_error');
      expect(outcome.row['message']).toBe('column "count": "4.2" is not a long (a whole number like 42 or -7, within ±9007199254740991)');
    });

    it('reports the first failing column as the reason and lists every failing column', () => {
      const outcome = expectQuarantine(transform(event({ ...GOOD_BODY, temperature: 'warm', count: '', ok: 'yes' })), 'cast_error');
      expect(outcome.row['message']).toBe(
        'column "temperature": "warm" is not a double (a decimal number like 21.5 or 1e3; NaN and Infinity are not accepted); ' +
          'column "count" is empty but is not nullable; column "ok": "yes" is not a boolean (true, false, 1 or 0)',
      );
    });

    it('quarantines a grouping key too long for a serving document id as key_too_long, and keeps the longest key that fits', () => {
      const fits = (length: number) => transform(event({ ...GOOD_BODY, device_id: 'd'.repeat(length) })).kind === 'row';
      let longest = 0;
      while (fits(longest + 1)) longest++;
      const outcome = expectQuarantine(transform(event({ ...GOOD_BODY, device_id: 'd'.repeat(longest + 1) })), 'key_too_long');
      expect(outcome.row['message']).toMatch(
        /^the serving document id of its "\w+" windows would be up to 1024 bytes, over the 1023-byte limit of Cosmos DB ids; shorten the values of "device_id"$/,
      );
      // Multi-byte characters count as their URI-encoded bytes.
      expectQuarantine(transform(event({ ...GOOD_BODY, device_id: 'é'.repeat(200) })), 'key_too_long');
      expect(transform(event({ ...GOOD_BODY, device_id: 'é'.repeat(100) })).kind).toBe('row');
    });

    it('checks the event id before the event time and the event time before the columns', () => {
      const e = event({ ...GOOD_BODY, reading_id: '', ts: 'soon', count: 'many' });
      delete e.properties['event_id'];
      expectQuarantine(transform(e), 'missing_event_id');
      expectQuarantine(transform(event({ ...GOOD_BODY, ts: 'soon', count: 'many' })), 'unparseable_event_time');
    });

    it('has a description for every reason, and every reason is reachable', () => {
      const reached = new Set<QuarantineReason>();
      const record = (outcome: SilverOutcome): void => {
        if (outcome.kind === 'quarantine') reached.add(outcome.reason);
      };
      for (const malformed of ['csv_column_count', 'csv_quote', 'csv_utf8', 'csv_too_large', 'record_too_large'])
        record(transform(event(null, { content_type: 'raw', malformed }, Buffer.from('x'))));
      record(transform(event('[]')));
      const noId = event({ ...GOOD_BODY, reading_id: '' });
      delete noId.properties['event_id'];
      record(transform(noId));
      record(transform(event({ ...GOOD_BODY, ts: '' })));
      record(transform(event({ ...GOOD_BODY, ts: 'x' })));
      record(transform(event({ ...GOOD_BODY, device_id: '' })));
      record(transform(event({ ...GOOD_BODY, count: 'x' })));
      record(transform(event({ ...GOOD_BODY, device_id: 'd'.repeat(1100) })));
      expect([...reached].sort()).toEqual(Object.keys(QUARANTINE_REASONS).sort());
      for (const description of Object.values(QUARANTINE_REASONS)) expect(description).toMatch(/^[A-Z].{20,}\.$/);
    });

    it('never throws for arbitrary body bytes and content types', () => {
      const bodies = [Buffer.alloc(0), Buffer.from('{'), Buffer.from('{"a":'.repeat(5000)), Buffer.from('['.repeat(20000)), Buffer.from([0, 1, 2, 255])];
      for (const body of bodies) {
        for (const content_type of ['json', 'csv', 'raw', null]) expect(transform(event(null, { content_type }, body)).kind).toBe('quarantine');
      }
    });
  });

  it('throws for an enqueued time that is not epoch milliseconds, which is a caller bug and not bad data', () => {
    expect(() => transform({ ...event(GOOD_BODY), enqueuedTime: Number.NaN })).toThrow(/enqueuedTime must be epoch milliseconds/);
  });

  describe('source columns named event_id and event_time that are the event id and the event time', () => {
    const literal = specWith({
      columns: `    - { name: event_id, type: long }
    - { name: event_time, type: string }
    - { name: device_id, type: string }`,
      eventTime: '{ column: event_time, format: "dd/MM/yyyy HH:mm:ss", timeZone: Europe/Paris }',
      eventId: '{ column: event_id }',
      groupBy: '[device_id, event_time]',
    });
    const literalTransform = compileSilverTransform(literal);
    const body = { event_id: '007', event_time: '01/01/2026 01:00:10', device_id: 'dev-001' };
    const eventTime = Date.UTC(2026, 0, 1, 0, 0, 10);

    it('are written once, as silver event_id (the id as sent) and event_time (the parsed time)', () => {
      const outcome = expectRow(literalTransform(event(body, { event_id: '007' })));
      expect(outcome.row).toEqual({
        device_id: 'dev-001',
        event_id: '007',
        event_time: eventTime,
        event_date: '2026-01-01',
        enqueued_time: ENQUEUED,
        partition_id: '3',
        sequence_number: 42,
        capture_file: 'raw/ns/hub/3/2026/01/02/03/04/05.avro',
        source_row: 7,
        shard: shardOf(['dev-001', eventTime], 4),
      });
      expect(Object.keys(outcome.row)).toEqual(silverSchema(literal).columns.map((c) => c.name));
    });

    it('are still cast, so a value that does not fit the declared type is quarantined', () => {
      expectQuarantine(literalTransform(event({ ...body, event_id: 'x-7' }, { event_id: 'x-7' })), 'cast_error');
      expectQuarantine(literalTransform(event({ ...body, event_time: '2026-01-01' })), 'unparseable_event_time');
    });
  });

  it("writes every row with the spec columns, then silver's own, in that order, as own keys", () => {
    const row = expectRow(compileSilverTransform(specWith())(event(GOOD_BODY))).row;
    expect(Object.keys(row)).toEqual([
      'reading_id',
      'device_id',
      'ts',
      'temperature',
      'count',
      'ok',
      'event_id',
      'event_time',
      'event_date',
      'enqueued_time',
      'partition_id',
      'sequence_number',
      'capture_file',
      'source_row',
      'shard',
    ]);
  });

  it('rejects a spec built in code with a column named like a column silver adds (parseSpec refuses such a file)', () => {
    const clash: PipelineSpec = { ...spec, source: { ...spec.source, columns: [...spec.source.columns, { name: 'shard', type: 'long', nullable: false }] } };
    expect(() => compileSilverTransform(clash)).toThrow(ReservedColumnError);
  });
});

describe('the properties silver reads', () => {
  const transform = compileSilverTransform(specWith());
  const events: SourceEvent[] = [
    event(GOOD_BODY, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=b', extra: Buffer.from('x') }),
    event(GOOD_BODY, { event_id: null, content_type: 'application/json; charset=utf-8' }),
    event('a,b', { content_type: 'csv', event_id: Buffer.from('r-9') }),
    event('{"reading_id": 1', { malformed: 'unterminated_quote', content_type: 'raw', row: '12' }),
    event('x', { malformed: 'record_too_large', record_bytes: 2_000_000 }),
    event(GOOD_BODY, { content_type: 'xml' }),
    event({ ...GOOD_BODY, ts: 'never' }, { row: 3.5 }),
  ];

  it('are only those SOURCE_PROPERTY_KEYS names, so a reader may skip the others', () => {
    const touched = new Set<string>();
    for (const e of events) {
      const watched = new Proxy(e.properties, {
        get: (target, key, receiver) => (typeof key === 'string' && touched.add(key), Reflect.get(target, key, receiver)),
        has: (target, key) => (typeof key === 'string' && touched.add(key), Reflect.has(target, key)),
        getOwnPropertyDescriptor: (target, key) => (typeof key === 'string' && touched.add(key), Reflect.getOwnPropertyDescriptor(target, key)),
        ownKeys: () => {
          throw new Error('the transform listed every property');
        },
      });
      transform({ ...e, properties: watched });
    }
    expect([...touched].filter((key) => !SOURCE_PROPERTY_KEYS.includes(key))).toEqual([]);
    expect(touched.size).toBeGreaterThan(0);
  });

  it('give the same outcome when the other properties are left out', () => {
    for (const e of events) {
      const cut = Object.fromEntries(Object.entries(e.properties).filter(([key]) => SOURCE_PROPERTY_KEYS.includes(key)));
      expect(transform({ ...e, properties: cut })).toEqual(transform(e));
    }
  });
});

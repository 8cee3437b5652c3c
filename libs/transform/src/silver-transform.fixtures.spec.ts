import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCaptureFile, parseEnqueuedTimeUtc, type CaptureRecord } from '@pipeline/capture-format';
import { deriveEventId, EventProperty, parseSpec, type PipelineSpec } from '@pipeline/contracts';
import { readCsv, type CsvRecord } from '@pipeline/csv';
import { EventTimeDedup } from './event-time-dedup';
import { compileSilverTransform, type SilverOutcome } from './silver-transform';
import type { SourceEvent } from './source-event';

const REPO = path.resolve(__dirname, '../../..');
const FIXTURES = path.resolve(REPO, '../shared/fixtures/eventhubs-capture');

/** A source event built the way the producer's EventMapper builds it, for the sample CSV. */
function producerEvent(spec: PipelineSpec, header: readonly string[], record: CsvRecord, sequenceNumber: number): SourceEvent {
  const lineage = { enqueuedTime: Date.UTC(2026, 0, 1, 0, 20), partitionId: '0', sequenceNumber, captureFile: 'raw/sample.avro' };
  if (record.kind === 'malformed') {
    return {
      ...lineage,
      body: record.raw,
      properties: {
        [EventProperty.eventId]: deriveEventId(spec.source.name, record.row),
        [EventProperty.source]: spec.source.name,
        [EventProperty.row]: record.row,
        [EventProperty.contentType]: 'raw',
        [EventProperty.malformed]: record.reason,
      },
    };
  }
  const body: Record<string, string> = {};
  header.forEach((name, i) => (body[name] = record.fields[i] ?? ''));
  const idColumn = spec.eventId.kind === 'column' ? spec.eventId.column : '';
  return {
    ...lineage,
    body: Buffer.from(JSON.stringify(body)),
    properties: { [EventProperty.eventId]: body[idColumn], [EventProperty.source]: spec.source.name, [EventProperty.row]: record.row, [EventProperty.contentType]: 'json' },
  };
}

async function sampleEvents(spec: PipelineSpec): Promise<SourceEvent[]> {
  const reader = readCsv(fs.createReadStream(path.join(REPO, 'examples/sensors.sample.csv')), { header: true });
  const header = (await reader.header())?.names ?? [];
  const events: SourceEvent[] = [];
  for await (const record of reader) events.push(producerEvent(spec, header, record, events.length));
  return events;
}

async function captureEvents(file: string): Promise<SourceEvent[]> {
  const events: SourceEvent[] = [];
  for await (const record of readCaptureFile(fs.createReadStream(path.join(FIXTURES, file)), file)) events.push(fromCapture(record, file));
  return events;
}

function fromCapture(record: CaptureRecord, file: string): SourceEvent {
  return {
    body: record.body,
    properties: record.properties,
    enqueuedTime: parseEnqueuedTimeUtc(record.enqueuedTimeUtc),
    partitionId: '0',
    sequenceNumber: record.sequenceNumber,
    captureFile: file,
  };
}

describe('silver over the example sensor data', () => {
  const spec = parseSpec(fs.readFileSync(path.join(REPO, 'examples/sensors.spec.yaml'), 'utf8'), 'sensors.spec.yaml');

  it('turns the 2,000 good rows into silver rows and quarantines the 4 bad lines with their reasons', async () => {
    const transform = compileSilverTransform(spec);
    const outcomes = (await sampleEvents(spec)).map(transform);
    const rows = outcomes.filter((o): o is Extract<SilverOutcome, { kind: 'row' }> => o.kind === 'row');
    const quarantined = outcomes.filter((o): o is Extract<SilverOutcome, { kind: 'quarantine' }> => o.kind === 'quarantine');

    expect(outcomes).toHaveLength(2004);
    expect(rows).toHaveLength(2000);
    expect(quarantined.map((q) => [q.reason, q.row['source_row']])).toEqual([
      ['csv_column_count', 1996],
      ['csv_quote', 1997],
      ['csv_utf8', 1998],
      ['unparseable_event_time', 1999],
    ]);
    expect(quarantined[3].row['event_id']).toBe('r-42-bad-4');
    expect(rows.filter((r) => r.row['temperature'] === null)).toHaveLength(28);
    expect(new Set(rows.map((r) => r.row['site']))).toEqual(new Set(['Oslo, Harbour', 'Lyon "Gerland"', 'São Paulo']));
    expect(new Set(rows.map((r) => r.row['shard']))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('finds no duplicates in the sample and catches every immediate re-send, late rows included', async () => {
    const transform = compileSilverTransform(spec);
    const rows = (await sampleEvents(spec)).map(transform).filter((o): o is Extract<SilverOutcome, { kind: 'row' }> => o.kind === 'row');
    const dedup = EventTimeDedup.build({ delayMs: spec.watermark.delayMs, idleTimeoutMs: spec.watermark.idleTimeoutMs, windows: [{ sizeMs: 60_000, slideMs: 60_000 }] });
    for (const { eventId, eventTime, row } of rows) {
      expect(dedup.admit(eventId, String(row['partition_id']), eventTime, row['enqueued_time'] as number)).toBe('new');
      expect(dedup.admit(eventId, String(row['partition_id']), eventTime, row['enqueued_time'] as number)).toBe('duplicate');
    }
    expect(dedup.remembered).toBe(rows.length);
  });
});

describe('silver over real Event Hubs Capture files', () => {
  it('quarantines the plain-text bodies of the 2018 capture as unknown_shape, keeping bytes and lineage', async () => {
    const spec = parseSpec(fs.readFileSync(path.join(REPO, 'examples/sensors.spec.yaml'), 'utf8'), 'sensors.spec.yaml');
    const events = await captureEvents('usql-EHC.avro');
    const outcomes = events.map(compileSilverTransform(spec));
    expect(outcomes).toHaveLength(677);
    expect(outcomes.every((o) => o.kind === 'quarantine' && o.reason === 'unknown_shape')).toBe(true);
    expect(outcomes[0].row).toMatchObject({
      raw_body: Buffer.from('Message 1'),
      event_id: null,
      enqueued_time: Date.UTC(2018, 11, 7, 10, 22, 49),
      enqueued_date: '2018-12-07',
      sequence_number: 4141,
      capture_file: 'usql-EHC.avro',
      source_row: null,
    });
    expect(outcomes[0].row['message']).toMatch(/^the body is not valid JSON \(.*\): "Message 1"$/);
  });

  it('reads the JSON body of the 2016 capture, taking the event id from the id column', async () => {
    const spec = parseSpec(
      `version: 1
name: bluefrog
source: { name: bluefrog, columns: [{ name: field1, type: string }, { name: field2, type: string }, { name: at, type: timestamp }] }
eventTime: { column: at }
eventId: { column: field1 }
partitionKey: field1
groupBy: []
windows: [{ name: w, type: tumbling, size: 1m }]
aggregates: [{ name: n, fn: count }]
watermark: { delay: 0s }
`,
      'bluefrog.yaml',
    );
    const [event] = await captureEvents('bluefrog-2016-archive.avro');
    const outcome = compileSilverTransform(spec)(event);
    expect(outcome.kind === 'quarantine' && outcome.reason).toBe('missing_event_time');
    expect(outcome.row['event_id']).toBe('value1');
    const withTime = compileSilverTransform(spec)({ ...event, body: Buffer.from(JSON.stringify({ ...JSON.parse(String(event.body)), at: '2016-11-16T16:44:00Z' })) });
    expect(withTime.kind === 'row' && withTime.row).toMatchObject({ field1: 'value1', field2: 'value2', event_id: 'value1', event_date: '2016-11-16', shard: 0 });
  });
});

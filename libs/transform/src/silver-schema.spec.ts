import type { ColumnSpec, EventIdSpec, EventTimeSpec } from '@pipeline/contracts';
import { quarantineSchema, ReservedColumnError, silverSchema, type SilverSchemaSpec } from './silver-schema';

function spec(columns: ColumnSpec[], identity: { eventId?: EventIdSpec; eventTime?: Partial<EventTimeSpec> } = {}): SilverSchemaSpec {
  return {
    name: 'sensor-readings',
    source: { name: 'sensors', format: 'csv', delimiter: ',', header: true, columns },
    eventId: identity.eventId ?? { kind: 'derived' },
    eventTime: { column: 'ts', format: 'iso8601', timeZone: 'UTC', ...identity.eventTime },
  };
}

describe('silverSchema', () => {
  it('lists the spec columns with their types, then event id, event time, event date and lineage', () => {
    const schema = silverSchema(
      spec([
        { name: 'reading_id', type: 'string', nullable: false },
        { name: 'count', type: 'long', nullable: false },
        { name: 'temperature', type: 'double', nullable: true },
        { name: 'ok', type: 'boolean', nullable: true },
        { name: 'ts', type: 'timestamp', nullable: false },
      ]),
    );
    expect(schema).toEqual({
      columns: [
        { name: 'reading_id', type: 'string', nullable: false },
        { name: 'count', type: 'long', nullable: false },
        { name: 'temperature', type: 'double', nullable: true },
        { name: 'ok', type: 'boolean', nullable: true },
        { name: 'ts', type: 'timestamp', nullable: false },
        { name: 'event_id', type: 'string', nullable: false },
        { name: 'event_time', type: 'timestamp', nullable: false },
        { name: 'event_date', type: 'date', nullable: false },
        { name: 'enqueued_time', type: 'timestamp', nullable: false },
        { name: 'partition_id', type: 'string', nullable: false },
        { name: 'sequence_number', type: 'long', nullable: false },
        { name: 'capture_file', type: 'string', nullable: false },
        { name: 'source_row', type: 'long', nullable: true },
        { name: 'shard', type: 'integer', nullable: false },
      ],
      partitionBy: ['event_date'],
    });
  });

  it('writes the event id and event time columns named event_id and event_time once, as its own columns', () => {
    const schema = silverSchema(
      spec(
        [
          { name: 'event_id', type: 'long', nullable: false },
          { name: 'device', type: 'string', nullable: false },
          { name: 'event_time', type: 'string', nullable: false },
        ],
        { eventId: { kind: 'column', column: 'event_id' }, eventTime: { column: 'event_time', format: 'yyyy-MM-dd HH:mm:ss' } },
      ),
    );
    expect(schema.columns.map((c) => c.name)).toEqual([
      'device',
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
    expect(schema.columns.find((c) => c.name === 'event_id')?.type).toBe('string');
    expect(schema.columns.find((c) => c.name === 'event_time')?.type).toBe('timestamp');
  });

  it('rejects spec columns named like the columns silver or the late table add, in any case, naming each of them and the fix', () => {
    const clash = spec([
      { name: 'ts', type: 'timestamp', nullable: false },
      { name: 'event_time', type: 'timestamp', nullable: false },
      { name: 'value', type: 'double', nullable: false },
      { name: 'Shard', type: 'long', nullable: false },
      { name: 'late_windows', type: 'string', nullable: false },
    ]);
    expect(() => silverSchema(clash)).toThrow(ReservedColumnError);
    expect(() => silverSchema(clash)).toThrow(
      new RegExp(
        [
          '^pipeline "sensor-readings": 3 names clash with the columns the pipeline writes:',
          '  - source\\.columns\\[1\\]\\.name: expected this column as the event time \\(eventTime: \\{ column: event_time \\}\\), .*, found "event_time"',
          '  - source\\.columns\\[3\\]\\.name: expected a name other than "shard" in any case: silver adds .*, found "Shard"',
          '  - source\\.columns\\[4\\]\\.name: expected a name other than "late_windows" in any case: the late table adds .*, found "late_windows"$',
        ].join('\n'),
      ),
    );
  });

  it('rejects two columns whose names differ only in case', () => {
    const clash = spec([
      { name: 'ts', type: 'timestamp', nullable: false },
      { name: 'v', type: 'double', nullable: false },
      { name: 'V', type: 'double', nullable: false },
    ]);
    expect(() => silverSchema(clash)).toThrow(/source\.columns\[2\]\.name: expected a name that differs from the column "v" in more than case/);
  });

  it('rejects a column named __proto__, which a row object cannot hold', () => {
    expect(() => silverSchema(spec([{ name: '__proto__', type: 'string', nullable: false }]))).toThrow(ReservedColumnError);
  });

  it('returns a fresh schema each time, so callers cannot change the shared columns', () => {
    const first = silverSchema(spec([{ name: 'a', type: 'string', nullable: false }]));
    first.columns[1].nullable = true;
    expect(silverSchema(spec([{ name: 'a', type: 'string', nullable: false }])).columns[1].nullable).toBe(false);
  });
});

describe('quarantineSchema', () => {
  it('keeps the reason, message, raw body, event id and lineage, partitioned by enqueued date', () => {
    expect(quarantineSchema()).toEqual({
      columns: [
        { name: 'reason', type: 'string', nullable: false },
        { name: 'message', type: 'string', nullable: false },
        { name: 'raw_body', type: 'binary', nullable: true },
        { name: 'event_id', type: 'string', nullable: true },
        { name: 'enqueued_time', type: 'timestamp', nullable: false },
        { name: 'enqueued_date', type: 'date', nullable: false },
        { name: 'partition_id', type: 'string', nullable: false },
        { name: 'sequence_number', type: 'long', nullable: false },
        { name: 'capture_file', type: 'string', nullable: false },
        { name: 'source_row', type: 'long', nullable: true },
      ],
      partitionBy: ['enqueued_date'],
    });
  });
});

import type { ColumnSpec, PipelineSpec } from '@pipeline/contracts';
import { quarantineSchema, ReservedColumnError, silverSchema } from './silver-schema';

function spec(columns: ColumnSpec[]): Pick<PipelineSpec, 'name' | 'source'> {
  return { name: 'sensor-readings', source: { name: 'sensors', format: 'csv', delimiter: ',', header: true, columns } };
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

  it('rejects spec columns named like the columns silver adds, naming each of them and the fix', () => {
    const clash = spec([
      { name: 'event_time', type: 'timestamp', nullable: false },
      { name: 'value', type: 'double', nullable: false },
      { name: 'shard', type: 'long', nullable: false },
    ]);
    expect(() => silverSchema(clash)).toThrow(ReservedColumnError);
    expect(() => silverSchema(clash)).toThrow(
      /^pipeline "sensor-readings": source columns "event_time", "shard" clash with the columns silver adds .* Rename the column in source\.columns/,
    );
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

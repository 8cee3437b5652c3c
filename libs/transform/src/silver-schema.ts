/**
 * The lake schemas of the silver and quarantine tables.
 *
 * Silver: the spec's columns in spec order (types map one to one), then the columns silver adds:
 * `event_id`, `event_time`, `event_date` (the partition column, UTC date of `event_time`) and the
 * lineage `enqueued_time`, `partition_id`, `sequence_number`, `capture_file`, `source_row`, `shard`.
 * A spec column may not take one of the added names: the schema would have the name twice.
 *
 * Quarantine: one row per event set aside, partitioned by the UTC date it was enqueued (an event in
 * quarantine may have no readable event time).
 */
import type { ColumnType, PipelineSpec, TableColumn, TableColumnType, TableSchema } from '@pipeline/contracts';

/** The columns silver adds after the spec's columns, in table order. */
export const SILVER_ADDED_COLUMNS: readonly Readonly<TableColumn>[] = [
  { name: 'event_id', type: 'string', nullable: false },
  { name: 'event_time', type: 'timestamp', nullable: false },
  { name: 'event_date', type: 'date', nullable: false },
  { name: 'enqueued_time', type: 'timestamp', nullable: false },
  { name: 'partition_id', type: 'string', nullable: false },
  { name: 'sequence_number', type: 'long', nullable: false },
  { name: 'capture_file', type: 'string', nullable: false },
  { name: 'source_row', type: 'long', nullable: true },
  { name: 'shard', type: 'integer', nullable: false },
];

export const SILVER_PARTITION_COLUMN = 'event_date';

const QUARANTINE_COLUMNS: readonly Readonly<TableColumn>[] = [
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
];

export const QUARANTINE_PARTITION_COLUMN = 'enqueued_date';

/** Names a row object cannot hold as plain keys: assigning them changes the object instead. */
const OBJECT_RESERVED_NAMES: readonly string[] = ['__proto__'];

/** A spec column takes a name silver needs for its own columns. */
export class ReservedColumnError extends Error {
  override readonly name = 'ReservedColumnError';
  constructor(
    readonly pipeline: string,
    readonly columns: readonly string[],
  ) {
    super(
      `pipeline "${pipeline}": source column${columns.length === 1 ? '' : 's'} ${columns.map((c) => JSON.stringify(c)).join(', ')} ` +
        `clash${columns.length === 1 ? 'es' : ''} with the columns silver adds (${SILVER_ADDED_COLUMNS.map((c) => c.name).join(', ')}) or a reserved name (${OBJECT_RESERVED_NAMES.join(', ')}). ` +
        'Rename the column in source.columns (and in the CSV header).',
    );
  }
}

const COLUMN_TYPE_TO_TABLE: Readonly<Record<ColumnType, TableColumnType>> = {
  string: 'string',
  long: 'long',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'timestamp',
};

/** @throws ReservedColumnError when a spec column takes an added or reserved name. */
export function assertNoReservedColumns(spec: Pick<PipelineSpec, 'name' | 'source'>): void {
  const reserved = new Set([...SILVER_ADDED_COLUMNS.map((c) => c.name), ...OBJECT_RESERVED_NAMES]);
  const clashes = spec.source.columns.map((c) => c.name).filter((name) => reserved.has(name));
  if (clashes.length > 0) throw new ReservedColumnError(spec.name, clashes);
}

/**
 * The silver table schema of a spec.
 * @throws ReservedColumnError when a spec column takes an added or reserved name.
 */
export function silverSchema(spec: Pick<PipelineSpec, 'name' | 'source'>): TableSchema {
  assertNoReservedColumns(spec);
  return {
    columns: [
      ...spec.source.columns.map((c): TableColumn => ({ name: c.name, type: COLUMN_TYPE_TO_TABLE[c.type], nullable: c.nullable })),
      ...SILVER_ADDED_COLUMNS.map((c) => ({ ...c })),
    ],
    partitionBy: [SILVER_PARTITION_COLUMN],
  };
}

/** The quarantine table schema (the same for every spec). */
export function quarantineSchema(): TableSchema {
  return { columns: QUARANTINE_COLUMNS.map((c) => ({ ...c })), partitionBy: [QUARANTINE_PARTITION_COLUMN] };
}

/**
 * The lake schemas of the silver and quarantine tables.
 *
 * Silver: the spec's columns in spec order (types map one to one), then the columns silver adds:
 * `event_id`, `event_time`, `event_date` (the partition column, UTC date of `event_time`) and the
 * lineage `enqueued_time`, `partition_id`, `sequence_number`, `capture_file`, `source_row`, `shard`.
 * Which names a spec may use is decided once, in `findNameClashes` (libs/contracts, run by
 * `parseSpec`): a spec column may not take an added name, except a column named exactly `event_id`
 * that is the spec's event id column, or exactly `event_time` that is its event time column. Silver
 * writes such a column once, as its own: `event_id` holds the id as text, `event_time` the parsed
 * event time (a timestamp, whatever the source column's type and format).
 *
 * Quarantine: one row per event set aside, partitioned by the UTC date it was enqueued (an event in
 * quarantine may have no readable event time).
 */
import {
  findNameClashes,
  identityColumnsOf,
  SILVER_ADDED_COLUMNS,
  specNamesOf,
  type ColumnType,
  type NameClash,
  type PipelineSpec,
  type TableColumn,
  type TableColumnType,
  type TableSchema,
  silverOwnColumnType,
} from '@pipeline/contracts';

export { SILVER_ADDED_COLUMNS };

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

/** The spec the silver schema depends on: its columns, and which of them are the event id and event time. */
export type SilverSchemaSpec = Pick<PipelineSpec, 'name' | 'source' | 'eventId' | 'eventTime'> & Partial<Pick<PipelineSpec, 'groupBy' | 'aggregates'>>;

/**
 * A spec whose names clash in the pipeline's tables. `parseSpec` refuses such specs, with line
 * and column; this is for a spec built in code.
 */
export class ReservedColumnError extends Error {
  override readonly name = 'ReservedColumnError';
  constructor(
    readonly pipeline: string,
    readonly clashes: readonly NameClash[],
  ) {
    super(
      `pipeline "${pipeline}": ${clashes.length} name${clashes.length === 1 ? '' : 's'} clash with the columns the pipeline writes:\n` +
        clashes.map((c) => `  - ${c.path}: expected ${c.expected}, found ${c.found}`).join('\n'),
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

/** @throws ReservedColumnError when a spec name clashes in a table (see `findNameClashes`). */
export function assertNoReservedColumns(spec: SilverSchemaSpec): void {
  const clashes = findNameClashes(specNamesOf(spec));
  if (clashes.length > 0) throw new ReservedColumnError(spec.name, clashes);
}

/**
 * The silver table schema of a spec: a source column silver writes as its own `event_id` or
 * `event_time` is not listed twice.
 * @throws ReservedColumnError when a spec name clashes in a table (see `findNameClashes`).
 */
export function silverSchema(spec: SilverSchemaSpec): TableSchema {
  assertNoReservedColumns(spec);
  const identity = identityColumnsOf(spec);
  return {
    columns: [
      ...spec.source.columns
        .filter((c) => silverOwnColumnType(c.name, identity) === undefined)
        .map((c): TableColumn => ({ name: c.name, type: COLUMN_TYPE_TO_TABLE[c.type], nullable: c.nullable })),
      ...SILVER_ADDED_COLUMNS.map((c) => ({ ...c })),
    ],
    partitionBy: [SILVER_PARTITION_COLUMN],
  };
}

/** The quarantine table schema (the same for every spec). */
export function quarantineSchema(): TableSchema {
  return { columns: QUARANTINE_COLUMNS.map((c) => ({ ...c })), partitionBy: [QUARANTINE_PARTITION_COLUMN] };
}

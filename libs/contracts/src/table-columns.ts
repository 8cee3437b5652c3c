/**
 * The columns the pipeline adds to the names a spec chooses, per Delta table, and the one check
 * that the spec's names fit beside them. `parseSpec` runs it, so `pipeline validate`, `pipeline
 * start` and every service at start-up refuse the same specs, with the same messages.
 *
 * What ends up in each table:
 * - silver: the source columns, then `SILVER_ADDED_COLUMNS`;
 * - late: the silver columns, then `LATE_ADDED_COLUMNS`;
 * - gold: `GOLD_WINDOW_COLUMNS`, the groupBy columns, the aggregates, `GOLD_LINEAGE_COLUMNS`.
 * (The quarantine table has fixed columns; serving documents nest keys and aggregates apart.)
 *
 * Invariants: the names in one table are unique without regard to case (Spark, Databricks, Fabric
 * and most SQL engines resolve Delta column names ignoring case: to them `v` and `V` are one
 * column). The only exception to "a spec name may not be an added name" is a source column named
 * exactly `event_id` that is the spec's event id column, or exactly `event_time` that is its event
 * time column: it is silver's column of that name, written once. Silver's `event_id` holds the id
 * as text (as the producer sends it) and `event_time` the parsed event time, a timestamp.
 */
import type { TableColumn } from './table.types';
import type { ColumnType, PipelineSpec } from './spec.types';

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

/** The columns gold adds after the silver columns of a late row. */
export const LATE_ADDED_COLUMNS: readonly Readonly<TableColumn>[] = [
  { name: 'late_windows', type: 'string', nullable: false },
  { name: 'late_threshold', type: 'timestamp', nullable: false },
  { name: 'gold_batch', type: 'long', nullable: false },
];

/** The columns every gold row starts with, before the grouping keys. */
export const GOLD_WINDOW_COLUMNS: readonly Readonly<TableColumn>[] = [
  { name: 'window', type: 'string', nullable: false },
  { name: 'window_start', type: 'timestamp', nullable: false },
  { name: 'window_end', type: 'timestamp', nullable: false },
];

/** The columns every gold row ends with, after the aggregates. */
export const GOLD_LINEAGE_COLUMNS: readonly Readonly<TableColumn>[] = [
  { name: 'shard', type: 'integer', nullable: false },
  { name: 'gold_batch', type: 'long', nullable: false },
  { name: 'window_date', type: 'date', nullable: false },
];

/** Names a row object cannot hold as plain keys: assigning them changes the object instead. */
export const OBJECT_RESERVED_NAMES: readonly string[] = ['__proto__'];

/** The spec's event id column (none for derived ids) and event time column, as far as they are known. */
export interface IdentityColumns {
  eventIdColumn?: string;
  eventTimeColumn?: string;
}

export function identityColumnsOf(spec: Pick<PipelineSpec, 'eventId' | 'eventTime'>): IdentityColumns {
  return { eventIdColumn: spec.eventId.kind === 'column' ? spec.eventId.column : undefined, eventTimeColumn: spec.eventTime.column };
}

/**
 * When silver writes the source column `name` as its own `event_id` or `event_time` (the column is
 * named exactly so and is the spec's event id or event time column), the type it has there: the id
 * as text, the event time as a timestamp. `undefined` for every other column.
 */
export function silverOwnColumnType(name: string, identity: IdentityColumns): ColumnType | undefined {
  if (name === 'event_id' && identity.eventIdColumn === name) return 'string';
  if (name === 'event_time' && identity.eventTimeColumn === name) return 'timestamp';
  return undefined;
}

/** The type of a source column in the silver table, and so for gold: its declared type, or its type as silver's own column. */
export function silverColumnType(spec: Pick<PipelineSpec, 'source' | 'eventId' | 'eventTime'>, name: string): ColumnType | undefined {
  return silverOwnColumnType(name, identityColumnsOf(spec)) ?? spec.source.columns.find((c) => c.name === name)?.type;
}

/** A name in the spec and where it is (the path problems are reported at). */
export interface SpecName {
  name: string;
  /** e.g. `source.columns[2].name`, `groupBy[0]`, `aggregates[1].name`. */
  path: string;
}

/** The names a spec puts in the pipeline's tables, as far as they could be read. */
export interface SpecNames extends IdentityColumns {
  /** Source columns, each name once. */
  columns: readonly SpecName[];
  groupBy: readonly SpecName[];
  /** Aggregate names, each once. */
  aggregates: readonly SpecName[];
}

/** A name that clashes with another in one of the pipeline's tables, and how to fix it. */
export interface NameClash {
  path: string;
  expected: string;
  found: string;
}

/** The names of a whole spec, with their paths in the spec file. */
export function specNamesOf(spec: Pick<PipelineSpec, 'source' | 'eventId' | 'eventTime'> & Partial<Pick<PipelineSpec, 'groupBy' | 'aggregates'>>): SpecNames {
  return {
    ...identityColumnsOf(spec),
    columns: spec.source.columns.map((c, i) => ({ name: c.name, path: `source.columns[${i}].name` })),
    groupBy: (spec.groupBy ?? []).map((name, i) => ({ name, path: `groupBy[${i}]` })),
    aggregates: (spec.aggregates ?? []).map((a, i) => ({ name: a.name, path: `aggregates[${i}].name` })),
  };
}

const RENAME_COLUMN = 'rename the column in source.columns and in the CSV header';

/**
 * Every spec name that clashes, ignoring case, with another name of a table it ends up in, each
 * with the fix. A groupBy entry is not reported again when its source column already was.
 */
export function findNameClashes(names: SpecNames): NameClash[] {
  const clashes: NameClash[] = [];
  const silverAdded = byLowerName(SILVER_ADDED_COLUMNS);
  const lateAdded = byLowerName(LATE_ADDED_COLUMNS);
  const goldFixed = byLowerName([...GOLD_WINDOW_COLUMNS, ...GOLD_LINEAGE_COLUMNS]);
  const silverList = nameList(SILVER_ADDED_COLUMNS);
  const lateList = nameList(LATE_ADDED_COLUMNS);
  const goldList = nameList([...GOLD_WINDOW_COLUMNS, ...GOLD_LINEAGE_COLUMNS]);

  const clashingColumns = new Set<string>();
  const columnsSeen = new Map<string, string>();
  for (const { name, path } of names.columns) {
    const lower = name.toLowerCase();
    const own = silverOwnColumnType(name, names) !== undefined;
    let expected: string | undefined;
    const earlier = columnsSeen.get(lower);
    if (OBJECT_RESERVED_NAMES.includes(name)) expected = `a name other than "${name}", which a row object cannot hold as a column`;
    else if (earlier !== undefined) expected = `a name that differs from the column "${earlier}" in more than case (${caseReason(earlier, name)}); ${RENAME_COLUMN}`;
    else if (!own && (lower === 'event_id' || lower === 'event_time')) expected = silverIdentityFix(lower, name);
    else if (!own && silverAdded.has(lower)) {
      expected = `a name other than "${silverAdded.get(lower)}" in any case: silver adds a column of that name to every row (${silverList}); ${RENAME_COLUMN}`;
    } else if (lateAdded.has(lower)) {
      expected = `a name other than "${lateAdded.get(lower)}" in any case: the late table adds a column of that name to the silver columns (${lateList}); ${RENAME_COLUMN}`;
    }
    if (earlier === undefined) columnsSeen.set(lower, name);
    if (expected !== undefined) {
      clashes.push({ path, expected, found: JSON.stringify(name) });
      clashingColumns.add(name);
    }
  }

  const groupSeen = new Map<string, string>();
  for (const { name, path } of names.groupBy) {
    const lower = name.toLowerCase();
    groupSeen.set(lower, name);
    if (clashingColumns.has(name)) continue;
    if (goldFixed.has(lower)) {
      clashes.push({
        path,
        expected: `a grouping column not named "${goldFixed.get(lower)}" in any case: every gold row has a column of that name (${goldList}); group by another column, or ${RENAME_COLUMN}`,
        found: JSON.stringify(name),
      });
    }
  }

  const aggregatesSeen = new Map<string, string>();
  for (const { name, path } of names.aggregates) {
    const lower = name.toLowerCase();
    const earlier = aggregatesSeen.get(lower);
    const group = groupSeen.get(lower);
    let expected: string | undefined;
    if (OBJECT_RESERVED_NAMES.includes(name)) expected = `a name other than "${name}", which a row object cannot hold as a column`;
    else if (goldFixed.has(lower)) expected = `a name other than "${goldFixed.get(lower)}" in any case: every gold row has a column of that name (${goldList})`;
    else if (group !== undefined) expected = `a name different from the groupBy column "${group}" in any case (both are gold columns)`;
    else if (earlier !== undefined) expected = `a name that differs from the aggregate "${earlier}" in more than case (${caseReason(earlier, name)})`;
    if (earlier === undefined) aggregatesSeen.set(lower, name);
    if (expected !== undefined) clashes.push({ path, expected, found: JSON.stringify(name) });
  }
  return clashes;
}

function silverIdentityFix(lower: 'event_id' | 'event_time', name: string): string {
  const what = lower === 'event_id' ? 'event id' : 'event time';
  const key = lower === 'event_id' ? 'eventId' : 'eventTime';
  const exact = name === lower ? '' : ` named exactly "${lower}"`;
  return `this column as the ${what}${exact} (${key}: { column: ${lower} }), which silver writes as its own "${lower}" column, or a name other than "${lower}" in any case (${RENAME_COLUMN})`;
}

function caseReason(a: string, b: string): string {
  return `Delta readers that ignore case, like Spark, Databricks and Fabric, cannot tell "${a}" and "${b}" apart`;
}

function byLowerName(columns: readonly Readonly<TableColumn>[]): Map<string, string> {
  return new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
}

function nameList(columns: readonly Readonly<TableColumn>[]): string {
  return [...new Set(columns.map((c) => c.name))].join(', ');
}

/**
 * Lake table schemas, as Delta Lake (Spark) types. Rows are plain objects keyed by column name:
 * `date` values are `YYYY-MM-DD` strings, `long` and `integer` are numbers (safe integers), `binary`
 * is a Buffer, and `timestamp` values are stored as microseconds (Parquet INT64 TIMESTAMP(MICROS),
 * Spark's precision) and held in rows in one of two forms (see lake-timestamp.ts):
 * - a number: epoch milliseconds, for an instant that is a whole millisecond;
 * - a bigint: epoch microseconds, only for an instant with digits below the millisecond.
 *
 * Why two forms rather than one: epoch microseconds of the years 0001–9999 reach ±2.5e17, beyond
 * the 2^53 a number holds exactly, so exact microseconds need a bigint; but the event-time engine,
 * gold, the late table and the serving store work on millisecond numbers (windows are whole
 * milliseconds), and every row written before microseconds were kept holds numbers. Keeping
 * numbers for whole milliseconds leaves those paths and their bytes as they were, and costs a
 * bigint only for the rows that need one. Writers accept either form for any instant (the file
 * holds the same microseconds); readers give milliseconds, rounded down, unless asked for
 * microseconds, which they then give in the canonical form.
 */
export type TableColumnType = 'string' | 'long' | 'integer' | 'double' | 'boolean' | 'timestamp' | 'date' | 'binary';

export interface TableColumn {
  name: string;
  type: TableColumnType;
  nullable: boolean;
}

export interface TableSchema {
  columns: TableColumn[];
  /** Hive-style partition columns, in folder order (each must be a column). */
  partitionBy: string[];
}

/** A bigint is only ever a `timestamp` value (epoch microseconds). */
export type TableValue = string | number | bigint | boolean | Buffer | null;
export type TableRow = Record<string, TableValue>;

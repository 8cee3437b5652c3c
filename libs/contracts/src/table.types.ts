/**
 * Lake table schemas, as Delta Lake (Spark) types. Rows are plain objects keyed by column name:
 * `timestamp` values are epoch milliseconds (stored as microseconds), `date` values are
 * `YYYY-MM-DD` strings, `long` and `integer` are numbers (safe integers), `binary` is a Buffer.
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

export type TableValue = string | number | boolean | Buffer | null;
export type TableRow = Record<string, TableValue>;

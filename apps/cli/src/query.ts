/**
 * `pipeline query "<SQL>"`: SQL over the lake's Delta tables on this machine, with DuckDB. Every
 * Delta table under `tables/` (silver, quarantine, gold, late, and a replay's) is a view named by its
 * folder, made of the data files of the table's current snapshot, so a query sees exactly what a
 * Delta reader sees: files a commit removed are not read, files no commit added (an interrupted
 * batch's) are not either. Partition columns, which Delta keeps in the log and not in the files,
 * come from each file's partition values, typed as the table's schema says.
 *
 * Only the embedded lake (a folder): on Azure the same tables are open to Fabric, Databricks or
 * DuckDB's own Azure extension.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { decodeAddPath, DeltaLogError, readDeltaSnapshot, type DeltaSnapshot, type SparkDataType } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';

export type QueryFormat = 'table' | 'csv' | 'json';

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  /** The views made, by name, with the table version each reads. */
  tables: { name: string; version: number; files: number }[];
  /** The tables whose log could not be read (no view), and why: the others are queried all the same. */
  unreadable: { name: string; problem: string }[];
}

export class QueryError extends Error {}

const TABLES = 'tables';

/** A Spark type as DuckDB spells it; nested types stay as the files hold them. */
function duckType(type: SparkDataType): string | undefined {
  if (typeof type !== 'string') return undefined;
  const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(type);
  if (decimal) return `DECIMAL(${decimal[1]}, ${decimal[2]})`;
  const types: Record<string, string> = {
    string: 'VARCHAR',
    long: 'BIGINT',
    integer: 'INTEGER',
    short: 'SMALLINT',
    byte: 'TINYINT',
    double: 'DOUBLE',
    float: 'FLOAT',
    boolean: 'BOOLEAN',
    binary: 'BLOB',
    date: 'DATE',
    timestamp: 'TIMESTAMPTZ',
    timestamp_ntz: 'TIMESTAMP',
  };
  return types[type];
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const identifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The SELECT a table's view is: its files grouped by partition values, each group's values as typed columns. */
export function viewSql(lakeRoot: string, tableRoot: string, snapshot: DeltaSnapshot): string {
  const typeOf = new Map(snapshot.schema.fields.map((f) => [f.name, f.type]));
  const partitionType = (column: string) => duckType(typeOf.get(column) ?? 'string') ?? 'VARCHAR';
  if (snapshot.files.length === 0) {
    const columns = snapshot.schema.fields.map((f) => `CAST(NULL AS ${duckType(f.type) ?? 'VARCHAR'}) AS ${identifier(f.name)}`);
    return `SELECT ${columns.join(', ')} WHERE false`;
  }
  const groups = new Map<string, { values: Record<string, string | null>; files: string[] }>();
  for (const file of snapshot.files) {
    const values = Object.fromEntries(snapshot.partitionColumns.map((c) => [c, file.partitionValues[c] ?? null]));
    const key = JSON.stringify(values);
    const group = groups.get(key) ?? { values, files: [] };
    group.files.push(path.join(lakeRoot, tableRoot, decodeAddPath(file.path)));
    groups.set(key, group);
  }
  const selects = [...groups.values()].map(({ values, files }) => {
    const partitions = snapshot.partitionColumns.map((c) => {
      const value = values[c];
      return `${value === null || value === undefined ? 'NULL' : literal(value)}::${partitionType(c)} AS ${identifier(c)}`;
    });
    const source = `read_parquet([${files.map(literal).join(', ')}], union_by_name = true, hive_partitioning = false)`;
    return `SELECT *${partitions.length > 0 ? `, ${partitions.join(', ')}` : ''} FROM ${source}`;
  });
  return selects.join('\nUNION ALL BY NAME\n');
}

/** The Delta tables under `tables/`: its folders that hold a log, found without listing their data files. */
async function deltaTables(lake: Lake, lakeRoot: string): Promise<string[]> {
  let folders: string[];
  try {
    folders = (await readdir(path.join(lakeRoot, TABLES), { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const tables: string[] = [];
  for (const name of folders.sort()) {
    for await (const _entry of lake.list(`${TABLES}/${name}/_delta_log/`, { limit: 1 })) {
      tables.push(name);
      break;
    }
  }
  return tables;
}

export async function queryLake(lake: Lake, lakeRoot: string, sql: string): Promise<QueryResult> {
  let DuckDBInstance: typeof import('@duckdb/node-api').DuckDBInstance;
  try {
    ({ DuckDBInstance } = await import('@duckdb/node-api'));
  } catch {
    throw new QueryError('pipeline query runs on DuckDB (@duckdb/node-api), which is not installed here: run `npm ci` in the repository (it is a development dependency).');
  }
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const tables: QueryResult['tables'] = [];
    const unreadable: QueryResult['unreadable'] = [];
    for (const name of await deltaTables(lake, lakeRoot)) {
      const root = `${TABLES}/${name}`;
      let snapshot: DeltaSnapshot;
      try {
        snapshot = await readDeltaSnapshot(lake, root);
      } catch (error) {
        // One damaged table leaves the others queryable; a query naming it says why it is not there.
        if (!(error instanceof DeltaLogError)) throw error;
        unreadable.push({ name, problem: error.message });
        continue;
      }
      await connection.run(`CREATE VIEW ${identifier(name)} AS ${viewSql(lakeRoot, root, snapshot)}`);
      tables.push({ name, version: snapshot.version, files: snapshot.files.length });
    }
    let reader;
    try {
      reader = await connection.runAndReadAll(sql);
    } catch (error) {
      const names = tables.map((t) => t.name).join(', ') || 'none yet';
      const missing = unreadable.map((t) => `\nTable ${t.name} cannot be read: ${t.problem}`).join('');
      throw new QueryError(`${(error as Error).message}${missing}\nTables: ${names} (run \`pipeline query "describe <table>"\` for its columns).`);
    }
    return { columns: reader.columnNames(), rows: reader.getRowsJson() as unknown[][], tables, unreadable };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function formatQueryResult(result: QueryResult, format: QueryFormat, maxRows = Number.POSITIVE_INFINITY): string {
  switch (format) {
    case 'json':
      return result.rows.map((row) => `${JSON.stringify(Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null])))}\n`).join('');
    case 'csv':
      return [result.columns, ...result.rows.map((row) => row.map(cellText))].map((cells) => `${cells.map((c) => csvField(String(c))).join(',')}\n`).join('');
    case 'table': {
      const shown = result.rows.slice(0, maxRows).map((row) => row.map(cellText));
      const widths = result.columns.map((c, i) => Math.min(60, Math.max(c.length, ...shown.map((r) => (r[i] ?? '').length))));
      const line = (cells: string[]) =>
        cells
          .map((c, i) => {
            const width = widths[i] as number;
            const text = c.length > width ? `${c.slice(0, width - 1)}…` : c;
            return text.padEnd(width);
          })
          .join('  ')
          .trimEnd();
      const more = result.rows.length > shown.length ? `… ${result.rows.length - shown.length} more rows (--format csv or json prints them all)\n` : '';
      return `${[line(result.columns), line(widths.map((w) => '-'.repeat(w))), ...shown.map(line)].join('\n')}\n${more}(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})\n`;
    }
  }
}

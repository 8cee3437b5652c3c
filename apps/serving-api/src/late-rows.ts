/**
 * Late rows from the late Delta table (`tables/late`), which gold writes: rows that reached a
 * window after the watermark closed it. Until gold has written it the table does not exist, which
 * is an empty answer, not an error. Rows are filtered on `event_time` (epoch ms) and ordered by it;
 * timestamps stay epoch ms and binary values become base64 so a row is plain JSON.
 */
import { timestampMillis, type TableRow, type TableValue } from '@pipeline/contracts';
import { readDeltaRows, readDeltaSnapshot } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';

export const LATE_TABLE = 'tables/late';
export const EVENT_TIME = 'event_time';

export interface LateQuery {
  /** event_time ≥ from (epoch ms). */
  from?: number;
  /** event_time < to. */
  to?: number;
  limit: number;
}

export interface LateRows {
  rows: Record<string, string | number | boolean | null>[];
  truncated: boolean;
  tableVersion: number | null;
}

export async function readLateRows(lake: Lake, query: LateQuery, table = LATE_TABLE): Promise<LateRows> {
  if (!(await hasLogEntries(lake, table))) return { rows: [], truncated: false, tableVersion: null };
  const snapshot = await readDeltaSnapshot(lake, table);
  const matching: TableRow[] = [];
  for await (const row of readDeltaRows(lake, table, { version: snapshot.version })) {
    const time = row[EVENT_TIME];
    if (typeof time !== 'number') continue;
    if (query.from !== undefined && time < query.from) continue;
    if (query.to !== undefined && time >= query.to) continue;
    matching.push(row);
  }
  matching.sort((a, b) => (a[EVENT_TIME] as number) - (b[EVENT_TIME] as number));
  return { rows: matching.slice(0, query.limit).map(toJsonRow), truncated: matching.length > query.limit, tableVersion: snapshot.version };
}

async function hasLogEntries(lake: Lake, table: string): Promise<boolean> {
  for await (const entry of lake.list(`${table}/_delta_log/`, { limit: 1 })) return entry !== undefined;
  return false;
}

function toJsonRow(row: TableRow): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [column, value] of Object.entries(row)) out[column] = toJsonValue(value);
  return out;
}

function toJsonValue(value: TableValue): string | number | boolean | null {
  // readDeltaRows gives timestamps as epoch ms; a bigint (epoch µs) would only come if asked for.
  if (typeof value === 'bigint') return timestampMillis(value);
  return Buffer.isBuffer(value) ? value.toString('base64') : value;
}

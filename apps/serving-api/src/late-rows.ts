/**
 * Late rows from the late Delta table (`tables/late`), which gold writes: rows that reached a
 * window after the watermark closed it. Until gold has written it the table does not exist, which
 * is an empty answer, not an error. Timestamps stay epoch ms and binary values become base64 so a
 * row is plain JSON.
 *
 * An answer costs what it returns, not the table's size:
 * - The snapshot stays in memory and each request reads only the log entries committed since the
 *   last one (`DeltaSnapshotFollower`); each file's event_time bounds (from its Delta stats) and key
 *   filter (from its `add.tags`, see key-filter.ts) are parsed once per file. The whole log is
 *   replayed once, when the API starts (`warm`): about 0.1 ms per commit, as checkpoints are not read.
 * - Files are visited in order of their smallest event_time, skipping those outside the time range,
 *   before the continuation, or whose key filter or key column bounds rule the key out. Once `limit`
 *   rows are held and the next file's smallest event_time is past the last of them, the page is
 *   final; the visit stops there as soon as one more matching row is known to exist (a file whose
 *   stats show it holds one in range, when no key is asked). So `limit=1` opens one file (more only
 *   when files tie on their first event_time, or a key's rows are sparse).
 * - A visited file decodes event_time and the key columns first; whole rows are decoded only for
 *   the rows that made the answer so far. Memory holds one file and `limit + 1` rows.
 *
 * Order: event_time, then the file's path in the table, then the row's place in its file. The order
 * is total, so a continuation (the last row's position) resumes exactly after it. A page that a
 * continuation reads comes from the table as it is then: rows committed since with an earlier
 * position are not on later pages.
 */
import { groupKeyText, rowKeyText, parseKeyFilter, KEY_FILTER_TAG, timestampMillis, type KeyFilter, type TableRow, type TableValue } from '@pipeline/contracts';
import { compareCodePoints, decodeAddPath, decodeSnapshotFile, DeltaSnapshotFollower, type AddFile, type DeltaSnapshot } from '@pipeline/delta';
import type { Lake } from '@pipeline/ports';

export const LATE_TABLE = 'tables/late';
export const EVENT_TIME = 'event_time';

/** Where a row is in the answer's order; a continuation resumes after it. */
export interface LatePosition {
  eventTime: number;
  /** The data file's path in the table (as its add action names it). */
  file: string;
  row: number;
}

export interface LateQuery {
  /** event_time ≥ from (epoch ms). */
  from?: number;
  /** event_time < to. */
  to?: number;
  /** Only rows of this grouping key (its canonical text, `groupKeyText`). */
  key?: string;
  /** Only rows after this position. */
  after?: LatePosition;
  limit: number;
}

export interface LateRows {
  rows: Record<string, string | number | boolean | null>[];
  truncated: boolean;
  tableVersion: number | null;
  /** The last row's position when more rows match (`truncated`); pass it as `after` for the next page. */
  next?: LatePosition;
  /** Data files opened to answer. */
  filesRead: number;
}

/** What the reader knows of a data file without opening it. */
interface LateFile {
  add: AddFile;
  lakePath: string;
  /** Bounds of its event_time values (±Infinity when its stats do not say). */
  minTime: number;
  maxTime: number;
  /** No row of the file has an event_time. */
  noTimes: boolean;
  /** Every row of the file has an event_time (and there is one), by its stats. */
  allTimed: boolean;
  keys: KeyFilter;
  /** Bounds of string key columns, from the stats (prefixes: the min is ≤ every value, the max ≥). */
  keyBounds: ReadonlyMap<string, { min: string; max: string }>;
}

interface Ranked {
  position: LatePosition;
  row: TableRow;
}

/** The late table of one lake, read at the cost of each answer. */
export class LateTable {
  private readonly follower: DeltaSnapshotFollower;
  private files: LateFile[] = [];
  private filesVersion = -1;
  private byPath = new Map<string, LateFile>();

  constructor(
    private readonly lake: Lake,
    private readonly groupBy: readonly string[],
    readonly root: string = LATE_TABLE,
  ) {
    this.follower = new DeltaSnapshotFollower(lake, root);
  }

  /**
   * Replay the log now, so the first request does not wait for it (it shares a replay in progress).
   * A failure is left for the next request to report.
   */
  async warm(): Promise<void> {
    try {
      const snapshot = await this.follower.latest();
      if (snapshot) this.plan(snapshot);
    } catch {
      // the next read replays again and answers with the error
    }
  }

  async read(query: LateQuery): Promise<LateRows> {
    const snapshot = await this.follower.latest();
    if (!snapshot) return { rows: [], truncated: false, tableVersion: null, filesRead: 0 };
    const files = this.plan(snapshot);
    const keyValues = query.key === undefined ? undefined : keyColumnValues(query.key);
    const matchesKey = query.key === undefined ? undefined : keyMatcher(query.key, keyValues as ReadonlyMap<string, string>, this.groupBy);
    const keep = query.limit + 1; // the row after the page says there are more
    const best: Ranked[] = [];
    const wanted = [EVENT_TIME, ...this.groupBy];
    let filesRead = 0;
    let more = false;
    for (const file of files) {
      const last = best.length >= query.limit ? best[query.limit - 1] : undefined;
      // Files come by minTime: past the page's last row, no file can change the page; they only
      // tell whether more rows match, which a file certainly holding one answers without opening it.
      if (last && file.minTime > last.position.eventTime && (best.length > query.limit || (query.key === undefined && holdsMatch(file, query)))) {
        more = true;
        break;
      }
      if (!this.mayMatch(file, query, keyValues)) continue;
      const bytes = await this.lake.read(file.lakePath);
      filesRead++;
      const probe = await decodeSnapshotFile(snapshot, file.add, bytes, file.lakePath, { columns: wanted });
      for (let index = 0; index < probe.length; index++) {
        const row = probe[index] as TableRow;
        const time = row[EVENT_TIME];
        if (typeof time !== 'number') continue;
        if (query.from !== undefined && time < query.from) continue;
        if (query.to !== undefined && time >= query.to) continue;
        const position: LatePosition = { eventTime: time, file: file.add.path, row: index };
        if (query.after && comparePositions(position, query.after) <= 0) continue;
        if (matchesKey && !matchesKey(row)) continue;
        const worst = best.length === keep ? best[keep - 1] : undefined;
        if (worst && comparePositions(position, worst.position) >= 0) continue;
        insertRanked(best, { position, row }, keep);
      }
      // Whole rows only for this file's rows on the page (the row after it is only ever pushed further
      // down): the span they cover is decoded, only they are made rows.
      const held = best.slice(0, query.limit).filter((r) => r.position.file === file.add.path);
      if (held.length === 0) continue;
      const whole = await decodeSnapshotFile(snapshot, file.add, bytes, file.lakePath, { rows: held.map((r) => r.position.row) });
      held.forEach((ranked, i) => (ranked.row = whole[i] as TableRow));
    }
    const truncated = more || best.length > query.limit;
    const page = best.slice(0, query.limit);
    return {
      rows: page.map((r) => toJsonRow(r.row)),
      truncated,
      tableVersion: snapshot.version,
      ...(truncated ? { next: (page[page.length - 1] as Ranked).position } : {}),
      filesRead,
    };
  }

  /** The snapshot's files ordered by smallest event_time (then path), parsed once per file. */
  private plan(snapshot: DeltaSnapshot): readonly LateFile[] {
    if (snapshot.version === this.filesVersion) return this.files;
    const byPath = new Map<string, LateFile>();
    for (const add of snapshot.files) byPath.set(add.path, this.byPath.get(add.path) ?? this.describeFile(add, snapshot));
    this.byPath = byPath;
    this.files = [...byPath.values()].sort((a, b) => a.minTime - b.minTime || compareCodePoints(a.add.path, b.add.path));
    this.filesVersion = snapshot.version;
    return this.files;
  }

  private describeFile(add: AddFile, snapshot: DeltaSnapshot): LateFile {
    const stats = parseStats(add.stats);
    const min = timeBound(stats?.minValues?.[EVENT_TIME]);
    const max = timeBound(stats?.maxValues?.[EVENT_TIME]);
    const bounded = min !== undefined && max !== undefined;
    const keyBounds = new Map<string, { min: string; max: string }>();
    for (const column of this.groupBy) {
      const field = snapshot.schema.fields.find((f) => f.name === column);
      const low = stats?.minValues?.[column];
      const high = stats?.maxValues?.[column];
      if (field?.type === 'string' && typeof low === 'string' && typeof high === 'string') keyBounds.set(column, { min: low, max: high });
    }
    return {
      add,
      lakePath: `${this.root}/${decodeAddPath(add.path)}`,
      minTime: bounded ? min : -Infinity,
      maxTime: bounded ? max : Infinity,
      noTimes: typeof stats?.numRecords === 'number' && stats.nullCount?.[EVENT_TIME] === stats.numRecords,
      allTimed: bounded && typeof stats?.numRecords === 'number' && stats.numRecords > 0 && stats.nullCount?.[EVENT_TIME] === 0,
      keys: parseKeyFilter(add.tags?.[KEY_FILTER_TAG]),
      keyBounds,
    };
  }

  /** Whether the file may hold a row of the query, judging by what the log says of it. */
  private mayMatch(file: LateFile, query: LateQuery, keyValues: ReadonlyMap<string, string> | undefined): boolean {
    if (file.noTimes) return false;
    if (query.from !== undefined && file.maxTime < query.from) return false;
    if (query.to !== undefined && file.minTime >= query.to) return false;
    if (query.after && file.maxTime < query.after.eventTime) return false;
    if (query.key === undefined) return true;
    if (!file.keys.mayHold(query.key)) return false;
    for (const [column, bounds] of file.keyBounds) {
      const value = keyValues?.get(column);
      // '' is also how a null value reads in key text, and nulls have no bounds.
      if (value !== undefined && value !== '' && (compareCodePoints(value, bounds.min) < 0 || compareCodePoints(value, bounds.max) > 0)) return false;
    }
    return true;
  }
}

/** Whether the file surely holds a row in the query's time range after its continuation (keys aside). */
function holdsMatch(file: LateFile, query: LateQuery): boolean {
  if (!file.allTimed) return false;
  if (query.from !== undefined && file.minTime < query.from) return false;
  if (query.to !== undefined && file.maxTime >= query.to) return false;
  return query.after === undefined || file.minTime > query.after.eventTime;
}

/** Order of the answer: event_time, then file path, then row. */
export function comparePositions(a: LatePosition, b: LatePosition): number {
  return a.eventTime - b.eventTime || compareCodePoints(a.file, b.file) || a.row - b.row;
}

/** Insert into `best` (sorted, at most `keep` long) keeping it sorted and cut to `keep`. */
function insertRanked(best: Ranked[], item: Ranked, keep: number): void {
  let low = 0;
  let high = best.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (comparePositions((best[mid] as Ranked).position, item.position) < 0) low = mid + 1;
    else high = mid;
  }
  best.splice(low, 0, item);
  if (best.length > keep) best.pop();
}

interface ParsedStats {
  numRecords?: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, unknown>;
}

function parseStats(text: string | undefined): ParsedStats | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as ParsedStats) : undefined;
  } catch {
    return undefined; // unreadable stats say nothing: the file is read
  }
}

/**
 * A timestamp bound from the stats as epoch ms. Rows read as epoch ms rounded down, and a written
 * max is a bound in milliseconds (rounded up by this writer, truncated by Spark's), so it stays one.
 */
function timeBound(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The column values of a canonical key text (`a=1&b=x`, URI-encoded parts). */
function keyColumnValues(key: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const pair of key.split('&')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    try {
      values.set(decodeURIComponent(pair.slice(0, at)), decodeURIComponent(pair.slice(at + 1)));
    } catch {
      // not canonical text: no bounds to check, the rows' own keys decide
    }
  }
  return values;
}

/**
 * Whether a row has the key: its text is `groupKeyText` of the row's key columns, so comparing each
 * column's text (null as '') with the key's decoded part is the same test without encoding every row.
 */
function keyMatcher(key: string, values: ReadonlyMap<string, string>, groupBy: readonly string[]): (row: TableRow) => boolean {
  const parts = groupBy.map((column) => values.get(column));
  const canonical =
    groupBy.length > 0 && parts.every((part) => part !== undefined) && groupKeyText(Object.fromEntries(groupBy.map((c, i) => [c, parts[i] as string])), groupBy) === key;
  if (!canonical) return (row) => rowKeyText(row, groupBy) === key;
  return (row) => {
    for (let i = 0; i < groupBy.length; i++) {
      const value = row[groupBy[i] as string];
      const text = value === null || value === undefined ? '' : typeof value === 'bigint' ? String(timestampMillis(value)) : String(value);
      if (text !== parts[i]) return false;
    }
    return true;
  };
}

function toJsonRow(row: TableRow): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [column, value] of Object.entries(row)) out[column] = toJsonValue(value);
  return out;
}

function toJsonValue(value: TableValue): string | number | boolean | null {
  // Rows are read with timestamps as epoch ms; a bigint (epoch µs) would only come if asked for.
  if (typeof value === 'bigint') return timestampMillis(value);
  return Buffer.isBuffer(value) ? value.toString('base64') : value;
}

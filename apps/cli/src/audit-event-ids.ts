/**
 * No event id in silver twice, except copies gold found late (DESIGN invariants 9 and 11): silver
 * forgets an id once gold could no longer aggregate its event, so a repeat that reaches silver must
 * land in the late table. An id k times in silver is accounted for when at least k − 1 of its copies
 * are in the late table, each late for every window of the row: a row late for some of its hopping
 * windows is still aggregated into the others, so such a copy is counted twice all the same. A late
 * row whose id is not in silver did not come from silver at all.
 *
 * Only the `event_id` column is read, file by file. Memory: a 53-bit hash of each id (8 bytes), sorted
 * to find the few hashes that repeat or that a late row's id also has; only the ids with such a hash
 * are then read again and tallied exactly (`EventIdTally`), so a collision never decides anything.
 * A table of more rows than `MAX_IDS_PER_PASS` is read in several passes, each taking the ids of one
 * share of the hash, so memory stays bounded however long the stream.
 */
import { decodeAddPath, readDeltaSnapshot, readTableFile, type AddFile } from '@pipeline/delta';
import type { TableRow, TableSchema, TableValue } from '@pipeline/contracts';
import type { Lake } from '@pipeline/ports';

/** Ids reported by name, at most; the rest are counted. */
export const REPORTED_IDS = 10;

export interface RepeatedEventId {
  id: string;
  /** Copies in the silver table. */
  copies: number;
  /** Copies in the late table. */
  late: number;
  /** Of those, copies late for every window of the row (not aggregated anywhere). */
  lateForEveryWindow: number;
  /** The silver files holding the copies. */
  files: string[];
}

export interface EventIdSummary {
  /** Silver rows with an event id. */
  silverRows: number;
  distinct: number;
  /** Ids in silver more than once. */
  repeated: number;
  /** Of those, ids whose repeats gold all put in the late table, each late for every window of the row. */
  repeatedLate: number;
  /**
   * Windows each row belongs to (over every window definition of gold), when gold's checkpoint says
   * and it is the same for every row; null when unknown or when it depends on the row's event time.
   */
  windowsPerRow: number | null;
  /** Ids in silver more than once without enough copies in the late table: the count, and the first ones. */
  unexplained: number;
  unexplainedIds: RepeatedEventId[];
  /** Late rows whose id is not in silver: the count, and the first ones. */
  lateNotInSilver: number;
  lateNotInSilverIds: string[];
}

// A V8 Map holds at most 2^24 entries: ids are spread over several, by a hash of the id.
const BUCKETS = 64;
/** Silver rows one pass takes the id hashes of, at most (8 bytes each). */
export const MAX_IDS_PER_PASS = 16_000_000;
const TWO_TO_32 = 4_294_967_296;

function hashOf(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return h >>> 0;
}

function bucketOf(id: string): number {
  return hashOf(id) % BUCKETS;
}

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 53-bit hash of an id (two independent 32-bit mixes of its UTF-16 units), a safe integer. */
export function idHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const unit = id.charCodeAt(i);
    a = Math.imul(a ^ unit, 0x01000193);
    b = Math.imul(b ^ unit, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (finalMix(a) >>> 11) * TWO_TO_32 + finalMix(b ^ id.length);
}

/** The pass, of `passes`, that takes the id of hash `hash`. */
export function passOfHash(hash: number, passes: number): number {
  return Math.floor(hash / TWO_TO_32) % passes;
}

/** Whether the sorted `values` hold `value`. */
function sortedHas(values: Float64Array, value: number): boolean {
  let low = 0;
  let high = values.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = values[middle] as number;
    if (at === value) return true;
    if (at < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/** A growing list of numbers in one typed array. */
class NumberList {
  private values: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.values = new Float64Array(Math.max(1024, capacity));
  }
  push(value: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = value;
  }
  /** The numbers, sorted ascending (a view: the list is not used after). */
  sorted(): Float64Array {
    return this.values.subarray(0, this.length).sort();
  }
}

/** Counts event ids over the silver table, then the late table's copies of the repeated ones. */
export class EventIdTally {
  private readonly files: string[] = [];
  /** id → index of the file of its first silver copy. */
  private readonly firstCopy: Map<string, number>[] = Array.from({ length: BUCKETS }, () => new Map());
  /** Ids seen more than once: the files of every copy, and the late copies. */
  private readonly repeats = new Map<string, { files: number[]; late: number; lateForEveryWindow: number }>();
  private silverRows = 0;
  private lateNotInSilver = 0;
  private readonly lateNotInSilverIds: string[] = [];

  /**
   * `windowsPerRow`: how many windows a row belongs to, or how many at a row's event time; unknown,
   * every late copy counts as late everywhere.
   */
  constructor(private readonly windowsPerRow?: number | ((eventTime: number) => number)) {}

  /** Registers a silver file; its copies are added with the index returned. */
  silverFile(path: string): number {
    return this.files.push(path) - 1;
  }

  addSilver(id: string, file: number): void {
    this.silverRows++;
    const bucket = this.firstCopy[bucketOf(id)] as Map<string, number>;
    const first = bucket.get(id);
    if (first === undefined) {
      bucket.set(id, file);
      return;
    }
    const repeat = this.repeats.get(id);
    if (repeat) repeat.files.push(file);
    else this.repeats.set(id, { files: [first, file], late: 0, lateForEveryWindow: 0 });
  }

  /** A late table copy, with the number of windows it was late for and its event time (add every silver copy first). */
  addLate(id: string, lateWindows: number, eventTime?: number): void {
    const repeat = this.repeats.get(id);
    if (repeat) {
      repeat.late++;
      if (lateWindows >= this.windowsAt(eventTime)) repeat.lateForEveryWindow++;
    } else if (!(this.firstCopy[bucketOf(id)] as Map<string, number>).has(id)) {
      this.lateNotInSilver++;
      if (this.lateNotInSilverIds.length < REPORTED_IDS) this.lateNotInSilverIds.push(id);
    }
  }

  /** The windows of a row at `eventTime`; 0 (every late copy is late everywhere) when unknown. */
  private windowsAt(eventTime: number | undefined): number {
    if (this.windowsPerRow === undefined) return 0;
    if (typeof this.windowsPerRow === 'number') return this.windowsPerRow;
    return eventTime === undefined ? 0 : this.windowsPerRow(eventTime);
  }

  summary(): EventIdSummary {
    let repeatedLate = 0;
    let unexplained = 0;
    const unexplainedIds: RepeatedEventId[] = [];
    for (const [id, repeat] of this.repeats) {
      if (repeat.lateForEveryWindow >= repeat.files.length - 1) {
        repeatedLate++;
        continue;
      }
      unexplained++;
      if (unexplainedIds.length < REPORTED_IDS)
        unexplainedIds.push({
          id,
          copies: repeat.files.length,
          late: repeat.late,
          lateForEveryWindow: repeat.lateForEveryWindow,
          files: [...new Set(repeat.files.map((f) => this.files[f] as string))],
        });
    }
    return {
      silverRows: this.silverRows,
      distinct: this.firstCopy.reduce((n, bucket) => n + bucket.size, 0),
      repeated: this.repeats.size,
      repeatedLate,
      windowsPerRow: typeof this.windowsPerRow === 'number' ? this.windowsPerRow : null,
      unexplained,
      unexplainedIds,
      lateNotInSilver: this.lateNotInSilver,
      lateNotInSilverIds: [...this.lateNotInSilverIds],
    };
  }
}

const EVENT_ID: TableSchema = { columns: [{ name: 'event_id', type: 'string', nullable: true }], partitionBy: [] };
const EVENT_ID_AND_LATE_WINDOWS: TableSchema = {
  columns: [
    { name: 'event_id', type: 'string', nullable: true },
    { name: 'event_time', type: 'timestamp', nullable: true },
    { name: 'late_windows', type: 'string', nullable: true },
  ],
  partitionBy: [],
};

async function hasTable(lake: Lake, root: string): Promise<boolean> {
  for await (const _entry of lake.list(`${root}/_delta_log/`, { limit: 1 })) return true;
  return false;
}

/** A table's live files, as one snapshot: every pass over the table reads the same files. */
interface TableFiles {
  root: string;
  files: readonly AddFile[];
}

async function tableFiles(lake: Lake, root: string): Promise<TableFiles> {
  return { root, files: (await readDeltaSnapshot(lake, root)).files };
}

/** Rows of a table's live files, file by file, with only the columns of `schema`. */
async function* rowsByFile(lake: Lake, { root, files }: TableFiles, schema: TableSchema): AsyncIterable<{ path: string; rows: TableRow[] }> {
  for (const file of files) {
    const path = `${root}/${decodeAddPath(file.path)}`;
    yield { path, rows: await readTableFile(lake, path, schema) };
  }
}

/** How many windows a late row missed: its `late_windows` is a JSON array of them. */
function lateWindowCount(value: TableValue | undefined): number {
  if (typeof value !== 'string') return 0;
  try {
    const windows = JSON.parse(value) as unknown;
    return Array.isArray(windows) ? windows.length : 0;
  } catch {
    return 0;
  }
}

/** Rows of a table's live files from their stats; a file without stats counts a row per 8 bytes (an upper bound). */
function liveRows({ files }: TableFiles): number {
  let rows = 0;
  for (const file of files) {
    let records: unknown;
    try {
      records = file.stats === undefined ? undefined : (JSON.parse(file.stats) as { numRecords?: unknown }).numRecords;
    } catch {
      records = undefined;
    }
    rows += typeof records === 'number' && Number.isSafeInteger(records) && records >= 0 ? records : Math.ceil(file.size / 8);
  }
  return rows;
}

/**
 * Tallies the silver table's ids and the late table's; `undefined` when there is no silver table
 * yet. `windowsPerRow`: how many windows each row belongs to, from gold's window definitions.
 * `maxIdsPerPass`: how many silver rows one pass may take (see `MAX_IDS_PER_PASS`).
 */
export async function auditEventIds(
  lake: Lake,
  tables: { silver: string; late: string },
  windowsPerRow?: number | ((eventTime: number) => number),
  maxIdsPerPass = MAX_IDS_PER_PASS,
): Promise<EventIdSummary | undefined> {
  if (!(await hasTable(lake, tables.silver))) return undefined;
  // One snapshot of each table for every pass: ids tallied against the same files throughout.
  const silver = await tableFiles(lake, tables.silver);
  const late = (await hasTable(lake, tables.late)) ? await tableFiles(lake, tables.late) : undefined;
  const rows = liveRows(silver);
  const passes = Math.max(1, Math.ceil(rows / maxIdsPerPass));
  const summaries: EventIdSummary[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const mine = (hash: number): boolean => passes === 1 || passOfHash(hash, passes) === pass;
    // 1. The hashes of this pass's silver ids, sorted: a hash twice may be a repeated id.
    const hashes = new NumberList(Math.ceil((rows / passes) * 1.05));
    let silverRows = 0;
    for await (const { rows: fileRows } of rowsByFile(lake, silver, EVENT_ID)) {
      for (const row of fileRows) {
        const id = row['event_id'];
        if (typeof id !== 'string') continue;
        silverRows++;
        const hash = idHash(id);
        if (mine(hash)) hashes.push(hash);
      }
    }
    const sorted = hashes.sorted();
    const suspects = new Set<number>();
    for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) suspects.add(sorted[i] as number);
    // 2. A late id whose hash no silver id has is not in silver; one whose hash some silver id has is a suspect too.
    let lateAbsent = 0;
    const lateAbsentIds: string[] = [];
    if (late !== undefined) {
      for await (const { rows: lateRows } of rowsByFile(lake, late, EVENT_ID_AND_LATE_WINDOWS)) {
        for (const row of lateRows) {
          const id = row['event_id'];
          if (typeof id !== 'string') continue;
          const hash = idHash(id);
          if (!mine(hash)) continue;
          if (sortedHas(sorted, hash)) suspects.add(hash);
          else if (++lateAbsent <= REPORTED_IDS) lateAbsentIds.push(id);
        }
      }
    }
    // 3. The suspects' ids, exactly: read again, only those.
    const tally = new EventIdTally(windowsPerRow);
    let suspectRows = 0;
    if (suspects.size > 0) {
      for await (const { path, rows: fileRows } of rowsByFile(lake, silver, EVENT_ID)) {
        const file = tally.silverFile(path);
        for (const row of fileRows) {
          const id = row['event_id'];
          if (typeof id !== 'string' || !suspects.has(idHash(id))) continue;
          suspectRows++;
          tally.addSilver(id, file);
        }
      }
      if (late !== undefined) {
        for await (const { rows: lateRows } of rowsByFile(lake, late, EVENT_ID_AND_LATE_WINDOWS)) {
          for (const row of lateRows) {
            const id = row['event_id'];
            const eventTime = row['event_time'];
            if (typeof id === 'string' && suspects.has(idHash(id))) tally.addLate(id, lateWindowCount(row['late_windows']), typeof eventTime === 'number' ? eventTime : undefined);
          }
        }
      }
    }
    const exact = tally.summary();
    // Every pass reads every silver row: the row count is the table's, not the pass's share. An id
    // whose hash is no suspect is in silver once: one distinct id per such row.
    summaries.push({
      ...exact,
      silverRows,
      distinct: sorted.length - suspectRows + exact.distinct,
      lateNotInSilver: lateAbsent + exact.lateNotInSilver,
      lateNotInSilverIds: [...lateAbsentIds, ...exact.lateNotInSilverIds].slice(0, REPORTED_IDS),
    });
  }
  return mergeSummaries(summaries);
}

/** One summary of the passes' summaries: each id was tallied in exactly one of them. */
function mergeSummaries(summaries: readonly EventIdSummary[]): EventIdSummary {
  const [first, ...rest] = summaries as [EventIdSummary, ...EventIdSummary[]];
  const merged: EventIdSummary = { ...first, unexplainedIds: [...first.unexplainedIds], lateNotInSilverIds: [...first.lateNotInSilverIds] };
  for (const summary of rest) {
    merged.distinct += summary.distinct;
    merged.repeated += summary.repeated;
    merged.repeatedLate += summary.repeatedLate;
    merged.unexplained += summary.unexplained;
    merged.lateNotInSilver += summary.lateNotInSilver;
    merged.unexplainedIds.push(...summary.unexplainedIds.slice(0, REPORTED_IDS - merged.unexplainedIds.length));
    merged.lateNotInSilverIds.push(...summary.lateNotInSilverIds.slice(0, REPORTED_IDS - merged.lateNotInSilverIds.length));
  }
  return merged;
}

/** The problems a summary shows, worded for the report. */
export function eventIdProblems(summary: EventIdSummary, tables: { silver: string; late: string }): string[] {
  const problems: string[] = [];
  const copies = (n: number) => `${n} cop${n === 1 ? 'y' : 'ies'}`;
  for (const r of summary.unexplainedIds) {
    const notLate = Math.max(0, r.copies - 1 - r.late);
    const partly = r.late - r.lateForEveryWindow;
    const every = summary.windowsPerRow === null ? 'every one of its windows' : `every one of its ${summary.windowsPerRow} windows`;
    problems.push(
      `event id ${JSON.stringify(r.id)} is in the silver table ${r.copies} times and ${r.lateForEveryWindow} of its copies ${r.lateForEveryWindow === 1 ? 'was' : 'were'} late for ${every}, where ${r.copies - 1} must be` +
        (notLate > 0 ? `; ${notLate} repeat${notLate === 1 ? ' is' : 's are'} not in the late table` : '') +
        (partly > 0
          ? `; ${copies(partly)} in the late table ${partly === 1 ? 'was' : 'were'} late for only some windows, so gold aggregated ${partly === 1 ? 'it' : 'them'} into the others`
          : '') +
        ` (${r.files.join(', ')})`,
    );
  }
  if (summary.unexplained > summary.unexplainedIds.length) {
    problems.push(
      `${summary.unexplained - summary.unexplainedIds.length} more event ids are in ${tables.silver} more than once without every repeat late in ${tables.late} (${summary.unexplained} in all)`,
    );
  }
  if (summary.lateNotInSilver > 0) {
    problems.push(
      `${summary.lateNotInSilver} late row${summary.lateNotInSilver === 1 ? ' has an event id' : 's have event ids'} not in ${tables.silver}, e.g. ${summary.lateNotInSilverIds.map((id) => JSON.stringify(id)).join(', ')}`,
    );
  }
  return problems;
}

/**
 * The embedded serving store: window documents and shard status in one SQLite file, shared safely by
 * several processes (gold writes, the serving API reads; see `local.sqlite.ts` for WAL, busy timeout
 * and durability). Semantics: libs/ports/src/serving-store.ts.
 *
 * Invariants:
 * - A document is stored once per (pk, id); its id must be `windowDocumentId(window, pk, windowStart)`,
 *   so what runs here also fits Cosmos DB ids.
 * - Upserts are conditional per document (`ON CONFLICT … WHERE excluded.version > version`): only a
 *   strictly newer version replaces the stored one. All documents of one call commit in one
 *   IMMEDIATE transaction, so a reader sees a gold batch entirely or not at all; the documents it
 *   retires (superseded sessions) are removed in that same transaction.
 * - A document is its columns plus, in the `document` column, the JSON of what has no column (its
 *   key and aggregates, `{"key":…,"aggregates":…}`): reads assemble it from both. Stores written
 *   before kept the whole document there; its key and aggregates are read the same way, and the
 *   columns always held copies of the rest. A watermark of -Infinity (before the first one) is
 *   stored as null and read back as -Infinity.
 * - Pages are keyset-paginated on (windowStart, window), the query's order and unique within a pk,
 *   so a page walk has no duplicates or gaps even while documents are replaced between pages.
 */
import type Database from 'better-sqlite3';
import * as path from 'node:path';
import {
  ServingStoreError,
  type KeyValue,
  type RetiredWindow,
  type ServingStore,
  type ShardEventTime,
  type ShardStatus,
  type TopQuery,
  type UpsertResult,
  type WindowDocument,
  type WindowPage,
  type WindowQuery,
} from '@pipeline/ports';
import { openSharedSqlite } from './local.sqlite';
import { assertDocument, assertRetired, assertShardStatus, assertText, checkTopQuery, checkWindowQuery, encodeContinuationToken, finiteOrNull } from './serving-documents';

export interface LocalServingStoreOptions {
  /** The SQLite file (created if absent). */
  file: string;
}

// "window" is an SQL keyword, hence window_name. A document's id is a function of (pk, window,
// windowStart) (see windowDocumentId), so that triple is the key, in the order of queryWindows; one
// index besides serves `top` (a window's documents across keys). The reads of one window of a key
// walk the key's documents in that same order and skip the other windows' (a spec has a few
// windows): an index on (pk, window_name, window_start) for them cost every upsert a third of its
// time, so a store that has one from before drops it.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS serving_window_documents (
    pk TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_name TEXT NOT NULL,
    id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    final INTEGER NOT NULL,
    version INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    watermark INTEGER,
    document TEXT NOT NULL,
    PRIMARY KEY (pk, window_start, window_name)
  );
  DROP INDEX IF EXISTS serving_window_documents_by_key_window;
  CREATE INDEX IF NOT EXISTS serving_window_documents_by_window ON serving_window_documents (window_name, window_start);
  CREATE TABLE IF NOT EXISTS serving_shard_status (
    pipeline TEXT NOT NULL,
    shard INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    watermark INTEGER,
    max_event_time INTEGER,
    rows INTEGER NOT NULL,
    late_rows INTEGER NOT NULL,
    windows_emitted INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    num_rows_dropped INTEGER,
    event_time TEXT,
    owner TEXT,
    PRIMARY KEY (pipeline, shard)
  );
`;

/** Columns added after the first release: added to a store that lacks them when it is opened. */
const ADDED_STATUS_COLUMNS = [
  ['num_rows_dropped', 'INTEGER'],
  ['event_time', 'TEXT'],
  ['owner', 'TEXT'],
] as const;

/** A stored document's columns, as the reads select them (DOCUMENT_COLUMNS). */
interface DocumentRow {
  id: string;
  pk: string;
  pipeline: string;
  window_name: string;
  window_start: number;
  window_end: number;
  final: number;
  watermark: number | null;
  shard: number;
  version: number;
  /** JSON of `{ key, aggregates }` (a whole document in stores written before). */
  document: string;
}

const DOCUMENT_COLUMNS = 'id, pk, pipeline, window_name, window_start, window_end, final, watermark, shard, version, document';

/**
 * The page cache of the store's connection, in KiB (negative: SQLite's unit for KiB). An upsert
 * touches one index page per grouping key, about a thousand keys × two b-trees on the example spec,
 * well over SQLite's default 2 MiB, which made every batch read its index pages again. The cache
 * grows only as pages are used, so a reader's stays small.
 */
const PAGE_CACHE_KIB = 32 * 1024;

/**
 * How many pages the WAL holds before a commit of this connection copies them into the database
 * (SQLite's default is 1,000, 4 MiB). Gold's commits are small and touch the same index pages again
 * and again: a larger WAL copies such a page once per checkpoint instead of once per few commits, and
 * fsyncs the database file ten times less often (about a third less CPU per document in calls of
 * 1,000 documents). Every commit still fsyncs the WAL (synchronous=FULL), so durability is the same;
 * the WAL file grows to about 40 MiB.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

interface ShardStatusRow {
  pipeline: string;
  shard: number;
  batch: number;
  watermark: number | null;
  max_event_time: number | null;
  rows: number;
  late_rows: number;
  windows_emitted: number;
  updated_at: number;
  num_rows_dropped: number | null;
  /** JSON of ShardEventTime. */
  event_time: string | null;
  owner: string | null;
}

type Statements = ReturnType<typeof prepareStatements>;

export class LocalServingStore implements ServingStore {
  readonly location: string;
  private readonly statements: Statements;
  private readonly upsertAll: (documents: WindowDocument[], retired: RetiredWindow[]) => UpsertResult;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    file: string,
  ) {
    this.location = `local serving store ${path.resolve(file)}`;
    this.statements = prepareStatements(db);
    this.upsertAll = db.transaction((documents: WindowDocument[], retired: RetiredWindow[]) => {
      let written = 0;
      const keyTexts: KeyTexts = new Map();
      for (const doc of documents) {
        const changes = this.statements.upsert.run(
          doc.pk,
          doc.windowStart,
          doc.window,
          doc.id,
          doc.pipeline,
          doc.windowEnd,
          doc.final ? 1 : 0,
          doc.version,
          doc.shard,
          Number.isFinite(doc.watermark) ? doc.watermark : null,
          storedBody(doc, keyTexts),
        ).changes;
        written += changes;
      }
      if (retired.length === 0) return { written, skipped: documents.length - written };
      let removed = 0;
      for (const r of retired) {
        const named = windowOfId(r.id);
        if (named !== undefined) removed += this.statements.retire.run(r.pk, named.windowStart, named.window, r.id, r.version).changes;
      }
      return { written, skipped: documents.length - written, removed };
    }).immediate;
  }

  /** Open (creating if needed) the serving store in `options.file`. */
  static open(options: LocalServingStoreOptions): LocalServingStore {
    if (options === null || typeof options !== 'object') {
      throw new ServingStoreError(`LocalServingStore.open needs { file }, got ${JSON.stringify(options)}.`);
    }
    const db = openSharedSqlite(options.file, SCHEMA, 'local serving store');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    addMissingStatusColumns(db);
    moveDocumentsOfFirstRelease(db);
    return new LocalServingStore(db, options.file);
  }

  async upsert(documents: readonly WindowDocument[], retired: readonly RetiredWindow[] = []): Promise<UpsertResult> {
    this.assertOpen();
    if (!Array.isArray(documents)) throw new ServingStoreError(`upsert expects an array of window documents, got ${typeof documents}.`);
    documents.forEach(assertDocument);
    assertRetired(retired);
    if (documents.length === 0 && retired.length === 0) return { written: 0, skipped: 0 };
    return this.upsertAll(documents, [...retired]);
  }

  async get(pk: string, id: string): Promise<WindowDocument | undefined> {
    this.assertOpen();
    assertText(pk, 'get: pk');
    assertText(id, 'get: id');
    const named = windowOfId(id);
    const row = named && this.statements.get.get(pk, named.windowStart, named.window, id);
    return row ? documentOfRow(row) : undefined;
  }

  async queryWindows(query: WindowQuery): Promise<WindowPage> {
    this.assertOpen();
    const { pk, window, limit, lower, upper, after } = checkWindowQuery(query);
    const cursor = [after.windowStart, after.window] as const;
    // One row more than asked tells whether another page exists.
    const rows =
      window === undefined
        ? this.statements.windows.all(pk, lower, upper, ...cursor, limit + 1)
        : this.statements.windowsOfDefinition.all(pk, window, lower, upper, ...cursor, limit + 1);
    const items = rows.slice(0, limit).map(documentOfRow);
    const last = items.at(-1);
    return rows.length > limit && last ? { items, continuationToken: encodeContinuationToken(last) } : { items };
  }

  async latest(pk: string, window?: string): Promise<WindowDocument | undefined> {
    this.assertOpen();
    assertText(pk, 'latest: pk');
    if (window !== undefined) assertText(window, 'latest: window');
    const row = window === undefined ? this.statements.latest.get(pk) : this.statements.latestOfDefinition.get(pk, window);
    return row && documentOfRow(row);
  }

  async top(query: TopQuery): Promise<WindowDocument[]> {
    this.assertOpen();
    const { window, windowStart, by, limit } = checkTopQuery(query);
    return this.statements.top.all(`$.aggregates.${by}`, window, windowStart, limit).map(documentOfRow);
  }

  async putShardStatus(status: ShardStatus): Promise<void> {
    this.assertOpen();
    assertShardStatus(status);
    const { pipeline, shard, batch, watermark, maxEventTime, rows, lateRows, windowsEmitted, updatedAt } = status;
    const eventTime = status.eventTime === undefined ? null : JSON.stringify(status.eventTime);
    this.statements.putShardStatus.run(
      pipeline,
      shard,
      batch,
      finiteOrNull(watermark),
      finiteOrNull(maxEventTime),
      rows,
      lateRows,
      windowsEmitted,
      updatedAt,
      status.numRowsDroppedByWatermark ?? null,
      eventTime,
      status.owner ?? null,
    );
  }

  async listShardStatus(pipeline: string): Promise<ShardStatus[]> {
    this.assertOpen();
    assertText(pipeline, 'listShardStatus: pipeline');
    return this.statements.listShardStatus.all(pipeline).map(toShardStatus);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    this.statements.ping.get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new ServingStoreError(`The ${this.location} is closed; open a new one to use it again.`);
  }
}

/** The JSON of the key records one upsert call has stored (gold serves one record per grouping key to all its windows). */
type KeyTexts = Map<Record<string, KeyValue>, string>;

/**
 * What the columns do not hold: `{"key":…,"aggregates":…}`, a third of the whole document's text.
 * A key record's JSON is built once per call rather than once per window (the call is synchronous,
 * so a record cannot change in between).
 */
function storedBody(doc: WindowDocument, keyTexts: KeyTexts): string {
  let key = keyTexts.get(doc.key);
  if (key === undefined) keyTexts.set(doc.key, (key = JSON.stringify(doc.key)));
  return `{"key":${key},"aggregates":${JSON.stringify(doc.aggregates)}}`;
}

/** A document from its columns and body, with the port's fields in the order the Cosmos DB store returns them. */
function documentOfRow(row: DocumentRow): WindowDocument {
  const { key, aggregates } = JSON.parse(row.document) as Pick<WindowDocument, 'key' | 'aggregates'>;
  return {
    id: row.id,
    pk: row.pk,
    pipeline: row.pipeline,
    window: row.window_name,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    key,
    aggregates,
    final: row.final === 1,
    watermark: row.watermark ?? -Infinity,
    shard: row.shard,
    version: row.version,
  };
}

/** A store created before a status column existed gets it; another process adding it first is fine. */
function addMissingStatusColumns(db: Database.Database): void {
  const present = new Set((db.prepare('PRAGMA table_info(serving_shard_status)').all() as Array<{ name: string }>).map((c) => c.name));
  for (const [name, type] of ADDED_STATUS_COLUMNS) {
    if (present.has(name)) continue;
    try {
      db.exec(`ALTER TABLE serving_shard_status ADD COLUMN ${name} ${type}`);
    } catch (error) {
      if (!/duplicate column name/i.test((error as Error).message)) throw error;
    }
  }
}

/** The window and start a document id names (see windowDocumentId), or `undefined` when it names none. */
function windowOfId(id: string): { window: string; windowStart: number } | undefined {
  const first = id.indexOf('|');
  const last = id.lastIndexOf('|');
  if (first <= 0 || last <= first) return undefined;
  const windowStart = Number(id.slice(last + 1));
  return Number.isSafeInteger(windowStart) ? { window: id.slice(0, first), windowStart } : undefined;
}

/**
 * A store of the first release kept documents in `serving_windows`, keyed by (pk, id): they move
 * to `serving_window_documents` once, in one transaction (another process moving them first is fine).
 */
function moveDocumentsOfFirstRelease(db: Database.Database): void {
  const present = () => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'serving_windows'").get() !== undefined;
  if (!present()) return;
  db.transaction(() => {
    if (!present()) return;
    db.exec(`INSERT OR IGNORE INTO serving_window_documents (pk, window_start, window_name, id, pipeline, window_end, final, version, shard, watermark, document)
             SELECT pk, window_start, window_name, id, pipeline, window_end, final, version, shard, watermark, document FROM serving_windows;
             DROP TABLE serving_windows;`);
  }).immediate();
}

function prepareStatements(db: Database.Database) {
  // Within one pk, (window_start, window_name) is unique, so it orders pages without the id.
  const page = 'AND window_start >= ? AND window_start < ? AND (window_start, window_name) > (?, ?) ORDER BY window_start, window_name LIMIT ?';
  return {
    upsert: db.prepare<[string, number, string, string, string, number, number, number, number, number | null, string]>(
      `INSERT INTO serving_window_documents (pk, window_start, window_name, id, pipeline, window_end, final, version, shard, watermark, document)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pk, window_start, window_name) DO UPDATE SET
         id = excluded.id, pipeline = excluded.pipeline, window_end = excluded.window_end, final = excluded.final,
         version = excluded.version, shard = excluded.shard, watermark = excluded.watermark, document = excluded.document
       WHERE excluded.version > serving_window_documents.version`,
    ),
    retire: db.prepare<[string, number, string, string, number]>(
      'DELETE FROM serving_window_documents WHERE pk = ? AND window_start = ? AND window_name = ? AND id = ? AND version < ?',
    ),
    get: db.prepare<[string, number, string, string], DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM serving_window_documents WHERE pk = ? AND window_start = ? AND window_name = ? AND id = ?`,
    ),
    windows: db.prepare<[string, number, number, number, string, number], DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM serving_window_documents WHERE pk = ? ${page}`),
    // `+window_name`: the key's documents in page order (the primary key), never the `top` index.
    windowsOfDefinition: db.prepare<[string, string, number, number, number, string, number], DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM serving_window_documents WHERE pk = ? AND +window_name = ? ${page}`,
    ),
    // The last document in queryWindows order.
    latest: db.prepare<[string], DocumentRow>(`SELECT ${DOCUMENT_COLUMNS} FROM serving_window_documents WHERE pk = ? ORDER BY window_start DESC, window_name DESC LIMIT 1`),
    latestOfDefinition: db.prepare<[string, string], DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM serving_window_documents WHERE pk = ? AND +window_name = ? ORDER BY window_start DESC, window_name DESC LIMIT 1`,
    ),
    // The JSON path is a bound parameter: the aggregate name never becomes SQL text.
    top: db.prepare<[string, string, number, number], DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS}, json_extract(document, ?) AS value FROM serving_window_documents
       WHERE window_name = ? AND window_start = ?
       ORDER BY value IS NULL, value DESC, pk LIMIT ?`,
    ),
    putShardStatus: db.prepare<[string, number, number, number | null, number | null, number, number, number, number, number | null, string | null, string | null]>(
      `INSERT INTO serving_shard_status (pipeline, shard, batch, watermark, max_event_time, rows, late_rows, windows_emitted, updated_at, num_rows_dropped, event_time, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pipeline, shard) DO UPDATE SET
         batch = excluded.batch, watermark = excluded.watermark, max_event_time = excluded.max_event_time, rows = excluded.rows,
         late_rows = excluded.late_rows, windows_emitted = excluded.windows_emitted, updated_at = excluded.updated_at,
         num_rows_dropped = excluded.num_rows_dropped, event_time = excluded.event_time, owner = excluded.owner`,
    ),
    listShardStatus: db.prepare<[string], ShardStatusRow>('SELECT * FROM serving_shard_status WHERE pipeline = ? ORDER BY shard'),
    ping: db.prepare('SELECT 1'),
  };
}

function toShardStatus(row: ShardStatusRow): ShardStatus {
  return {
    pipeline: row.pipeline,
    shard: row.shard,
    batch: row.batch,
    watermark: row.watermark,
    maxEventTime: row.max_event_time,
    rows: row.rows,
    lateRows: row.late_rows,
    windowsEmitted: row.windows_emitted,
    updatedAt: row.updated_at,
    ...(row.num_rows_dropped === null ? {} : { numRowsDroppedByWatermark: row.num_rows_dropped }),
    ...(row.event_time === null ? {} : { eventTime: JSON.parse(row.event_time) as ShardEventTime }),
    ...(row.owner === null ? {} : { owner: row.owner }),
  };
}

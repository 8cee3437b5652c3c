/**
 * Opening the SQLite files the embedded adapters share between processes.
 *
 * Every connection uses WAL (readers never block the writer, and several processes may use one
 * file), a busy timeout (a writer waits for another process's transaction instead of failing), and
 * synchronous=FULL: the WAL is fsynced at every commit, so a call that returned survives an OS crash
 * or power loss. NORMAL would be faster but may lose the last commits on power loss, and the
 * pipeline advances its own checkpoints on those acknowledgements (DESIGN invariant 9).
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** How long a write waits for another connection's transaction before failing with SQLITE_BUSY. */
export const SQLITE_BUSY_TIMEOUT_MS = 15_000;

export interface SharedSqliteOptions {
  /**
   * The page size of a file this call creates (a power of two from 512 to 65536; SQLite's default
   * is 4096). A file that exists keeps its own: WAL mode fixes it once the file is written.
   */
  pageSize?: number;
}

/** Open (creating if needed) a shared SQLite file and apply `schema` (idempotent DDL). */
export function openSharedSqlite(file: string, schema: string, purpose: string, options: SharedSqliteOptions = {}): Database.Database {
  if (typeof file !== 'string' || file.trim() === '') {
    throw new Error(`The ${purpose} needs a SQLite file path, got ${JSON.stringify(file)}.`);
  }
  const absolute = path.resolve(file);
  let db: Database.Database;
  try {
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    db = new Database(absolute, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  } catch (error) {
    throw new Error(`Cannot open the ${purpose} file ${absolute}: ${error instanceof Error ? error.message : String(error)}. Check that its folder is writable.`, { cause: error });
  }
  try {
    // Only a file with no page yet takes it; so before WAL mode writes the first one.
    if (options.pageSize !== undefined) db.pragma(`page_size = ${options.pageSize}`);
    // Switching to WAL takes a lock that SQLite does not wait for with the busy handler; retry.
    retryWhileBusy(() => db.pragma('journal_mode = WAL'));
    db.pragma('synchronous = FULL');
    retryWhileBusy(() => db.transaction(() => db.exec(schema)).immediate());
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Run `operation`, retrying on SQLITE_BUSY/LOCKED for up to the busy timeout. */
function retryWhileBusy<T>(operation: () => T): T {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return operation();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const busy = typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
      if (!busy || Date.now() > deadline) throw error;
      // Only at open time, so a short synchronous back-off is acceptable.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/**
 * A lock over a local file for work that two processes must not do at once: one producer per CSV
 * file and event hub (both would send the rows after the recorded position), one `pipeline start`
 * per home.
 *
 * Invariants:
 * - Taken by creating the file exclusively (`wx`) with the holder's pid, host and a token of its own;
 *   released by removing it, only while it still holds that token.
 * - The holder touches the file every third of `staleMs`. A lock is held while it was touched
 *   within `staleMs` and, on this host, while its pid runs; otherwise it is stale and taken over (a
 *   killed holder on this host at once, one on another host sharing the folder after `staleMs`).
 * - Taking over re-reads the file just before removing it and removes it only if it is the stale one
 *   read; a lock taken meanwhile by another process wins. A file without a holder's name is stale once
 *   older than two seconds (a taker killed while writing it); younger, it is being written.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunning } from './local.processes';

export interface ProcessLockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO 8601). */
  since: string;
  token: string;
}

/** The lock is held by a running process. `exitCode` 2: the command cannot run now, as it was asked. */
export class ProcessLockHeldError extends Error {
  override readonly name = 'ProcessLockHeldError';
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    readonly holder: ProcessLockHolder,
    what: string,
  ) {
    super(
      `${what} already runs: process ${holder.pid} on ${holder.host}, since ${holder.since}, holds ${file}. ` +
        `Wait for it to end or stop it; if no such process runs, delete ${file}.`,
    );
  }
}

export interface ProcessLock {
  readonly file: string;
  /** Stops touching the file and removes it, if it still names this holder. */
  release(): Promise<void>;
}

const MAX_ATTEMPTS = 12;
/** A lock file younger than this without a holder's name is still being written. */
const BEING_WRITTEN_MS = 2_000;

/**
 * Takes the lock at `file` (its folder is made when missing).
 * `what` names the work in the message of a `ProcessLockHeldError`, e.g. `A producer of data.csv to event hub "events"`.
 * @throws ProcessLockHeldError when a running process holds it.
 */
export async function takeProcessLock(file: string, what: string, options: { staleMs?: number } = {}): Promise<ProcessLock> {
  const staleMs = options.staleMs ?? 30_000;
  await mkdir(path.dirname(file), { recursive: true });
  const holder: ProcessLockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const text = `${JSON.stringify(holder)}\n`;
  for (let attempt = 1; ; attempt++) {
    try {
      await writeFile(file, text, { flag: 'wx' });
      return heldLock(file, holder.token, staleMs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= MAX_ATTEMPTS) throw error;
    }
    const seen = await readLock(file);
    if (seen === undefined) continue; // Released meanwhile.
    if (seen.holder === undefined && Date.now() - seen.touchedAt < BEING_WRITTEN_MS) {
      // Just created by a taker that has not written its name yet: wait for it.
      await new Promise((resolve) => setTimeout(resolve, BEING_WRITTEN_MS / 8));
      continue;
    }
    if (seen.holder !== undefined && isHeld(seen.holder, seen.touchedAt, staleMs)) throw new ProcessLockHeldError(file, seen.holder, what);
    // Stale (or unreadable, as a holder killed while writing it leaves it): removed only if unchanged since read.
    const again = await readLock(file);
    if (again !== undefined && again.text === seen.text) await unlink(file).catch(ignoreMissing);
  }
}

function heldLock(file: string, token: string, staleMs: number): ProcessLock {
  const touch = setInterval(
    () => {
      const now = new Date();
      utimes(file, now, now).catch(() => undefined);
    },
    Math.max(1, Math.floor(staleMs / 3)),
  );
  touch.unref();
  let released = false;
  return {
    file,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(touch);
      const seen = await readLock(file);
      if (seen?.holder?.token === token) await unlink(file).catch(ignoreMissing);
    },
  };
}

async function readLock(file: string): Promise<{ text: string; holder: ProcessLockHolder | undefined; touchedAt: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { text, holder: parseHolder(text), touchedAt: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseHolder(text: string): ProcessLockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<ProcessLockHolder> | null;
    if (value === null || typeof value !== 'object' || !Number.isSafeInteger(value.pid) || typeof value.host !== 'string' || typeof value.token !== 'string') return undefined;
    return { pid: value.pid as number, host: value.host, since: String(value.since), token: value.token };
  } catch {
    return undefined;
  }
}

function isHeld(holder: ProcessLockHolder, touchedAt: number, staleMs: number): boolean {
  if (Date.now() - touchedAt > staleMs) return false;
  return holder.host !== os.hostname() || isRunning(holder.pid);
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

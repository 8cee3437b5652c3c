/**
 * The lake: the source of truth (DESIGN invariant 1).
 *
 * Paths are relative, slash-separated and validated by every adapter with `assertLakePath`.
 * The only atomic primitive the pipeline relies on is `createIfAbsent` (invariant 3); `write`
 * publishes atomically (a reader sees the old object or the whole new one, never a part).
 */
import type { Readable } from 'node:stream';

export interface LakeEntry {
  /** Path relative to the lake root, `/`-separated. */
  readonly path: string;
  readonly size: number;
  /** Last modification time, epoch milliseconds. */
  readonly modifiedAt: number;
}

export interface Lake {
  /** A human-readable location (folder, account URL) for messages; never contains secrets. */
  readonly location: string;
  /**
   * Create `path` with `data` only if nothing exists there.
   * @returns `true` when this call created it, `false` when it already existed (nothing written).
   */
  createIfAbsent(path: string, data: Uint8Array | string): Promise<boolean>;
  /** Create or replace `path`, published atomically. */
  write(path: string, data: Uint8Array | string): Promise<void>;
  /** Whole content. Throws `LakeNotFoundError` when absent. */
  read(path: string): Promise<Buffer>;
  /** Content as a stream, for large objects. Throws `LakeNotFoundError` when absent. */
  readStream(path: string): Promise<Readable>;
  /** Entry metadata, or `undefined` when absent. */
  stat(path: string): Promise<LakeEntry | undefined>;
  exists(path: string): Promise<boolean>;
  /**
   * Objects whose path starts with `prefix`, in ascending byte order of path, recursively.
   * `startAfter` skips every path ≤ it (for incremental listing). Folders are not entries.
   */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): AsyncIterable<LakeEntry>;
  /** Delete `path`; deleting an absent path is not an error. */
  delete(path: string): Promise<void>;
  close(): Promise<void>;
}

export class LakeError extends Error {
  override readonly name: string = 'LakeError';
}

/** A path that is empty, absolute, contains `..`, `.`, a backslash, NUL or an empty segment. */
export class LakePathError extends LakeError {
  override readonly name = 'LakePathError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `Invalid lake path ${JSON.stringify(path)}: ${reason}. Lake paths are relative, '/'-separated, without '.', '..' or empty segments (e.g. "raw/ns/hub/0/2026/01/01/00/00/00.avro").`,
    );
  }
}

export class LakeNotFoundError extends LakeError {
  override readonly name = 'LakeNotFoundError';
  constructor(
    readonly path: string,
    location: string,
  ) {
    super(`No object at ${JSON.stringify(path)} in the lake at ${location}.`);
  }
}

/** Validate a lake path or a prefix (a prefix may be empty or end with '/'). Throws `LakePathError`. */
export function assertLakePath(path: string, kind: 'path' | 'prefix' = 'path'): void {
  if (typeof path !== 'string') throw new LakePathError(String(path), 'not a string');
  if (kind === 'prefix' && path === '') return;
  if (path === '') throw new LakePathError(path, 'empty');
  if (path.includes('\0')) throw new LakePathError(path, 'contains a NUL character');
  if (path.includes('\\')) throw new LakePathError(path, "contains a backslash; use '/'");
  if (path.startsWith('/')) throw new LakePathError(path, 'absolute; lake paths are relative to the lake root');
  if (/^[A-Za-z]:/.test(path)) throw new LakePathError(path, 'looks like a drive-letter path');
  const body = kind === 'prefix' && path.endsWith('/') ? path.slice(0, -1) : path;
  for (const segment of body.split('/')) {
    if (segment === '') throw new LakePathError(path, 'has an empty segment');
    if (segment === '..') throw new LakePathError(path, "contains '..'");
    if (segment === '.') throw new LakePathError(path, "contains '.'");
  }
}

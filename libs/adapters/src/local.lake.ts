/**
 * The lake on a local folder (the default for local runs).
 *
 * Invariants:
 * - An object appears whole or not at all. Content goes to a fresh file in the temp area
 *   (`<root>/.tmp`), is fsynced, then published: `createIfAbsent` with `link` (fails with EEXIST
 *   when the target exists, so exactly one concurrent creator wins, DESIGN invariant 3), `write`
 *   with `rename` (atomic replace). The folder is fsynced after publishing where the OS allows.
 * - Nothing outside the root is touched: every path passes `assertLakePath`, and its real
 *   (symlink-resolved) location must lie under the real root, else `LakePathError`.
 * - The temp area is not part of the lake: no lake path may start with `.tmp/`, and `list` never
 *   descends into it, so a crash between temp write and publish leaves no visible object. Temp
 *   files are named after their writer's process id; the first write of an instance removes those
 *   whose writer is no longer running (or that are older than a day), so killed writers leave
 *   nothing behind for long.
 * - `list` yields in ascending UTF-8 byte order of path: it walks folders depth-first with entries
 *   sorted by their full path, a folder `x` sorting as `x/` (so `a-c` comes before `a/b`).
 * - Symbolic links are not objects: `list` skips them; direct access follows one only if it
 *   resolves inside the root.
 */
import { randomUUID } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { isRunning } from './local.processes';
import { assertLakePath, LakeError, LakeNotFoundError, LakePathError, type Lake, type LakeEntry } from '@pipeline/ports';

/** Name of the temp area under the root; reserved, never listed. */
export const LOCAL_LAKE_TEMP_FOLDER = '.tmp';

/** A temp file older than this has no writer left, whatever its process id says (ids are reused). */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** Errors that mean "no object at this path". */
const ABSENT_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export class LocalLake implements Lake {
  /** The absolute root folder. */
  readonly location: string;
  private realRoot?: Promise<string>;
  private swept?: Promise<void>;
  private closed = false;

  constructor(root: string) {
    if (typeof root !== 'string' || root.trim() === '') {
      throw new LakeError(`LocalLake needs a root folder, got ${JSON.stringify(root)}. Pass a folder path such as ".pipeline/lake".`);
    }
    this.location = path.resolve(root);
  }

  async createIfAbsent(lakePath: string, data: Uint8Array | string): Promise<boolean> {
    const { target, found, folderExists } = await this.resolveForCreate(lakePath);
    // Cheap early answer; `link` below is what actually decides.
    if (found) {
      if (found.isDirectory()) throw this.folderInTheWay(lakePath);
      return false;
    }
    if (!folderExists) await this.ensureParent(lakePath, target);
    const { temp, handle } = await this.writeTemp(data).catch((error: unknown) => {
      throw this.failure('create', lakePath, error);
    });
    // The temp file's content is durable (fsynced): its handle is closed while it is published.
    const closed = closeAside(handle);
    try {
      await this.link(lakePath, temp, target);
    } catch (error) {
      await Promise.all([closed, removeTemp(temp)]);
      if (errorCode(error) === 'EEXIST') {
        await this.occupied(lakePath, target);
        return false;
      }
      throw this.failure('create', lakePath, error);
    }
    // The temp name goes first, so the folder's fsync also carries its removal in the same journal commit.
    await Promise.all([closed, removeTemp(temp)]);
    await syncDirectory(path.dirname(target));
    return true;
  }

  /**
   * Publishes `temp` at `target`. A folder missing (removed since it was seen) is made again, once;
   * a folder that is an object gets `ensureParent`'s error, which says so.
   */
  private async link(lakePath: string, temp: string, target: string): Promise<void> {
    try {
      await fsp.link(temp, target);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT' && errorCode(error) !== 'ENOTDIR') throw error;
      await this.ensureParent(lakePath, target);
      await fsp.link(temp, target);
    }
  }

  async write(lakePath: string, data: Uint8Array | string): Promise<void> {
    const target = await this.resolve(lakePath);
    await this.ensureParent(lakePath, target);
    const { temp, handle } = await this.writeTemp(data).catch((error: unknown) => {
      throw this.failure('write', lakePath, error);
    });
    const closed = closeAside(handle);
    try {
      await fsp.rename(temp, target);
    } catch (error) {
      await Promise.all([closed, removeTemp(temp)]);
      if (await isDirectory(target)) throw this.folderInTheWay(lakePath);
      throw this.failure('write', lakePath, error);
    }
    await Promise.all([closed, syncDirectory(path.dirname(target))]);
  }

  async read(lakePath: string): Promise<Buffer> {
    const target = await this.resolve(lakePath);
    try {
      return await fsp.readFile(target);
    } catch (error) {
      if (ABSENT_CODES.has(errorCode(error) ?? '')) throw new LakeNotFoundError(lakePath, this.location);
      throw this.failure('read', lakePath, error);
    }
  }

  async readStream(lakePath: string): Promise<Readable> {
    const target = await this.resolve(lakePath);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(target, 'r');
    } catch (error) {
      if (ABSENT_CODES.has(errorCode(error) ?? '')) throw new LakeNotFoundError(lakePath, this.location);
      throw this.failure('read', lakePath, error);
    }
    // Opening a folder read-only succeeds on POSIX; folders are not objects.
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new LakeNotFoundError(lakePath, this.location);
    }
    return handle.createReadStream();
  }

  async stat(lakePath: string): Promise<LakeEntry | undefined> {
    const target = await this.resolve(lakePath);
    try {
      const info = await fsp.stat(target);
      return info.isFile() ? { path: lakePath, size: info.size, modifiedAt: Math.trunc(info.mtimeMs) } : undefined;
    } catch (error) {
      if (ABSENT_CODES.has(errorCode(error) ?? '')) return undefined;
      throw this.failure('stat', lakePath, error);
    }
  }

  async exists(lakePath: string): Promise<boolean> {
    return (await this.stat(lakePath)) !== undefined;
  }

  async *list(prefix: string, options: { startAfter?: string; limit?: number } = {}): AsyncIterable<LakeEntry> {
    this.assertOpen();
    assertLakePath(prefix, 'prefix');
    const { startAfter, limit } = options;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new LakeError(`list limit must be a non-negative integer, got ${String(limit)}.`);
    }
    if (startAfter !== undefined && typeof startAfter !== 'string') {
      throw new LakeError(`list startAfter must be a string, got ${typeof startAfter}.`);
    }
    if (limit === 0) return;

    // Walk from the deepest folder the prefix names; only its last segment filters names.
    const slash = prefix.lastIndexOf('/');
    const folder = slash < 0 ? '' : prefix.slice(0, slash);
    const namePrefix = prefix.slice(slash + 1);
    const start = folder === '' ? await this.root() : await this.resolve(folder);
    // As UTF-8 encodes it (a lone surrogate becomes U+FFFD), so string order below is byte order.
    const after = startAfter === undefined ? undefined : Buffer.from(startAfter, 'utf8').toString('utf8');

    let emitted = 0;
    for await (const entry of this.walk(start, folder === '' ? '' : `${folder}/`, namePrefix, after)) {
      yield entry;
      if (limit !== undefined && ++emitted >= limit) return;
    }
  }

  async delete(lakePath: string): Promise<void> {
    const target = await this.resolve(lakePath);
    try {
      await fsp.unlink(target);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      // A folder is not an object, so there is nothing to delete.
      if (await isDirectory(target)) return;
      throw this.failure('delete', lakePath, error);
    }
    await syncDirectory(path.dirname(target));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Depth-first walk in byte order of path; `after` prunes whole folders that sort before it, and
   * the files up to it are dropped before they are sorted or stat-ed (a poll past the newest file
   * of a full folder costs one readdir and a comparison per name).
   */
  private async *walk(dir: string, dirPath: string, namePrefix: string, after: string | undefined): AsyncGenerator<LakeEntry> {
    let dirents: Dirent[];
    try {
      dirents = await fsp.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (ABSENT_CODES.has(errorCode(error) ?? '')) return;
      throw this.failure('list', dirPath, error);
    }
    const children: Array<{ name: string; folder: boolean; key: string }> = [];
    for (const d of dirents) {
      // Symbolic links are not objects (the entry's own type: a link is neither file nor folder here).
      const folder = d.isDirectory();
      if ((!folder && !d.isFile()) || !d.name.startsWith(namePrefix)) continue;
      if (dirPath === '' && d.name === LOCAL_LAKE_TEMP_FOLDER) continue;
      const key = `${dirPath}${d.name}${folder ? '/' : ''}`;
      if (after !== undefined) {
        // Every path below a folder starts with its key; if `after` sorts past them all, skip the subtree.
        if (folder ? compareUtf8(key, after) < 0 && !after.startsWith(key) : compareUtf8(key, after) <= 0) continue;
      }
      children.push({ name: d.name, folder, key });
    }
    children.sort((x, y) => compareUtf8(x.key, y.key));

    for (const child of children) {
      const childPath = `${dirPath}${child.name}`;
      if (child.folder) {
        yield* this.walk(path.join(dir, child.name), `${childPath}/`, '', after);
        continue;
      }
      let info;
      try {
        info = await fsp.stat(path.join(dir, child.name));
      } catch (error) {
        // Deleted while listing.
        if (ABSENT_CODES.has(errorCode(error) ?? '')) continue;
        throw this.failure('list', childPath, error);
      }
      yield { path: childPath, size: info.size, modifiedAt: Math.trunc(info.mtimeMs) };
    }
  }

  /** Validate a lake path and return its absolute location, refusing anything that leaves the root. */
  private async resolve(lakePath: string): Promise<string> {
    this.assertOpen();
    const { root, absolute } = await this.locate(lakePath);
    await this.assertInsideRoot(lakePath, root, absolute);
    return absolute;
  }

  /** A valid lake path's location under the real root, not yet checked against symbolic links. */
  private async locate(lakePath: string): Promise<{ root: string; absolute: string }> {
    assertLakePath(lakePath);
    const segments = lakePath.split('/');
    if (segments[0] === LOCAL_LAKE_TEMP_FOLDER) {
      throw new LakePathError(lakePath, `the top-level folder '${LOCAL_LAKE_TEMP_FOLDER}' is reserved for the local lake's temporary files`);
    }
    const root = await this.root();
    return { root, absolute: path.join(root, ...segments) };
  }

  /**
   * `resolve` for a path that is usually absent (a create): one lstat of the path, which is also the
   * early "already there" answer, then the check of `assertInsideRoot` from its folder on (the same
   * steps it takes after finding the path absent, minus one realpath and one lstat). A path that is
   * there is checked as `resolve` checks it. `folderExists`: the path's folder was found.
   */
  private async resolveForCreate(lakePath: string): Promise<{ target: string; found: Stats | undefined; folderExists: boolean }> {
    this.assertOpen();
    const { root, absolute } = await this.locate(lakePath);
    let found: Stats | undefined;
    try {
      found = await fsp.lstat(absolute);
    } catch (error) {
      if (!ABSENT_CODES.has(errorCode(error) ?? '')) throw this.failure('resolve', lakePath, error);
    }
    if (found) {
      await this.assertInsideRoot(lakePath, root, absolute);
      return { target: absolute, found, folderExists: true };
    }
    const folderExists = await this.assertInsideRoot(lakePath, root, path.dirname(absolute));
    return { target: absolute, found, folderExists };
  }

  /**
   * The real path of the deepest existing ancestor (or the path itself) must lie under the root.
   * Returns whether `absolute` itself exists.
   */
  private async assertInsideRoot(lakePath: string, root: string, absolute: string): Promise<boolean> {
    for (let probe = absolute; ; probe = path.dirname(probe)) {
      let real: string;
      try {
        real = await fsp.realpath(probe);
      } catch (error) {
        if (!ABSENT_CODES.has(errorCode(error) ?? '')) throw this.failure('resolve', lakePath, error);
        if (await isSymbolicLink(probe)) throw new LakePathError(lakePath, 'goes through a symbolic link that does not resolve');
        if (probe === root) return false;
        continue;
      }
      if (!isWithin(root, real)) {
        throw new LakePathError(lakePath, `resolves to ${real}, outside the lake root ${this.location} (through a symbolic link)`);
      }
      return probe === absolute;
    }
  }

  /** The real root, created on first use; the temp area is created by the first write, so reading never writes. */
  private root(): Promise<string> {
    this.realRoot ??= (async () => {
      await fsp.mkdir(this.location, { recursive: true });
      return fsp.realpath(this.location);
    })().catch((error: unknown) => {
      this.realRoot = undefined;
      throw new LakeError(`Cannot open the lake folder ${this.location}: ${describe(error)}. Check that the path is a writable folder.`, { cause: error });
    });
    return this.realRoot;
  }

  /** Removes the temp files of writers that are gone: killed in the middle of a write. */
  private async sweepTemp(tempDir: string): Promise<void> {
    let names: string[];
    try {
      names = await fsp.readdir(tempDir);
    } catch {
      return; // No temp area yet.
    }
    const now = Date.now();
    for (const name of names) {
      const pid = Number(name.split('-', 1)[0]);
      const file = path.join(tempDir, name);
      let stale = !isRunning(pid);
      if (!stale) {
        try {
          stale = now - (await fsp.stat(file)).mtimeMs > STALE_TEMP_MS;
        } catch {
          continue;
        }
      }
      if (stale) await fsp.rm(file, { force: true });
    }
  }

  /**
   * Write `data` to a new, fsynced temp file and return its path and its still open handle: the
   * caller closes it (its content is already durable, so closing can overlap the publish).
   */
  private async writeTemp(data: Uint8Array | string): Promise<{ temp: string; handle: fsp.FileHandle }> {
    const tempDir = path.join(await this.root(), LOCAL_LAKE_TEMP_FOLDER);
    await (this.swept ??= this.sweepTemp(tempDir));
    const temp = path.join(tempDir, `${process.pid}-${randomUUID()}`);
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(temp, 'wx');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      // The temp area was removed from under us; recreate it once.
      await fsp.mkdir(tempDir, { recursive: true });
      handle = await fsp.open(temp, 'wx');
    }
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await removeTemp(temp);
      throw error;
    }
    return { temp, handle };
  }

  private async ensureParent(lakePath: string, target: string): Promise<void> {
    try {
      await fsp.mkdir(path.dirname(target), { recursive: true });
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new LakeError(
          `Cannot store ${JSON.stringify(lakePath)} in the lake at ${this.location}: one of its folders is an object. Pick a path whose folders are not objects.`,
          { cause: error },
        );
      }
      throw this.failure('create folders for', lakePath, error);
    }
  }

  /** True when something is at `target`; throws when that something is a folder. */
  private async occupied(lakePath: string, target: string): Promise<boolean> {
    try {
      const info = await fsp.lstat(target);
      if (info.isDirectory()) throw this.folderInTheWay(lakePath);
      return true;
    } catch (error) {
      if (error instanceof LakeError) throw error;
      if (ABSENT_CODES.has(errorCode(error) ?? '')) return false;
      throw this.failure('stat', lakePath, error);
    }
  }

  private folderInTheWay(lakePath: string): LakeError {
    return new LakeError(`Cannot store ${JSON.stringify(lakePath)} in the lake at ${this.location}: a folder of that name holds other objects.`);
  }

  private failure(operation: string, lakePath: string, error: unknown): LakeError {
    if (error instanceof LakeError) return error;
    const hint = STORAGE_HINTS[errorCode(error) ?? ''];
    return new LakeError(`Cannot ${operation} ${JSON.stringify(lakePath)} in the lake at ${this.location}: ${describe(error)}${hint === undefined ? '' : ` (${hint})`}`, {
      cause: error,
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new LakeError(`The lake at ${this.location} is closed; create a new LocalLake to use it again.`);
  }
}

/** What a storage failure no retry of the stage fixes by itself means, and what to do. */
const STORAGE_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk holding the lake is full: free space on it; the stage goes on from its checkpoint once it can write',
  EDQUOT: 'the disk quota of this user is used up: free space or raise the quota; the stage goes on from its checkpoint once it can write',
  EROFS: 'the file system holding the lake is read-only: mount it writable',
  EACCES: 'this process may not write there: check the owner and permissions of the lake folder',
  EPERM: 'this process may not write there: check the owner and permissions of the lake folder',
};

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isWithin(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/**
 * Compares well-formed strings in the order of their UTF-8 bytes (code point order) without
 * encoding them: UTF-16 code units already sort so, except that surrogates (code points past
 * U+FFFF) must sort after U+E000–U+FFFF.
 */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

async function isDirectory(target: string): Promise<boolean> {
  try {
    return (await fsp.lstat(target)).isDirectory();
  } catch {
    return false;
  }
}

async function isSymbolicLink(target: string): Promise<boolean> {
  try {
    return (await fsp.lstat(target)).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Closes a handle while other work goes on; the promise is handled at once (the awaiter still sees a failure). */
function closeAside(handle: fsp.FileHandle): Promise<void> {
  const closed = handle.close();
  closed.catch(() => undefined);
  return closed;
}

/** Removes a temp file (one unlink, where `rm` would stat it first); one already gone is fine. */
async function removeTemp(temp: string): Promise<void> {
  try {
    await fsp.unlink(temp);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

/** Persist a folder's entries (a new or renamed name). Some platforms cannot open folders; that is not an error. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'EBADF'].includes(errorCode(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

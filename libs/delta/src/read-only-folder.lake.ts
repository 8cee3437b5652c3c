/**
 * A read-only `Lake` over a local folder, for reading third-party tables (test fixtures) without
 * touching them: unlike `LocalLake` it creates no temp area, and every write is refused.
 *
 * Invariant: `list` yields paths in ascending UTF-8 byte order, as the `Lake` port requires.
 */
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { assertLakePath, LakeError, LakeNotFoundError, type Lake, type LakeEntry } from '@pipeline/ports';

export class ReadOnlyFolderLake implements Lake {
  readonly location: string;

  constructor(folder: string) {
    this.location = path.resolve(folder);
  }

  createIfAbsent(lakePath: string): Promise<boolean> {
    return Promise.reject(this.refuse(lakePath));
  }

  write(lakePath: string): Promise<void> {
    return Promise.reject(this.refuse(lakePath));
  }

  delete(lakePath: string): Promise<void> {
    return Promise.reject(this.refuse(lakePath));
  }

  async read(lakePath: string): Promise<Buffer> {
    assertLakePath(lakePath);
    try {
      return await fsp.readFile(path.join(this.location, lakePath));
    } catch {
      throw new LakeNotFoundError(lakePath, this.location);
    }
  }

  async readStream(lakePath: string): Promise<Readable> {
    if (!(await this.exists(lakePath))) throw new LakeNotFoundError(lakePath, this.location);
    return createReadStream(path.join(this.location, lakePath));
  }

  async stat(lakePath: string): Promise<LakeEntry | undefined> {
    assertLakePath(lakePath);
    const stats = await fsp.stat(path.join(this.location, lakePath)).catch(() => undefined);
    return stats?.isFile() ? { path: lakePath, size: stats.size, modifiedAt: stats.mtimeMs } : undefined;
  }

  async exists(lakePath: string): Promise<boolean> {
    return (await this.stat(lakePath)) !== undefined;
  }

  async *list(prefix: string, options: { startAfter?: string; limit?: number } = {}): AsyncIterable<LakeEntry> {
    assertLakePath(prefix, 'prefix');
    const entries = await fsp.readdir(this.location, { recursive: true, withFileTypes: true });
    const paths = entries
      .filter((entry) => entry.isFile())
      .map((entry) => path.relative(this.location, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
      .filter((p) => p.startsWith(prefix) && (options.startAfter === undefined || Buffer.compare(Buffer.from(p), Buffer.from(options.startAfter)) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    let count = 0;
    for (const p of paths) {
      if (options.limit !== undefined && count++ >= options.limit) return;
      const entry = await this.stat(p);
      if (entry) yield entry;
    }
  }

  /** Nothing is held open between calls. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private refuse(lakePath: string): LakeError {
    return new LakeError(`The lake at ${this.location} is read-only; cannot write ${JSON.stringify(lakePath)}.`);
  }
}

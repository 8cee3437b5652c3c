import type { Readable } from 'node:stream';
import type { Lake, LakeEntry } from '@pipeline/ports';

/**
 * A lake that notes every read (`read`, `readStream`) and listing by path, and every operation of
 * any kind as `op path`, and passes everything through: tests assert how much a reader opened,
 * whatever the size of what it could have opened, and how many lake operations a step costs.
 */
export class CountingLake implements Lake {
  /** Paths read, in order (a path read twice appears twice). */
  readonly reads: string[] = [];
  /** Prefixes listed, in order. */
  readonly lists: string[] = [];
  /** Every operation, in order, as `op path` (e.g. `delete checkpoints/x/offsets/…`; a listing as `list prefix`). */
  readonly operations: string[] = [];

  constructor(private readonly inner: Lake) {}

  get location(): string {
    return this.inner.location;
  }

  /** Reads of paths matching `pattern` since the last `reset`. */
  readsOf(pattern: RegExp): string[] {
    return this.reads.filter((path) => pattern.test(path));
  }

  /** Operations whose `op path` matches `pattern` since the last `reset`. */
  operationsOf(pattern: RegExp): string[] {
    return this.operations.filter((operation) => pattern.test(operation));
  }

  reset(): void {
    this.reads.length = 0;
    this.lists.length = 0;
    this.operations.length = 0;
  }

  read(path: string): Promise<Buffer> {
    this.reads.push(path);
    this.operations.push(`read ${path}`);
    return this.inner.read(path);
  }
  readStream(path: string): Promise<Readable> {
    this.reads.push(path);
    this.operations.push(`readStream ${path}`);
    return this.inner.readStream(path);
  }
  list(prefix: string, options?: { startAfter?: string; limit?: number }): AsyncIterable<LakeEntry> {
    this.lists.push(prefix);
    this.operations.push(`list ${prefix}`);
    return this.inner.list(prefix, options);
  }
  createIfAbsent(path: string, data: Uint8Array | string): Promise<boolean> {
    this.operations.push(`createIfAbsent ${path}`);
    return this.inner.createIfAbsent(path, data);
  }
  write(path: string, data: Uint8Array | string): Promise<void> {
    this.operations.push(`write ${path}`);
    return this.inner.write(path, data);
  }
  delete(path: string): Promise<void> {
    this.operations.push(`delete ${path}`);
    return this.inner.delete(path);
  }
  stat(path: string): Promise<LakeEntry | undefined> {
    this.operations.push(`stat ${path}`);
    return this.inner.stat(path);
  }
  exists(path: string): Promise<boolean> {
    this.operations.push(`exists ${path}`);
    return this.inner.exists(path);
  }
  /** The inner lake belongs to the test, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

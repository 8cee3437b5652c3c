import type { Readable } from 'node:stream';
import type { Lake, LakeEntry } from '@pipeline/ports';

/** Thrown by `FaultyLake` where a process would have died. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/**
 * A lake that "crashes" (throws `SimulatedCrash`) on its n-th write operation (createIfAbsent,
 * write, delete), counting from 1, before that operation takes effect. Reads pass through.
 * Used to kill a stage at each step of a batch and prove the restart recovers.
 */
export class FaultyLake implements Lake {
  private writes = 0;
  /** Names of the write operations done so far, as `op path`. */
  readonly journal: string[] = [];

  constructor(
    private readonly inner: Lake,
    private readonly crashAtWrite = Infinity,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  private step(op: string, path: string): void {
    this.writes++;
    if (this.writes === this.crashAtWrite) throw new SimulatedCrash(`crash before write #${this.writes}: ${op} ${path}`);
    this.journal.push(`${op} ${path}`);
  }

  async createIfAbsent(path: string, data: Uint8Array | string): Promise<boolean> {
    this.step('createIfAbsent', path);
    return this.inner.createIfAbsent(path, data);
  }
  async write(path: string, data: Uint8Array | string): Promise<void> {
    this.step('write', path);
    return this.inner.write(path, data);
  }
  async delete(path: string): Promise<void> {
    this.step('delete', path);
    return this.inner.delete(path);
  }
  read(path: string): Promise<Buffer> {
    return this.inner.read(path);
  }
  readStream(path: string): Promise<Readable> {
    return this.inner.readStream(path);
  }
  stat(path: string): Promise<LakeEntry | undefined> {
    return this.inner.stat(path);
  }
  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }
  list(prefix: string, options?: { startAfter?: string; limit?: number }): AsyncIterable<LakeEntry> {
    return this.inner.list(prefix, options);
  }
  /** The inner lake belongs to the test, which closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

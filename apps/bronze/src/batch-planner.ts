/**
 * The files discovered but not yet in a batch, and when to cut the next batch from them.
 *
 * Batches take files in a fixed order — file time, then partition, then path — so the batches cut
 * from the same pending files are always the same. A batch holds at most `maxFiles` files and
 * `maxBytes` bytes (but always at least one file); a batch below those limits is cut only once its
 * earliest-discovered file has waited `maxDelayMs`, or at once when draining.
 */
import type { DiscoveredFile } from './partition-discovery';

export interface BatchLimits {
  maxFiles: number;
  maxBytes: number;
  maxDelayMs: number;
}

interface PendingFile extends DiscoveredFile {
  discoveredAt: number;
}

export function compareFiles(a: DiscoveredFile, b: DiscoveredFile): number {
  return a.time - b.time || Number(a.partitionId) - Number(b.partitionId) || a.partitionId.localeCompare(b.partitionId) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

export class BatchPlanner {
  private readonly pending = new Map<string, PendingFile>();

  constructor(private readonly limits: BatchLimits) {}

  get size(): number {
    return this.pending.size;
  }

  /** A copy of the pending paths. */
  paths(): Set<string> {
    return new Set(this.pending.keys());
  }

  has(path: string): boolean {
    return this.pending.has(path);
  }

  add(files: readonly DiscoveredFile[], now: number): void {
    for (const file of files) if (!this.pending.has(file.path)) this.pending.set(file.path, { ...file, discoveredAt: now });
  }

  /** The greatest pending path of a partition (its newest file: paths sort in time order), if any. */
  newest(partitionId: string): string | undefined {
    let newest: string | undefined;
    for (const file of this.pending.values()) if (file.partitionId === partitionId && (newest === undefined || file.path > newest)) newest = file.path;
    return newest;
  }

  remove(paths: Iterable<string>): void {
    for (const path of paths) this.pending.delete(path);
  }

  /** The files of the next batch, or `undefined` when nothing is due yet. */
  next(now: number, draining: boolean): DiscoveredFile[] | undefined {
    if (this.pending.size === 0) return undefined;
    const ordered = [...this.pending.values()].sort(compareFiles);
    const batch: PendingFile[] = [];
    let bytes = 0;
    for (const file of ordered) {
      if (batch.length === this.limits.maxFiles || (batch.length > 0 && bytes + file.bytes > this.limits.maxBytes)) break;
      batch.push(file);
      bytes += file.bytes;
    }
    const full = batch.length === this.limits.maxFiles || batch.length < ordered.length;
    const waited = now - Math.min(...batch.map((f) => f.discoveredAt));
    if (!full && !draining && waited < this.limits.maxDelayMs) return undefined;
    return batch.map(({ path, partitionId, time, bytes: size, restore }) =>
      restore ? { path, partitionId, time, bytes: size, restore } : { path, partitionId, time, bytes: size },
    );
  }
}

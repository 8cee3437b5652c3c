/**
 * Finds a partition's capture files that bronze has not taken yet, without ever listing the whole
 * partition: each poll lists the hour folders from the cursor's horizon (position − lookback) up to
 * the current hour, one `lake.list` per hour folder. Past the position, an empty hour is followed by
 * one probe (`list` with `startAfter`, `limit: 1`) that jumps to the next hour holding anything, so
 * a quiet partition or an old backlog costs a few calls, not one per hour since; after the current
 * hour, probes go on while they find files (file names can be ahead of the clock).
 *
 * Before anything of a partition is consumed, its earliest file (one `list` with `limit: 1`) stands
 * in for the position. Paths that do not follow the layout are logged once and ignored.
 *
 * Between those listings of the lookback window, `discoverAfter` finds what capture wrote since:
 * within a partition, capture's paths increase with time and byte order is time order, so one
 * `list` with `startAfter` the newest known path gives exactly the newer files. Files that land
 * with an older time (Capture back-filling after an outage) wait for the next whole listing.
 */
import type { Lake, LakeEntry } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { CAPTURE_LAYOUT, captureFileTime, floorHour, hourFolder, hourOfPath, hourPrefix, HOUR_MS, partitionPrefix, type CaptureLayout } from '@pipeline/contracts';
import type { PartitionCursor } from './partition-cursor';
import type { FileRestore } from './bronze-checkpoint';

export interface DiscoveredFile {
  path: string;
  partitionId: string;
  /** Epoch ms, from the path. */
  time: number;
  /** Size when listed. */
  bytes: number;
  /** Put back by `pipeline rejected restore` (see bronze-checkpoint.ts). */
  restore?: FileRestore;
}

/**
 * Why bronze would not take a file of the partition now, or `undefined` when the file is new: it is
 * before the horizon, consumed according to the cursor, or already pending. Listing and notices
 * both go through it. `horizon` defaults to the cursor's (none before anything is consumed).
 */
export function whyNotNew(
  file: { path: string; time: number },
  cursor: PartitionCursor | undefined,
  pending: (path: string) => boolean,
  horizon: number | undefined = cursor?.horizon,
): string | undefined {
  if (horizon !== undefined && file.time < horizon) return "older than the partition's horizon (the lookback behind its newest consumed file)";
  if (cursor?.has(file.time)) return 'already consumed, according to the checkpoint';
  if (pending(file.path)) return 'already pending';
  return undefined;
}

export class PartitionDiscovery {
  /** Time of the earliest file, found once, until the partition has a cursor. */
  private earliest: number | undefined;
  private readonly warned = new Set<string>();

  constructor(
    readonly partitionId: string,
    private readonly layout: CaptureLayout,
    private readonly lake: Lake,
    private readonly logger: Logger,
    private readonly lookbackMs: number,
  ) {}

  /**
   * Files of the partition at or after the horizon that the cursor has not consumed and `known`
   * does not hold (already pending), in listing order.
   */
  async discover(cursor: PartitionCursor | undefined, known: (path: string) => boolean, now: number): Promise<DiscoveredFile[]> {
    let horizon: number;
    let anchor: number;
    if (cursor) {
      horizon = cursor.horizon;
      anchor = cursor.positionTime;
    } else {
      this.earliest ??= await this.findEarliest();
      if (this.earliest === undefined) return [];
      horizon = this.earliest - this.lookbackMs;
      anchor = this.earliest;
    }
    const anchorHour = floorHour(anchor);
    const endHour = Math.max(floorHour(now), anchorHour);
    const found: DiscoveredFile[] = [];
    let hour: number | undefined = floorHour(horizon);
    while (hour !== undefined) {
      let listed = 0;
      for await (const entry of this.lake.list(hourPrefix(this.layout, this.partitionId, hour))) {
        listed++;
        const time = this.fileTime(entry);
        if (time === undefined || whyNotNew({ path: entry.path, time }, cursor, known, horizon) !== undefined) continue;
        found.push({ path: entry.path, partitionId: this.partitionId, time, bytes: entry.size });
      }
      // Inside the lookback window every hour is listed (late files land there); past it, empty
      // stretches are skipped; past the current hour only hours holding files are listed: a file name
      // can be ahead of the clock (capture moves a file that would share a second with the previous
      // one to the next free second).
      const next: number = hour + HOUR_MS;
      hour = next <= endHour && (listed > 0 || hour < anchorHour) ? next : await this.nextHourWithFiles(next);
    }
    return found;
  }

  /**
   * The files of the partition after `after` (its newest consumed or pending path) that are new, in
   * listing order: one `list` with `startAfter`.
   */
  async discoverAfter(after: string, cursor: PartitionCursor | undefined, known: (path: string) => boolean): Promise<DiscoveredFile[]> {
    const found: DiscoveredFile[] = [];
    for await (const entry of this.lake.list(partitionPrefix(this.layout, this.partitionId), { startAfter: after })) {
      const time = this.fileTime(entry);
      if (time === undefined || whyNotNew({ path: entry.path, time }, cursor, known) !== undefined) continue;
      found.push({ path: entry.path, partitionId: this.partitionId, time, bytes: entry.size });
    }
    return found;
  }

  /** The earliest capture file's time, with one `list(limit: 1)` (plus one per stray file before it). */
  private async findEarliest(): Promise<number | undefined> {
    const prefix = partitionPrefix(this.layout, this.partitionId);
    let after: string | undefined;
    for (;;) {
      const entry = await this.first(prefix, after);
      if (!entry) return undefined;
      const time = this.fileTime(entry);
      if (time !== undefined) return time;
      after = entry.path;
    }
  }

  /** Start of the first hour at or after `from` whose folder holds anything, or `undefined`. */
  private async nextHourWithFiles(from: number): Promise<number | undefined> {
    const prefix = partitionPrefix(this.layout, this.partitionId);
    // Every path of hour `from` and later sorts after the bare folder name `…/YYYY/MM/DD/HH`.
    let after = `${prefix}${hourFolder(from)}`;
    for (;;) {
      const entry = await this.first(prefix, after);
      if (!entry) return undefined;
      const hour = hourOfPath(this.layout, this.partitionId, entry.path);
      if (hour !== undefined) return hour;
      this.warnOnce(entry.path);
      after = entry.path;
    }
  }

  private async first(prefix: string, startAfter: string | undefined): Promise<LakeEntry | undefined> {
    for await (const entry of this.lake.list(prefix, startAfter === undefined ? { limit: 1 } : { startAfter, limit: 1 })) return entry;
    return undefined;
  }

  private fileTime(entry: LakeEntry): number | undefined {
    const time = captureFileTime(this.layout, this.partitionId, entry.path);
    if (time === undefined) this.warnOnce(entry.path);
    return time;
  }

  private warnOnce(path: string): void {
    if (this.warned.has(path)) return;
    this.warned.add(path);
    this.logger.warn({ partition: this.partitionId, path, layout: CAPTURE_LAYOUT }, 'ignoring a file that does not follow the Event Hubs Capture layout');
  }
}

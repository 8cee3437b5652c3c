/**
 * Where bronze is in one partition, kept in the stage state after every batch:
 * - `position`: the newest consumed file; listing starts from its time minus the lookback.
 * - `horizon`: files older than this are outside the lookback window: never listed, never taken.
 *   It only moves forward, so a longer lookback set later cannot bring back a consumed file.
 * - `consumed`: every consumed file at or after the horizon (by time: a partition has one file per
 *   time, see capture-layout), so a file that shows up late, with an older time than the position, is
 *   taken once and only once. Whole-second times are stored in seconds, sub-second ones in ms.
 *   A file set aside is consumed too: listing never takes it again, only a restore does.
 * A cursor is a pure function of the previous one and the batch, so a re-done batch gives the same state.
 */
import type { PartitionCursorState } from '@pipeline/contracts';
import { type CaptureLayout } from '@pipeline/contracts';
import { captureFileTime } from '@pipeline/contracts';

/** The cursor as stored in `state/N`. */

export interface ConsumedFile {
  path: string;
  /** Epoch ms, from the path. */
  time: number;
  records: number;
  /** Consumed without counting: set aside, or referenced again after silver set it aside (counted when first referenced). */
  uncounted?: boolean;
}

export class PartitionCursor {
  private constructor(
    readonly position: string,
    readonly positionTime: number,
    readonly horizon: number,
    private readonly consumed: ReadonlySet<number>,
    readonly files: number,
    readonly records: number,
  ) {}

  /** The cursor after consuming `files` (at least one) from `previous`, or from nothing. */
  static advance(previous: PartitionCursor | undefined, files: readonly ConsumedFile[], lookbackMs: number): PartitionCursor {
    if (files.length === 0) throw new Error('PartitionCursor.advance needs at least one file.');
    let position = previous?.position;
    let positionTime = previous?.positionTime ?? Number.NEGATIVE_INFINITY;
    const consumed = new Set(previous?.consumed);
    let records = previous?.records ?? 0;
    let counted = previous?.files ?? 0;
    for (const file of files) {
      consumed.add(file.time);
      if (!file.uncounted) {
        records += file.records;
        counted++;
      }
      if (file.time > positionTime) {
        positionTime = file.time;
        position = file.path;
      }
    }
    const horizon = Math.max(previous?.horizon ?? Number.NEGATIVE_INFINITY, positionTime - lookbackMs);
    for (const time of consumed) if (time < horizon) consumed.delete(time);
    return new PartitionCursor(position as string, positionTime, horizon, consumed, counted, records);
  }

  static restore(state: PartitionCursorState, layout: CaptureLayout, partitionId: string): PartitionCursor {
    const positionTime = captureFileTime(layout, partitionId, state.position);
    if (positionTime === undefined) {
      throw new Error(
        `The bronze state names ${state.position} as the position of partition ${partitionId}, which is not a capture file of ${layout.prefix}/${layout.namespace}/${layout.eventHub}.`,
      );
    }
    const consumed = new Set<number>();
    for (const seconds of undoDifferences(state.consumed)) consumed.add(seconds * 1000);
    for (const ms of undoDifferences(state.consumedMs ?? [])) consumed.add(ms);
    return new PartitionCursor(state.position, positionTime, state.horizon, consumed, state.files, state.records);
  }

  /** Whether the file at `time` was consumed (meaningful at or after the horizon). */
  has(time: number): boolean {
    return this.consumed.has(time);
  }

  get consumedCount(): number {
    return this.consumed.size;
  }

  snapshot(): PartitionCursorState {
    const all = [...this.consumed].sort((a, b) => a - b);
    const consumed = differences(all.filter((ms) => ms % 1000 === 0).map((ms) => ms / 1000));
    const subSecond = all.filter((ms) => ms % 1000 !== 0);
    return {
      position: this.position,
      horizon: this.horizon,
      consumed,
      ...(subSecond.length > 0 ? { consumedMs: differences(subSecond) } : {}),
      files: this.files,
      records: this.records,
    };
  }
}

/** Ascending values as the first one, then the difference to the one before. */
function differences(sorted: readonly number[]): number[] {
  return sorted.map((value, i) => (i === 0 ? value : value - (sorted[i - 1] as number)));
}

function undoDifferences(stored: readonly number[]): number[] {
  let value = 0;
  return stored.map((step, i) => (value = i === 0 ? step : value + step));
}

export type { PartitionCursorState };

/**
 * Event Hubs Capture's default path layout, as capture writes it and bronze reads it, in one place:
 * `{prefix}/{namespace}/{hub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro` (UTC, zero-padded).
 *
 * Within a partition a file is identified by its time, so a consumed file can be remembered by its
 * time alone, and listing one hour folder (`…/{YYYY}/{MM}/{DD}/{HH}/`) finds every file of that hour.
 * Parsing is strict: a path is a capture file only if re-formatting its time gives the path back (no
 * `13` months, no extra segments, no `_000`).
 *
 * Event Hubs Capture closes at most one file per second (its window is at least a minute). The
 * self-hosted capture can close files more often, for freshness: with a window under a second it
 * names a file by its millisecond, `{ss}_{SSS}.avro` (`07_250.avro` is 250 ms after `07.avro`; a file
 * on a whole second keeps the plain name). Both forms are the same fixed width up to the seconds,
 * and `.` sorts before `_`, so in any mix of the two, byte order is time order. Within a partition,
 * the paths capture writes strictly increase with sequence numbers: a file that would land on the
 * time of the previous one takes the next free second or millisecond (`nextCapturePath`), so paths
 * never collide and sorted order is capture order.
 */

/** Bumped when the layout bronze reads changes; part of the checkpoint's fingerprint. */
export const CAPTURE_LAYOUT_VERSION = 1;
export const CAPTURE_LAYOUT = '{prefix}/{namespace}/{hub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro';

import { captureTimeOfPath } from './manifest';

export const HOUR_MS = 3_600_000;

export interface CaptureLayout {
  /** Lake folder the capture files are under (`raw`). */
  prefix: string;
  namespace: string;
  eventHub: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function partitionPrefix(layout: CaptureLayout, partitionId: string): string {
  return `${layout.prefix}/${layout.namespace}/${layout.eventHub}/${partitionId}/`;
}

/** `YYYY/MM/DD/HH` of the hour holding `epochMs` (UTC). */
export function hourFolder(epochMs: number): string {
  const d = new Date(epochMs);
  return `${pad(d.getUTCFullYear(), 4)}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}`;
}

/** The prefix that lists every file of one hour of a partition (ends with `/`). */
export function hourPrefix(layout: CaptureLayout, partitionId: string, epochMs: number): string {
  return `${partitionPrefix(layout, partitionId)}${hourFolder(epochMs)}/`;
}

export function floorHour(epochMs: number): number {
  return Math.floor(epochMs / HOUR_MS) * HOUR_MS;
}

/**
 * How finely capture names its files: by the second, as Event Hubs Capture does, or by the
 * millisecond (`{ss}_{SSS}.avro`), which the self-hosted capture uses for windows under a second.
 */
export type CapturePrecision = 'second' | 'millisecond';

/** The precision of file names for a capture window of `windowMs`. */
export function capturePrecisionFor(windowMs: number): CapturePrecision {
  return windowMs < 1000 ? 'millisecond' : 'second';
}

/** The path of the file a partition's capture writes at `epochMs` (whole seconds, or milliseconds). */
export function capturePath(layout: CaptureLayout, partitionId: string, epochMs: number, precision: CapturePrecision = 'second'): string {
  const second = Math.floor(epochMs / 1000) * 1000;
  const millis = precision === 'millisecond' ? epochMs - second : 0;
  const d = new Date(second);
  const name = millis === 0 ? pad(d.getUTCSeconds()) : `${pad(d.getUTCSeconds())}_${pad(millis, 3)}`;
  return `${partitionPrefix(layout, partitionId)}${hourFolder(second)}/${pad(d.getUTCMinutes())}/${name}.avro`;
}

const FILE_SUFFIX = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})(?:_(\d{3}))?\.avro$/;
const HOUR_SUFFIX = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//;

/** Epoch ms a capture file of the partition stands for, or `undefined` when the path is not one. */
export function captureFileTime(layout: CaptureLayout, partitionId: string, path: string): number | undefined {
  const prefix = partitionPrefix(layout, partitionId);
  if (!path.startsWith(prefix)) return undefined;
  const m = FILE_SUFFIX.exec(path.slice(prefix.length));
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h, mi, s) + Number(m[7] ?? 0);
  return capturePath(layout, partitionId, time, m[7] === undefined ? 'second' : 'millisecond') === path ? time : undefined;
}

/** Start of the hour whose folder holds `path` (the path need not be a capture file), or `undefined`. */
export function hourOfPath(layout: CaptureLayout, partitionId: string, path: string): number | undefined {
  const prefix = partitionPrefix(layout, partitionId);
  if (!path.startsWith(prefix)) return undefined;
  const m = HOUR_SUFFIX.exec(path.slice(prefix.length));
  if (!m) return undefined;
  const [y, mo, d, h] = m.slice(1).map(Number) as [number, number, number, number];
  const time = Date.UTC(y, mo - 1, d, h);
  return path.startsWith(hourPrefix(layout, partitionId, time)) ? time : undefined;
}

/** One partition's files under a layout. */
export interface CapturePartition extends CaptureLayout {
  partitionId: string;
}

/** The path for a file closed at `closedAt`, strictly after `previous` (the partition's last file). */
export function nextCapturePath(partition: CapturePartition, closedAt: number, previous: string | undefined, precision: CapturePrecision = 'second'): string {
  const candidate = capturePath(partition, partition.partitionId, closedAt, precision);
  if (previous === undefined || candidate > previous) return candidate;
  const previousTime = captureTimeOfPath(previous);
  if (previousTime === undefined) return candidate;
  return capturePath(partition, partition.partitionId, previousTime + (precision === 'millisecond' ? 1 : 1000), precision);
}

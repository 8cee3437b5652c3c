/**
 * Event Hubs Capture's default path layout:
 * `{prefix}/{Namespace}/{EventHub}/{PartitionId}/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro` (UTC, zero-padded).
 * Within a partition, file paths strictly increase with sequence numbers: a file that would land on
 * the same second as the previous one takes the next free second, so paths never collide and
 * sorted order is capture order.
 */
export interface CapturePathParts {
  prefix: string;
  namespace: string;
  eventHub: string;
  partitionId: string;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

export function partitionPrefix(parts: CapturePathParts): string {
  return `${parts.prefix}/${parts.namespace}/${parts.eventHub}/${parts.partitionId}/`;
}

export function capturePath(parts: CapturePathParts, epochMs: number): string {
  const d = new Date(Math.floor(epochMs / 1000) * 1000);
  return `${partitionPrefix(parts)}${pad(d.getUTCFullYear(), 4)}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${pad(d.getUTCMinutes())}/${pad(d.getUTCSeconds())}.avro`;
}

const TIME_SUFFIX = /(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\.avro$/;

/** Epoch ms of a capture path's time folders, or `undefined` when the path does not end in them. */
export function capturePathTime(path: string): number | undefined {
  const m = TIME_SUFFIX.exec(path);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** The path for a file closed at `closedAt`, strictly after `previous` (the partition's last file). */
export function nextCapturePath(parts: CapturePathParts, closedAt: number, previous: string | undefined): string {
  const candidate = capturePath(parts, closedAt);
  if (previous === undefined || candidate > previous) return candidate;
  const previousTime = capturePathTime(previous);
  if (previousTime === undefined) return candidate;
  return capturePath(parts, previousTime + 1000);
}

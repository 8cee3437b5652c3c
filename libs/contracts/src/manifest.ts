/**
 * Batch manifests: what a batch of a layer produced, durable in the lake before any bus message
 * points at it (DESIGN invariant 1). Consumers read them per session in sequence order; a missing
 * sequence number is read from the lake, so the bus is only a doorbell.
 *
 * Layout: `{root}/{layer}/{session}/{sequence:020}.json`, where the root is `manifests` unless a
 * stage is pointed elsewhere (a replay writes its own silver manifests under `manifests/{name}`).
 * Every path inside a manifest is a lake path (relative, no `..`): a manifest that points outside
 * the lake is rejected.
 */
import { BACKUP_SOURCES } from './backup-sources';

export const MANIFEST_VERSION = 1;

/** The lake folder of the pipeline's own manifests: bronze always writes here. */
export const DEFAULT_MANIFEST_ROOT = 'manifests';

export type ManifestLayer = 'bronze' | 'silver';

/** A file a manifest references: where it is and what it holds. */
export interface ManifestFile {
  path: string;
  /** Records (Avro) or rows (Parquet) in the file. */
  rows: number;
  bytes: number;
  /** Hex SHA-256 of the file's bytes. */
  sha256: string;
  /** Event time range of the rows (epoch ms), when the layer knows it. */
  minEventTime?: number | null;
  maxEventTime?: number | null;
  /** Event hub partition and sequence range (capture files). */
  partitionId?: string;
  fromSequenceNumber?: number;
  toSequenceNumber?: number;
}

export interface ManifestInput {
  layer: ManifestLayer | 'capture';
  session: string;
  sequence: number;
  path: string;
}

interface ManifestCommon {
  version: typeof MANIFEST_VERSION;
  pipeline: string;
  /** The bus session: `bronze` for bronze batches, `shard-NNN` for silver shards. */
  session: string;
  /** 0, 1, 2, … within the session, no gaps. */
  sequence: number;
  /** The batch of the producing stage that wrote it. */
  batch: number;
  createdAt: number;
  inputs: ManifestInput[];
  files: ManifestFile[];
  /** W3C trace context of the batch span, so consumers link their spans to it. */
  traceparent?: string;
}

/** Bronze: capture files referenced in place (bronze copies and changes nothing). */
export interface BronzeManifest extends ManifestCommon {
  layer: 'bronze';
  /** Every event hub partition bronze reads, files or not: each holds event time until it has rows or is idle. */
  partitions?: string[];
}

/** One source partition's event-time progress (epoch ms; null before its first row). */
export interface ManifestPartitionProgress {
  maxEventTime: number | null;
  captureTime: number | null;
}

/**
 * Event time after a silver batch, the same in every shard's manifest: each source partition's
 * progress over all shards, and the watermark it makes, which gold applies to the next batch.
 */
export interface ManifestEventTime {
  watermark: number;
  /** The earliest capture time seen: a partition without rows counts its idleness from it. */
  start: number | null;
  /** The stream's latest pause longer than the idle timeout: the newest capture time before it, the first after it; absent when it never paused. */
  pause?: { from: number; to: number };
  partitions: Record<string, ManifestPartitionProgress>;
}

/** Silver: one shard's Parquet files of one silver batch, in the silver Delta table. */
export interface SilverManifest extends ManifestCommon {
  layer: 'silver';
  shard: number;
  table: string;
  deltaVersion: number;
  eventTime?: ManifestEventTime;
}

export type Manifest = BronzeManifest | SilverManifest;

/** The bus message that announces a manifest: a pointer, nothing more. */
export interface ManifestPointer {
  layer: ManifestLayer;
  session: string;
  sequence: number;
  path: string;
}

export function manifestPath(layer: ManifestLayer, session: string, sequence: number, root = DEFAULT_MANIFEST_ROOT): string {
  return `${root}/${layer}/${session}/${String(sequence).padStart(20, '0')}.json`;
}

export function manifestSessionPrefix(layer: ManifestLayer, session: string, root = DEFAULT_MANIFEST_ROOT): string {
  return `${root}/${layer}/${session}/`;
}

/** The folder holding every session of a layer (ends with `/`). */
export function manifestLayerPrefix(layer: ManifestLayer, root = DEFAULT_MANIFEST_ROOT): string {
  return `${root}/${layer}/`;
}

/**
 * The bus queue announcing a layer's manifests under a root: `{layer}-manifests` for the default
 * root (`bronze-manifests`, `silver-manifests`), `{layer}-manifests/{root}` for another, so the
 * doorbells of a replay never ring the pipeline's consumers.
 */
export function manifestQueue(layer: ManifestLayer, root = DEFAULT_MANIFEST_ROOT): string {
  return root === DEFAULT_MANIFEST_ROOT ? `${layer}-manifests` : `${layer}-manifests/${root}`;
}

/** `undefined` when `root` can hold manifests (a relative lake folder), otherwise why not. */
export function manifestRootProblem(root: string): string | undefined {
  if (root.endsWith('/')) return 'ends with "/": give the folder without it, e.g. manifests/replay-2026-01';
  return lakePathProblem(root);
}

const CAPTURE_TIME_SUFFIX = /\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d{2})(?:_(\d{3}))?\.avro$/;

/**
 * The time a capture file stands for: the UTC time in its path, Event Hubs Capture's layout
 * `…/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro`, or `…/{ss}_{SSS}.avro` for the self-hosted capture's
 * sub-second files. `undefined` when the path does not end that way or names no real time
 * (`2026/02/30`, `_000`).
 */
export function captureTimeOfPath(path: string): number | undefined {
  const m = CAPTURE_TIME_SUFFIX.exec(path);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = m[7] === undefined ? 0 : Number(m[7]);
  if (m[7] !== undefined && millis === 0) return undefined;
  const time = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(time);
  const same =
    back.getUTCFullYear() === y &&
    back.getUTCMonth() === mo - 1 &&
    back.getUTCDate() === d &&
    back.getUTCHours() === h &&
    back.getUTCMinutes() === mi &&
    back.getUTCSeconds() === s;
  return same ? time + millis : undefined;
}

export function shardSession(shard: number): string {
  return `shard-${String(shard).padStart(3, '0')}`;
}

export class ManifestValidationError extends Error {
  override readonly name = 'ManifestValidationError';
  constructor(
    readonly where: string,
    readonly problems: string[],
  ) {
    super(
      `Invalid manifest ${where}:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        `A manifest is written once, by the batch that committed it, and never again: put a good copy back (${BACKUP_SOURCES}), then start the stage that reads it again.`,
    );
  }
}

/** A manifest from its bytes as stored: `parseManifest` of their JSON; bytes that are not JSON are an invalid manifest too. */
export function parseManifestBytes(bytes: Uint8Array, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ManifestValidationError(where, [`is not JSON (${bytes.length} bytes: ${(error as Error).message})`]);
  }
  return parseManifest(value, where);
}

const SESSION = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Checks a lake path the way the lake does, without depending on it. */
function lakePathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'is not a non-empty string';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute: manifest paths are relative to the lake root';
  if (path.includes('\\') || path.includes('\0')) return 'contains a backslash or NUL';
  if (path.split('/').some((s) => s === '' || s === '.' || s === '..')) return "has an empty, '.' or '..' segment: it would point outside the lake";
  return undefined;
}

/** Validates parsed JSON as a manifest, listing every problem. */
export function parseManifest(value: unknown, where: string): Manifest {
  const problems: string[] = [];
  const m = value as Record<string, unknown>;
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new ManifestValidationError(where, ['is not a JSON object']);
  const int = (v: unknown, min = 0) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
  if (m['version'] !== MANIFEST_VERSION) problems.push(`version: expected ${MANIFEST_VERSION}, found ${JSON.stringify(m['version'])}`);
  if (m['layer'] !== 'bronze' && m['layer'] !== 'silver') problems.push(`layer: expected "bronze" or "silver", found ${JSON.stringify(m['layer'])}`);
  if (typeof m['pipeline'] !== 'string' || m['pipeline'] === '') problems.push('pipeline: expected the pipeline name');
  if (typeof m['session'] !== 'string' || !SESSION.test(m['session']))
    problems.push(`session: expected a session id like "bronze" or "shard-003", found ${JSON.stringify(m['session'])}`);
  for (const key of ['sequence', 'batch', 'createdAt'] as const) if (!int(m[key])) problems.push(`${key}: expected an integer ≥ 0, found ${JSON.stringify(m[key])}`);
  if (m['traceparent'] !== undefined && typeof m['traceparent'] !== 'string') problems.push('traceparent: expected a string');
  if (!Array.isArray(m['inputs'])) problems.push('inputs: expected an array');
  else
    (m['inputs'] as Record<string, unknown>[]).forEach((input, i) => {
      const p = lakePathProblem(input?.['path']);
      if (p) problems.push(`inputs[${i}].path ${p}`);
      if (!int(input?.['sequence'])) problems.push(`inputs[${i}].sequence: expected an integer ≥ 0`);
    });
  if (!Array.isArray(m['files'])) problems.push('files: expected an array');
  else
    (m['files'] as Record<string, unknown>[]).forEach((file, i) => {
      const p = lakePathProblem(file?.['path']);
      if (p) problems.push(`files[${i}].path ${JSON.stringify(file?.['path'])} ${p}`);
      for (const key of ['rows', 'bytes'] as const) if (!int(file?.[key])) problems.push(`files[${i}].${key}: expected an integer ≥ 0, found ${JSON.stringify(file?.[key])}`);
      if (typeof file?.['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(file['sha256'] as string)) problems.push(`files[${i}].sha256: expected 64 hex digits`);
    });
  if (m['partitions'] !== undefined && (!Array.isArray(m['partitions']) || !(m['partitions'] as unknown[]).every((p) => typeof p === 'string' && p !== '')))
    problems.push('partitions: expected a list of partition ids');
  if (m['eventTime'] !== undefined) problems.push(...eventTimeProblems(m['eventTime']));
  if (m['layer'] === 'silver') {
    if (!int(m['shard'])) problems.push('shard: expected an integer ≥ 0');
    if (!int(m['deltaVersion'])) problems.push('deltaVersion: expected an integer ≥ 0');
    const p = lakePathProblem(m['table']);
    if (p) problems.push(`table ${p}`);
  }
  if (problems.length > 0) throw new ManifestValidationError(where, problems);
  return m as unknown as Manifest;
}

const isTime = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

function eventTimeProblems(value: unknown): string[] {
  const time = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
  const e = value as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return ['eventTime: expected { watermark, start, partitions }'];
  const problems: string[] = [];
  if (typeof e['watermark'] !== 'number' || !Number.isFinite(e['watermark'])) problems.push('eventTime.watermark: expected epoch milliseconds');
  if (!time(e['start'])) problems.push('eventTime.start: expected epoch milliseconds or null');
  const pause = e['pause'] as Record<string, unknown> | null | undefined;
  if (pause !== undefined && (typeof pause !== 'object' || pause === null || !isTime(pause['from']) || !isTime(pause['to']) || (pause['from'] as number) > (pause['to'] as number)))
    problems.push('eventTime.pause: expected { from, to } in epoch milliseconds, from ≤ to, when present');
  const partitions = e['partitions'] as Record<string, Record<string, unknown> | null> | null;
  if (typeof partitions !== 'object' || partitions === null || Array.isArray(partitions)) problems.push('eventTime.partitions: expected an object of partitions');
  else
    for (const [id, p] of Object.entries(partitions))
      if (typeof p !== 'object' || p === null || !time(p['maxEventTime']) || !time(p['captureTime']))
        problems.push(`eventTime.partitions.${id}: expected { maxEventTime, captureTime } in epoch milliseconds or null`);
  return problems;
}

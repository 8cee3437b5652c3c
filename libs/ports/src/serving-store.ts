/**
 * The serving store: window aggregates for applications (Azure Cosmos DB, or embedded SQLite).
 *
 * One document per (window definition, grouping key, window start). Its `id` is deterministic and
 * `pk` (the partition key) is the grouping key, so one key's windows live in one partition and
 * the key endpoints are single-partition queries. Writes are conditional: a document carries the
 * gold batch that produced it (`version`), and an upsert with a version not newer than the stored
 * one changes nothing, so a re-run or late-arriving older batch never overwrites newer results.
 *
 * Session windows are named by their start, which a merge can move: the batch that merges sessions
 * retires the documents of the starts it superseded in the same `upsert` call. A retired document
 * is removed only while its stored version is older than the retiring batch, so a re-run removes
 * nothing more and a newer document under the same id stays.
 */
import type { KeyValue } from '@pipeline/contracts';

// Names and limits of serving documents live with the contracts (silver checks keys against them).
export { groupKeyText, isWindowDocumentId, windowDocumentId, windowDocumentIdPrefix, MAX_DOCUMENT_ID_BYTES, MAX_PARTITION_KEY_BYTES, type KeyValue } from '@pipeline/contracts';

export type AggregateValue = number | null;

export interface WindowDocument {
  /** Deterministic: see `windowDocumentId`. */
  id: string;
  /** Partition key: the grouping key's canonical text (see `groupKeyText`); `_all` without grouping keys. */
  pk: string;
  pipeline: string;
  /** The window definition's name in the spec (e.g. `per_minute`). */
  window: string;
  /** Epoch milliseconds. */
  windowStart: number;
  windowEnd: number;
  /** The grouping key, column by column. */
  key: Record<string, KeyValue>;
  aggregates: Record<string, AggregateValue>;
  /** True once the watermark passed the window's end: the values will not change any more. */
  final: boolean;
  /** The shard's watermark when this version was written (epoch ms). */
  watermark: number;
  shard: number;
  /** The gold batch of the shard that wrote this version; only a newer one may replace it. */
  version: number;
}

export interface ShardStatus {
  pipeline: string;
  shard: number;
  /** Last committed gold batch. */
  batch: number;
  /** Epoch ms; -Infinity is stored as null. */
  watermark: number | null;
  maxEventTime: number | null;
  rows: number;
  lateRows: number;
  windowsEmitted: number;
  updatedAt: number;
  /** Spark's `numRowsDroppedByWatermark`, summed over the shard's batches: (window, key) aggregate rows dropped as late. */
  numRowsDroppedByWatermark?: number;
  /** How each source partition holds the shard's watermark (absent from statuses written before it existed). */
  eventTime?: ShardEventTime;
  /** The gold instance that committed the batch (GOLD_INSTANCE_ID): the shard's owner then. */
  owner?: string;
}

export interface ShardEventTime {
  /** The active partition with the lowest max event time: the one holding the watermark back. */
  holdingPartition: string | null;
  /** Partitions that had no rows for the idle timeout and do not hold the watermark. */
  idlePartitions: string[];
  /** Each partition's max event time and latest capture time (epoch ms, null before its first row). */
  partitions: Record<string, { maxEventTime: number | null; captureTime: number | null }>;
}

export interface WindowQuery {
  pk: string;
  window?: string;
  /** Windows with windowStart ≥ from (epoch ms). */
  from?: number;
  /** Windows with windowStart < to. */
  to?: number;
  limit: number;
  /** Opaque token from the previous page. */
  continuationToken?: string;
}

export interface WindowPage {
  items: WindowDocument[];
  /** Present when there are more items. */
  continuationToken?: string;
}

/**
 * The most windows one `top` call returns. Stores reject a larger `limit`, so the cost of a call is
 * bounded by this, never by the number of keys (on Cosmos DB each physical partition returns at
 * most this many documents).
 */
export const MAX_TOP_LIMIT = 1000;

export interface TopQuery {
  window: string;
  windowStart: number;
  /** Aggregate name to order by, descending (nulls last). */
  by: string;
  /** 1 to `MAX_TOP_LIMIT`. */
  limit: number;
}

export interface UpsertResult {
  written: number;
  /** Documents not written because the stored version was the same or newer. */
  skipped: number;
  /** Retired documents removed (absent when none were asked for). */
  removed?: number;
}

/** A document a newer batch retired: a session whose start a merge moved, or a session merged into another. */
export interface RetiredWindow {
  pk: string;
  id: string;
  /** The retiring batch: a stored document of this version or newer stays. */
  version: number;
}

export interface ServingStore {
  readonly location: string;
  /** Conditional upserts (see the module doc); each document independently; then the conditional removal of `retired` ones. */
  upsert(documents: readonly WindowDocument[], retired?: readonly RetiredWindow[]): Promise<UpsertResult>;
  get(pk: string, id: string): Promise<WindowDocument | undefined>;
  /** A key's windows ordered by windowStart then window name, paginated. */
  queryWindows(query: WindowQuery): Promise<WindowPage>;
  /** The key's window with the latest start (of one window definition, when given). */
  latest(pk: string, window?: string): Promise<WindowDocument | undefined>;
  /** Across keys: the windows starting at `windowStart`, ordered by an aggregate. */
  top(query: TopQuery): Promise<WindowDocument[]>;
  putShardStatus(status: ShardStatus): Promise<void>;
  listShardStatus(pipeline: string): Promise<ShardStatus[]>;
  /** Whether the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class ServingStoreError extends Error {
  override readonly name: string = 'ServingStoreError';
}

export class InvalidContinuationTokenError extends ServingStoreError {
  override readonly name = 'InvalidContinuationTokenError';
}

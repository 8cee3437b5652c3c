export { QUARANTINE_REASONS, isQuarantineReason, type QuarantineReason } from './quarantine-reason';
export { silverSchema, quarantineSchema, ReservedColumnError, SILVER_ADDED_COLUMNS, SILVER_PARTITION_COLUMN, QUARANTINE_PARTITION_COLUMN } from './silver-schema';
export type { SourceEvent, SourcePropertyValue } from './source-event';
export { compileSilverTransform, type SilverOutcome, type SilverTransform, type SilverTransformOptions } from './silver-transform';
export type { ArrayRule } from './flatten';
export { shardOf, groupKeyHash } from './shard';
export { Deduplicator, type DedupState, type DedupVerdict } from './deduplicator';
export { EventTimeDedup, type BatchEventTime, type EventTimeDedupConfig, type EventTimeDedupState } from './event-time-dedup';
export { utcDate, TIMESTAMP_MIN_MS, TIMESTAMP_MAX_MS } from './utc-date';

/**
 * Why silver set an event aside. Every source row that does not reach the silver table lands in the
 * quarantine table with exactly one of these reasons (DESIGN invariant 9), so the union is closed
 * and each member has a one-line description for the docs and the audit.
 */
import type { MalformedReason } from '@pipeline/contracts';

export type QuarantineReason =
  | MalformedReason
  | 'unknown_shape'
  | 'missing_event_id'
  | 'missing_event_time'
  | 'unparseable_event_time'
  | 'missing_value'
  | 'cast_error'
  | 'key_too_long';

/** The producer's reasons for records that were not valid CSV (its `malformed` event property). */
const MALFORMED_DESCRIPTIONS: Readonly<Record<MalformedReason, string>> = {
  csv_column_count: 'The source record has a different number of fields than the header (or the spec) declares.',
  csv_quote: 'The source record has broken CSV quoting: a quote inside an unquoted field, text after a closing quote, or a quote never closed.',
  csv_utf8: 'The source record is not valid UTF-8 text.',
  csv_too_large: "The source record is larger than the CSV reader's record size limit.",
  record_too_large: 'The source record makes an event larger than the producer sends (its --max-record-size, at most what the event hub takes); the event holds its first bytes.',
};

/** One line per reason, for the docs and the audit report. */
export const QUARANTINE_REASONS: Readonly<Record<QuarantineReason, string>> = {
  ...MALFORMED_DESCRIPTIONS,
  unknown_shape:
    'The body cannot be read as a record: no body, invalid JSON or UTF-8, JSON that is not an object, an unknown content type, or two fields that flatten to the same column.',
  missing_event_id: 'The event has no event id: no `event_id` property and no value in the spec’s id column.',
  missing_event_time: 'The spec’s event time column is empty or absent.',
  unparseable_event_time: 'The event time value cannot be read in the spec’s event time format, or lies outside the years 0001 to 9999.',
  missing_value: 'A column that is not nullable is empty or absent.',
  cast_error:
    'A column value cannot be converted to the column’s type, or the id column holds a JSON number beyond ±(2^53 − 1), which JSON readers round (send such ids as JSON strings).',
  key_too_long:
    'The grouping key (the spec’s groupBy values) is too long to name its windows in the serving store: Cosmos DB holds ids of at most 1023 bytes and partition keys of at most 2048.',
};

export function isQuarantineReason(value: string): value is QuarantineReason {
  return Object.prototype.hasOwnProperty.call(QUARANTINE_REASONS, value);
}

/** Whether a `malformed` property value is one of the producer's reasons. */
export function isMalformedReason(value: string): value is MalformedReason {
  return Object.prototype.hasOwnProperty.call(MALFORMED_DESCRIPTIONS, value);
}

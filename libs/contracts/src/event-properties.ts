/** Application property names the producer stamps on every event (and Capture keeps in `Properties`). */
export const EventProperty = {
  /** The event id (from the spec's id column, or derived from source name + row number). */
  eventId: 'event_id',
  /** The spec's source name. */
  source: 'source',
  /** 1-based data row number in the source file (the header is not a row). */
  row: 'row',
  /** W3C trace context of the producer's send span. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /** Present on records that were not valid CSV: the reason code; the body is then the raw record text. */
  malformed: 'malformed',
  /** Body encoding: `json` (an object of raw field values) or `raw` (the record's bytes as read). */
  contentType: 'content_type',
  /** On a `record_too_large` marker: the size in bytes of the event the record would have made. */
  recordBytes: 'record_bytes',
} as const;

/** Why the producer could not turn a source record into fields. Silver quarantines these with the reason. */
export type MalformedReason = 'csv_column_count' | 'csv_quote' | 'csv_utf8' | 'csv_too_large' | 'record_too_large';

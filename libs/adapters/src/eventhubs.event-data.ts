/**
 * Conversions between the port's events and the Event Hubs SDK's, and the batch limit the producer
 * reports.
 *
 * Batch limit: the producer app fills batches by `eventSizeInBytes` (body, property names and
 * values, 64 bytes per event) up to `maxBatchBytes`, while the SDK counts the AMQP encoding, which
 * also carries the partition key in every event (the estimate does not count it). Reporting
 * `ESTIMATE_SHARE` of the SDK's limit, less an envelope reserve, keeps every such batch within what
 * the SDK accepts for partition keys up to `MAX_COVERED_PARTITION_KEY_BYTES` bytes and events shaped
 * like the producer's (a JSON body that holds the key, and its properties); the spec proves it.
 */
import type { EventData, ReceivedEventData } from '@azure/event-hubs';
import type { EventToSend, PropertyValue, ReceivedEvent } from '@pipeline/ports';

/** Share of the SDK's batch limit reported as `maxBatchBytes`. */
export const ESTIMATE_SHARE = 0.6;
/** Bytes kept for the batch envelope (its AMQP header and the partition key annotation). */
export const BATCH_ENVELOPE_RESERVE_BYTES = 1024;
/** The partition key length (UTF-8 bytes) the reported limit is proven for. */
export const MAX_COVERED_PARTITION_KEY_BYTES = 128;

/** `maxBatchBytes` to report for a sender link whose batches hold `sdkMaxSizeInBytes`. */
export function reportedMaxBatchBytes(sdkMaxSizeInBytes: number): number {
  if (!Number.isFinite(sdkMaxSizeInBytes) || sdkMaxSizeInBytes <= BATCH_ENVELOPE_RESERVE_BYTES) {
    throw new RangeError(`The Event Hubs batch limit must be more than ${BATCH_ENVELOPE_RESERVE_BYTES} bytes, the service reported ${sdkMaxSizeInBytes}.`);
  }
  return Math.floor((sdkMaxSizeInBytes - BATCH_ENVELOPE_RESERVE_BYTES) * ESTIMATE_SHARE);
}

/** The SDK event for a port event: the body as bytes, properties as they are (Buffers stay binary). */
export function toEventData(event: EventToSend): EventData {
  const body = Buffer.isBuffer(event.body) ? event.body : Buffer.from(event.body.buffer, event.body.byteOffset, event.body.byteLength);
  return event.properties === undefined ? { body } : { body, properties: { ...event.properties } };
}

/**
 * The port event for an SDK event received with `skipParsingBodyAsJson`. Bodies that other
 * producers sent as AMQP values rather than data sections become bytes (strings as UTF-8, other
 * values as JSON); property values the port cannot carry become strings, dates epoch ms, and
 * nulls are left out.
 */
export function fromReceivedEventData(data: ReceivedEventData, partitionId: string): ReceivedEvent {
  return {
    partitionId,
    sequenceNumber: data.sequenceNumber,
    offset: String(data.offset),
    enqueuedTime: data.enqueuedTimeUtc.getTime(),
    partitionKey: data.partitionKey ?? null,
    properties: toProperties(data.properties),
    body: toBody(data.body),
  };
}

function toBody(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function toProperties(properties: Record<string, unknown> | undefined): Record<string, PropertyValue> {
  const result: Record<string, PropertyValue> = {};
  for (const [key, value] of Object.entries(properties ?? {})) {
    const converted = toPropertyValue(value);
    // A key named `__proto__` stays an own property.
    if (converted !== undefined) Object.defineProperty(result, key, { value: converted, enumerable: true, writable: true, configurable: true });
  }
  return result;
}

function toPropertyValue(value: unknown): PropertyValue | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.getTime();
  return JSON.stringify(value);
}

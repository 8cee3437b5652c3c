/**
 * What Capture writes for an event it received.
 *
 * SystemProperties hold only what Azure keeps there beyond the top-level fields: `x-opt-partition-key`
 * when the event was sent with a partition key. The real files show no copies of sequence number,
 * offset or enqueued time there (the 2018 fixture's 677 records have empty SystemProperties; the 2016
 * one holds only `x-opt-publisher`, a publisher-policy feature this pipeline does not use).
 *
 * Property values map to the schema's union: numbers stay numbers (the writer picks long for safe
 * integers, double otherwise), strings and Buffers pass through, and booleans become the strings
 * "true"/"false" because the Capture schema has no boolean branch.
 */
import type { PropertyValue, ReceivedEvent } from '@pipeline/ports';
import type { CaptureRecord, CaptureValue } from './capture-record';
import { formatEnqueuedTimeUtc } from './enqueued-time';

export const PARTITION_KEY_SYSTEM_PROPERTY = 'x-opt-partition-key';

function captureValue(value: PropertyValue, name: string): CaptureValue {
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' || typeof value === 'string' || Buffer.isBuffer(value)) return value;
  throw new TypeError(`Event property ${JSON.stringify(name)} has unsupported type ${typeof value}; use a string, number, boolean or Buffer.`);
}

export function captureRecordFromEvent(event: ReceivedEvent): CaptureRecord {
  const systemProperties: Record<string, CaptureValue> = {};
  if (event.partitionKey != null) systemProperties[PARTITION_KEY_SYSTEM_PROPERTY] = event.partitionKey;
  const properties: Record<string, CaptureValue> = {};
  const source = event.properties;
  const names = Object.keys(source);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    properties[name] = captureValue(source[name] as PropertyValue, name);
  }
  return {
    sequenceNumber: event.sequenceNumber,
    offset: event.offset,
    enqueuedTimeUtc: formatEnqueuedTimeUtc(event.enqueuedTime),
    systemProperties,
    properties,
    body: event.body,
  };
}

/** Shared by this library's specs only (not exported from index.ts). */
import * as path from 'node:path';
import * as avsc from 'avsc';
import type { CaptureRecord, CaptureValue } from './capture-record';
import { CaptureFormatError } from './capture-format-error';

export const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/eventhubs-capture');

/** Yields `bytes` in chunks of `chunkSize`, like a stream would. */
export async function* chunked(bytes: Buffer, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Records read before the failure, and the failure (which must be a CaptureFormatError). */
export async function collectUntilError(items: AsyncIterable<CaptureRecord>): Promise<{ records: CaptureRecord[]; error: CaptureFormatError }> {
  const records: CaptureRecord[] = [];
  try {
    for await (const item of items) records.push(item);
  } catch (error) {
    if (error instanceof CaptureFormatError) return { records, error };
    throw error;
  }
  throw new Error(`expected a CaptureFormatError, but all ${records.length} records were read`);
}

export interface PlainAvscFile {
  codec: string;
  schema: object;
  /** Records as avsc returns them with its default options (ambiguous unions wrapped). */
  values: Array<Record<string, unknown>>;
}

/** Decodes a whole OCF buffer with avsc's own BlockDecoder, independent of this library's reader. */
export function decodeWithAvsc(bytes: Buffer): Promise<PlainAvscFile> {
  return new Promise((resolve, reject) => {
    const decoder = new avsc.streams.BlockDecoder();
    const values: Array<Record<string, unknown>> = [];
    let codec = '';
    let schema: object = {};
    decoder.on('metadata', (type: avsc.Type, codecName: string) => {
      codec = codecName;
      schema = type.schema() as object;
    });
    decoder.on('data', (value: Record<string, unknown>) => values.push(value));
    decoder.on('error', reject);
    decoder.on('end', () => resolve({ codec, schema, values }));
    decoder.end(bytes);
  });
}

function unwrapUnion(value: unknown): CaptureValue {
  if (value === null || Buffer.isBuffer(value) || typeof value !== 'object') return value as CaptureValue;
  const [branch] = Object.keys(value);
  return (value as Record<string, CaptureValue>)[branch];
}

function unwrapMap(map: unknown): Record<string, CaptureValue> {
  return Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([key, value]) => [key, unwrapUnion(value)]));
}

/** An avsc-decoded EventData value as a CaptureRecord, for comparing with this library's reader. */
export function captureRecordFromAvsc(value: Record<string, unknown>): CaptureRecord {
  return {
    sequenceNumber: value['SequenceNumber'] as number,
    offset: value['Offset'] as string,
    enqueuedTimeUtc: value['EnqueuedTimeUtc'] as string,
    systemProperties: unwrapMap(value['SystemProperties']),
    properties: unwrapMap(value['Properties']),
    body: value['Body'] as Buffer | null,
  };
}

/** A varied, deterministic record: every value type, empty and null bodies, partition keys. */
export function sampleRecord(i: number): CaptureRecord {
  const base = Date.UTC(2024, 0, 31, 23, 59, 0);
  const seconds = new Date(base + i * 1000);
  const hour = seconds.getUTCHours();
  const enqueuedTimeUtc = `${seconds.getUTCMonth() + 1}/${seconds.getUTCDate()}/${seconds.getUTCFullYear()} ${hour % 12 || 12}:${String(seconds.getUTCMinutes()).padStart(2, '0')}:${String(seconds.getUTCSeconds()).padStart(2, '0')} ${hour < 12 ? 'AM' : 'PM'}`;
  return {
    sequenceNumber: 1000 + i,
    offset: String(4096 + i * 128),
    enqueuedTimeUtc,
    systemProperties: i % 3 === 0 ? {} : { 'x-opt-partition-key': `device-${i % 7}` },
    properties: {
      event_id: `evt-${i}`,
      row: i + 1,
      ratio: i / 7,
      raw: Buffer.from([i % 256, 0xff]),
      ...(i % 5 === 0 ? { missing: null } : {}),
    },
    body: i % 11 === 0 ? null : Buffer.from(i % 13 === 0 ? '' : JSON.stringify({ i, text: `row ${i}` })),
  };
}

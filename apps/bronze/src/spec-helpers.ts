/** Shared by this app's specs only (kept free of @pipeline/testing, which the build leaves out). */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { LocalLake } from '@pipeline/adapters';
import { CaptureFileWriter, deriveSyncMarker, formatEnqueuedTimeUtc } from '@pipeline/capture-format';
import type { Lake, LakeEntry } from '@pipeline/ports';
import { capturePath, type CaptureLayout, type CapturePrecision } from '@pipeline/contracts';

export const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/eventhubs-capture');

export const LAYOUT: CaptureLayout = { prefix: 'raw', namespace: 'testns', eventHub: 'events' };

export const silent = pino({ level: 'silent' });

/** A logger that keeps its records, to assert on warnings. */
export function recordingLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, records };
}

/**
 * Writes a capture file of `records` events (sequence numbers from `firstSequence`) at the path
 * Capture would use for `time`. Returns the path and the bytes.
 */
export async function writeCaptureFile(
  lake: Lake,
  partitionId: string,
  time: number,
  records: number,
  firstSequence = 0,
  layout: CaptureLayout = LAYOUT,
  precision: CapturePrecision = 'second',
): Promise<{ path: string; bytes: Buffer }> {
  const file = capturePath(layout, partitionId, time, precision);
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker(file), blockTargetBytes: 256 });
  for (let i = 0; i < records; i++) {
    const sequenceNumber = firstSequence + i;
    writer.append({
      sequenceNumber,
      offset: String(sequenceNumber * 100),
      enqueuedTimeUtc: formatEnqueuedTimeUtc(time),
      systemProperties: { 'x-opt-sequence-number': sequenceNumber },
      properties: { event_id: `p${partitionId}-${sequenceNumber}` },
      body: Buffer.from(JSON.stringify({ n: sequenceNumber, partition: partitionId })),
    });
  }
  const bytes = writer.finish();
  await lake.write(file, bytes);
  return { path: file, bytes };
}

export interface ListCall {
  prefix: string;
  startAfter?: string;
  limit?: number;
}

/** A lake that records every `list` call, to prove what discovery asks the lake for. */
export class RecordingLake implements Lake {
  readonly lists: ListCall[] = [];
  constructor(private readonly inner: Lake) {}
  get location(): string {
    return this.inner.location;
  }
  createIfAbsent(p: string, data: Uint8Array | string): Promise<boolean> {
    return this.inner.createIfAbsent(p, data);
  }
  write(p: string, data: Uint8Array | string): Promise<void> {
    return this.inner.write(p, data);
  }
  read(p: string): Promise<Buffer> {
    return this.inner.read(p);
  }
  readStream(p: string): Promise<Readable> {
    return this.inner.readStream(p);
  }
  stat(p: string): Promise<LakeEntry | undefined> {
    return this.inner.stat(p);
  }
  exists(p: string): Promise<boolean> {
    return this.inner.exists(p);
  }
  list(prefix: string, options?: { startAfter?: string; limit?: number }): AsyncIterable<LakeEntry> {
    this.lists.push({ prefix, ...options });
    return this.inner.list(prefix, options);
  }
  delete(p: string): Promise<void> {
    return this.inner.delete(p);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** The recorded calls since the last `reset`, under the raw folder only (not the checkpoint's). */
  rawLists(): ListCall[] {
    return this.lists.filter((c) => c.prefix.startsWith('raw/'));
  }
  reset(): void {
    this.lists.length = 0;
  }
}

export interface LakeWorld {
  dir: { path: string; dispose(): Promise<void> };
  lake: LocalLake;
}

/** A local lake in a fresh temporary folder; `dir.dispose()` removes it. */
export async function lakeWorld(prefix = 'bronze-spec-'): Promise<LakeWorld> {
  const folder = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    dir: { path: folder, dispose: () => fsp.rm(folder, { recursive: true, force: true, maxRetries: 3 }) },
    lake: new LocalLake(path.join(folder, 'lake')),
  };
}

import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { CaptureFileWriter, deriveSyncMarker, formatEnqueuedTimeUtc } from '@pipeline/capture-format';
import { ManifestLog } from '@pipeline/checkpoint';
import { TestClock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { startTelemetry, type Telemetry } from '@pipeline/telemetry';
import { FaultyLake, SimulatedCrash } from '@pipeline/testing';
import type { BronzeManifest } from '@pipeline/contracts';
import { capturePath } from '@pipeline/contracts';
import { BronzeService, type BronzeServiceOptions } from './bronze.service';
import { LAYOUT, lakeWorld, silent, type LakeWorld } from './spec-helpers';

const START = Date.UTC(2026, 0, 1, 12, 30);
const PRODUCER_SPANS = ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'];

const options: BronzeServiceOptions = {
  layout: LAYOUT,
  partitions: 2,
  pipeline: 'spec',
  checkpointRoot: 'checkpoints/bronze',
  lookbackMs: 7_200_000,
  maxBatchFiles: 1,
  maxBatchBytes: 1 << 20,
  maxBatchDelayMs: 0,
  pollMs: 1_000,
};

/** A capture file whose events carry the producer's trace context, as the producer stamps it. */
async function tracedFile(lake: Lake, partitionId: string, time: number, traceparent: string): Promise<void> {
  const path = capturePath(LAYOUT, partitionId, time);
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker(path) });
  writer.append({ sequenceNumber: 0, offset: '0', enqueuedTimeUtc: formatEnqueuedTimeUtc(time), systemProperties: {}, properties: { traceparent }, body: Buffer.from('{}') });
  await lake.write(path, writer.finish());
}

const drain = (lake: Lake, clock: TestClock) =>
  new BronzeService(lake, new ManifestLog(lake), clock, silent, options, async (ms) => clock.advance(ms)).run(new AbortController().signal, true);

describe('bronze tracing', () => {
  let telemetry: Telemetry;
  const exporter = new InMemorySpanExporter();
  let w: LakeWorld;
  beforeAll(() => {
    telemetry = startTelemetry({ serviceName: 'bronze-spec', exporter });
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });
  beforeEach(async () => {
    exporter.reset();
    w = await lakeWorld('bronze-tracing-');
    await tracedFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), PRODUCER_SPANS[0] as string);
    await tracedFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 1), PRODUCER_SPANS[1] as string);
  });
  afterEach(() => w.dir.dispose());

  it('runs each batch in one span, named in its manifest and linked to the producer spans of its events', async () => {
    await drain(w.lake, new TestClock(START));
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'bronze.batch');
    expect(spans).toHaveLength(2);
    const all = await new ManifestLog(w.lake).read('bronze', 'bronze', 0);
    expect(all?.traceparent).toBe(`00-${spans[0]?.spanContext().traceId}-${spans[0]?.spanContext().spanId}-01`);
    expect(spans.map((s) => s.links.map((l) => l.context.spanId))).toEqual([['b7ad6b7169203331'], ['00f067aa0ba902b7']]);
    expect(spans[0]?.attributes).toMatchObject({ 'pipeline.batch': 0, 'pipeline.bronze.files': 1, 'pipeline.bronze.records': 1 });
  });

  it('re-does a batch whose manifest was written under the trace context it recorded, so the manifest does not change', async () => {
    const clock = new TestClock(START);
    // Crash after the first manifest, before its state: the re-done batch must write the same manifest.
    await expect(drain(new FaultyLake(w.lake, 4), clock)).rejects.toBeInstanceOf(SimulatedCrash);
    const before = await w.lake.read('manifests/bronze/bronze/00000000000000000000.json');
    const original = exporter.getFinishedSpans().find((s) => s.name === 'bronze.batch');
    exporter.reset();
    await drain(w.lake, clock);
    expect((await w.lake.read('manifests/bronze/bronze/00000000000000000000.json')).equals(before)).toBe(true);
    const redo = exporter.getFinishedSpans().find((s) => s.name === 'bronze.batch' && s.attributes['pipeline.bronze.redo'] === true);
    expect(redo?.links.map((l) => l.context.spanId)).toContain(original?.spanContext().spanId);
    const manifest = JSON.parse(before.toString('utf8')) as BronzeManifest;
    expect(manifest.traceparent).toContain(original?.spanContext().spanId);
  });
});

import { createServer, type Server } from 'node:http';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { AddressInfo } from 'node:net';
import type { GoldCommit, SilverCommit } from '@pipeline/contracts';
import { documentedMetrics, metricPatterns, prometheusFamilies, prometheusName } from '@pipeline/testing';
import { MetricsListener, MetricsListenError, otlpMetricExporter, otlpMetricReader, PrometheusTextReader } from './metrics';
import { MessagingMetrics, recordHttpServerMetrics, recordRequestCharge, StageMetrics } from './pipeline-metrics';
import { goldMeasure, silverMeasure } from './stage-measures';
import { startTelemetry, type Telemetry } from './tracing';

const silverCommit: SilverCommit = {
  batch: 3,
  bronze: { from: 4, to: 5 },
  inputs: [],
  captureFiles: { inRange: 2, outOfRange: 0 },
  counts: { '0': { records: 10, rows: 7, quarantined: 2, duplicates: 1 }, '1': { records: 4, rows: 4, quarantined: 0, duplicates: 0 } },
  quarantineReasons: { cast_error: 2 },
  silverVersion: 3,
  quarantineVersion: 1,
};

const goldCommit: GoldCommit = {
  batch: 8,
  silver: { from: 1, to: 2 },
  rows: 11,
  lateRows: 2,
  rowsDroppedByWatermark: 2,
  numRowsDroppedByWatermark: 2,
  windowsEmitted: 3,
  documentsWritten: 3,
  watermark: Date.UTC(2026, 0, 1, 12, 0, 0),
  holdingPartition: '1',
  idlePartitions: ['2'],
  goldVersion: 8,
  lateVersion: 2,
};

async function get(url: string): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** `name{b="2",a="1"}` → `name{a="1",b="2"}`: labels in a fixed order. */
function canonical(series: string): string {
  const m = /^([^{\s]+)(?:\{(.*)\})?$/.exec(series);
  if (!m) throw new Error(`not a series: ${series}`);
  const labels = (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
  return `${m[1]}{${[...labels].sort().join(',')}}`;
}

/** The value of one Prometheus sample, by its name and label set (in any order). */
function sample(text: string, series: string): number | undefined {
  const wanted = canonical(series);
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    if (canonical(line.slice(0, space)) === wanted) return Number(line.slice(space + 1));
  }
  return undefined;
}

describe('pipeline metrics', () => {
  // A push reader like the OTLP one, exporting far apart: only the shutdown flush sends. (The OTLP/HTTP
  // exporter loads its transport by a dynamic import Jest's VM refuses; apps/cli metrics.e2e exports over real OTLP.)
  const pushed = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  let telemetry: Telemetry;
  let scrapeUrl: string;

  beforeAll(async () => {
    const push = new PeriodicExportingMetricReader({ exporter: pushed, exportIntervalMillis: 600_000 });
    telemetry = startTelemetry({ serviceName: 'metrics-spec', metricsPort: 0, metricsHost: '127.0.0.1', env: {}, metricReaders: [push] });
    scrapeUrl = (await telemetry.metrics) as string;
  });

  afterAll(() => telemetry.shutdown());

  it('serves what a committed silver batch counted, per source partition, as Prometheus text', async () => {
    const silver = new StageMetrics('silver');
    const eventTime = {
      watermark: Date.UTC(2026, 0, 1, 0, 0, 50),
      partitions: { '0': { maxEventTime: Date.UTC(2026, 0, 1, 0, 1, 0) }, '1': { maxEventTime: Date.UTC(2026, 0, 1, 0, 0, 40) } },
      remembered: 9,
    };
    silver.batchCommitted(1_500, silverMeasure(silverCommit, eventTime));
    silver.batchCommitted(500, silverMeasure(silverCommit, eventTime));

    const scrape = await get(scrapeUrl);
    expect(scrape.status).toBe(200);
    expect(scrape.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const p0 = 'pipeline_source_partition="0",pipeline_stage="silver"';
    expect(sample(scrape.text, `pipeline_records_in_total{${p0}}`)).toBe(20);
    expect(sample(scrape.text, `pipeline_records_out_total{${p0}}`)).toBe(14);
    expect(sample(scrape.text, `pipeline_records_quarantined_total{${p0}}`)).toBe(4);
    expect(sample(scrape.text, `pipeline_records_duplicates_total{${p0}}`)).toBe(2);
    // A partition with nothing quarantined reports 0 (a series to alert on), and a count silver does not make (late) is absent.
    expect(sample(scrape.text, 'pipeline_records_quarantined_total{pipeline_source_partition="1",pipeline_stage="silver"}')).toBe(0);
    expect(sample(scrape.text, `pipeline_records_late_total{${p0}}`)).toBeUndefined();
    expect(sample(scrape.text, 'pipeline_batch_duration_count{pipeline_stage="silver"}')).toBe(2);
    expect(sample(scrape.text, 'pipeline_batch_duration_sum{pipeline_stage="silver"}')).toBe(2);
    expect(sample(scrape.text, 'pipeline_batch_size_sum{pipeline_stage="silver"}')).toBe(28);
    expect(sample(scrape.text, 'pipeline_watermark{pipeline_stage="silver"}')).toBe(Date.UTC(2026, 0, 1, 0, 0, 50) / 1000);
    expect(sample(scrape.text, 'pipeline_watermark_lag{pipeline_stage="silver"}')).toBe(10);
    expect(sample(scrape.text, 'pipeline_partition_lag{pipeline_source_partition="1",pipeline_stage="silver"}')).toBe(20);
    expect(sample(scrape.text, 'pipeline_state_rows{pipeline_stage="silver"}')).toBe(9);
  });

  it("reports a gold shard's late rows, windows, idle partitions and state by shard", async () => {
    const gold = new StageMetrics('gold', 2);
    gold.batchCommitted(100, goldMeasure(goldCommit, { partitions: { '1': { maxEventTime: goldCommit.watermark }, '2': { maxEventTime: null } }, openWindows: 4, stateRows: 12 }));
    const { text } = await get(scrapeUrl);
    expect(sample(text, 'pipeline_records_in_total{pipeline_shard="2",pipeline_stage="gold"}')).toBe(11);
    expect(sample(text, 'pipeline_records_late_total{pipeline_shard="2",pipeline_stage="gold"}')).toBe(2);
    expect(sample(text, 'pipeline_windows_emitted_total{pipeline_shard="2",pipeline_stage="gold"}')).toBe(3);
    expect(sample(text, 'pipeline_partition_idle{pipeline_shard="2",pipeline_source_partition="2",pipeline_stage="gold"}')).toBe(1);
    expect(sample(text, 'pipeline_partition_idle{pipeline_shard="2",pipeline_source_partition="1",pipeline_stage="gold"}')).toBe(0);
    expect(sample(text, 'pipeline_state_windows{pipeline_shard="2",pipeline_stage="gold"}')).toBe(4);
    expect(sample(text, 'pipeline_state_rows{pipeline_shard="2",pipeline_stage="gold"}')).toBe(12);
  });

  it('reports no watermark before the first row (the engine starts at 0 or −∞)', async () => {
    new StageMetrics('gold', 5).batchCommitted(1, goldMeasure({ ...goldCommit, watermark: Number.NEGATIVE_INFINITY }, { partitions: {}, openWindows: 0, stateRows: 0 }));
    const { text } = await get(scrapeUrl);
    expect(sample(text, 'pipeline_batch_size_count{pipeline_shard="5",pipeline_stage="gold"}')).toBe(1);
    expect(sample(text, 'pipeline_watermark{pipeline_shard="5",pipeline_stage="gold"}')).toBeUndefined();
    expect(sample(text, 'pipeline_watermark{pipeline_shard="2",pipeline_stage="gold"}')).toBe(goldCommit.watermark / 1000);
  });

  it('times HTTP requests by method and status only, never by path', async () => {
    const server: Server = createServer((request, response) => response.writeHead(request.url === '/missing' ? 404 : 200).end());
    recordHttpServerMetrics(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await get(`${base}/v1/keys/some-key/latest`);
    await get(`${base}/missing`);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { text } = await get(scrapeUrl);
    expect(sample(text, 'http_server_request_duration_count{http_request_method="GET",http_response_status_code="200",url_scheme="http"}')).toBe(1);
    expect(sample(text, 'http_server_request_duration_count{http_request_method="GET",http_response_status_code="404",url_scheme="http"}')).toBe(1);
    expect(text).not.toContain('some-key');
  });

  it('answers 404 for anything but GET /metrics', async () => {
    expect((await get(scrapeUrl.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(scrapeUrl, { method: 'POST' })).status).toBe(404);
  });

  it('refuses a metrics port in use, naming the port and the setting', async () => {
    const port = Number(new URL(scrapeUrl).port);
    await expect(MetricsListener.listen(new PrometheusTextReader(), port, '127.0.0.1')).rejects.toThrow(MetricsListenError);
    await expect(MetricsListener.listen(new PrometheusTextReader(), port, '127.0.0.1')).rejects.toThrow(
      `Serving metrics on port ${port} is in use by another process: set METRICS_PORT (or --metrics-port)`,
    );
  });

  it('exports the metrics documented as conditional when their event happens, under their documented names', async () => {
    new MessagingMetrics().deadLetteredOne({ system: 'pipeline.bus', destination: 'bronze-manifests' });
    recordRequestCharge(5.71, 'create_item', 'serving');
    recordRequestCharge(1.24, 'create_item', 'serving', 409);
    const { text } = await get(scrapeUrl);
    const families = prometheusFamilies(text);
    const conditional = documentedMetrics().filter((m) => m.conditional);
    expect(conditional.map((m) => m.name).sort()).toEqual(['azure.cosmosdb.client.operation.request_charge', 'pipeline.bus.dead_lettered']);
    for (const metric of conditional) expect(families.has(prometheusName(metric.name, metric.instrument))).toBe(true);
    expect(
      sample(text, 'azure_cosmosdb_client_operation_request_charge_sum{db_collection_name="serving",db_operation_name="create_item",db_system_name="azure.cosmosdb"}'),
    ).toBeCloseTo(5.71);
    // A failed operation's charge is apart, under its status code.
    expect(
      sample(
        text,
        'azure_cosmosdb_client_operation_request_charge_sum{db_collection_name="serving",db_operation_name="create_item",db_response_status_code="409",db_system_name="azure.cosmosdb"}',
      ),
    ).toBeCloseTo(1.24);
  });

  it('documents every metric this process exported, with the instrument it is', async () => {
    const documented = documentedMetrics();
    const families = prometheusFamilies((await get(scrapeUrl)).text);
    expect(families.size).toBeGreaterThan(10);
    const undocumented = [...families.keys()].filter((family) => !documented.some((m) => metricPatterns(m).prometheus.test(family)));
    expect(undocumented).toEqual([]);
    for (const [family, type] of families) expect(documented.find((m) => metricPatterns(m).prometheus.test(family))?.instrument).toBe(type);
  });

  it('pushes the last values when telemetry shuts down (the flush on SIGTERM)', async () => {
    expect(pushed.getMetrics()).toHaveLength(0);
    await telemetry.shutdown();
    const names = new Set(pushed.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name))));
    expect([...names]).toEqual(expect.arrayContaining(['pipeline.records.in', 'pipeline.batch.duration', 'pipeline.watermark', 'http.server.request.duration']));
    // The listener is closed with the rest.
    await expect(fetch(scrapeUrl)).rejects.toThrow();
  });
});

describe('the OTLP metric exporter', () => {
  it('speaks the protocol the environment announces, the metrics-specific variable first', async () => {
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [{}, '@opentelemetry/exporter-metrics-otlp-http'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, '@opentelemetry/exporter-metrics-otlp-grpc'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' }, '@opentelemetry/exporter-metrics-otlp-proto'],
    ];
    for (const [env, module] of cases) {
      const exporter = otlpMetricExporter(env);
      expect(exporter).toBeInstanceOf((require(module) as { OTLPMetricExporter: new () => unknown }).OTLPMetricExporter);
      await exporter.shutdown();
    }
  });

  it('refuses a protocol or an export interval it cannot use, naming the variable', () => {
    expect(() => otlpMetricExporter({ OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'udp' })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL: expected grpc, http\/protobuf or http\/json, found "udp"/,
    );
    expect(() => otlpMetricReader({ OTEL_METRIC_EXPORT_INTERVAL: '5s' })).toThrow(/OTEL_METRIC_EXPORT_INTERVAL: expected a whole number of milliseconds, at least 100, found "5s"/);
  });
});

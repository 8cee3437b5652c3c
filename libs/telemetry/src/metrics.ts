/**
 * Where the metrics go: over OTLP like the traces (when an endpoint is set), and, for local use,
 * as Prometheus text on `GET /metrics` of a small HTTP listener of its own (when a metrics port is
 * set). The listener is not the serving API's app: it has no routes but this one, so it needs no
 * authentication and a worker without HTTP gets one the same way.
 *
 * The Prometheus reader collects on each scrape (cumulative, as Prometheus expects); the OTLP
 * reader exports every `OTEL_METRIC_EXPORT_INTERVAL` ms and once more at shutdown, so a service
 * stopped by SIGTERM still sends what it counted last. The OTLP exporters and the Prometheus
 * serializer are loaded only when chosen: most processes use neither.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricReader, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';

/** Prometheus text exposition format 0.0.4. */
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const DEFAULT_EXPORT_INTERVAL_MS = 60_000;

/**
 * The OTLP metric exporter for `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` (or `OTEL_EXPORTER_OTLP_PROTOCOL`):
 * `grpc`, `http/protobuf`, or `http/json` (the default here), as for traces. Each reads its endpoint
 * from the standard variables (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`).
 */
export function otlpMetricExporter(env: NodeJS.ProcessEnv = process.env): PushMetricExporter {
  const protocol = (env['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/json').trim();
  switch (protocol) {
    case 'grpc':
      return new (require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter();
    case 'http/protobuf':
      return new (require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter();
    case 'http/json':
      return new (require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter();
    default:
      throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: expected grpc, http/protobuf or http/json, found ${JSON.stringify(protocol)}.`);
  }
}

/** Whether metrics go over OTLP: an endpoint is set and `OTEL_METRICS_EXPORTER` does not say `none`. */
export function exportsOtlpMetrics(env: NodeJS.ProcessEnv): boolean {
  const endpoint = env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  return Boolean(endpoint) && (env['OTEL_METRICS_EXPORTER'] ?? '').trim() !== 'none';
}

/** The periodic OTLP reader; `OTEL_METRIC_EXPORT_INTERVAL` (ms) sets its interval, 60 s by default. */
export function otlpMetricReader(env: NodeJS.ProcessEnv): MetricReader {
  const text = env['OTEL_METRIC_EXPORT_INTERVAL']?.trim();
  const interval = text ? Number(text) : DEFAULT_EXPORT_INTERVAL_MS;
  if (!Number.isSafeInteger(interval) || interval < 100) {
    throw new Error(`OTEL_METRIC_EXPORT_INTERVAL: expected a whole number of milliseconds, at least 100, found ${JSON.stringify(text)}.`);
  }
  return new PeriodicExportingMetricReader({ exporter: otlpMetricExporter(env), exportIntervalMillis: interval, exportTimeoutMillis: Math.min(interval, 30_000) });
}

/** A pull reader that renders what the SDK holds as Prometheus text, on demand. */
export class PrometheusTextReader extends MetricReader {
  // No timestamps (Prometheus stamps at scrape), no target_info / otel_scope series: only the metrics.
  private readonly serializer = new (require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus')).PrometheusSerializer(
    '',
    false,
    undefined,
    true,
    true,
  );

  async text(): Promise<string> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw new AggregateError(errors, `collecting metrics failed: ${errors.map((e) => String(e)).join('; ')}`);
    return this.serializer.serialize(resourceMetrics);
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve(); // Nothing buffered: a scrape collects.
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The port is taken or not allowed: the service cannot serve its metrics. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

/** `GET /metrics` on its own port; anything else is 404. */
export class MetricsListener {
  private constructor(
    private readonly server: Server,
    /** `http://host:port/metrics` */
    readonly url: string,
  ) {}

  static async listen(reader: PrometheusTextReader, port: number, host?: string): Promise<MetricsListener> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics are at GET /metrics.\n');
        return;
      }
      reader.text().then(
        (text) => response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(request.method === 'HEAD' ? undefined : text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${(error as Error).message}\n`),
      );
    });
    // A scrape that keeps its connection open must not hold the process at shutdown.
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        const why = error.code === 'EADDRINUSE' ? 'is in use by another process' : error.code === 'EACCES' ? 'is not allowed for this user' : `failed (${error.message})`;
        reject(new MetricsListenError(`Serving metrics on port ${port} ${why}: set METRICS_PORT (or --metrics-port) to a free port, or leave it unset to serve none.`));
      });
      server.listen(port, host, () => resolve());
    });
    // Scrapes never hold the process: a service that ends, or fails while it starts, exits with
    // its metrics port open (its own work is what keeps it running).
    server.unref();
    const address = server.address() as AddressInfo;
    const shown = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return new MetricsListener(server, `http://${shown}:${address.port}/metrics`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/**
 * Waits for the metrics listener of `telemetry`: true once it listens (or when there is none); on a
 * port it cannot take, says why on stderr, shuts telemetry down and returns false (the service then
 * exits with code 2, as for any setting to fix).
 */
export async function metricsListening(telemetry: { metrics: Promise<string | undefined>; shutdown(): Promise<void> }): Promise<boolean> {
  try {
    await telemetry.metrics;
    return true;
  } catch (error) {
    if (!(error instanceof MetricsListenError)) throw error;
    process.stderr.write(`${error.message}\n`);
    await telemetry.shutdown();
    return false;
  }
}

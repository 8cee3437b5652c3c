/**
 * One OpenTelemetry bootstrap for every app.
 *
 * Spans always get real trace and span ids (so events carry a valid `traceparent` and logs carry
 * trace ids), but they leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, or when a
 * test passes its own exporter. Metrics (docs/metrics.md) go over OTLP on the same settings, and to
 * `GET /metrics` when a metrics port is given; with neither, instruments are no-ops. Nothing here
 * runs at import time, and an OTLP exporter is loaded only when the environment chooses it: every
 * process and CLI command loads this module, and most export nothing.
 */
import { context, propagation, SpanStatusCode, trace, type Link, type Span, type SpanContext, type SpanOptions, type Tracer } from '@opentelemetry/api';
import { exportsOtlpMetrics, MetricsListener, otlpMetricReader, PrometheusTextReader } from './metrics';
import { registerProviders } from './providers';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { AlwaysOffSampler, BatchSpanProcessor, SimpleSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TelemetryOptions {
  serviceName: string;
  env?: NodeJS.ProcessEnv;
  /** Export to this exporter synchronously (tests); otherwise OTLP over HTTP when the endpoint is set. */
  exporter?: SpanExporter;
  /** Serve Prometheus text on `GET /metrics` at this port (0: any free one); `undefined`: no listener. */
  metricsPort?: number;
  /** Interface the metrics listener binds (default: all). */
  metricsHost?: string;
  /** Extra metric readers (tests). */
  metricReaders?: MetricReader[];
  /**
   * Whether spans are recorded when nothing exports them (default true). A recorded span carries
   * the sampled flag in the `traceparent` it stamps downstream, so a downstream service that does
   * export keeps the trace. A service that stamps nothing downstream (the serving API) can say
   * false: its spans are then non-recording, with real ids still, and cost far less per request.
   */
  recordUnexported?: boolean;
}

export interface Telemetry {
  /** Whether spans are exported anywhere. */
  readonly exporting: boolean;
  /**
   * Resolves once the metrics listener listens (at once without one), with its URL; rejects with a
   * `MetricsListenError` naming the port when it cannot. Await it before starting work.
   */
  readonly metrics: Promise<string | undefined>;
  /** Flushes spans and metrics (a last OTLP export), closes the metrics listener. */
  shutdown(): Promise<void>;
}

/** Keeps span ids real without exporting anything. */
class DiscardingSpanProcessor implements SpanProcessor {
  onStart(): void {
    // Nothing to record: the span only needs its ids.
  }
  onEnd(_span: ReadableSpan): void {
    // Dropped on purpose: no exporter is configured.
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The OTLP exporter for `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (or `OTEL_EXPORTER_OTLP_PROTOCOL`):
 * `grpc` (what a managed agent such as Container Apps' may announce), `http/protobuf`, or
 * `http/json` (the default here). Each reads its endpoint from the standard variables.
 */
export function otlpTraceExporter(env: NodeJS.ProcessEnv = process.env): SpanExporter {
  const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] || env['OTEL_EXPORTER_OTLP_PROTOCOL'] || 'http/json').trim();
  switch (protocol) {
    case 'grpc':
      return new (require('@opentelemetry/exporter-trace-otlp-grpc') as typeof import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
    case 'http/protobuf':
      return new (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    case 'http/json':
      return new (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    default:
      throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: expected grpc, http/protobuf or http/json, found ${JSON.stringify(protocol)}.`);
  }
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const env = options.env ?? process.env;
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  let processor: SpanProcessor;
  if (options.exporter) processor = new SimpleSpanProcessor(options.exporter);
  else if (endpoint) processor = new BatchSpanProcessor(otlpTraceExporter(env));
  else processor = new DiscardingSpanProcessor();
  const readers: MetricReader[] = [...(options.metricReaders ?? [])];
  if (exportsOtlpMetrics(env)) readers.push(otlpMetricReader(env));
  const prometheus = options.metricsPort === undefined ? undefined : new PrometheusTextReader();
  if (prometheus) readers.push(prometheus);
  const exporting = Boolean(options.exporter || endpoint);
  const providers = registerProviders({
    serviceName: env['OTEL_SERVICE_NAME'] || options.serviceName,
    spanProcessors: [processor],
    ...(exporting || options.recordUnexported !== false ? {} : { sampler: new AlwaysOffSampler() }),
    // Without a reader there is no meter provider and every instrument is a no-op. OTel logs stay off: logs go through pino.
    metricReaders: readers,
  });
  const listening = prometheus && options.metricsPort !== undefined ? MetricsListener.listen(prometheus, options.metricsPort, options.metricsHost) : Promise.resolve(undefined);
  // A rejection is the caller's to handle through `metrics`; shutdown must not see it again.
  const listener = listening.catch(() => undefined);
  let stopped = false;
  return {
    exporting,
    metrics: listening.then((l) => l?.url),
    async shutdown() {
      if (stopped) return;
      stopped = true;
      // The providers' shutdown ends each reader with a last collection: the OTLP one exports it.
      await providers.shutdown();
      await (await listener)?.close();
    },
  };
}

export function tracer(name = 'pipeline'): Tracer {
  return trace.getTracer(name);
}

/** W3C `traceparent` (and `tracestate` when present) of a span, for stamping on events and manifests. */
export function traceHeaders(span: Span): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  const out: { traceparent?: string; tracestate?: string } = {};
  if (carrier['traceparent']) out.traceparent = carrier['traceparent'];
  if (carrier['tracestate']) out.tracestate = carrier['tracestate'];
  return out;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a W3C `traceparent`; `undefined` for anything malformed or all-zero. */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m || m[1] === 'ff') return undefined;
  const [, , traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true };
}

/**
 * Span links to the distinct upstream spans named by `traceparents` (batches fan in, so a batch
 * links to its inputs rather than having one parent). Capped, since a link list is not an index.
 */
export function linksFromTraceparents(traceparents: Iterable<unknown>, max = 128): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const value of traceparents) {
    const ctx = parseTraceparent(value);
    if (!ctx) continue;
    const key = `${ctx.traceId}-${ctx.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    links.push({ context: ctx });
    if (links.length >= max) break;
  }
  return links;
}

/** Runs `work` in an active span that records a thrown error on itself and always ends. */
export function inSpan<T>(name: string, options: SpanOptions, work: (span: Span) => Promise<T>, tracerName = 'pipeline'): Promise<T> {
  return tracer(tracerName).startActiveSpan(name, options, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The OpenTelemetry SDK wired from its pieces: what `NodeSDK.start()` (@opentelemetry/sdk-node
 * 0.223) did with the options `startTelemetry` gave it, without NodeSDK's own imports. Those load
 * every OTLP exporter (gRPC included), the logs SDK, the instrumentation loader and a YAML parser
 * in every process and every CLI command, exporting or not; here an exporter loads only when the
 * environment chooses it (tracing.ts, metrics.ts), and a B3 or Jaeger propagator only when
 * `OTEL_PROPAGATORS` names it.
 *
 * Kept as NodeSDK had it, read from `process.env` as NodeSDK read it:
 * - `OTEL_SDK_DISABLED=true` registers nothing; `OTEL_LOG_LEVEL` sets the diagnostic logger;
 * - an AsyncLocalStorage context manager; W3C trace context + baggage propagators, or the list in
 *   `OTEL_PROPAGATORS` (tracecontext, baggage, b3, b3multi, jaeger; `none` registers none);
 * - the resource: the SDK's defaults, then the env, process and host detectors (or those named by
 *   `OTEL_NODE_RESOURCE_DETECTORS`), then `service.name`;
 * - the sampler and span limits from `OTEL_TRACES_SAMPLER*` and `OTEL_*_LIMIT` unless given;
 * - a meter provider only when there is a reader (otherwise every instrument is a no-op), with the
 *   SDK's self-metrics when `OTEL_NODE_EXPERIMENTAL_SDK_METRICS=true`;
 * - shutdown ends both providers at once: each metric reader collects a last time (the OTLP one
 *   exports it) and each span processor flushes.
 * Not carried over: NodeSDK's global OTel logger provider, which had no processor (logs go through
 * pino), and its instrumentation registry, which was empty.
 */
import { diag, DiagConsoleLogger, metrics, type TextMapPropagator } from '@opentelemetry/api';
import {
  CompositePropagator,
  diagLogLevelFromString,
  getBooleanFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type Resource,
  type ResourceDetector,
} from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface ProvidersOptions {
  serviceName: string;
  spanProcessors: SpanProcessor[];
  /** `undefined`: the one `OTEL_TRACES_SAMPLER` names, parent-based always-on by default. */
  sampler?: Sampler;
  metricReaders: MetricReader[];
}

export interface Providers {
  /** Flushes and ends the tracer and meter providers. */
  shutdown(): Promise<void>;
}

const PROPAGATORS: ReadonlyMap<string, () => TextMapPropagator> = new Map([
  ['tracecontext', () => new W3CTraceContextPropagator()],
  ['baggage', () => new W3CBaggagePropagator()],
  ['b3', () => new (require('@opentelemetry/propagator-b3') as typeof import('@opentelemetry/propagator-b3')).B3Propagator()],
  [
    'b3multi',
    () => {
      const b3 = require('@opentelemetry/propagator-b3') as typeof import('@opentelemetry/propagator-b3');
      return new b3.B3Propagator({ injectEncoding: b3.B3InjectEncoding.MULTI_HEADER });
    },
  ],
  ['jaeger', () => new (require('@opentelemetry/propagator-jaeger') as typeof import('@opentelemetry/propagator-jaeger')).JaegerPropagator()],
]);

/**
 * The propagator for the names of `OTEL_PROPAGATORS`: `undefined` (the list is unset or empty)
 * means W3C trace context + baggage; `null` means register none (`none`, or no name it knows).
 * An unknown name is skipped with a diagnostic warning, as NodeSDK did.
 */
export function propagatorFor(names: readonly string[] | undefined): TextMapPropagator | null | undefined {
  if (names === undefined || names.length === 0) return undefined;
  if (names.includes('none')) return null;
  const unique = [...new Set(names)];
  const propagators: TextMapPropagator[] = [];
  for (const name of unique) {
    const make = PROPAGATORS.get(name);
    if (make) propagators.push(make());
    else diag.warn(`Propagator "${name}" requested through environment variable is unavailable.`);
  }
  if (propagators.length === 0) return null;
  return unique.length === 1 ? propagators[0] : new CompositePropagator({ propagators });
}

const DETECTORS: ReadonlyMap<string, ResourceDetector> = new Map([
  ['host', hostDetector],
  ['os', osDetector],
  ['serviceinstance', serviceInstanceIdDetector],
  ['process', processDetector],
  ['env', envDetector],
]);

/**
 * The resource detectors for the names of `OTEL_NODE_RESOURCE_DETECTORS`: env, process and host
 * when unset; `all` for every one; `none` for none. An unknown name is skipped with a warning.
 */
export function resourceDetectorsFor(names: readonly string[] | undefined): ResourceDetector[] {
  if (names === undefined) return [envDetector, processDetector, hostDetector];
  if (names.includes('all')) return [...DETECTORS.values()];
  if (names.includes('none')) return [];
  return names.flatMap((name) => {
    const detector = DETECTORS.get(name);
    if (!detector) diag.warn(`Invalid resource detector "${name}" specified in the environment variable OTEL_NODE_RESOURCE_DETECTORS`);
    return detector ?? [];
  });
}

/** The SDK's default resource, what the detectors find, then `service.name` over both. */
export function telemetryResource(serviceName: string, detectors: ResourceDetector[]): Resource {
  return defaultResource()
    .merge(detectResources({ detectors }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));
}

/** Builds the tracer and meter providers and registers them, with the context manager and propagators, globally. */
export function registerProviders(options: ProvidersOptions): Providers {
  const logLevel = getStringFromEnv('OTEL_LOG_LEVEL');
  if (logLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) return { shutdown: () => Promise.resolve() };

  const propagator = propagatorFor(getStringListFromEnv('OTEL_PROPAGATORS'));
  const resource = telemetryResource(options.serviceName, resourceDetectorsFor(getStringListFromEnv('OTEL_NODE_RESOURCE_DETECTORS')));
  const sdkMetricsEnabled = getBooleanFromEnv('OTEL_NODE_EXPERIMENTAL_SDK_METRICS');

  // Only with a reader: without one every instrument stays the API's no-op.
  const meterProvider = options.metricReaders.length > 0 ? new MeterProvider({ resource, views: [], readers: options.metricReaders, sdkMetricsEnabled }) : undefined;
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);

  // A key present but undefined would override the sampler and limits the provider reads from the environment.
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors: options.spanProcessors,
    ...(options.sampler ? { sampler: options.sampler } : {}),
    ...(sdkMetricsEnabled && meterProvider ? { meterProvider } : {}),
  });
  tracerProvider.register(propagator === undefined ? {} : { propagator });

  return {
    async shutdown() {
      await Promise.all([tracerProvider.shutdown(), meterProvider?.shutdown()]);
    },
  };
}

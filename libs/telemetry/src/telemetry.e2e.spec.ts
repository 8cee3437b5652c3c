/**
 * Telemetry as a service process runs it: the compiled library in dist/ (build it with `npm run
 * build`), in a process of its own, since what a process loads is the point. Without an OTLP
 * endpoint no OTLP exporter, gRPC or NodeSDK module is loaded (each costs every process and every
 * CLI command its start-up time); with one, spans and metrics reach a real OTLP/HTTP JSON receiver
 * under the service's resource. (The OTLP/HTTP exporters load their transport by a dynamic import
 * that Jest's module VM refuses, so this cannot run in the test process.)
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { startOtlpReceiver, waitFor, type OtlpReceiver } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const lib = path.join(root, 'dist', 'libs', 'telemetry', 'src', 'index.js');

/** Modules that only an OTLP export needs, and NodeSDK's. */
const EXPORT_ONLY = /[/\\](exporter-(trace|metrics|logs)-otlp-[a-z]+|otlp-(grpc-)?exporter-base|otlp-transformer|sdk-node|@grpc[/\\]grpc-js|protobufjs|exporter-prometheus)[/\\]/;

/** The environment of the test without any OTEL_* setting, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OTEL_')) env[key] = value;
  return { ...env, ...extra };
}

/** Runs `script` in a new Node process with `lib` and `EXPORT_ONLY` defined; its stdout, parsed as JSON. */
function run<T>(script: string, env: NodeJS.ProcessEnv): Promise<{ pid: number; out: T }> {
  if (!existsSync(lib)) throw new Error(`${lib} is missing: run \`npm run build\` in ${root} first.`);
  const source = `const lib = ${JSON.stringify(lib)}; const EXPORT_ONLY = ${EXPORT_ONLY.toString()};\n${script}`;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['-e', source], { cwd: root, env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve({ pid: child.pid as number, out: JSON.parse(stdout) as T });
    });
  });
}

/** Starts telemetry, makes a span, reports the `traceparent` it stamps and which export-only modules are loaded. */
const PROBE = `
const { startTelemetry, tracer, traceHeaders } = require(lib);
const telemetry = startTelemetry({ serviceName: 'probe' });
const span = tracer().startSpan('probe');
const { traceparent } = traceHeaders(span);
span.end();
const loaded = Object.keys(require.cache).filter((file) => EXPORT_ONLY.test(file)).map((file) => file.slice(file.lastIndexOf('node_modules')));
process.stdout.write(JSON.stringify({ traceparent, loaded }));
process.exit(0);
`;

describe('telemetry in a service process', () => {
  it('loads no OTLP exporter, gRPC or NodeSDK module when no endpoint is set, and still stamps a traceparent', async () => {
    const { out } = await run<{ traceparent: string; loaded: string[] }>(PROBE, envWith({}));
    expect(out.loaded).toEqual([]);
    expect(out.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('loads the gRPC exporters when the environment asks for OTLP over gRPC (the probe sees what is loaded)', async () => {
    const { out } = await run<{ loaded: string[] }>(PROBE, envWith({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }));
    expect(out.loaded.some((file) => file.includes('exporter-trace-otlp-grpc'))).toBe(true);
    expect(out.loaded.some((file) => file.includes('exporter-metrics-otlp-grpc'))).toBe(true);
    // Not the other protocols' (the gRPC metric exporter does build on the HTTP one's base class).
    expect(out.loaded.filter((file) => /exporter-trace-otlp-(http|proto)|exporter-metrics-otlp-proto/.test(file))).toEqual([]);
  });

  describe('with an OTLP/HTTP endpoint', () => {
    let receiver: OtlpReceiver;
    beforeAll(async () => {
      receiver = await startOtlpReceiver();
    });
    afterAll(() => receiver.close());

    it('sends its spans, parent to child, and its last metrics at shutdown, under the service name and the resource the environment adds', async () => {
      const script = `
const api = require('@opentelemetry/api');
const { inSpan, startTelemetry, traceHeaders } = require(lib);
const telemetry = startTelemetry({ serviceName: 'probe' });
inSpan('outer', {}, async (outer) => {
  await inSpan('inner', {}, async () => undefined);
  return traceHeaders(outer);
}).then(async (headers) => {
  api.metrics.getMeter('probe').createCounter('probe.runs').add(3);
  await telemetry.shutdown();
  process.stdout.write(JSON.stringify(headers));
});
`;
      const { pid, out } = await run<{ traceparent: string }>(
        script,
        envWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e' }),
      );

      const spans = await waitFor(() => (receiver.spans.get('probe')?.length === 2 ? receiver.spans.get('probe') : undefined), {
        timeoutMs: 10_000,
        description: 'two spans of service probe',
      });
      const outer = spans.find((s) => s.name === 'outer');
      const inner = spans.find((s) => s.name === 'inner');
      expect(outer?.parentSpanId).toBe('');
      expect(inner?.parentSpanId).toBe(outer?.spanId);
      expect(out.traceparent).toBe(`00-${outer?.traceId}-${outer?.spanId}-01`);
      expect([...(receiver.names.get('probe') ?? [])]).toEqual(['probe.runs']);

      // The resource: service.name, OTEL_RESOURCE_ATTRIBUTES (env detector), the process and host detectors, the SDK's defaults.
      type Attributes = Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
      const resources = (
        receiver.requests as Array<{ resourceSpans?: Array<{ resource: { attributes: Attributes } }>; resourceMetrics?: Array<{ resource: { attributes: Attributes } }> }>
      ).flatMap((body) =>
        [...(body.resourceSpans ?? []), ...(body.resourceMetrics ?? [])].map(
          (r) => new Map(r.resource.attributes.map((a) => [a.key, a.value.stringValue ?? String(a.value.intValue)])),
        ),
      );
      expect(resources.length).toBeGreaterThanOrEqual(2);
      for (const resource of resources) {
        expect(resource.get('service.name')).toBe('probe');
        expect(resource.get('deployment.environment.name')).toBe('e2e');
        expect(resource.get('process.pid')).toBe(String(pid));
        expect(resource.get('host.name')).toEqual(expect.any(String));
        expect(resource.get('telemetry.sdk.language')).toBe('nodejs');
      }
    });
  });
});

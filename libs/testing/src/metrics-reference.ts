/**
 * For the tests that hold docs/metrics.md and what the services export together: the metric names
 * the reference lists, the names in a Prometheus scrape, and an in-process OTLP/HTTP receiver
 * (JSON, as the services send by default) that keeps the metric names and the spans each service sent.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface DocumentedMetric {
  name: string;
  instrument: 'counter' | 'histogram' | 'gauge';
  /** Recorded only on an event a normal run may not have (a dead letter) or on a backend (Cosmos DB). */
  conditional: boolean;
}

/** The rows of every metric table in docs/metrics.md. */
export function documentedMetrics(root = path.resolve(__dirname, '../../..')): DocumentedMetric[] {
  const text = readFileSync(path.join(root, 'docs/metrics.md'), 'utf8');
  const metrics: DocumentedMetric[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| `([a-z][a-z0-9_.<>-]*)`\s*\| (counter|histogram|gauge)\s*\|/.exec(line);
    if (!m) continue;
    metrics.push({
      name: m[1] as string,
      instrument: m[2] as DocumentedMetric['instrument'],
      conditional: /Recorded only when it happens|Cosmos DB serving store only/.test(line),
    });
  }
  return metrics;
}

/** The Prometheus name of an OTel name: `.` and `-` become `_`, counters end in `_total`. */
export function prometheusName(name: string, instrument: DocumentedMetric['instrument']): string {
  const base = name.replace(/[^A-Za-z0-9_:]/g, '_');
  return instrument === 'counter' ? `${base}_total` : base;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A documented metric as a pattern of OTel names (`otel`) and of Prometheus names: `<method>` stands for any name. */
export function metricPatterns(metric: DocumentedMetric): { otel: RegExp; prometheus: RegExp } {
  const parts = metric.name.split(/<[a-z]+>/);
  const suffix = metric.instrument === 'counter' ? '_total' : '';
  return {
    otel: new RegExp(`^${parts.map(escape).join('[A-Za-z]+')}$`),
    prometheus: new RegExp(`^${parts.map((part) => escape(part.replace(/[^A-Za-z0-9_:]/g, '_'))).join('[A-Za-z0-9_]+')}${suffix}$`),
  };
}

/** Metric family names of a Prometheus text scrape (its `# TYPE` lines). */
export function prometheusFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1] as string, m[2] as string);
  return families;
}

export interface OtlpReceiver {
  /** The metrics endpoint, `http://127.0.0.1:<port>/v1/metrics`. */
  readonly url: string;
  /** The base for `OTEL_EXPORTER_OTLP_ENDPOINT`, `http://127.0.0.1:<port>`: exporters add `/v1/traces` and `/v1/metrics`. */
  readonly endpoint: string;
  /** Metric names received, per `service.name`. */
  readonly names: Map<string, Set<string>>;
  /** Spans received, per `service.name`, in the order they came. */
  readonly spans: Map<string, ReceivedSpan[]>;
  /** Every request body received (metrics and traces), parsed. */
  readonly requests: unknown[];
  close(): Promise<void>;
}

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
}

interface OtlpResource {
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}

interface OtlpJson {
  resourceMetrics?: Array<{ resource?: OtlpResource; scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }> }>;
  resourceSpans?: Array<{ resource?: OtlpResource; scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string }> }> }>;
}

/** The `service.name` of an OTLP resource ('' without one). */
export function otlpServiceName(resource: OtlpResource | undefined): string {
  return resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
}

function entry<V>(map: Map<string, V>, key: string, make: () => V): V {
  const found = map.get(key);
  if (found !== undefined) return found;
  const made = make();
  map.set(key, made);
  return made;
}

/** Accepts OTLP/HTTP JSON on POST /v1/metrics and POST /v1/traces; anything else is refused. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const names = new Map<string, Set<string>>();
  const spans = new Map<string, ReceivedSpan[]>();
  const requests: unknown[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const known = request.url === '/v1/metrics' || request.url === '/v1/traces';
      if (request.method !== 'POST' || !known || !String(request.headers['content-type']).startsWith('application/json')) {
        response.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpJson;
      requests.push(body);
      for (const resourceMetrics of body.resourceMetrics ?? []) {
        const seen = entry(names, otlpServiceName(resourceMetrics.resource), () => new Set<string>());
        for (const scope of resourceMetrics.scopeMetrics ?? []) for (const metric of scope.metrics ?? []) seen.add(metric.name);
      }
      for (const resourceSpans of body.resourceSpans ?? []) {
        const received = entry(spans, otlpServiceName(resourceSpans.resource), () => [] as ReceivedSpan[]);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) received.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? '', name: span.name });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/metrics`,
    endpoint: `http://127.0.0.1:${port}`,
    names,
    spans,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

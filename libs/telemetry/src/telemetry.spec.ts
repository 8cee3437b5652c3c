import { Writable } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { createLogger, logLevel, LogLevelError, prettyStream } from './logger';
import { linksFromTraceparents, otlpTraceExporter, parseTraceparent, startTelemetry, traceHeaders, tracer } from './tracing';

function capture(): { stream: pino.DestinationStream; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  return { stream: { write: (s: string) => void chunks.push(s) }, lines: () => chunks.map((c) => JSON.parse(c) as Record<string, unknown>) };
}

describe('telemetry', () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'telemetry-spec', exporter });
  afterAll(() => telemetry.shutdown());

  it('gives spans real W3C trace context that parses back to the same ids', () => {
    const span = tracer().startSpan('unit');
    const { traceparent } = traceHeaders(span);
    span.end();
    const parsed = parseTraceparent(traceparent);
    expect(parsed).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, isRemote: true });
  });

  it('rejects malformed and all-zero traceparents', () => {
    expect(parseTraceparent('00-00000000000000000000000000000000-b7ad6b7169203331-01')).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
    expect(parseTraceparent(42)).toBeUndefined();
  });

  it('links to each distinct upstream span once, up to a cap', () => {
    const a = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const b = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    expect(linksFromTraceparents([a, b, a, 'junk']).map((l) => l.context.spanId)).toEqual(['b7ad6b7169203331', '00f067aa0ba902b7']);
    expect(linksFromTraceparents([a, b], 1)).toHaveLength(1);
  });

  it('logs JSON with the active trace and span ids and the service name', () => {
    const out = capture();
    const logger = createLogger({ service: 'svc', format: 'json', destination: out.stream });
    tracer().startActiveSpan('work', (span) => {
      logger.info('inside');
      span.end();
      const [line] = out.lines();
      expect(line).toMatchObject({ service: 'svc', level: 'info', msg: 'inside', trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    });
  });

  it('never writes secrets to the log', () => {
    const out = capture();
    const logger = createLogger({ service: 'svc', format: 'json', destination: out.stream });
    logger.info({ connectionString: 'Endpoint=sb://x;SharedAccessKey=abc', nested: { accountKey: 'k' } }, 'configured');
    const text = JSON.stringify(out.lines());
    expect(text).not.toContain('SharedAccessKey=abc');
    expect(text).not.toContain('"k"');
    expect(text).toContain('[redacted]');
  });

  it('reads LOG_LEVEL in any case, unset or empty as info, and refuses a name that is no level with a setting error naming the values', () => {
    expect(logLevel({})).toBe('info');
    expect(logLevel({ LOG_LEVEL: '' })).toBe('info');
    expect(logLevel({ LOG_LEVEL: ' WARN ' })).toBe('warn');
    expect(logLevel({ LOG_LEVEL: 'silent' })).toBe('silent');
    let refused: unknown;
    try {
      logLevel({ LOG_LEVEL: 'verbose' });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LogLevelError);
    expect(refused).toMatchObject({ exitCode: 2, message: 'LOG_LEVEL is "verbose": expected one of trace, debug, info, warn, error, fatal, silent, or unset for info.' });
  });

  it('prints one short human line per record in pretty format', () => {
    let written = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString();
        done();
      },
    });
    const logger = createLogger({ service: 'capture', format: 'pretty', destination: prettyStream(sink) });
    logger.warn({ partition: '2' }, 'lost ownership');
    expect(written).toMatch(/^\d{2}:\d{2}:\d{2} WARN {2}capture {2}lost ownership {2}partition=2\n$/);
  });
});

describe('the OTLP trace exporter', () => {
  it('speaks the protocol the environment announces, OTLP/HTTP JSON unless told', async () => {
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [{}, '@opentelemetry/exporter-trace-otlp-http'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, '@opentelemetry/exporter-trace-otlp-grpc'],
      [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }, '@opentelemetry/exporter-trace-otlp-proto'],
    ];
    for (const [env, module] of cases) {
      const exporter = otlpTraceExporter(env);
      expect(exporter).toBeInstanceOf((require(module) as { OTLPTraceExporter: new () => unknown }).OTLPTraceExporter);
      await exporter.shutdown();
    }
  });

  it('refuses a protocol it does not know, naming the variable', () => {
    expect(() => otlpTraceExporter({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: expected grpc, http\/protobuf or http\/json, found "udp"/);
  });
});

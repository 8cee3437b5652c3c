import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTelemetry } from '@pipeline/telemetry';
import { startApi, T0, windowDoc, type ApiHarness } from './spec-helpers';

describe('serving API', () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'serving-api-spec', exporter });
  let api: ApiHarness;

  beforeEach(async () => {
    api = await startApi();
    await api.store.upsert([windowDoc('d1', T0, { readings: 3, avg_temperature: 20 })]);
    exporter.reset();
  });
  afterEach(() => api.dispose());
  afterAll(() => telemetry.shutdown());

  describe('health', () => {
    it('is live', async () => {
      const response = await api.get('/health/live');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });

    it('is ready when the store answers and the lake is readable', async () => {
      const response = await api.get('/health/ready');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok', checks: { store: 'ok', lake: 'ok' } });
    });

    it('is not ready once the store is closed, says which check fails, and keeps the reason (a file path) for the log', async () => {
      await api.store.close();
      const response = await api.get('/health/ready');
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({ status: 'failing', checks: { store: 'failing', lake: 'ok' } });
      expect(response.body).not.toContain('/');
      expect(api.logged().some((line) => line.includes('the store check fails') && line.includes('is closed'))).toBe(true);
    });
  });

  describe('OpenAPI', () => {
    it('documents every endpoint with its parameters and answers', async () => {
      const response = await api.get('/docs/json');
      expect(response.statusCode).toBe(200);
      const document = response.json();
      expect(Object.keys(document['paths']).sort()).toEqual([
        '/health/live',
        '/health/ready',
        '/v1/keys/{key}/latest',
        '/v1/keys/{key}/sessions',
        '/v1/late',
        '/v1/status',
        '/v1/status/batches',
        '/v1/status/history',
        '/v1/windows',
        '/v1/windows/top',
      ]);
      const windows = document['paths']['/v1/windows']['get'];
      expect(windows['parameters'].map((p: { name: string }) => p.name)).toEqual(['key', 'window', 'from', 'to', 'limit', 'continuationToken']);
      expect(windows['responses']['200']['content']['application/json']['schema']).toEqual({ $ref: '#/components/schemas/WindowPageDto' });
      expect(windows['responses']['400']['content']['application/json']['schema']).toEqual({ $ref: '#/components/schemas/BadRequestDto' });
      expect(document['paths']['/v1/keys/{key}/latest']['get']['responses']).toHaveProperty('404');
      expect(Object.keys(document['components']['schemas'])).toEqual(expect.arrayContaining(['WindowDto', 'StatusDto', 'ShardStatusDto', 'LateRowsDto', 'RateDto']));
      expect(document['info']['description']).toContain('Aggregates: readings, avg_temperature');
    });

    it('serves Swagger UI', async () => {
      const response = await api.get('/docs');
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('swagger-ui');
    });
  });

  it('answers 404 for a path it does not serve', async () => {
    const response = await api.get('/v1/nothing');
    expect(response.statusCode).toBe(404);
  });

  describe('tracing', () => {
    it('traces each request in one server span with the store calls as its children', async () => {
      await api.get('/v1/windows?key=d1');
      await api.get('/v1/keys/d1/latest');
      const spans = exporter.getFinishedSpans();
      const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
      expect(servers.map((s) => s.name)).toEqual(['GET /v1/windows', 'GET /v1/keys/:key/latest']);
      expect(servers[0]?.attributes).toMatchObject({ 'http.route': '/v1/windows', 'http.response.status_code': 200 });
      const children = spans.filter((s) => s.kind !== SpanKind.SERVER);
      expect(children.map((s) => s.name)).toEqual(['pipeline.serving-store.queryWindows', 'pipeline.serving-store.latest']);
      children.forEach((child, i) => {
        expect(child.parentSpanContext?.spanId).toBe(servers[i]?.spanContext().spanId);
        expect(child.spanContext().traceId).toBe(servers[i]?.spanContext().traceId);
      });
    });

    it('traces answers no handler gives too: a path no route serves is a span named by its method alone', async () => {
      await api.get('/v1/nothing');
      const [server] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
      expect(server?.name).toBe('GET');
      expect(server?.attributes).toMatchObject({ 'url.path': '/v1/nothing', 'http.response.status_code': 404 });
      expect(server?.attributes['http.route']).toBeUndefined();
    });

    it("continues the caller's trace from a traceparent header", async () => {
      await api.get('/v1/keys/d1/latest', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
      const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER);
      expect(server?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(server?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    });

    it('records the status of a rejected request and of a failing store call', async () => {
      await api.get('/v1/windows');
      await api.store.close();
      await api.get('/v1/keys/d1/latest');
      const spans = exporter.getFinishedSpans();
      const [rejected, failed] = spans.filter((s) => s.kind === SpanKind.SERVER);
      expect(rejected?.attributes['http.response.status_code']).toBe(400);
      expect(rejected?.status.code).toBe(SpanStatusCode.UNSET);
      expect(failed?.attributes['http.response.status_code']).toBe(500);
      expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
      const storeCall = spans.find((s) => s.name === 'pipeline.serving-store.latest');
      expect(storeCall?.status.code).toBe(SpanStatusCode.ERROR);
      expect(storeCall?.parentSpanContext?.spanId).toBe(failed?.spanContext().spanId);
    });
  });
});

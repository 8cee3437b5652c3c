import { randomBytes } from 'node:crypto';
import { routePattern } from './http-edge';
import { startApi, T0, windowDoc, type ApiHarness } from './spec-helpers';

describe('the serving API edge, authentication off', () => {
  describe('with the local defaults', () => {
    let api: ApiHarness;
    beforeAll(async () => {
      api = await startApi();
      await api.store.upsert([windowDoc('d1', T0, { readings: 3, avg_temperature: 20 })]);
    });
    afterAll(() => api.dispose());

    it('serves data without a token', async () => {
      expect((await api.get('/v1/keys/d1/latest')).statusCode).toBe(200);
    });

    it.each(['/v1/keys/d1/latest', '/health/live', '/v1/nothing'])('sends the security headers on %s, and no HSTS unless configured', async (url) => {
      const response = await api.get(url);
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
        'content-security-policy': expect.stringContaining("frame-ancestors 'none'"),
      });
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("style-src 'self';");
      expect(csp).not.toContain('unsafe');
      expect(response.headers['strict-transport-security']).toBeUndefined();
    });

    it("lets Swagger UI's inline style through on /docs, never an inline script", async () => {
      const csp = String((await api.get('/docs')).headers['content-security-policy']);
      expect(csp).toContain("style-src 'self' 'unsafe-inline'");
      expect(csp).toContain("script-src 'self';");
    });

    it('answers 405 with Allow for a known path asked with another method, and 404 for an unknown path', async () => {
      for (const [method, url] of [
        ['POST', '/v1/windows?key=d1'],
        ['DELETE', '/v1/keys/d1/latest'],
        ['PUT', '/health/ready'],
      ] as const) {
        const response = await api.request(method, url);
        expect({ method, url, status: response.statusCode, allow: response.headers['allow'] }).toEqual({ method, url, status: 405, allow: 'GET, HEAD' });
        expect(response.json()).toEqual({ statusCode: 405, error: 'Method Not Allowed', message: `${method} is not allowed on ${url.split('?')[0]}: it takes GET, HEAD.` });
      }
      expect((await api.request('POST', '/v1/nothing')).statusCode).toBe(404);
      expect((await api.request('GET', '/v1/keys/d1')).statusCode).toBe(404);
    });

    it('gives no cross-origin access by default', async () => {
      const response = await api.get('/v1/keys/d1/latest', { origin: 'https://app.example.com' });
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await api.request('OPTIONS', '/v1/keys/d1/latest', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('configured for the internet', () => {
    let api: ApiHarness;
    beforeAll(async () => {
      api = await startApi('local', {
        edge: { corsOrigins: ['https://app.example.com'], hsts: true, rateLimit: { perSecond: 2, burst: 3 }, tokenKey: { key: randomBytes(32), shared: true } },
      });
      await api.store.upsert([windowDoc('d1', T0, { readings: 3, avg_temperature: 20 })]);
    });
    afterAll(() => api.dispose());

    it('applies the request and connection timeouts to the HTTP server', async () => {
      const configured = await startApi('local', { edge: { requestTimeoutMs: 7_000, connectionTimeoutMs: 90_000 } });
      try {
        const server = configured.app.getHttpServer();
        expect([server.requestTimeout, server.timeout]).toEqual([7_000, 90_000]);
      } finally {
        await configured.dispose();
      }
    });

    it.each([
      [0, [200, 429]],
      [1, [200, 200]],
    ])('with %i trusted proxy hops, counts clients behind one proxy as %j', async (hops, expected) => {
      const configured = await startApi('local', { edge: { trustProxyHops: hops, rateLimit: { perSecond: 1, burst: 1 } } });
      try {
        const fastify = configured.app.getHttpAdapter().getInstance();
        const statuses: number[] = [];
        for (const client of ['203.0.113.9', '198.51.100.4']) {
          const answer = await fastify.inject({ method: 'GET', url: '/v1/status', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': client } });
          statuses.push(answer.statusCode);
        }
        expect(statuses).toEqual(expected);
      } finally {
        await configured.dispose();
      }
    });

    it('sends HSTS', async () => {
      expect((await api.get('/health/live')).headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    });

    it('lets a configured origin read answers and answers its preflight; other origins get nothing', async () => {
      const allowed = await api.get('/health/live', { origin: 'https://app.example.com' });
      expect(allowed.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.example.com', vary: 'Origin' });
      const preflight = await api.request('OPTIONS', '/v1/windows', {
        origin: 'https://app.example.com',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers).toMatchObject({
        'access-control-allow-origin': 'https://app.example.com',
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': expect.stringContaining('authorization'),
      });
      const other = await api.get('/health/live', { origin: 'https://evil.example.com' });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('limits each client address with a token bucket, answering 429 with Retry-After, and never limits the health probes', async () => {
      api.clock.advance(60_000);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await api.get('/v1/keys/d1/latest')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const refused = await api.get('/v1/keys/d1/latest');
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.headers['x-content-type-options']).toBe('nosniff');
      for (let i = 0; i < 5; i++) expect((await api.get('/health/ready')).statusCode).toBe(200);
      // Another address has its own bucket.
      const elsewhere = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/v1/keys/d1/latest', remoteAddress: '10.0.0.7' });
      expect(elsewhere.statusCode).toBe(200);
      // Half a second refills one request at 2 per second.
      api.clock.advance(500);
      expect((await api.get('/v1/keys/d1/latest')).statusCode).toBe(200);
      expect((await api.get('/v1/keys/d1/latest')).statusCode).toBe(429);
    });
  });
});

describe('routePattern', () => {
  it('matches one path segment per parameter, and the literal parts exactly', () => {
    const pattern = routePattern('/v1/keys/:key/latest');
    expect(pattern.test('/v1/keys/d1/latest')).toBe(true);
    expect(pattern.test('/v1/keys/a/b/latest')).toBe(false);
    expect(pattern.test('/v1/keys//latest')).toBe(false);
    expect(routePattern('/docs/json').test('/docsXjson')).toBe(false);
  });
});

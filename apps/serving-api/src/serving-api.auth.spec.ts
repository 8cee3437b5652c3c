/**
 * The serving API with Entra ID authentication on, against a local tenant (keys made here, metadata
 * and key set served by a local HTTP server, tokens issued here).
 */
import { EntraTestTenant } from '@pipeline/testing';
import { startApi, T0, windowDoc, type ApiHarness } from './spec-helpers';

describe('serving API with Entra ID authentication', () => {
  let tenant: EntraTestTenant;
  let api: ApiHarness;

  beforeAll(async () => {
    tenant = await EntraTestTenant.start();
    api = await startApi('local', {
      edge: {
        auth: { tenantId: tenant.tenantId, audiences: [tenant.clientId, tenant.appIdUri], role: 'Pipeline.Read', authority: tenant.authority, clockToleranceSeconds: 60 },
        rateLimit: { perSecond: 1000, burst: 1000 },
      },
    });
    await api.store.upsert([windowDoc('d1', T0, { readings: 3, avg_temperature: 20 })]);
  });
  afterAll(async () => {
    await api.dispose();
    await tenant.stop();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('answers 200 to a token of the tenant with the role', async () => {
    const token = await tenant.token({ roles: ['Pipeline.Read'] });
    for (const url of ['/v1/windows?key=d1', '/v1/keys/d1/latest', '/v1/status', `/v1/windows/top?window=per_minute&start=${T0}&by=readings`, '/v1/late']) {
      expect({ url, status: (await api.get(url, bearer(token))).statusCode }).toEqual({ url, status: 200 });
    }
  });

  it('answers 401 with a Bearer challenge and a JSON error when there is no token', async () => {
    const response = await api.get('/v1/windows?key=d1');
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="serving-api"');
    expect(response.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringContaining('no Authorization header') });
  });

  it('answers 401 naming the problem for a bad signature, another audience or issuer, an expired token, and never repeats the token', async () => {
    const cases: [string, string, RegExp][] = [
      ['bad signature', await tenant.token({ roles: ['Pipeline.Read'], key: await EntraTestTenant.newKey('key-1') }), /signature is not valid/],
      ['wrong audience', await tenant.token({ roles: ['Pipeline.Read'], aud: 'api://another-api' }), /another audience/],
      ['wrong issuer', await tenant.token({ roles: ['Pipeline.Read'], iss: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' }), /another issuer/],
      ['expired', await tenant.token({ roles: ['Pipeline.Read'], expiresIn: -600 }), /expired/],
      ['not a JWT', 'abc.def', /not a well-formed JWT/],
    ];
    for (const [name, token, reason] of cases) {
      const response = await api.get('/v1/keys/d1/latest', bearer(token));
      expect({ name, status: response.statusCode }).toEqual({ name, status: 401 });
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="serving-api", error="invalid_token", error_description="[^"]+"$/);
      expect(response.json()['message']).toMatch(reason);
      expect(response.body).not.toContain(token);
      expect(String(response.headers['www-authenticate'])).not.toContain(token);
    }
  });

  it('answers 403 to a valid token without the role', async () => {
    const response = await api.get('/v1/windows?key=d1', bearer(await tenant.token({ roles: ['Pipeline.Write'] })));
    expect(response.statusCode).toBe(403);
    expect(response.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(response.json()).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.stringContaining('Pipeline.Read') });
  });

  it('keeps the health probes and the OpenAPI document public, and documents the bearer scheme on the data routes only', async () => {
    for (const url of ['/health/live', '/health/ready', '/docs', '/docs/json']) expect({ url, status: (await api.get(url)).statusCode }).toEqual({ url, status: 200 });
    const document = (await api.get('/docs/json')).json();
    expect(document['components']['securitySchemes']).toEqual({ entra: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }) });
    expect(document['security']).toEqual([{ entra: [] }]);
    expect(document['paths']['/health/ready']['get']['security']).toEqual([]);
    expect(document['paths']['/v1/windows']['get']['security']).toBeUndefined();
  });

  it("serves the status page's files without a token, while its data calls need one", async () => {
    for (const url of ['/', '/status-page.js', '/status-page.css', '/status-page.json']) expect({ url, status: (await api.get(url)).statusCode }).toEqual({ url, status: 200 });
    for (const url of ['/v1/status', '/v1/status/history', '/v1/status/batches']) expect({ url, status: (await api.get(url)).statusCode }).toEqual({ url, status: 401 });
    // The page says why it shows nothing rather than failing silently.
    expect((await api.get('/status-page.js')).body).toContain('Calling the serving API with authentication on');
  });

  it('needs the token however the path is spelt: the route decides, not the URL text', async () => {
    const answers: Record<string, number> = {};
    for (const url of ['/v1/keys/d1/latest?x=1', '/v1//keys/d1/latest', '/%761/keys/d1/latest', '/v1/keys/d1/latest/', '/V1/keys/d1/latest', '/v1/keys/d1%2Flatest']) {
      answers[url] = (await api.get(url)).statusCode;
    }
    // Either the path reaches a data route (and needs the token) or it reaches none.
    expect(Object.entries(answers).filter(([, status]) => status !== 401 && status !== 404)).toEqual([]);
    expect(answers['/%761/keys/d1/latest']).toBe(401);
  });

  it('logs one access line per request without the token', async () => {
    const token = await tenant.token({ roles: ['Pipeline.Read'] });
    const before = api.logged().length;
    await api.get('/v1/keys/d1/latest', { ...bearer(token), traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    await api.get('/v1/keys/d1/latest');
    const lines = api.logged().slice(before);
    const access = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => record['msg'] === 'request');
    expect(access).toEqual([
      expect.objectContaining({ method: 'GET', route: '/v1/keys/:key/latest', status: 200, durationMs: expect.any(Number), trace_id: '0af7651916cd43dd8448eb211c80319c' }),
      expect.objectContaining({ method: 'GET', route: '/v1/keys/:key/latest', status: 401, durationMs: expect.any(Number) }),
    ]);
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n').toLowerCase()).not.toContain('bearer');
  });
});

describe('serving API with authentication while the tenant is unreachable', () => {
  it('answers 503 with Retry-After, not 401, and serves again once the keys can be fetched', async () => {
    const tenant = await EntraTestTenant.start();
    const api = await startApi('local', {
      edge: { auth: { tenantId: tenant.tenantId, audiences: [tenant.clientId], role: 'Pipeline.Read', authority: tenant.authority, clockToleranceSeconds: 60 } },
    });
    try {
      const token = await tenant.token({ roles: ['Pipeline.Read'] });
      tenant.fail(true);
      const down = await api.get('/v1/status', { authorization: `Bearer ${token}` });
      expect(down.statusCode).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      tenant.fail(false);
      expect((await api.get('/v1/status', { authorization: `Bearer ${token}` })).statusCode).toBe(200);
    } finally {
      await api.dispose();
      await tenant.stop();
    }
  });
});

describe('serving API with authentication and a rate limit', () => {
  it('limits each caller by its token, and a caller with bad tokens by its address', async () => {
    const tenant = await EntraTestTenant.start();
    const api = await startApi('local', {
      edge: {
        auth: { tenantId: tenant.tenantId, audiences: [tenant.clientId], role: 'Pipeline.Read', authority: tenant.authority, clockToleranceSeconds: 60 },
        rateLimit: { perSecond: 1, burst: 2 },
      },
    });
    try {
      const alice = { authorization: `Bearer ${await tenant.token({ roles: ['Pipeline.Read'], oid: 'alice' })}` };
      const bob = { authorization: `Bearer ${await tenant.token({ roles: ['Pipeline.Read'], oid: 'bob' })}` };
      const statuses = async (headers: Record<string, string>, n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await api.get('/v1/status', headers)).statusCode);
        return out;
      };
      expect(await statuses(alice, 3)).toEqual([200, 200, 429]);
      // Bob comes from the same address with his own token: his own bucket.
      expect(await statuses(bob, 2)).toEqual([200, 200]);
      const refused = await api.get('/v1/status', alice);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Too many requests from this client: retry after 1 s.' });
      api.clock.advance(1_000);
      expect(await statuses(alice, 2)).toEqual([200, 429]);
      // Bad tokens are charged to the address: the third guess is refused before it is checked.
      expect(await statuses({ authorization: 'Bearer guess' }, 3)).toEqual([401, 401, 429]);
    } finally {
      await api.dispose();
      await tenant.stop();
    }
  });
});

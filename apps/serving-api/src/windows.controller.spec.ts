import { T0, MINUTE, startApi, windowDoc, type ApiHarness, type Body } from './spec-helpers';

describe.each(['local', 'cosmos'] as const)('window endpoints (%s store)', (kind) => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi(kind);
    const docs = [];
    for (let i = 0; i < 7; i++) docs.push(windowDoc('d1', T0 + i * MINUTE, { readings: i + 1, avg_temperature: 20 + i }));
    docs.push(windowDoc('d1', T0, { readings: 10, avg_temperature: 21 }, { window: 'last_5m' }));
    docs.push(windowDoc('d2', T0, { readings: 50, avg_temperature: null }, { shard: 1 }));
    docs.push(windowDoc('d3', T0, { readings: 30, avg_temperature: 19 }, { shard: 1 }));
    docs.push(windowDoc('a b&c', T0, { readings: 2, avg_temperature: 18 }));
    await api.store.upsert(docs);
  });
  afterAll(() => api.dispose());

  describe('GET /v1/windows', () => {
    it("returns a key's windows in the time range, ordered by start", async () => {
      const response = await api.get(`/v1/windows?key=d1&window=per_minute&from=${T0 + MINUTE}&to=2026-01-01T00:04:00Z`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body['items'].map((w: Body) => w['windowStart'])).toEqual(['2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z', '2026-01-01T00:03:00.000Z']);
      expect(body['items'][0]).toMatchObject({
        key: 'device_id=d1',
        keyColumns: { device_id: 'd1' },
        window: 'per_minute',
        windowStartMs: T0 + MINUTE,
        windowEndMs: T0 + 2 * MINUTE,
        aggregates: { readings: 2, avg_temperature: 21 },
        final: true,
        shard: 0,
        version: 1,
      });
      expect(body['continuationToken']).toBeNull();
    });

    it('takes the canonical key text and the bare value alike', async () => {
      const bare = await api.get('/v1/windows?key=d1&window=per_minute&limit=100');
      const canonical = await api.get(`/v1/windows?key=${encodeURIComponent('device_id=d1')}&window=per_minute&limit=100`);
      expect(canonical.json()['items']).toHaveLength(7);
      expect(canonical.body).toBe(bare.body);
    });

    it('finds a key whose value has characters the canonical text encodes', async () => {
      const bare = await api.get(`/v1/windows?key=${encodeURIComponent('a b&c')}`);
      const canonical = await api.get(`/v1/windows?key=${encodeURIComponent('device_id=a%20b%26c')}`);
      expect(bare.json()['items'].map((w: Body) => w['key'])).toEqual(['device_id=a%20b%26c']);
      expect(canonical.body).toBe(bare.body);
    });

    it('returns every window of every definition when no window is named', async () => {
      const body = (await api.get('/v1/windows?key=d1&to=2026-01-01T00:01:00Z')).json();
      expect(body['items'].map((w: Body) => w['window']).sort()).toEqual(['last_5m', 'per_minute']);
    });

    it('pages through all windows with continuation tokens, each window once', async () => {
      const seen: string[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const url = `/v1/windows?key=d1&window=per_minute&limit=3${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
        const response = await api.get(url);
        expect(response.statusCode).toBe(200);
        const body = response.json();
        expect(body['items'].length).toBeLessThanOrEqual(3);
        seen.push(...body['items'].map((w: Body) => w['id'] as string));
        token = body['continuationToken'] as string | null;
        pages++;
      } while (token !== null && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(7);
      expect(new Set(seen).size).toBe(7);
    });

    it('answers 400 for a continuation token it did not give out', async () => {
      const response = await api.get('/v1/windows?key=d1&continuationToken=not-a-token');
      expect(response.statusCode).toBe(400);
      expect(response.json()['problems']).toEqual([
        { parameter: 'continuationToken', expected: 'a token from a previous page of this API (this is not one: wrong shape)', found: '"not-a-token"' },
      ]);
    });

    async function firstToken(query: string): Promise<string> {
      const body = (await api.get(`/v1/windows?${query}&limit=3`)).json();
      expect(typeof body['continuationToken']).toBe('string');
      return body['continuationToken'] as string;
    }

    it('refuses a token of another query: a token of another key, or of the same key with another range', async () => {
      await api.store.upsert([0, 1, 2, 3].map((i) => windowDoc('d9', T0 + (100 + i) * MINUTE, { readings: i, avg_temperature: 1 })));
      const fromD9 = await firstToken('key=d9&window=per_minute');
      for (const query of ['key=d1&window=per_minute', 'key=d9&window=last_5m', `key=d9&window=per_minute&from=${T0 + 100 * MINUTE}`]) {
        const response = await api.get(`/v1/windows?${query}&limit=3&continuationToken=${encodeURIComponent(fromD9)}`);
        expect(response.statusCode).toBe(400);
        expect(response.json()['problems'][0]['expected']).toMatch(/^a token of this same query \(this token continues another query/);
      }
      // The page size may change between pages.
      const next = await api.get(`/v1/windows?key=d9&window=per_minute&limit=2&continuationToken=${encodeURIComponent(fromD9)}`);
      expect(next.statusCode).toBe(200);
      expect(next.json()['items']).toHaveLength(1);
    });

    it('refuses an edited token, naming the signature', async () => {
      const token = await firstToken('key=d1&window=per_minute');
      const [storeToken, digest, mac] = token.split('.') as [string, string, string];
      const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
      // An edited position (the store token), and an edited signature.
      const edited = [`${flip(storeToken, 3)}.${digest}.${mac}`, `${storeToken}.${digest}.${flip(mac, 0)}`];
      for (const bad of edited) {
        const response = await api.get(`/v1/windows?key=d1&window=per_minute&limit=3&continuationToken=${encodeURIComponent(bad)}`);
        expect(response.statusCode).toBe(400);
        expect(response.json()['problems'][0]['expected']).toMatch(/the signature does not match/);
      }
    });

    it('lists every problem of a bad request at once, naming parameter, expectation and finding', async () => {
      const response = await api.get('/v1/windows?window=hourly&from=yesterday&limit=0&limt=5');
      expect(response.statusCode).toBe(400);
      const body = response.json();
      expect(body['problems']).toEqual([
        { parameter: 'key', expected: 'a device_id value, or device_id=…', found: 'nothing (it is required)' },
        { parameter: 'window', expected: 'one of per_minute, last_5m', found: '"hourly"' },
        { parameter: 'from', expected: 'an ISO-8601 time (2026-01-01T00:00:00Z) or epoch milliseconds', found: '"yesterday"' },
        { parameter: 'limit', expected: 'an integer from 1 to 1000', found: '"0"' },
        { parameter: 'limt', expected: 'no such parameter (this endpoint takes key, window, from, to, limit, continuationToken)', found: '"5"' },
      ]);
      expect(body['message']).toMatch(/^5 problems with the request: key: expected/);
    });

    it('rejects a range whose end is not after its start, and a key of the wrong columns', async () => {
      const response = await api.get(`/v1/windows?key=${encodeURIComponent('site=s1')}&from=2026-01-01T00:05:00Z&to=2026-01-01T00:01:00Z`);
      expect(response.json()['problems'].map((p: Body) => p['parameter'])).toEqual(['key', 'to']);
    });

    it('rejects a parameter given twice', async () => {
      const response = await api.get('/v1/windows?key=d1&limit=5&limit=6');
      expect(response.json()['problems']).toEqual([{ parameter: 'limit', expected: 'a single value', found: '2 values ["5","6"]' }]);
    });
  });

  describe('GET /v1/keys/{key}/latest', () => {
    it("returns the key's window with the latest start", async () => {
      const response = await api.get('/v1/keys/d1/latest?window=per_minute');
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ windowStartMs: T0 + 6 * MINUTE, aggregates: { readings: 7 } });
    });

    it('takes the canonical key text in the path', async () => {
      const response = await api.get(`/v1/keys/${encodeURIComponent('device_id=d2')}/latest`);
      expect(response.json()).toMatchObject({ key: 'device_id=d2', aggregates: { readings: 50, avg_temperature: null } });
    });

    it('answers 404 for a key with no windows', async () => {
      const response = await api.get('/v1/keys/nobody/latest');
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ statusCode: 404, message: expect.stringContaining('No window for key "nobody"') });
    });

    it('answers 400, not 404, for a window the spec does not define', async () => {
      const response = await api.get('/v1/keys/d1/latest?window=hourly');
      expect(response.statusCode).toBe(400);
      expect(response.json()['problems']).toEqual([{ parameter: 'window', expected: 'one of per_minute, last_5m', found: '"hourly"' }]);
    });
  });

  describe('GET /v1/windows/top', () => {
    it('ranks the windows starting at a time by an aggregate, descending', async () => {
      const response = await api.get(`/v1/windows/top?window=per_minute&start=2026-01-01T00:00:00Z&by=readings&limit=3`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ window: 'per_minute', windowStart: '2026-01-01T00:00:00.000Z', by: 'readings' });
      expect(body['items'].map((w: Body) => [w['keyColumns']['device_id'], w['aggregates']['readings']])).toEqual([
        ['d2', 50],
        ['d3', 30],
        ['a b&c', 2],
      ]);
    });

    it('puts windows without a value last', async () => {
      const body = (await api.get(`/v1/windows/top?window=per_minute&start=${T0}&by=avg_temperature`)).json();
      expect(body['items'].map((w: Body) => w['keyColumns']['device_id'])).toEqual(['d1', 'd3', 'a b&c', 'd2']);
    });

    it('accepts only aggregate names of the spec for by, and needs window and start', async () => {
      const response = await api.get('/v1/windows/top?by=temperature');
      expect(response.statusCode).toBe(400);
      expect(response.json()['problems']).toEqual([
        { parameter: 'window', expected: 'one of per_minute, last_5m', found: 'nothing (it is required)' },
        { parameter: 'start', expected: 'an ISO-8601 time (2026-01-01T00:00:00Z) or epoch milliseconds', found: 'nothing (it is required)' },
        { parameter: 'by', expected: 'one of readings, avg_temperature', found: '"temperature"' },
      ]);
    });
  });

  describe('conditional reads', () => {
    it('tags an answer with a weak ETag and answers 304 to If-None-Match with it', async () => {
      const first = await api.get('/v1/keys/d1/latest');
      const etag = first.headers['etag'] as string;
      expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
      const again = await api.get('/v1/keys/d1/latest', { 'if-none-match': etag });
      expect(again.statusCode).toBe(304);
      expect(again.body).toBe('');
      expect(again.headers['etag']).toBe(etag);
    });

    it('changes the ETag when the data changes', async () => {
      const before = await api.get('/v1/keys/d3/latest');
      await api.store.upsert([windowDoc('d3', T0, { readings: 31, avg_temperature: 19 }, { shard: 1, version: 2 })]);
      const after = await api.get('/v1/keys/d3/latest', { 'if-none-match': before.headers['etag'] as string });
      expect(after.statusCode).toBe(200);
      expect(after.json()['aggregates']['readings']).toBe(31);
      expect(after.headers['etag']).not.toBe(before.headers['etag']);
    });

    it('does not tag error answers', async () => {
      const response = await api.get('/v1/keys/nobody/latest');
      expect(response.headers['etag']).toBeUndefined();
    });
  });
});

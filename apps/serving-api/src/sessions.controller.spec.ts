import { parseSpec } from '@pipeline/contracts';
import { groupKeyText, windowDocumentId, type WindowDocument } from '@pipeline/ports';
import { MINUTE, T0, startApi, type ApiHarness, type Body } from './spec-helpers';

const sessionSpec = parseSpec(
  `
version: 1
name: visits
source:
  name: clicks
  columns:
    - { name: click_id, type: string }
    - { name: user_id, type: string }
    - { name: ts, type: timestamp }
eventTime: { column: ts }
eventId: { column: click_id }
partitionKey: user_id
groupBy: [user_id]
windows:
  - { name: per_hour, type: tumbling, size: 1h }
  - { name: visits, type: session, gap: 5m }
aggregates:
  - { name: clicks, fn: count }
watermark: { delay: 1m }
gold: { outputModes: [update] }
`,
  'visits.yaml',
);

function session(user: string, start: number, end: number, clicks: number, version: number, final = false): WindowDocument {
  const pk = groupKeyText({ user_id: user }, ['user_id']);
  return {
    id: windowDocumentId('visits', pk, start),
    pk,
    pipeline: 'visits',
    window: 'visits',
    windowStart: start,
    windowEnd: end,
    key: { user_id: user },
    aggregates: { clicks },
    final,
    watermark: T0,
    shard: 0,
    version,
  };
}

describe.each(['local', 'cosmos'] as const)('GET /v1/keys/:key/sessions (%s store)', (kind) => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApi(kind, { spec: sessionSpec });
  });
  afterAll(() => api.dispose());

  it("answers a key's sessions with start, end, duration and aggregates, ordered by start", async () => {
    await api.store.upsert([session('u1', T0, T0 + 8 * MINUTE, 2, 1), session('u1', T0 + 20 * MINUTE, T0 + 25 * MINUTE, 1, 1), session('u2', T0, T0 + 5 * MINUTE, 1, 1)]);
    const response = await api.get('/v1/keys/u1/sessions');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body['items'].map((s: Body) => [s['windowStart'], s['windowEnd'], s['duration'], s['durationMs'], s['aggregates']])).toEqual([
      ['2026-01-01T00:00:00.000Z', '2026-01-01T00:08:00.000Z', '8m', 8 * MINUTE, { clicks: 2 }],
      ['2026-01-01T00:20:00.000Z', '2026-01-01T00:25:00.000Z', '5m', 5 * MINUTE, { clicks: 1 }],
    ]);
    expect(body['items'][0]).toMatchObject({ key: 'user_id=u1', keyColumns: { user_id: 'u1' }, window: 'visits', final: false });
    expect(body['continuationToken']).toBeNull();
  });

  it('shows one session after a merge retired the sessions it joined', async () => {
    const first = session('u3', T0, T0 + 5 * MINUTE, 1, 1);
    const second = session('u3', T0 + 8 * MINUTE, T0 + 13 * MINUTE, 1, 1);
    await api.store.upsert([first, second]);
    // A click at 00:03 moved the first session's end past the second one's start: one session, under the first start.
    await api.store.upsert([session('u3', T0, T0 + 13 * MINUTE, 3, 2)], [{ pk: second.pk, id: second.id, version: 2 }]);
    const body = (await api.get('/v1/keys/user_id%3Du3/sessions?window=visits')).json();
    expect(body['items'].map((s: Body) => [s['windowStartMs'], s['windowEndMs'], s['duration'], s['aggregates']['clicks']])).toEqual([[T0, T0 + 13 * MINUTE, '13m', 3]]);
  });

  it('pages with continuation tokens and filters by start', async () => {
    await api.store.upsert([0, 1, 2, 3].map((i) => session('u4', T0 + i * 10 * MINUTE, T0 + i * 10 * MINUTE + 5 * MINUTE, 1, 1)));
    const first = (await api.get('/v1/keys/u4/sessions?limit=3')).json();
    expect(first['items']).toHaveLength(3);
    const second = (await api.get(`/v1/keys/u4/sessions?limit=3&continuationToken=${encodeURIComponent(first['continuationToken'] as string)}`)).json();
    expect(second['items'].map((s: Body) => s['windowStartMs'])).toEqual([T0 + 30 * MINUTE]);
    const ranged = (await api.get(`/v1/keys/u4/sessions?from=${T0 + 10 * MINUTE}&to=2026-01-01T00:30:00Z`)).json();
    expect(ranged['items'].map((s: Body) => s['windowStartMs'])).toEqual([T0 + 10 * MINUTE, T0 + 20 * MINUTE]);
  });

  it('answers 400 naming the problem for a window that is not a session window and a bad key', async () => {
    const response = await api.get('/v1/keys/a%3Db%26c%3Dd/sessions?window=per_hour');
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems']).toEqual([
      { parameter: 'key', expected: 'a user_id value, or user_id=…', found: '"a=b&c=d"' },
      { parameter: 'window', expected: 'one of visits', found: '"per_hour"' },
    ]);
  });
});

import type { TableSchema } from '@pipeline/contracts';
import { DeltaTable } from '@pipeline/delta';
import { MINUTE, startApi, T0, type ApiHarness, type Body } from './spec-helpers';

/** Shaped like gold's late table: silver's columns (a few here) and why the row was late. */
const LATE_SCHEMA: TableSchema = {
  columns: [
    { name: 'device_id', type: 'string', nullable: false },
    { name: 'event_time', type: 'timestamp', nullable: false },
    { name: 'event_date', type: 'date', nullable: false },
    { name: 'shard', type: 'integer', nullable: false },
    { name: 'raw', type: 'binary', nullable: true },
    { name: 'late_windows', type: 'string', nullable: false },
    { name: 'late_threshold', type: 'timestamp', nullable: false },
    { name: 'gold_batch', type: 'long', nullable: false },
  ],
  partitionBy: ['event_date'],
};

function lateRow(device: string, eventTime: number) {
  return {
    device_id: device,
    event_time: eventTime,
    event_date: new Date(eventTime).toISOString().slice(0, 10),
    shard: 0,
    raw: Buffer.from(device),
    late_windows: 'per_minute',
    late_threshold: T0 + 10 * MINUTE,
    gold_batch: 3,
  };
}

describe('GET /v1/late', () => {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await startApi();
  });
  afterEach(() => api.dispose());

  async function writeLate(batches: ReturnType<typeof lateRow>[][]): Promise<void> {
    const table = await DeltaTable.open(api.lake, 'tables/late', LATE_SCHEMA, { tableName: 'sensor-readings_late' });
    for (const [i, rows] of batches.entries()) {
      const adds = await table.writeFiles(rows, { filePrefix: `part-${i}`, commitTime: T0 + i });
      await table.commit(adds, { txn: { appId: 'gold-0', version: i }, commitTime: T0 + i });
    }
  }

  it('answers an empty list while the late table does not exist', async () => {
    const response = await api.get('/v1/late');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: [], truncated: false, continuationToken: null, tableVersion: null });
  });

  it('returns the late rows in the time range, ordered by event_time, across commits and partitions', async () => {
    const lastDay = Date.UTC(2025, 11, 31, 23, 59);
    await writeLate([
      [lateRow('d1', T0 + 3 * MINUTE), lateRow('d2', lastDay)],
      [lateRow('d3', T0 + MINUTE), lateRow('d4', T0 + 9 * MINUTE)],
    ]);
    const response = await api.get(`/v1/late?from=2025-12-31T23:00:00Z&to=${T0 + 5 * MINUTE}`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body['items'].map((r: Body) => r['device_id'])).toEqual(['d2', 'd3', 'd1']);
    expect(body['items'][1]).toEqual({
      device_id: 'd3',
      event_time: T0 + MINUTE,
      event_date: '2026-01-01',
      shard: 0,
      raw: Buffer.from('d3').toString('base64'),
      late_windows: 'per_minute',
      late_threshold: T0 + 10 * MINUTE,
      gold_batch: 3,
    });
    expect(body['truncated']).toBe(false);
    expect(body['tableVersion']).toBe(2);
  });

  it('says when limit cut the answer short', async () => {
    await writeLate([[lateRow('d1', T0), lateRow('d2', T0 + 1), lateRow('d3', T0 + 2)]]);
    const body = (await api.get('/v1/late?limit=2')).json();
    expect(body['items'].map((r: Body) => r['device_id'])).toEqual(['d1', 'd2']);
    expect(body['truncated']).toBe(true);
  });

  it('filters by key, given as the windows endpoints take it, and pages with continuationToken', async () => {
    await writeLate([
      [lateRow('d1', T0 + 4), lateRow('d2', T0 + 1), lateRow('d1', T0 + 2)],
      [lateRow('d1', T0 + 3), lateRow('d2', T0 + 5), lateRow('d1', T0 + 0)],
    ]);
    for (const key of ['d1', 'device_id%3Dd1']) {
      const seen: number[] = [];
      let token: string | null = null;
      do {
        const response = await api.get(`/v1/late?key=${key}&limit=2${token === null ? '' : `&continuationToken=${token}`}`);
        expect(response.statusCode).toBe(200);
        const body = response.json();
        seen.push(...body['items'].map((r: Body) => r['event_time'] - T0));
        expect(body['items'].every((r: Body) => r['device_id'] === 'd1')).toBe(true);
        expect(body['truncated']).toBe(body['continuationToken'] !== null);
        token = body['continuationToken'];
      } while (token !== null);
      expect(seen).toEqual([0, 2, 3, 4]);
    }
    expect((await api.get('/v1/late?key=nobody')).json()).toMatchObject({ items: [], truncated: false, continuationToken: null });
  });

  it('lists every bad parameter', async () => {
    const response = await api.get('/v1/late?from=2026-02-30&to=soon&limit=5000');
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems'].map((p: Body) => `${p['parameter']}: ${p['found']}`)).toEqual(['from: "2026-02-30"', 'to: "soon"', 'limit: "5000"']);
  });

  it('refuses a key of other columns and a continuationToken it did not give, naming what it expected', async () => {
    const forged = Buffer.from(JSON.stringify([1, '', -1])).toString('base64url');
    const response = await api.get(`/v1/late?key=site%3Ds1&continuationToken=${forged}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems']).toEqual([
      { parameter: 'key', expected: 'a device_id value, or device_id=…', found: '"site=s1"' },
      { parameter: 'continuationToken', expected: 'the continuationToken of a previous page', found: JSON.stringify(forged) },
    ]);
    expect((await api.get('/v1/late?continuationToken=not%20base64')).statusCode).toBe(400);
  });
});

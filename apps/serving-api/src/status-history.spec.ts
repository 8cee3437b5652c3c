import { StageCheckpoint } from '@pipeline/checkpoint';
import type { StatusView } from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import type { ShardStatus } from '@pipeline/ports';
import { waitFor } from '@pipeline/testing';
import { spec, startApi, T0, type ApiHarness } from './spec-helpers';
import { StatusHistory, type StatusReader } from './status-history';

function shardStatus(shard: number, fields: Partial<ShardStatus>): ShardStatus {
  return { pipeline: spec.name, shard, batch: 0, watermark: null, maxEventTime: null, rows: 0, lateRows: 0, windowsEmitted: 0, updatedAt: T0, ...fields };
}

/** A status answer whose captured events are `events` (the rest empty). */
function view(events: number): StatusView {
  return {
    capture: { files: 1, events },
    bronze: { records: 0, position: null },
    silver: { records: 0, rows: 0, quarantined: 0, duplicates: 0, position: null, rate: { perSecond: null } },
    gold: { rows: 0, lateRows: 0, shards: [] },
    rejected: { setAside: 0, restored: 0 },
    deadLetters: { total: 0 },
  };
}

/** A status source that answers with the counts it is given, or fails with the message it is given. */
class ScriptedStatus implements StatusReader {
  next: number | Error = 0;
  read(): Promise<StatusView> {
    return this.next instanceof Error ? Promise.reject(this.next) : Promise.resolve(view(this.next));
  }
}

describe('StatusHistory', () => {
  it('keeps the samples of the last keepMs, oldest first, overwriting the oldest when full', async () => {
    const clock = new TestClock(T0);
    const status = new ScriptedStatus();
    const history = new StatusHistory(status, clock, { everyMs: 1_000, keepMs: 3_000 });
    expect(history.capacity).toBe(4);
    for (let i = 0; i < 6; i++) {
      status.next = i * 10;
      await history.sample();
      clock.advance(1_000);
    }
    expect(history.samples().map((s) => [s.at - T0, s.capture.events])).toEqual([
      [2_000, 20],
      [3_000, 30],
      [4_000, 40],
      [5_000, 50],
    ]);
    expect(history.samples(T0 + 3_000).map((s) => s.at - T0)).toEqual([4_000, 5_000]);
    expect(history.latest()?.rates.captured).toBe(10);
  });

  it('reports a failed read with the history and keeps the samples it had; the next good read clears it', async () => {
    const clock = new TestClock(T0);
    const status = new ScriptedStatus();
    const history = new StatusHistory(status, clock, { everyMs: 1_000, keepMs: 10_000 });
    await history.sample();
    clock.advance(1_000);
    status.next = new Error('lake unreachable');
    await expect(history.sample()).rejects.toThrow('lake unreachable');
    expect(history.snapshot()).toMatchObject({ everyMs: 1_000, keepMs: 10_000, error: { at: T0 + 1_000, message: 'lake unreachable' } });
    expect(history.samples()).toHaveLength(1);
    clock.advance(1_000);
    status.next = 100;
    await history.sample();
    // The rate spans the failed read: 100 events over the 2 s since the last sample.
    expect(history.snapshot()).toMatchObject({ error: null, samples: [{}, { capture: { events: 100 }, rates: { captured: 50 } }] });
  });

  it('refuses a history shorter than one sampling interval', () => {
    expect(() => new StatusHistory(new ScriptedStatus(), new TestClock(), { everyMs: 5_000, keepMs: 1_000 })).toThrow(/keepMs at least everyMs/);
    expect(() => new StatusHistory(new ScriptedStatus(), new TestClock(), { everyMs: 0, keepMs: 1_000 })).toThrow(/everyMs must be > 0/);
  });

  it('samples on its timer until stopped, then reads no more', async () => {
    const status = new ScriptedStatus();
    let reads = 0;
    const counting: StatusReader = { read: () => (reads++, status.read()) };
    const history = new StatusHistory(counting, new TestClock(T0), { everyMs: 10, keepMs: 1_000 });
    history.start();
    await waitFor(() => (reads >= 3 ? true : undefined), { timeoutMs: 10_000, description: 'three timed reads' });
    await history.stop();
    const after = reads;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reads).toBe(after);
  });
});

describe('GET /v1/status/history', () => {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await startApi();
  });
  afterEach(() => api.dispose());

  it('answers with the samples the API took, each gold shard watermark and lag, and the rates between samples', async () => {
    const history = api.app.get(StatusHistory);
    // The sample taken when the API started.
    await waitFor(() => (history.samples().length > 0 ? true : undefined), { timeoutMs: 10_000, description: 'the first sample' });

    const silver = new StageCheckpoint(api.lake, 'checkpoints/silver');
    await silver.bind('silver', { logicVersion: 1 });
    await silver.writeOffsets(0, { bronze: { from: 0, to: 0 }, batchTime: T0 });
    await silver.writeState(0, { totals: { '0': { records: 50, rows: 40, quarantined: 6, duplicates: 4 } } });
    await silver.commit(0, { batch: 0 });
    await api.store.putShardStatus(shardStatus(0, { batch: 3, watermark: T0 + 30_000, maxEventTime: T0 + 60_000, rows: 30, lateRows: 2 }));
    await api.store.putShardStatus(shardStatus(1, { batch: 1, watermark: null, maxEventTime: T0 + 45_000, rows: 8, lateRows: 0 }));
    api.clock.advance(5_000);
    await history.sample();

    const response = await api.get('/v1/status/history');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ everyMs: 5_000, keepMs: 900_000, error: null });
    const last = body['samples'][body['samples'].length - 1];
    expect(last).toEqual({
      at: T0 + 5_000,
      capture: { files: 0, events: 0 },
      bronze: { records: 0, batch: null },
      silver: { records: 50, rows: 40, quarantined: 6, duplicates: 4, batch: 0, rowsPerSecond: null },
      gold: {
        rows: 38,
        lateRows: 2,
        shards: [
          { shard: 0, batch: 3, watermarkMs: T0 + 30_000, lagMs: 30_000, rows: 30, lateRows: 2, holdingPartition: null },
          { shard: 1, batch: 1, watermarkMs: null, lagMs: null, rows: 8, lateRows: 0, holdingPartition: null },
        ],
      },
      rejected: { setAside: 0, restored: 0 },
      // The harness gives the API no bus: dead letters are not visible to it.
      deadLetters: null,
      rates: { captured: 0, bronze: 0, silver: 10, silverRows: 8, gold: 8 },
    });
    // Only what is newer than `after`; the /v1/status figures are the same.
    expect((await api.get(`/v1/status/history?after=${T0 + 5_000}`)).json()['samples']).toEqual([]);
    expect((await api.get(`/v1/status/history?after=${T0 + 4_999}`)).json()['samples']).toEqual([last]);
    const status = (await api.get('/v1/status')).json();
    expect(status['silver']['rows']).toBe(last.silver.rows);
    expect(status['gold']['lateRows']).toBe(last.gold.lateRows);
  });

  it('refuses a bad `after` and unknown parameters, naming them', async () => {
    const response = await api.get('/v1/status/history?after=yesterday&since=1');
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems'].map((p: { parameter: string }) => p.parameter)).toEqual(['after', 'since']);
  });
});

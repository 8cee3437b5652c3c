import { StageCheckpoint } from '@pipeline/checkpoint';
import type { BronzeCommit, GoldCommit, SilverCommit } from '@pipeline/contracts';
import { startApi, T0, type ApiHarness } from './spec-helpers';

function goldCommit(batch: number, rows: number, watermark: number): GoldCommit {
  return {
    batch,
    silver: { from: batch, to: batch },
    rows,
    lateRows: 1,
    rowsDroppedByWatermark: 1,
    numRowsDroppedByWatermark: 1,
    windowsEmitted: 2,
    documentsWritten: 2,
    watermark,
    holdingPartition: null,
    idlePartitions: [],
    goldVersion: batch,
    lateVersion: batch,
  };
}

describe('GET /v1/status/batches', () => {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await startApi();
  });
  afterEach(() => api.dispose());

  it('answers with no batches before any stage committed one', async () => {
    expect((await api.get('/v1/status/batches')).json()).toEqual({ bronze: [], silver: [], gold: [] });
  });

  it("lists each stage's newest committed batches first, with their counts, batch time and duration, and sees a batch committed since", async () => {
    const bronze = new StageCheckpoint(api.lake, 'checkpoints/bronze');
    for (let batch = 0; batch < 3; batch++) {
      await bronze.writeOffsets(batch, { createdAt: T0 + batch * 1_000, files: [] });
      const commit: BronzeCommit = {
        batch,
        manifest: `m/${batch}`,
        files: 2,
        records: 10 * (batch + 1),
        bytes: 100,
        partitions: {},
        ...(batch === 2 ? { rejected: ['raw/x.avro'] } : {}),
      };
      await bronze.commit(batch, commit);
    }
    // Planned, not committed: not a batch yet.
    await bronze.writeOffsets(3, { createdAt: T0 + 3_000, files: [] });

    const silver = new StageCheckpoint(api.lake, 'checkpoints/silver');
    await silver.writeOffsets(0, { bronze: { from: 0, to: 2 }, batchTime: T0 + 5_000 });
    const silverCommit: SilverCommit = {
      batch: 0,
      bronze: { from: 0, to: 2 },
      inputs: [],
      captureFiles: { inRange: 6, outOfRange: 0 },
      counts: { '0': { records: 40, rows: 35, quarantined: 3, duplicates: 2 }, '1': { records: 20, rows: 20, quarantined: 0, duplicates: 0 } },
      quarantineReasons: { cast_error: 3 },
      silverVersion: 0,
      quarantineVersion: 0,
    };
    await silver.commit(0, silverCommit);

    for (const shard of [1, 0]) {
      const gold = new StageCheckpoint(api.lake, `checkpoints/gold/shard-${String(shard).padStart(3, '0')}`);
      await gold.bind('gold', { logicVersion: 1 });
      await gold.writeOffsets(0, { silver: { from: 0, to: 0 }, batchTime: T0 + 6_000 });
      await gold.commit(0, goldCommit(0, 10 + shard, T0 + 60_000));
    }

    const body = (await api.get('/v1/status/batches?limit=2')).json();
    expect(body['bronze'].map((b: { batch: number }) => b.batch)).toEqual([2, 1]);
    expect(body['bronze'][0]).toEqual({
      batch: 2,
      batchTime: T0 + 2_000,
      committedAt: expect.any(Number),
      durationMs: expect.any(Number),
      counts: { files: 2, records: 30, rejectedFiles: 1 },
      watermarkMs: null,
    });
    expect(body['bronze'][0]['durationMs']).toBeGreaterThanOrEqual(0);
    expect(body['silver']).toEqual([
      expect.objectContaining({ batch: 0, batchTime: T0 + 5_000, counts: { records: 60, rows: 55, quarantined: 3, duplicates: 2, rejectedFiles: 0 }, watermarkMs: null }),
    ]);
    expect(body['gold']).toEqual([
      { shard: 0, batches: [expect.objectContaining({ batch: 0, counts: { rows: 10, lateRows: 1, windowsEmitted: 2 }, watermarkMs: T0 + 60_000 })] },
      { shard: 1, batches: [expect.objectContaining({ batch: 0, counts: { rows: 11, lateRows: 1, windowsEmitted: 2 } })] },
    ]);

    await bronze.commit(3, { batch: 3, manifest: 'm/3', files: 1, records: 5, bytes: 10, partitions: {} });
    expect((await api.get('/v1/status/batches?limit=2')).json()['bronze'].map((b: { batch: number }) => b.batch)).toEqual([3, 2]);
  });

  it('has no duration for a batch whose offsets retention deleted', async () => {
    const bronze = new StageCheckpoint(api.lake, 'checkpoints/bronze');
    await bronze.writeOffsets(0, { createdAt: T0, files: [] });
    await bronze.commit(0, { batch: 0, manifest: 'm/0', files: 1, records: 1, bytes: 1, partitions: {} });
    await api.lake.delete(bronze.offsetsPath(0));
    expect((await api.get('/v1/status/batches')).json()['bronze']).toEqual([expect.objectContaining({ batch: 0, batchTime: null, durationMs: null })]);
  });

  it('refuses a limit outside 1 to 50, naming it', async () => {
    const response = await api.get('/v1/status/batches?limit=0');
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems']).toEqual([{ parameter: 'limit', expected: 'an integer from 1 to 50', found: '"0"' }]);
  });
});

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { capturePartitionCheckpoint, StageCheckpoint } from '@pipeline/checkpoint';
import { RejectedFileLog, restoreAdvice, type CaptureFileRejection } from '@pipeline/contracts';
import { LocalBus } from '@pipeline/adapters';
import type { ShardStatus } from '@pipeline/ports';
import { makeTempDir } from '@pipeline/testing';
import { CAPTURE_RELIST_MS } from './pipeline-status';
import { spec, startApi, T0, type ApiHarness } from './spec-helpers';

const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/eventhubs-capture');

function shardStatus(shard: number, fields: Partial<ShardStatus>): ShardStatus {
  return { pipeline: spec.name, shard, batch: 0, watermark: null, maxEventTime: null, rows: 0, lateRows: 0, windowsEmitted: 0, updatedAt: T0, ...fields };
}

describe('GET /v1/status', () => {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await startApi();
  });
  afterEach(() => api.dispose());

  it('reports every layer empty when nothing has run yet', async () => {
    const response = await api.get('/v1/status');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      pipeline: 'sensor-readings',
      capture: { files: 0, events: 0, bytes: 0, position: null, rate: { perSecond: null, basis: 'status-calls', overMs: null }, partitions: [] },
      bronze: { batches: 0, files: 0, records: 0, position: null, rate: { perSecond: null, basis: 'commits', overMs: null } },
      silver: { batches: 0, records: 0, rows: 0, quarantined: 0, duplicates: 0, position: null, rate: { perSecond: null, basis: 'commits', overMs: null } },
      gold: { shards: [], rows: 0, lateRows: 0, maxEventTimeMs: null },
      rejected: { setAside: 0, restored: 0, files: [] },
      deadLetters: { visible: false, total: null, queues: [] },
    });
  });

  it('counts the dead letters of the manifest queues on the bus it is given, naming the newest reason', async () => {
    const dir = await makeTempDir('status-bus-');
    const bus = LocalBus.open({ file: path.join(dir.path, 'bus.sqlite') });
    const withBus = await startApi('local', { bus });
    try {
      await bus.ensureQueue('silver-manifests', { sessions: true, lockDurationMs: 60_000, maxDeliveryCount: 10 });
      await bus.send('silver-manifests', [
        { body: { n: 1 }, sessionId: 'shard-000' },
        { body: { n: 2 }, sessionId: 'shard-000' },
      ]);
      const session = await bus.acceptSession('silver-manifests', { sessionId: 'shard-000', maxWaitMs: 0 });
      if (session === undefined) throw new Error('the session of shard-000 should be free');
      const received = await session.receive({ maxMessages: 2, maxWaitMs: 0 });
      expect(received).toHaveLength(2);
      for (const [i, message] of received.entries()) await session.deadLetter(message, 'Poison', `manifest ${i + 1} cannot be read`);
      await session.close();
      const status = (await withBus.get('/v1/status')).json();
      expect(status['deadLetters']).toEqual({
        visible: true,
        total: 2,
        queues: [
          // Nothing was ever sent to it: the embedded bus has no such queue, and the status says so.
          { queue: 'bronze-manifests', count: null, more: false, lastReason: null, problem: expect.stringContaining('bronze-manifests') },
          { queue: 'silver-manifests', count: 2, more: false, lastReason: expect.stringMatching(/^Poison: manifest \d cannot be read$/), problem: null },
        ],
      });
    } finally {
      await withBus.dispose();
      await bus.close();
      await dir.dispose();
    }
  });

  it('lists the capture files set aside and restored, and counts a damaged one up to the damage instead of failing', async () => {
    const usql = await readFile(path.join(FIXTURES, 'usql-EHC.avro'));
    const truncated = 'raw/ns/hub/0/2026/01/01/00/00/05.avro';
    const restored = 'raw/ns/hub/1/2026/01/01/00/00/06.avro';
    const taken = 'raw/ns/hub/1/2026/01/01/00/00/07.avro';
    await api.lake.write(truncated, usql.subarray(0, 20_000));
    await api.lake.write(restored, usql);
    await api.lake.write(taken, usql);
    const log = new RejectedFileLog(api.lake);
    const rejection = (file: string, partitionId: string, bronzeBatch: number): CaptureFileRejection => ({
      version: 1,
      kind: 'rejected',
      path: file,
      partitionId,
      stage: 'bronze',
      bronzeBatch,
      reason: 'unreadable',
      problem: `Invalid Event Hubs Capture file ${file} at byte 19000: the file is truncated`,
      found: { bytes: 20_000, sha256: '0'.repeat(64) },
    });
    for (const [file, partition, batch] of [
      [truncated, '0', 3],
      [restored, '1', 4],
      [taken, '1', 5],
    ] as const)
      await log.reject(rejection(file, partition, batch));
    const found = { bytes: usql.length, sha256: '1'.repeat(64), records: 677 };
    await log.restore({ version: 1, kind: 'restored', path: restored, bronzeBatch: 4, found });
    await log.restore({ version: 1, kind: 'restored', path: taken, bronzeBatch: 5, found });
    await log.taken({ version: 1, kind: 'taken', path: taken, bronzeBatch: 5, takenBy: 6, outcome: 'referenced' });

    const response = await api.get('/v1/status');
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body['rejected']).toEqual({
      setAside: 1,
      restored: 1,
      files: [
        {
          path: truncated,
          partition: '0',
          stage: 'bronze',
          bronzeBatch: 3,
          silverBatch: null,
          reason: 'unreadable',
          problem: `Invalid Event Hubs Capture file ${truncated} at byte 19000: the file is truncated`,
          state: 'set-aside',
          fix: restoreAdvice({ path: truncated, reason: 'unreadable' }),
        },
        expect.objectContaining({ path: restored, state: 'restored', fix: null }),
      ],
    });
    expect(body['rejected']['files'][0]['fix']).toContain(`\`pipeline rejected restore ${truncated}\``);
    expect(body['capture']).toMatchObject({ files: 3 });
    expect(body['capture']['events']).toBeGreaterThanOrEqual(2 * 677);
    expect(body['capture']['events']).toBeLessThan(3 * 677);
  });

  it('reads capture files, bronze and silver checkpoints and gold shard statuses', async () => {
    // Two real Event Hubs Capture files, at capture paths of two partitions.
    const usql = await readFile(path.join(FIXTURES, 'usql-EHC.avro'));
    const bluefrog = await readFile(path.join(FIXTURES, 'bluefrog-2016-archive.avro'));
    await api.lake.write('raw/ns/hub/0/2026/01/01/00/00/05.avro', usql);
    await api.lake.write('raw/ns/hub/1/2026/01/01/00/01/00.avro', bluefrog);
    await api.lake.write('raw/ns/hub/1/notes.txt', 'not a capture file');

    const bronze = new StageCheckpoint(api.lake, 'checkpoints/bronze');
    await bronze.bind('bronze', { logicVersion: 1 });
    const bronzeBatches = [
      { createdAt: T0, partitions: { '0': { files: 1, records: 677 } } },
      { createdAt: T0 + 2_000, partitions: { '0': { files: 1, records: 677 }, '1': { files: 1, records: 1 } } },
    ];
    for (const [batch, { createdAt, partitions }] of bronzeBatches.entries()) {
      await bronze.writeOffsets(batch, { createdAt, files: [] });
      const state = Object.fromEntries(Object.entries(partitions).map(([p, c]) => [p, { position: 'raw/…', horizon: 0, consumed: [], ...c }]));
      await bronze.writeState(batch, { partitions: state });
      await bronze.commit(batch, { batch });
    }
    // An uncommitted batch does not count.
    await bronze.writeOffsets(2, { createdAt: T0 + 3_000, files: [] });

    const silver = new StageCheckpoint(api.lake, 'checkpoints/silver');
    await silver.bind('silver', { logicVersion: 1 });
    const silverTotals = [
      { batchTime: T0 + 1_000, totals: { '0': { records: 677, rows: 600, quarantined: 70, duplicates: 7 } } },
      {
        batchTime: T0 + 5_000,
        totals: { '0': { records: 677, rows: 600, quarantined: 70, duplicates: 7 }, '1': { records: 1, rows: 1, quarantined: 0, duplicates: 0 } },
      },
    ];
    for (const [batch, { batchTime, totals }] of silverTotals.entries()) {
      await silver.writeOffsets(batch, { bronze: { from: batch, to: batch }, batchTime });
      if (batch === 0) {
        // A commit of an older silver: no totals in it, so the status reads them from the state.
        await silver.writeState(batch, { dedup: null, totals });
        await silver.commit(batch, { batch });
      } else {
        // Today's commit carries the totals: the state (here without them) is not read.
        await silver.writeState(batch, { dedup: null, totals: {} });
        await silver.commit(batch, { batch, totals });
      }
    }

    await api.store.putShardStatus(
      shardStatus(1, { batch: 4, watermark: T0 + 50_000, maxEventTime: T0 + 80_000, rows: 400, lateRows: 3, windowsEmitted: 9, updatedAt: T0 + 6_000 }),
    );
    await api.store.putShardStatus(
      shardStatus(0, {
        batch: 7,
        watermark: T0 + 90_000,
        maxEventTime: T0 + 120_000,
        rows: 200,
        lateRows: 1,
        windowsEmitted: 5,
        updatedAt: T0 + 6_000,
        numRowsDroppedByWatermark: 1,
        owner: 'gold-b',
        eventTime: {
          holdingPartition: '1',
          idlePartitions: ['2'],
          partitions: {
            '0': { maxEventTime: T0 + 150_000, captureTime: T0 + 5_000 },
            '1': { maxEventTime: T0 + 120_000, captureTime: T0 + 5_000 },
            '2': { maxEventTime: null, captureTime: null },
          },
        },
      }),
    );
    await api.store.putShardStatus(shardStatus(0, { pipeline: 'another-pipeline', batch: 99 }));

    const first = (await api.get('/v1/status')).json();
    expect(first['capture']).toEqual({
      files: 2,
      events: 678,
      bytes: usql.length + bluefrog.length,
      position: 'raw/ns/hub/1/2026/01/01/00/01/00.avro',
      rate: { perSecond: null, basis: 'status-calls', overMs: null },
      partitions: [],
    });
    expect(first['bronze']).toEqual({ batches: 2, files: 2, records: 678, position: 1, rate: { perSecond: 0.5, basis: 'commits', overMs: 2_000 } });
    expect(first['silver']).toEqual({
      batches: 2,
      records: 678,
      rows: 601,
      quarantined: 70,
      duplicates: 7,
      position: 1,
      rate: { perSecond: 0.25, basis: 'commits', overMs: 4_000 },
    });
    expect(first['gold']).toMatchObject({ rows: 600, lateRows: 4, maxEventTimeMs: T0 + 120_000 });
    expect(first['gold']['shards']).toEqual([
      {
        shard: 0,
        batch: 7,
        watermarkMs: T0 + 90_000,
        watermark: '2026-01-01T00:01:30.000Z',
        maxEventTimeMs: T0 + 120_000,
        lagMs: 30_000,
        rows: 200,
        lateRows: 1,
        numRowsDroppedByWatermark: 1,
        holdingPartition: '1',
        owner: 'gold-b',
        partitions: [
          { partition: '0', maxEventTime: '2026-01-01T00:02:30.000Z', captureTime: '2026-01-01T00:00:05.000Z', idle: false },
          { partition: '1', maxEventTime: '2026-01-01T00:02:00.000Z', captureTime: '2026-01-01T00:00:05.000Z', idle: false },
          { partition: '2', maxEventTime: null, captureTime: null, idle: true },
        ],
        windowsEmitted: 5,
        updatedAt: '2026-01-01T00:00:06.000Z',
        rate: { perSecond: null, basis: 'status-calls', overMs: null },
      },
      expect.objectContaining({ shard: 1, batch: 4, lagMs: 70_000, lateRows: 3, numRowsDroppedByWatermark: null, holdingPartition: null, owner: null, partitions: [] }),
    ]);

    // Between two status calls: 10 s later, shard 0 aggregated 500 more rows.
    await api.store.putShardStatus(
      shardStatus(0, { batch: 8, watermark: T0 + 95_000, maxEventTime: T0 + 125_000, rows: 700, lateRows: 1, windowsEmitted: 6, updatedAt: T0 + 16_000 }),
    );
    api.clock.advance(10_000);
    const second = (await api.get('/v1/status')).json();
    expect(second['gold']['shards'][0]['rate']).toEqual({ perSecond: 50, basis: 'status-calls', overMs: 10_000 });
    expect(second['gold']['shards'][1]['rate']).toEqual({ perSecond: 0, basis: 'status-calls', overMs: 10_000 });
    expect(second['capture']['rate']).toEqual({ perSecond: 0, basis: 'status-calls', overMs: 10_000 });
  });

  it('gives each capture partition its last committed file and the instance that committed it, read from the capture checkpoint', async () => {
    const intent = (partitionId: string, batch: number, to: number) => ({
      version: 1,
      batch,
      partitionId,
      fromSequenceNumber: batch * 10,
      toSequenceNumber: to,
      eventCount: to - batch * 10 + 1,
      path: `raw/ns/events/${partitionId}/2026/01/01/00/00/${String(batch).padStart(2, '0')}.avro`,
      codec: 'null' as const,
      blockTargetBytes: 512,
      lastOffset: String(to),
    });
    const file = async (checkpoint: string, partitionId: string, batch: number, to: number, owner?: string, committed = true) => {
      const log = capturePartitionCheckpoint(api.lake, `checkpoints/${checkpoint}`, partitionId);
      const offsets = intent(partitionId, batch, to);
      await log.writeOffsets(batch, offsets);
      if (committed) await log.commit(batch, { batch, path: offsets.path, bytes: 100, ...(owner === undefined ? {} : { owner }) });
    };
    // Partition 1 moved from capture-a to capture-b: its last commit names the owner now.
    await file('capture-events', '1', 0, 9, 'capture-a');
    await file('capture-events', '1', 1, 19, 'capture-b');
    await file('capture-events', '10', 0, 4, 'capture-a');
    await file('capture-events', '0', 0, 7, 'capture-a');
    // A file started and not committed is not the partition's position yet; nor is another checkpoint's log.
    await file('capture-events', '0', 1, 15, 'capture-b', false);
    await file('capture-events', '2', 0, 3, 'capture-b', false);
    await file('capture-copy', '3', 0, 3, 'capture-x');
    // A commit written before owners were recorded has none.
    const old = capturePartitionCheckpoint(api.lake, 'checkpoints/capture-events', '4');
    await old.writeOffsets(0, intent('4', 0, 2));
    await old.commit(0, { batch: 0, path: intent('4', 0, 2).path, bytes: 50 });

    const status = (await api.get('/v1/status')).json();
    expect(status['capture']['partitions']).toEqual([
      { partition: '0', batch: 0, lastSequenceNumber: 7, file: 'raw/ns/events/0/2026/01/01/00/00/00.avro', owner: 'capture-a' },
      { partition: '1', batch: 1, lastSequenceNumber: 19, file: 'raw/ns/events/1/2026/01/01/00/00/01.avro', owner: 'capture-b' },
      { partition: '4', batch: 0, lastSequenceNumber: 2, file: 'raw/ns/events/4/2026/01/01/00/00/00.avro', owner: null },
      { partition: '10', batch: 0, lastSequenceNumber: 4, file: 'raw/ns/events/10/2026/01/01/00/00/00.avro', owner: 'capture-a' },
    ]);
  });

  it('counts the events of the files the capture service wrote from its log, without opening them, and reads any other file', async () => {
    const log = capturePartitionCheckpoint(api.lake, 'checkpoints/capture-events', '0');
    const captured = async (batch: number, eventCount: number, bytes: number) => {
      const filePath = `raw/ns/events/0/2026/01/01/00/00/${String(batch).padStart(2, '0')}.avro`;
      await log.writeOffsets(batch, {
        version: 1,
        batch,
        partitionId: '0',
        fromSequenceNumber: batch * 100,
        toSequenceNumber: batch * 100 + eventCount - 1,
        eventCount,
        path: filePath,
        codec: 'null',
        blockTargetBytes: 512,
        lastOffset: '0',
      });
      await log.commit(batch, { batch, path: filePath, bytes });
      return filePath;
    };
    // Bytes no reader could count: only the log can say how many events these hold.
    await api.lake.write(await captured(0, 40, 64), Buffer.alloc(64));
    await api.lake.write(await captured(1, 25, 32), Buffer.alloc(32));
    expect((await api.get('/v1/status')).json()['capture']).toMatchObject({ files: 2, events: 65, bytes: 96 });
    // Entries committed since the last call are read then; a file whose size is not the one logged
    // (copied over since) is read, by its block headers.
    const fixture = await readFile(path.join(FIXTURES, 'usql-EHC.avro'));
    await api.lake.write(await captured(2, 7, 10), fixture);
    await api.lake.write(await captured(3, 5, 16), Buffer.alloc(16));
    const status = (await api.get('/v1/status')).json()['capture'];
    expect(status).toMatchObject({ files: 4, bytes: 96 + fixture.length + 16 });
    expect(status['events']).toBe(65 + 677 + 5);
  });

  it('lists only past each partition folder’s newest capture file between whole listings, which find late and deleted files', async () => {
    const usql = await readFile(path.join(FIXTURES, 'usql-EHC.avro'));
    const bluefrog = await readFile(path.join(FIXTURES, 'bluefrog-2016-archive.avro'));
    const at = (partition: string, second: number) => `raw/ns/events/${partition}/2026/01/01/00/00/${String(second).padStart(2, '0')}.avro`;
    await api.lake.write(at('0', 10), usql);
    await api.lake.write(at('1', 10), usql);
    expect((await api.get('/v1/status')).json()['capture']).toMatchObject({ files: 2, events: 2 * 677 });
    // Newer files in known folders are seen at once; an older one, and a deletion, at the next whole listing.
    await api.lake.write(at('0', 20), usql);
    await api.lake.write(at('1', 5), bluefrog);
    await api.lake.delete(at('1', 10));
    // A partition folder the capture service's log names for the first time is listed at once.
    const log = capturePartitionCheckpoint(api.lake, 'checkpoints/capture-events', '2');
    await log.writeOffsets(0, {
      version: 1,
      batch: 0,
      partitionId: '2',
      fromSequenceNumber: 0,
      toSequenceNumber: 676,
      eventCount: 677,
      path: at('2', 15),
      codec: 'null',
      blockTargetBytes: 512,
      lastOffset: '0',
    });
    await api.lake.write(at('2', 15), usql);
    await log.commit(0, { batch: 0, path: at('2', 15), bytes: usql.length });
    api.clock.advance(1_000);
    expect((await api.get('/v1/status')).json()['capture']).toMatchObject({ files: 4, events: 4 * 677, bytes: 4 * usql.length, position: at('0', 20) });
    api.clock.advance(CAPTURE_RELIST_MS);
    expect((await api.get('/v1/status')).json()['capture']).toMatchObject({ files: 4, events: 3 * 677 + 1, bytes: 3 * usql.length + bluefrog.length, position: at('0', 20) });
  });

  it('keeps its ETag while the pipeline state stays the same, rates aside, and answers 304 to it', async () => {
    await api.store.putShardStatus(shardStatus(0, { batch: 1, watermark: T0, maxEventTime: T0 + 30_000, rows: 10, updatedAt: T0 }));
    const first = await api.get('/v1/status');
    api.clock.advance(5_000);
    const second = await api.get('/v1/status');
    // The rates between status calls differ (none on the first call, 0/s over 5 s on the second) ...
    expect(first.json()['gold']['shards'][0]['rate']).not.toEqual(second.json()['gold']['shards'][0]['rate']);
    // ... and the tag does not.
    expect(second.headers['etag']).toBe(first.headers['etag']);
    api.clock.advance(5_000);
    const unchanged = await api.get('/v1/status', { 'if-none-match': String(first.headers['etag']) });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.body).toBe('');

    await api.store.putShardStatus(shardStatus(0, { batch: 2, watermark: T0 + 60_000, maxEventTime: T0 + 90_000, rows: 20, updatedAt: T0 + 60_000 }));
    const changed = await api.get('/v1/status', { 'if-none-match': String(first.headers['etag']) });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers['etag']).not.toBe(first.headers['etag']);
  });

  it('answers 503 with the record and the fix when a checkpoint record it reads is damaged, and 200 once it is put back', async () => {
    const silver = new StageCheckpoint(api.lake, 'checkpoints/silver');
    await silver.bind('silver', { logicVersion: 1 });
    await silver.writeOffsets(0, { batchTime: T0 });
    await silver.writeState(0, { totals: {} });
    await silver.commit(0, { batch: 0 });
    const record = 'checkpoints/silver/state/00000000000000000000';
    const good = await api.lake.read(record);
    await api.lake.write(record, '{"totals": {');
    const damaged = await api.get('/v1/status');
    expect(damaged.statusCode).toBe(503);
    expect(damaged.json()['message']).toMatch(
      /^The pipeline status cannot be read: The checkpoint record .*checkpoints\/silver\/state\/00000000000000000000 is damaged \(12 bytes that are not JSON: [^)]*\), so the stage cannot tell where it stands from it\. Put a good copy back/,
    );
    await api.lake.write(record, good);
    expect((await api.get('/v1/status')).statusCode).toBe(200);
  });

  it('rejects parameters it does not take', async () => {
    const response = await api.get('/v1/status?verbose=1');
    expect(response.statusCode).toBe(400);
    expect(response.json()['problems']).toEqual([{ parameter: 'verbose', expected: 'no such parameter (this endpoint takes none)', found: '"1"' }]);
  });
});

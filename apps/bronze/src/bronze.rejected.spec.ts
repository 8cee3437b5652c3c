import { createHash } from 'node:crypto';
import { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import {
  describeRejection,
  REJECTED_RECORD_VERSION,
  RejectedFileLog,
  rejectionRecordPath,
  type BronzeManifest,
  type CaptureFileRejection,
  type CaptureFileTaken,
} from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { collect, FaultyLake, SimulatedCrash } from '@pipeline/testing';
import type { BronzeCommit, BronzeState } from './bronze-checkpoint';
import { BronzeService, type BronzeServiceOptions } from './bronze.service';
import { LAYOUT, lakeWorld, recordingLogger, silent, writeCaptureFile, type LakeWorld } from './spec-helpers';

const H = 3_600_000;
const START = Date.UTC(2026, 0, 1, 12, 30);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const options = (over: Partial<BronzeServiceOptions> = {}): BronzeServiceOptions => ({
  layout: LAYOUT,
  partitions: 2,
  pipeline: 'spec',
  checkpointRoot: 'checkpoints/bronze',
  lookbackMs: 2 * H,
  maxBatchFiles: 10,
  maxBatchBytes: 1 << 20,
  maxBatchDelayMs: 0,
  pollMs: 1_000,
  ...over,
});

function bronze(lake: Lake, clock: TestClock, logger = silent): BronzeService {
  return new BronzeService(lake, new ManifestLog(lake), clock, logger, options(), async (ms) => clock.advance(ms));
}

const drain = (service: BronzeService) => service.run(new AbortController().signal, true);

async function manifests(lake: Lake): Promise<BronzeManifest[]> {
  return (await collect(new ManifestLog(lake).after('bronze', 'bronze', -1))) as BronzeManifest[];
}

/** Each path's bronze batches, over every manifest. */
async function referencedIn(lake: Lake): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const m of await manifests(lake)) for (const f of m.files) out.set(f.path, [...(out.get(f.path) ?? []), m.batch]);
  return out;
}

/** Every file of the lake under a prefix, as bytes by path. */
async function filesUnder(lake: Lake, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await collect(lake.list(prefix))) out.set(entry.path, (await lake.read(entry.path)).toString('utf8'));
  return out;
}

/**
 * What `pipeline rejected restore` records once the file is readable again (the command checks
 * the file first; apps/cli tests it end to end).
 */
async function restore(lake: Lake, path: string, bronzeBatch: number): Promise<void> {
  const bytes = await lake.read(path);
  await new RejectedFileLog(lake).restore({
    version: REJECTED_RECORD_VERSION,
    kind: 'restored',
    path,
    bronzeBatch,
    found: { bytes: bytes.byteLength, sha256: sha256(bytes), records: 0 },
  });
}

describe('bronze and capture files it cannot read', () => {
  let w: LakeWorld;
  let clock: TestClock;
  beforeEach(async () => {
    w = await lakeWorld('bronze-rejected-');
    clock = new TestClock(START);
  });
  afterEach(() => w.dir.dispose());

  it('sets a truncated file aside with the byte offset, goes on with the others, and takes it back once after it is re-copied and restored', async () => {
    const good = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 5);
    const bad = await writeCaptureFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 1), 5, 0);
    await w.lake.write(bad.path, bad.bytes.subarray(0, bad.bytes.byteLength - 30));
    const { logger, records } = recordingLogger();

    await expect(drain(bronze(w.lake, clock, logger))).resolves.toMatchObject({ batches: 1, files: 1, records: 5, rejected: 1 });
    expect((await manifests(w.lake)).map((m) => m.files.map((f) => f.path))).toEqual([[good.path]]);
    const log = new RejectedFileLog(w.lake);
    expect(await log.list()).toEqual([{ path: bad.path, bronzeBatch: 0, state: 'set-aside', record: rejectionRecordPath(bad.path, 0) }]);
    const rejection = await log.read(bad.path, 0);
    expect(rejection).toEqual({
      version: 1,
      kind: 'rejected',
      path: bad.path,
      partitionId: '1',
      stage: 'bronze',
      bronzeBatch: 0,
      reason: 'unreadable',
      problem: expect.stringMatching(new RegExp(`^Invalid Event Hubs Capture file ${bad.path} at byte \\d+: .*truncated`)),
      found: { bytes: bad.bytes.byteLength - 30, sha256: sha256(bad.bytes.subarray(0, bad.bytes.byteLength - 30)) },
    });
    const commit = (await new StageCheckpoint<unknown, BronzeCommit>(w.lake, 'checkpoints/bronze').readCommit(0)) as BronzeCommit;
    expect(commit).toMatchObject({ files: 1, records: 5, rejected: [bad.path] });

    // The log line names the file, the reason and the way back, and that way back works.
    const warning = records.find((r) => r['msg'] === `capture file set aside: ${describeRejection(rejection)}`);
    expect(warning).toMatchObject({ level: 40, path: bad.path, reason: 'unreadable' });
    expect(warning?.['msg']).toContain(`copy an intact copy of the file to ${bad.path}`);
    expect(warning?.['msg']).toContain(`then run \`pipeline rejected restore ${bad.path}\``);

    // Listing again does not take it, nor does a restart.
    clock.advance(60_000);
    await expect(drain(bronze(w.lake, clock))).resolves.toMatchObject({ batches: 0 });

    await w.lake.write(bad.path, bad.bytes);
    await restore(w.lake, bad.path, 0);
    expect((await log.list()).map((e) => e.state)).toEqual(['restored']);
    await expect(drain(bronze(w.lake, clock))).resolves.toMatchObject({ batches: 1, files: 1, records: 5, rejected: 0 });
    await expect(drain(bronze(w.lake, clock))).resolves.toMatchObject({ batches: 0 });

    const [, second] = await manifests(w.lake);
    expect(second?.files).toEqual([
      { path: bad.path, rows: 5, bytes: bad.bytes.byteLength, sha256: sha256(bad.bytes), partitionId: '1', fromSequenceNumber: 0, toSequenceNumber: 4 },
    ]);
    expect(await referencedIn(w.lake)).toEqual(
      new Map([
        [good.path, [0]],
        [bad.path, [1]],
      ]),
    );
    expect(await log.list()).toEqual([expect.objectContaining({ path: bad.path, state: 'taken' })]);
    expect(await log.readTaken(bad.path, 0)).toEqual({ version: 1, kind: 'taken', path: bad.path, bronzeBatch: 0, takenBy: 1, outcome: 'referenced' });
    expect(await new StageCheckpoint<unknown, BronzeCommit>(w.lake, 'checkpoints/bronze').readCommit(1)).toMatchObject({ restored: [bad.path] });
    // The cursors count each file once.
    const state = (await new StageCheckpoint<unknown, unknown, BronzeState>(w.lake, 'checkpoints/bronze').readState(1)) as BronzeState;
    expect(state.partitions['1']).toMatchObject({ files: 1, records: 5 });
  });

  it('sets a zero-byte file aside as damage, since Event Hubs Capture never writes one', async () => {
    const empty = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 3);
    await w.lake.write(empty.path, Buffer.alloc(0));
    const other = await writeCaptureFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 0), 0);
    await drain(bronze(w.lake, clock));

    expect((await manifests(w.lake)).map((m) => m.files.map((f) => [f.path, f.rows]))).toEqual([[[other.path, 0]]]);
    const rejection = await new RejectedFileLog(w.lake).read(empty.path, 0);
    expect(rejection).toMatchObject({ reason: 'empty', found: { bytes: 0, sha256: sha256(Buffer.alloc(0)) } });
    expect(rejection.problem).toBe(
      'the file has 0 bytes. Event Hubs Capture never writes an empty file (a window without events gives a file with an Avro header and no records, or no file with skip-empty), so this is a failed upload or copy.',
    );
    expect(describeRejection(rejection)).not.toContain('delete or');

    await w.lake.write(empty.path, empty.bytes);
    await restore(w.lake, empty.path, 0);
    await drain(bronze(w.lake, clock));
    expect((await referencedIn(w.lake)).get(empty.path)).toEqual([1]);
  });

  it('sets aside a file that was deleted after it was listed, and takes it back once it is copied back and restored', async () => {
    const gone = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
    const service = bronze(w.lake, clock, silent);
    // Listed, not yet batched (the batch waits for its delay), then deleted.
    const waiting = new BronzeService(w.lake, new ManifestLog(w.lake), clock, silent, options({ maxBatchDelayMs: 5_000 }), async (ms) => clock.advance(ms));
    expect(await waiting.step(false)).toBe(0);
    await w.lake.delete(gone.path);
    clock.advance(5_000);
    expect(await waiting.step(false)).toBe(1);

    const rejection = await new RejectedFileLog(w.lake).read(gone.path, 0);
    expect(rejection).toMatchObject({ reason: 'missing', found: null, problem: `the file was listed, then deleted from the lake at ${w.lake.location} before bronze read it.` });
    await w.lake.write(gone.path, gone.bytes);
    await restore(w.lake, gone.path, 0);
    await drain(service);
    expect((await referencedIn(w.lake)).get(gone.path)).toEqual([1]);
  });

  it('takes a restored file back even after its time has left the lookback window', async () => {
    const bad = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
    await w.lake.write(bad.path, bad.bytes.subarray(0, 40));
    await drain(bronze(w.lake, clock));
    // Hours later, newer files have moved the partition's horizon past the bad file.
    clock.advance(5 * H);
    await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 17, 0), 1, 2);
    await drain(bronze(w.lake, clock));
    await w.lake.write(bad.path, bad.bytes);
    await restore(w.lake, bad.path, 0);
    await drain(bronze(w.lake, clock));
    expect((await referencedIn(w.lake)).get(bad.path)).toEqual([2]);
  });

  it('sets a restored file that still cannot be read aside again, as a new rejection', async () => {
    const bad = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
    await w.lake.write(bad.path, bad.bytes.subarray(0, 40));
    await drain(bronze(w.lake, clock));
    await restore(w.lake, bad.path, 0);
    await drain(bronze(w.lake, clock));

    const log = new RejectedFileLog(w.lake);
    expect((await log.list()).map((e) => [e.bronzeBatch, e.state])).toEqual([
      [0, 'taken'],
      [1, 'set-aside'],
    ]);
    expect(await log.readTaken(bad.path, 0)).toMatchObject<Partial<CaptureFileTaken>>({ takenBy: 1, outcome: 'rejected' });
    expect(await referencedIn(w.lake)).toEqual(new Map());
  });

  it('references again a file silver set aside once it is restored, without counting it twice', async () => {
    const file = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 4);
    await drain(bronze(w.lake, clock));
    // Silver found other bytes than bronze referenced in batch 0 (apps/silver writes this record).
    const changed = Buffer.concat([file.bytes, Buffer.from('x')]);
    const silverRejection: CaptureFileRejection = {
      version: 1,
      kind: 'rejected',
      path: file.path,
      partitionId: '0',
      stage: 'silver',
      bronzeBatch: 0,
      silverBatch: 0,
      reason: 'checksum',
      problem: 'changed',
      found: { bytes: changed.byteLength, sha256: sha256(changed) },
      referenced: { rows: 4, bytes: file.bytes.byteLength, sha256: sha256(file.bytes) },
    };
    await new RejectedFileLog(w.lake).reject(silverRejection);
    await restore(w.lake, file.path, 0);
    await drain(bronze(w.lake, clock));
    expect((await referencedIn(w.lake)).get(file.path)).toEqual([0, 1]);
    const state = (await new StageCheckpoint<unknown, unknown, BronzeState>(w.lake, 'checkpoints/bronze').readState(1)) as BronzeState;
    expect(state.partitions['0']).toMatchObject({ files: 1, records: 4 });
  });

  it('keeps a file set aside when its batch is re-done after a crash, even if the file was re-copied in between', async () => {
    const good = await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
    const bad = await writeCaptureFile(w.lake, '1', Date.UTC(2026, 0, 1, 12, 0), 2);
    await w.lake.write(bad.path, bad.bytes.subarray(0, 40));
    // Writes: metadata, offsets, the rejection, then the manifest: crash there.
    const faulty = new FaultyLake(w.lake, 4);
    await expect(drain(bronze(faulty, clock))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(faulty.journal.at(-1)).toBe(`createIfAbsent ${rejectionRecordPath(bad.path, 0)}`);
    await w.lake.write(bad.path, bad.bytes);
    await drain(bronze(w.lake, clock));
    expect((await manifests(w.lake)).map((m) => m.files.map((f) => f.path))).toEqual([[good.path]]);
    expect((await new RejectedFileLog(w.lake).list()).map((e) => e.state)).toEqual(['set-aside']);
  });

  it('writes the same manifests and rejected-file records, byte for byte, when killed at any write step of a set-aside and a restore', async () => {
    /** Sets a file aside, restores it and takes it back; the lake crashes once, at write `crashAt`, and each step is re-run after it. */
    async function scenario(lake: Lake, runClock: TestClock, crashAt: number): Promise<boolean> {
      const faulty = new FaultyLake(lake, crashAt);
      let crashed = false;
      const run = async () => {
        try {
          await drain(bronze(faulty, runClock));
        } catch (error) {
          if (!(error instanceof SimulatedCrash)) throw error;
          crashed = true;
          await drain(bronze(faulty, runClock));
        }
      };
      const bad = await writeCaptureFile(lake, '1', Date.UTC(2026, 0, 1, 12, 0), 3);
      await writeCaptureFile(lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
      await lake.write(bad.path, bad.bytes.subarray(0, 50));
      await run();
      await lake.write(bad.path, bad.bytes);
      await restore(lake, bad.path, 0);
      await run();
      return crashed;
    }
    await scenario(w.lake, new TestClock(START), Infinity);
    const expected = { manifests: await filesUnder(w.lake, 'manifests/'), rejected: await filesUnder(w.lake, 'rejected/') };
    expect(expected.rejected.size).toBe(3);

    let crashes = 0;
    for (let crashAt = 1; ; crashAt++) {
      const other = await lakeWorld('bronze-rejected-crash-');
      try {
        const crashed = await scenario(other.lake, new TestClock(START), crashAt);
        expect({ crashAt, manifests: await filesUnder(other.lake, 'manifests/'), rejected: await filesUnder(other.lake, 'rejected/') }).toEqual({ crashAt, ...expected });
        const paths = [...(await referencedIn(other.lake)).values()];
        expect(paths).toEqual([[0], [1]]);
        if (!crashed) break;
        crashes++;
      } finally {
        await other.dir.dispose();
      }
    }
    // Bind, offsets, rejection, manifest, state, commit; then bind, offsets, manifest, taken, state, commit.
    expect(crashes).toBe(12);
  });

  it('refuses to start without the state of its last committed batch, and starts once that state is put back as the message says', async () => {
    await writeCaptureFile(w.lake, '0', Date.UTC(2026, 0, 1, 12, 0), 2);
    await drain(bronze(w.lake, clock));
    const state = `checkpoints/bronze/state/${'0'.repeat(20)}`;
    const saved = await w.lake.read(state);
    await w.lake.delete(state);
    const attempt = drain(bronze(w.lake, clock));
    await expect(attempt).rejects.toThrow(`Put ${state} back (from a backup, or the storage account's blob versions or soft-deleted blobs), then start bronze again.`);
    await w.lake.write(state, saved);
    await expect(drain(bronze(w.lake, clock))).resolves.toMatchObject({ batches: 0 });
  });
});

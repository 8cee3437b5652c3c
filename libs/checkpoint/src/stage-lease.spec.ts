import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalLake, openLake } from '@pipeline/adapters';
import { TestClock } from '@pipeline/engine';
import type { Lake } from '@pipeline/ports';
import { makeTempDir, startAzuriteBlob, type AzuriteBlob, type TempDir } from '@pipeline/testing';
import { fencedLake, LeaseLostError, StageLease, type StageLeaseOptions } from './stage-lease';
import { keepStageLease, standBy } from './stage-lease-keeper';

const ROOT = 'checkpoints/bronze';

/** A fresh lake per test, and how to remove it. */
type MakeLake = () => Promise<{ lake: Lake; dispose: () => Promise<void> }>;

const localLake: MakeLake = async () => {
  const dir: TempDir = await makeTempDir('stage-lease-spec-');
  return { lake: new LocalLake(path.join(dir.path, 'lake')), dispose: () => dir.dispose() };
};

let azurite: AzuriteBlob | undefined;
const azuriteLake: MakeLake = async () => {
  azurite ??= await startAzuriteBlob();
  const { connectionString } = azurite;
  const name = `lease-${randomUUID()}`;
  const lake = await openLake({ kind: 'azure', storage: { kind: 'connection-string', connectionString }, container: name });
  return { lake, dispose: async () => void (await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(name).deleteIfExists()) };
};
afterAll(async () => {
  await azurite?.stop();
});

describe.each([
  ['the local lake', localLake],
  ['the Blob lake (in-process Azurite)', azuriteLake],
])('stage lease on %s', (_name, makeLake) => {
  let lake: Lake;
  let dispose: () => Promise<void>;
  let clock: TestClock;
  beforeEach(async () => {
    ({ lake, dispose } = await makeLake());
    clock = new TestClock(1_000_000);
  });
  afterEach(() => dispose());

  const lease = (holder: string, options: Partial<StageLeaseOptions> = {}, on: Lake = lake): StageLease =>
    new StageLease(on, ROOT, { stage: 'bronze', holder, durationMs: 10_000, clock, ...options });

  const terms = async (): Promise<string[]> => {
    const found: string[] = [];
    for await (const entry of lake.list(`${ROOT}/lease/`)) found.push(entry.path.slice(`${ROOT}/lease/`.length));
    return found;
  };

  it('is taken by the first contender; a second one stands by, naming the holder', async () => {
    const a = lease('a');
    const b = lease('b');
    expect(await a.tryAcquire()).toEqual({ held: true, term: 1, tookOverFrom: undefined });
    expect(await b.tryAcquire()).toEqual({ held: false, holder: 'a', term: 1, released: false, takeoverInMs: 10_000 });
    expect(a.held).toBe(true);
    expect(b.held).toBe(false);
    expect(await terms()).toEqual(['000000000001']);
  });

  it('is not taken while its holder renews, however long the standby watches', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.tryAcquire();
    for (let i = 0; i < 12; i++) {
      expect((await b.tryAcquire()).held).toBe(false);
      clock.advance(2_500);
      expect(await a.renew()).toBe('renewed');
    }
    expect(a.held).toBe(true);
  });

  it('is taken by a standby that watched it unchanged for a whole duration, never sooner', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.tryAcquire();
    expect((await b.tryAcquire()).held).toBe(false);
    clock.advance(9_999);
    expect(await b.tryAcquire()).toMatchObject({ held: false, holder: 'a', takeoverInMs: 1 });
    clock.advance(1);
    expect(await b.tryAcquire()).toEqual({ held: true, term: 2, tookOverFrom: 'a' });
    expect(b.held).toBe(true);
  });

  it('counts the watch from when a standby first saw the record: one started late waits a whole duration', async () => {
    const a = lease('a');
    await a.tryAcquire();
    clock.advance(60_000); // the holder died long ago, but this standby has only just started
    const late = lease('late');
    expect((await late.tryAcquire()).held).toBe(false);
    clock.advance(9_000);
    expect((await late.tryAcquire()).held).toBe(false);
    clock.advance(1_000);
    expect((await late.tryAcquire()).held).toBe(true);
  });

  it('fences a holder that cannot renew: it stops writing a margin before any standby may take over', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.tryAcquire();
    const stage = fencedLake(lake, a);
    await b.tryAcquire(); // b watches from the moment the lease was taken
    clock.advance(10_000 - a.marginMs - 1);
    await stage.createIfAbsent('manifests/bronze/0', 'batch 0');
    clock.advance(1);
    expect(a.held).toBe(false);
    await expect(stage.createIfAbsent('manifests/bronze/1', 'batch 1')).rejects.toBeInstanceOf(LeaseLostError);
    await expect(stage.write('manifests/bronze/1', 'batch 1')).rejects.toThrow(/bronze lease on checkpoints\/bronze is no longer held by this instance/);
    // It says why: not renewed in time (the lease was taken, in term 1).
    await expect(stage.write('manifests/bronze/1', 'batch 1')).rejects.toThrow(
      `(term 1: not renewed for 8.0 s, past the 8.0 s it may write after a renewal: the process was held up (paused, or short of CPU) or the lake answered slowly)`,
    );
    await expect(stage.delete('manifests/bronze/0')).rejects.toBeInstanceOf(LeaseLostError);
    expect(await lake.exists('manifests/bronze/1')).toBe(false);
    // Reads still pass: a holder that lost its lease may still look.
    expect((await stage.read('manifests/bronze/0')).toString()).toBe('batch 0');
    expect((await b.tryAcquire()).held).toBe(false);
    clock.advance(a.marginMs);
    expect((await b.tryAcquire()).held).toBe(true);
    expect(await a.renew()).toBe('lost');
  });

  it('does not extend a lease whose renewal returned after it expired (a holder paused mid-write)', async () => {
    let pauseOnWrite = 0;
    const pausing: Lake = {
      ...fencedLake(lake, { assertHeld: () => undefined }),
      write: async (p, data) => {
        clock.advance(pauseOnWrite);
        await lake.write(p, data);
      },
    };
    const a = lease('a', {}, pausing);
    await a.tryAcquire();
    pauseOnWrite = 30_000;
    expect(await a.renew()).toBe('lost');
    expect(a.held).toBe(false);
  });

  it('is not taken by a standby paused while reading it: the pause counts as time not watched', async () => {
    const a = lease('a');
    await a.tryAcquire();
    let duringRead: (() => Promise<void>) | undefined;
    const pausing: Lake = {
      ...fencedLake(lake, { assertHeld: () => undefined }),
      read: async (p) => {
        const content = await lake.read(p);
        // The standby stalls with the record it read while the holder renews, twice over a duration.
        await duringRead?.();
        return content;
      },
    };
    const b = lease('b', {}, pausing);
    expect((await b.tryAcquire()).held).toBe(false);
    duringRead = async () => {
      for (let i = 0; i < 5; i++) {
        clock.advance(2_500);
        expect(await a.renew()).toBe('renewed');
      }
    };
    expect((await b.tryAcquire()).held).toBe(false);
    duringRead = undefined;
    expect((await b.tryAcquire()).held).toBe(false);
    expect(a.held).toBe(true);
  });

  it('tells a holder whose lease was taken that it lost it, even when its own clock says it still holds it', async () => {
    // a's clock has stopped (a clock running far slower than the others): only b's term can tell it.
    const a = lease('a', { clock: { now: () => 1_000_000 } });
    const b = lease('b');
    await a.tryAcquire();
    await b.tryAcquire();
    clock.advance(10_000);
    expect((await b.tryAcquire()).held).toBe(true);
    expect(a.held).toBe(true);
    expect(await a.renew()).toBe('lost');
    expect(() => a.assertHeld()).toThrow(/term 1: another instance took term 2/);
    await expect(fencedLake(lake, a).createIfAbsent('manifests/bronze/9', 'x')).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('is taken at once after a graceful release', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.tryAcquire();
    expect((await b.tryAcquire()).held).toBe(false);
    await a.release();
    expect(a.held).toBe(false);
    await expect(fencedLake(lake, a).write('x', 'y')).rejects.toThrow(/it was released/);
    expect(await b.tryAcquire()).toEqual({ held: true, term: 2, tookOverFrom: 'a' });
  });

  it('lets exactly one of two standbys take an expired lease', async () => {
    const a = lease('a');
    await a.tryAcquire();
    const contenders = [lease('b'), lease('c'), lease('d')];
    await Promise.all(contenders.map((c) => c.tryAcquire()));
    clock.advance(10_000);
    const attempts = await Promise.all(contenders.map((c) => c.tryAcquire()));
    expect(attempts.filter((x) => x.held)).toHaveLength(1);
    expect(contenders.filter((c) => c.held)).toHaveLength(1);
    const winner = contenders.find((c) => c.held) as StageLease;
    for (const attempt of attempts) if (!attempt.held) expect(attempt).toMatchObject({ holder: winner.holder, term: 2 });
  });

  it('keeps only the newest two terms, so a standby lists little', async () => {
    let previous = lease('h0');
    await previous.tryAcquire();
    for (let i = 1; i <= 4; i++) {
      await previous.release();
      const next = lease(`h${i}`);
      expect((await next.tryAcquire()).held).toBe(true);
      previous = next;
    }
    expect(await terms()).toEqual(['000000000004', '000000000005']);
  });

  it('is scoped to its checkpoint: a lease on another checkpoint is independent', async () => {
    await lease('a').tryAcquire();
    const other = new StageLease(lake, 'checkpoints/bronze-replay', { stage: 'bronze', holder: 'b', durationMs: 10_000, clock });
    expect((await other.tryAcquire()).held).toBe(true);
  });

  it('refuses a duration too short to renew in time, and a record that is not a lease (JSON or not), naming it', async () => {
    expect(() => lease('a', { durationMs: 500 })).toThrow(/at least 2000 ms, got 500/);
    for (const text of ['{"nonsense":true}', '{"holder": "a", "renew', '', 'null']) {
      await lake.write(`${ROOT}/lease/000000000001`, text);
      await expect(lease('a').tryAcquire()).rejects.toThrow(/000000000001 .* is not a lease record; delete it/);
    }
  });
});

describe('stage lease over real time', () => {
  let lake: Lake;
  let dispose: () => Promise<void>;
  beforeEach(async () => {
    ({ lake, dispose } = await localLake());
  });
  afterEach(() => dispose());
  const lease = (holder: string): StageLease => new StageLease(lake, ROOT, { stage: 'bronze', holder, durationMs: 10_000, clock: new TestClock(0) });

  it('a kept lease stays held while a standby waits; once stopped and released, the standby takes it', async () => {
    const active = new StageLease(lake, ROOT, { stage: 'bronze', holder: 'active', durationMs: 2_000 });
    const standby = new StageLease(lake, ROOT, { stage: 'bronze', holder: 'standby', durationMs: 2_000 });
    expect((await active.tryAcquire()).held).toBe(true);
    const lost: Error[] = [];
    const kept = keepStageLease(active, { onLost: (e) => lost.push(e) });
    const waiting: string[] = [];
    const stop = new AbortController();
    const taken = standBy(standby, { signal: stop.signal, onWaiting: (a) => waiting.push(a.holder) });
    // Three lease durations: without renewals the standby would have taken it twice over.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(standby.held).toBe(false);
    expect(active.held).toBe(true);
    kept.stop();
    await active.release();
    expect(await taken).toMatchObject({ held: true, term: 2, tookOverFrom: 'active' });
    expect(waiting).toEqual(['active']);
    expect(lost).toEqual([]);
  }, 20_000);

  it('standing by ends without the lease when the process stops', async () => {
    await lease('a').tryAcquire();
    const stop = new AbortController();
    const waiting = standBy(new StageLease(lake, ROOT, { stage: 'bronze', holder: 'b', durationMs: 60_000 }), { signal: stop.signal });
    stop.abort();
    expect(await waiting).toBeUndefined();
  });

  it('reports the loss at once to a holder whose lease another instance took', async () => {
    const active = new StageLease(lake, ROOT, { stage: 'bronze', holder: 'active', durationMs: 2_000 });
    await active.tryAcquire();
    const lostTo = new Promise<LeaseLostError>((resolve) => keepStageLease(active, { onLost: resolve }));
    // An operator (or a standby that judged it expired) created the next term.
    await lake.createIfAbsent(`${ROOT}/lease/000000000002`, JSON.stringify({ holder: 'other', term: 2, renewal: 0, durationMs: 2_000 }));
    const error = await lostTo;
    expect(error.message).toMatch(/term 1: another instance took term 2/);
    expect(active.held).toBe(false);
  }, 10_000);
});

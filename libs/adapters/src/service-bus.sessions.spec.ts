import { ServiceBusError } from '@azure/service-bus';
import { waitFor } from '@pipeline/testing';
import { NextSessionPool, retryWithin, type SessionSource } from './service-bus.sessions';

interface FakeSession {
  id: string;
  fresh: boolean;
  released: boolean;
}

/** A session source whose polls the test ends by hand, as the service would after its wait. */
function fakeSource() {
  const polls: Array<{ resolve(session: FakeSession): void; reject(error: unknown): void }> = [];
  const source: SessionSource<FakeSession> = {
    acceptNext: () => new Promise<FakeSession>((resolve, reject) => polls.push({ resolve, reject })),
    sessionIdOf: (session) => session.id,
    isFresh: (session) => session.fresh,
    release: async (session) => {
      session.released = true;
    },
    isNoSession: (error) => error instanceof ServiceBusError && error.code === 'ServiceTimeout',
  };
  const session = (id: string, fresh = true): FakeSession => ({ id, fresh, released: false });
  return { source, polls, session };
}

const options = { idleReleaseMs: 60_000, retryPauseMs: 1 };
const noSession = () => new ServiceBusError('no session within the wait', 'ServiceTimeout');

describe('NextSessionPool', () => {
  it('hands the session a poll locked to the caller waiting for it', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    const taking = pool.take(30_000);
    polls[0].resolve(session('shard-1'));
    await expect(taking).resolves.toMatchObject({ id: 'shard-1', released: false });
    await pool.close();
  });

  it('ends a wait with nothing, and lets the next caller take over the poll instead of starting another', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    await expect(pool.take(5)).resolves.toBeUndefined();
    expect(pool.pendingPolls).toBe(1);
    const next = pool.take(30_000);
    expect(polls).toHaveLength(1);
    polls[0].resolve(session('shard-2'));
    await expect(next).resolves.toMatchObject({ id: 'shard-2' });
    await pool.close();
  });

  it('never runs more polls than callers waiting at one time', async () => {
    const { source, polls } = fakeSource();
    const pool = new NextSessionPool(source, options);
    for (let round = 0; round < 5; round++) await Promise.all([pool.take(2), pool.take(2), pool.take(2)]);
    expect(polls).toHaveLength(3);
    expect(pool.pendingPolls).toBe(3);
    await pool.close();
  });

  it('keeps a session locked after its caller left for the next caller, by any or by its id', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    await pool.take(2);
    await pool.take(2);
    expect(polls).toHaveLength(1);
    polls[0].resolve(session('late'));
    await waitFor(() => (pool.readySessions === 1 ? true : undefined), { timeoutMs: 1_000, description: 'the late session to be kept' });
    expect(pool.takeReadyById('other')).toBeUndefined();
    expect(pool.takeReadyById('late')).toMatchObject({ id: 'late', released: false });
    expect(pool.readySessions).toBe(0);
    await pool.close();
  });

  it('releases a kept session nobody takes within idleReleaseMs', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, { ...options, idleReleaseMs: 5 });
    await pool.take(1);
    const late = session('late');
    polls[0].resolve(late);
    await waitFor(() => (late.released ? true : undefined), { timeoutMs: 1_000, description: 'the unclaimed session to be released' });
    expect(pool.readySessions).toBe(0);
    await pool.close();
  });

  it('releases a kept session whose lock ran low instead of handing it out', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    await pool.take(1);
    const stale = session('stale', false);
    polls[0].resolve(stale);
    await waitFor(() => (pool.readySessions === 1 ? true : undefined), { timeoutMs: 1_000, description: 'the stale session to be kept' });
    const taking = pool.take(30_000);
    expect(stale.released).toBe(true);
    polls[1].resolve(session('fresh'));
    await expect(taking).resolves.toMatchObject({ id: 'fresh' });
    await pool.close();
  });

  it('polls again while the caller still waits when a poll found no session', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    const taking = pool.take(30_000);
    polls[0].reject(noSession());
    await waitFor(() => (polls.length === 2 ? true : undefined), { timeoutMs: 1_000, description: 'a second poll' });
    polls[1].resolve(session('second'));
    await expect(taking).resolves.toMatchObject({ id: 'second' });
    await pool.close();
  });

  it('gives any other failure to the waiting caller', async () => {
    const { source, polls } = fakeSource();
    const pool = new NextSessionPool(source, options);
    const taking = pool.take(30_000);
    const missing = new ServiceBusError('not found', 'MessagingEntityNotFound');
    polls[0].reject(missing);
    await expect(taking).rejects.toBe(missing);
    await pool.close();
  });

  it('ends every wait and releases every session it holds or later gets when closed', async () => {
    const { source, polls, session } = fakeSource();
    const pool = new NextSessionPool(source, options);
    const waiting = pool.take(30_000);
    await pool.take(1).then(() => pool.take(1));
    await pool.close();
    await expect(waiting).resolves.toBeUndefined();
    const late = session('after-close');
    polls[0].resolve(late);
    await waitFor(() => (late.released ? true : undefined), { timeoutMs: 1_000, description: 'the session that came after close to be released' });
    await expect(pool.take(30_000)).resolves.toBeUndefined();
  });
});

describe('retryWithin', () => {
  it('tries until the attempt gives a value', async () => {
    let tries = 0;
    await expect(retryWithin(async () => (++tries === 3 ? 'taken' : undefined), 30_000, 1)).resolves.toBe('taken');
    expect(tries).toBe(3);
  });

  it('gives up with nothing once the wait is over, after one try for no wait at all', async () => {
    let tries = 0;
    await expect(retryWithin(async () => void tries++, 0, 1)).resolves.toBeUndefined();
    expect(tries).toBe(1);
  });

  it('stops when told to, and passes failures through', async () => {
    await expect(
      retryWithin(
        async () => undefined,
        30_000,
        1,
        () => true,
      ),
    ).resolves.toBeUndefined();
    await expect(retryWithin(() => Promise.reject(new Error('refused')), 30_000, 1)).rejects.toThrow('refused');
  });
});

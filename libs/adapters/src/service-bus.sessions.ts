/**
 * Taking Service Bus sessions within a wait the caller chooses.
 *
 * Accepting "the next free session" is a long poll whose length the SDK takes from the client's retry
 * timeout (a minute by default), not from the call, and that an abort signal does not cut short once
 * the link is being attached. So a caller's wait cannot end the poll; the pool keeps it instead:
 *
 * - A caller that stops waiting leaves its poll running, unclaimed; the next caller claims it rather
 *   than starting another, so there are never more polls than callers waiting at one time.
 * - A session a poll locks after its caller left is kept ready for the next caller, and released
 *   after `idleReleaseMs` when none comes, so a session is never held by nobody for long.
 * - A poll that ends with "no session" (the service's wait ran out) is started again for a caller
 *   still waiting; any other failure goes to that caller, or is dropped when none waits (the next
 *   caller's poll meets it again).
 * - Closing the pool ends every wait with nothing and releases every session it holds or later gets.
 */

export interface SessionSource<S> {
  /** Locks the next free session; rejects when none came within the service's wait, or on failure. */
  acceptNext(): Promise<S>;
  sessionIdOf(session: S): string;
  /** Whether an accepted session can still be handed out (enough of its lock is left). */
  isFresh(session: S): boolean;
  release(session: S): Promise<void>;
  /** Whether a failed `acceptNext` only means that no session was free. */
  isNoSession(error: unknown): boolean;
}

export interface NextSessionPoolOptions {
  /** Release a session nobody claimed after this long, in ms. */
  idleReleaseMs: number;
  /** Pause before polling again after a poll found no session, in ms. */
  retryPauseMs: number;
}

interface Waiter<S> {
  resolve(session: S | undefined): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
  attempt: Attempt<S> | undefined;
  done: boolean;
}

interface Attempt<S> {
  waiter: Waiter<S> | undefined;
}

interface Ready<S> {
  session: S;
  timer: NodeJS.Timeout;
}

export class NextSessionPool<S> {
  private readonly attempts = new Set<Attempt<S>>();
  private readonly waiters = new Set<Waiter<S>>();
  private readonly ready: Ready<S>[] = [];
  private closed = false;

  constructor(
    private readonly source: SessionSource<S>,
    private readonly options: NextSessionPoolOptions,
  ) {}

  /** The next free session, or `undefined` when none was locked within `maxWaitMs`. */
  take(maxWaitMs: number): Promise<S | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const ready = this.takeReady(() => true);
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise<S | undefined>((resolve, reject) => {
      const waiter: Waiter<S> = { resolve, reject, attempt: undefined, done: false, timer: setTimeout(() => this.finish(waiter, undefined), maxWaitMs) };
      this.waiters.add(waiter);
      this.assign(waiter);
    });
  }

  /** A session the pool holds ready with this id, handed over; `undefined` when it holds none. */
  takeReadyById(sessionId: string): S | undefined {
    return this.takeReady((session) => this.source.sessionIdOf(session) === sessionId);
  }

  /** Polls still running: at most the number of callers that waited at one time. */
  get pendingPolls(): number {
    return this.attempts.size;
  }

  get readySessions(): number {
    return this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of [...this.waiters]) this.finish(waiter, undefined);
    const held = this.ready.splice(0);
    for (const { timer } of held) clearTimeout(timer);
    await Promise.all(held.map(({ session }) => this.release(session)));
  }

  private takeReady(matches: (session: S) => boolean): S | undefined {
    for (let i = 0; i < this.ready.length; i++) {
      const { session, timer } = this.ready[i];
      if (!matches(session)) continue;
      this.ready.splice(i, 1);
      clearTimeout(timer);
      if (this.source.isFresh(session)) return session;
      void this.release(session);
      i--;
    }
    return undefined;
  }

  /** Gives the waiter an unclaimed poll, or starts one for it. */
  private assign(waiter: Waiter<S>): void {
    for (const attempt of this.attempts) {
      if (attempt.waiter === undefined) {
        attempt.waiter = waiter;
        waiter.attempt = attempt;
        return;
      }
    }
    const attempt: Attempt<S> = { waiter };
    waiter.attempt = attempt;
    this.attempts.add(attempt);
    this.source.acceptNext().then(
      (session) => {
        this.attempts.delete(attempt);
        this.onSession(attempt, session);
      },
      (error: unknown) => {
        this.attempts.delete(attempt);
        this.onFailure(attempt, error);
      },
    );
  }

  private onSession(attempt: Attempt<S>, session: S): void {
    const waiter = attempt.waiter;
    if (waiter && !waiter.done) this.finish(waiter, session);
    else this.keepReady(session);
  }

  private onFailure(attempt: Attempt<S>, error: unknown): void {
    const waiter = attempt.waiter;
    if (!waiter || waiter.done) return;
    waiter.attempt = undefined;
    if (!this.source.isNoSession(error)) {
      this.fail(waiter, error);
      return;
    }
    // Poll again for a caller still waiting; its own timer still bounds the wait.
    setTimeout(() => {
      if (!waiter.done && !this.closed) this.assign(waiter);
    }, this.options.retryPauseMs).unref();
  }

  private keepReady(session: S): void {
    if (this.closed) {
      void this.release(session);
      return;
    }
    const entry: Ready<S> = {
      session,
      timer: setTimeout(() => {
        const index = this.ready.indexOf(entry);
        if (index === -1) return;
        this.ready.splice(index, 1);
        void this.release(session);
      }, this.options.idleReleaseMs),
    };
    entry.timer.unref();
    this.ready.push(entry);
  }

  private finish(waiter: Waiter<S>, session: S | undefined): void {
    if (waiter.done) {
      if (session !== undefined) this.keepReady(session);
      return;
    }
    this.settle(waiter);
    waiter.resolve(session);
  }

  private fail(waiter: Waiter<S>, error: unknown): void {
    if (waiter.done) return;
    this.settle(waiter);
    waiter.reject(error);
  }

  private settle(waiter: Waiter<S>): void {
    waiter.done = true;
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    // The poll goes on, unclaimed: the next caller takes it over.
    if (waiter.attempt && waiter.attempt.waiter === waiter) waiter.attempt.waiter = undefined;
    waiter.attempt = undefined;
  }

  /** A release that fails leaves the lock to expire on its own: the same outcome, later. */
  private async release(session: S): Promise<void> {
    await this.source.release(session).catch(() => undefined);
  }
}

/**
 * Tries `attempt` until it returns a value, `maxWaitMs` passed, or `stopped()`; pauses `pauseMs`
 * between tries. `attempt` returns `undefined` for "not now" and throws for real failures.
 */
export async function retryWithin<T>(attempt: () => Promise<T | undefined>, maxWaitMs: number, pauseMs: number, stopped: () => boolean = () => false): Promise<T | undefined> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    const remaining = deadline - performance.now();
    if (remaining <= 0 || stopped()) return undefined;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pauseMs, remaining)));
    if (stopped()) return undefined;
  }
}

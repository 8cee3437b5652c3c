/**
 * Runs a `StageLease` over time for a singleton stage's process: `standBy` polls until the lease
 * is taken (saying who holds it while it waits), `keepStageLease` renews it in the background and
 * reports its loss at once. The lease itself (`stage-lease.ts`) decides; this only keeps time.
 */
import { LeaseLostError, type LeaseAttempt, type StageLease } from './stage-lease';

export interface StandByOptions {
  /** Stops waiting (a shutdown): `standBy` then returns `undefined`. */
  signal: AbortSignal;
  /** Told when this instance starts waiting, and again when the holder or term it waits on changes. */
  onWaiting?(attempt: Extract<LeaseAttempt, { held: false }>): void;
  /** Told when an attempt failed (the lake did not answer); the next poll tries again. */
  onError?(error: Error): void;
}

/** Polls until this instance holds the lease; `undefined` when `signal` aborted first. */
export async function standBy(lease: StageLease, options: StandByOptions): Promise<Extract<LeaseAttempt, { held: true }> | undefined> {
  let waitingOn: string | undefined;
  while (!options.signal.aborted) {
    try {
      const attempt = await lease.tryAcquire();
      if (attempt.held) return attempt;
      const key = `${attempt.term}:${attempt.holder}`;
      if (key !== waitingOn) options.onWaiting?.(attempt);
      waitingOn = key;
    } catch (error) {
      options.onError?.(error as Error);
    }
    await sleep(lease.pollEveryMs, options.signal);
  }
  return undefined;
}

export interface KeptLease {
  /** Stops renewing (before `release`, or when the process stops). */
  stop(): void;
}

/**
 * Renews the lease every `renewEveryMs` until stopped. `onLost` is called once, as soon as the
 * lease was taken by another instance or expired without a successful renewal: the stage must stop
 * (its writes already fail, through `fencedLake`).
 */
export function keepStageLease(lease: StageLease, handlers: { onLost(error: LeaseLostError): void; onRenewalFailed?(): void }): KeptLease {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    const outcome = await lease.renew();
    if (stopped) return;
    if (outcome === 'failed') handlers.onRenewalFailed?.();
    if (outcome === 'lost' || !lease.held) {
      stopped = true;
      try {
        lease.assertHeld();
      } catch (error) {
        handlers.onLost(error as LeaseLostError);
      }
      return;
    }
    schedule();
  };
  const schedule = (): void => {
    timer = setTimeout(() => void tick(), lease.renewEveryMs);
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

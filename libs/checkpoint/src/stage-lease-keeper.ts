/**
 * Runs a `StageLease` over time for a singleton stage's process: `standBy` polls until the lease
 * is taken (saying who holds it while it waits), `keepStageLease` renews it in the background and
 * reports its loss at once. The lease itself (`stage-lease.ts`) decides; this only keeps time.
 */
import { FatalBackendError, type Lake } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { fencedLake, LeaseLostError, StageLease, type LeaseAttempt } from './stage-lease';

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

/** A singleton stage's process once it holds its lease. */
export interface HeldStageLease {
  /** The lake the stage writes through: every write checks the lease first (`fencedLake`). */
  lake: Lake;
  term: number;
  /** Stops renewing and marks the lease released, so a standby takes over at its next poll. Call once the stage stopped writing. */
  release(): Promise<void>;
}

export interface HoldStageLeaseOptions {
  stage: string;
  /** The stage's checkpoint folder, e.g. `checkpoints/bronze`: the lease lives under it. */
  checkpointRoot: string;
  durationMs: number;
  /** A shutdown: stops standing by (`holdStageLease` returns `undefined`). */
  signal: AbortSignal;
  logger: Logger;
  /** Called once if the lease is lost while held: the stage must stop, and the process exit. */
  onLost(error: LeaseLostError): void;
  /** What waiting means for this run, appended to the standing-by message (e.g. for a drain). */
  waitingNote?: string;
}

/**
 * Stands by until this process holds the stage's lease (logging who holds it meanwhile), then keeps
 * it renewed. `undefined` when `signal` aborted while standing by.
 */
export async function holdStageLease(lake: Lake, options: HoldStageLeaseOptions): Promise<HeldStageLease | undefined> {
  const { stage, checkpointRoot, logger } = options;
  const lease = new StageLease(lake, checkpointRoot, { stage, durationMs: options.durationMs });
  const waitingSince = performance.now();
  let stoodBy = false;
  const taken = await standBy(lease, {
    signal: options.signal,
    onWaiting: (attempt) => {
      stoodBy = true;
      logger.info(
        { holder: attempt.holder, term: attempt.term, lease: `${checkpointRoot}/lease`, lease_duration_ms: lease.durationMs, instance: lease.holder },
        `standing by: ${attempt.holder} holds the ${stage} lease on ${checkpointRoot}; this instance takes over once it stops renewing it for ${lease.durationMs} ms or releases it${options.waitingNote ? ` (${options.waitingNote})` : ''}`,
      );
    },
    onError: (error) => {
      // Credentials or a missing container do not heal by waiting.
      if (error instanceof FatalBackendError) throw error;
      logger.warn({ err: error }, `could not read the ${stage} lease on ${checkpointRoot}; trying again`);
    },
  });
  if (!taken) return undefined;
  const from = taken.tookOverFrom;
  logger.info(
    { term: taken.term, instance: lease.holder, took_over_from: from ?? null, ...(stoodBy ? { stood_by_ms: Math.round(performance.now() - waitingSince) } : {}) },
    from ? `${stage} lease taken over from ${from}: this instance runs ${stage} now` : `${stage} lease taken: this instance runs ${stage}`,
  );
  const kept = keepStageLease(lease, {
    onLost: (error) => options.onLost(error),
    onRenewalFailed: () => logger.warn({ term: taken.term }, `could not renew the ${stage} lease; trying again before it expires`),
  });
  return {
    lake: fencedLake(lake, lease),
    term: taken.term,
    release: async () => {
      kept.stop();
      await lease.release();
    },
  };
}

/**
 * Abandon with a delay on Service Bus, which has no delayed abandon: the bookkeeping, without I/O.
 *
 * Session queues (the pipeline's): the message is abandoned at once, so it stays at the head of its
 * session and order holds, and "retry not before T" is written to the session state first. Whoever
 * holds the session — this receiver, or another instance after a takeover, which reads the state when
 * it accepts the session — receives nothing from it until T. The delivery count rises by one per
 * abandon, so Service Bus dead-letters the message natively after maxDeliveryCount.
 *
 * Plain queues: the message stays locked (renewed) until T and is abandoned then. If the holder dies
 * meanwhile, its lock expires and Service Bus redelivers it: the delay ends early, nothing is lost.
 *
 * Invariants: times are epoch ms of the injected clock; a state that is not ours, or unreadable, means
 * "no delay" (a retry too early is harmless, a message never retried is not); a past time is inert, so
 * the state is never cleared.
 */

/** The session state this adapter writes: `{"retryNotBefore": <epoch ms>}` as UTF-8 JSON. */
export function encodeSessionRetryState(retryNotBefore: number): Buffer {
  if (!Number.isFinite(retryNotBefore)) throw new RangeError(`retryNotBefore must be finite epoch milliseconds, got ${String(retryNotBefore)}.`);
  return Buffer.from(JSON.stringify({ retryNotBefore: Math.ceil(retryNotBefore) }), 'utf8');
}

/**
 * The "retry not before" time in a session state as `getSessionState` returns it (parsed JSON, or the
 * raw bytes when they are not JSON); `undefined` when there is none.
 */
export function decodeSessionRetryState(state: unknown): number | undefined {
  let value = state;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const retryNotBefore = (value as { retryNotBefore?: unknown }).retryNotBefore;
  return typeof retryNotBefore === 'number' && Number.isFinite(retryNotBefore) ? retryNotBefore : undefined;
}

/** How one `receive` of a session goes: pause first, then receive for the rest of the wait, or not at all. */
export interface SessionReceivePlan {
  /** Real time to wait before anything else, in ms. */
  pauseMs: number;
  /** How long the receive then waits for a message; `undefined`: do not receive, return nothing. */
  receiveWaitMs: number | undefined;
}

/**
 * A receive asked to wait `maxWaitMs` on a session held back until `retryNotBefore`: when the delay
 * ends within the wait, pause until then and receive for the remainder; otherwise pause for the whole
 * wait (so a polling caller does not spin) and return nothing.
 */
export function planSessionReceive(now: number, retryNotBefore: number | undefined, maxWaitMs: number): SessionReceivePlan {
  if (retryNotBefore === undefined || retryNotBefore <= now) return { pauseMs: 0, receiveWaitMs: maxWaitMs };
  const remaining = retryNotBefore - now;
  if (remaining >= maxWaitMs) return { pauseMs: maxWaitMs, receiveWaitMs: undefined };
  return { pauseMs: remaining, receiveWaitMs: maxWaitMs - remaining };
}

/** The next step for a plain-queue message held locked until its retry time. */
export type HoldStep = { kind: 'abandon'; inMs: number } | { kind: 'renew'; inMs: number };

/** Renew a held lock this long before it expires, at most; less when the lock is shorter. */
export const HOLD_RENEW_MARGIN_MS = 5_000;

/**
 * Abandon at `retryAt` when the lock lasts until then (with a margin); otherwise renew the lock
 * before it expires and ask again with the new expiry.
 */
export function nextHoldStep(now: number, retryAt: number, lockedUntil: number): HoldStep {
  const margin = Math.min(HOLD_RENEW_MARGIN_MS, Math.max(0, (lockedUntil - now) / 2));
  const renewAt = lockedUntil - margin;
  if (retryAt <= renewAt) return { kind: 'abandon', inMs: Math.max(0, retryAt - now) };
  return { kind: 'renew', inMs: Math.max(0, renewAt - now) };
}

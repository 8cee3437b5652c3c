import { TestClock } from '@pipeline/engine';
import { decodeSessionRetryState, encodeSessionRetryState, HOLD_RENEW_MARGIN_MS, nextHoldStep, planSessionReceive } from './service-bus.retry-delay';

describe('session retry state', () => {
  it('round-trips "retry not before" through the bytes written as session state', () => {
    const state = encodeSessionRetryState(1_767_225_660_000);
    expect(JSON.parse(state.toString('utf8'))).toEqual({ retryNotBefore: 1_767_225_660_000 });
    expect(decodeSessionRetryState(state)).toBe(1_767_225_660_000);
  });

  it('reads the state as getSessionState returns it: parsed JSON, text or bytes', () => {
    expect(decodeSessionRetryState({ retryNotBefore: 42 })).toBe(42);
    expect(decodeSessionRetryState('{"retryNotBefore":43}')).toBe(43);
    expect(decodeSessionRetryState(new Uint8Array(Buffer.from('{"retryNotBefore":44}')))).toBe(44);
  });

  it('treats no state, a foreign state or an unreadable one as no delay', () => {
    for (const state of [undefined, null, '', 'not json', Buffer.from([0xff, 0x00]), { other: 1 }, { retryNotBefore: 'soon' }, { retryNotBefore: Infinity }, 7, [1]]) {
      expect(decodeSessionRetryState(state)).toBeUndefined();
    }
  });

  it('refuses to write a time that is not finite', () => {
    expect(() => encodeSessionRetryState(Number.NaN)).toThrow(/retryNotBefore must be finite epoch milliseconds/);
  });
});

describe('planSessionReceive', () => {
  const clock = new TestClock(1_767_225_600_000);

  it('receives at once for the whole wait when the session is not held back', () => {
    expect(planSessionReceive(clock.now(), undefined, 1_000)).toEqual({ pauseMs: 0, receiveWaitMs: 1_000 });
    expect(planSessionReceive(clock.now(), clock.now() - 1, 1_000)).toEqual({ pauseMs: 0, receiveWaitMs: 1_000 });
    expect(planSessionReceive(clock.now(), clock.now(), 1_000)).toEqual({ pauseMs: 0, receiveWaitMs: 1_000 });
  });

  it('waits out a delay that ends within the wait, then receives for the rest of it', () => {
    expect(planSessionReceive(clock.now(), clock.now() + 300, 1_000)).toEqual({ pauseMs: 300, receiveWaitMs: 700 });
  });

  it('returns nothing after the whole wait while the delay lasts longer, so a polling holder does not spin', () => {
    expect(planSessionReceive(clock.now(), clock.now() + 5_000, 1_000)).toEqual({ pauseMs: 1_000, receiveWaitMs: undefined });
    expect(planSessionReceive(clock.now(), clock.now() + 1_000, 1_000)).toEqual({ pauseMs: 1_000, receiveWaitMs: undefined });
  });

  it('keeps a session held back until the recorded time, for this holder and for one that takes over', () => {
    const local = new TestClock(1_767_225_600_000);
    // The holder abandons with a 4 s delay and records it; the session then moves to another instance.
    const state = encodeSessionRetryState(local.now() + 4_000);
    const heir = decodeSessionRetryState(JSON.parse(state.toString('utf8')));
    local.advance(1_000);
    expect(planSessionReceive(local.now(), heir, 1_000).receiveWaitMs).toBeUndefined();
    local.advance(2_000);
    expect(planSessionReceive(local.now(), heir, 2_000)).toEqual({ pauseMs: 1_000, receiveWaitMs: 1_000 });
    local.advance(1_000);
    expect(planSessionReceive(local.now(), heir, 2_000)).toEqual({ pauseMs: 0, receiveWaitMs: 2_000 });
  });
});

describe('nextHoldStep', () => {
  const clock = new TestClock(1_767_225_600_000);

  it('abandons at the retry time when the lock lasts until then', () => {
    expect(nextHoldStep(clock.now(), clock.now() + 2_000, clock.now() + 30_000)).toEqual({ kind: 'abandon', inMs: 2_000 });
  });

  it('renews the lock a margin before it expires when the retry time is later', () => {
    expect(nextHoldStep(clock.now(), clock.now() + 60_000, clock.now() + 30_000)).toEqual({ kind: 'renew', inMs: 30_000 - HOLD_RENEW_MARGIN_MS });
  });

  it('keeps half of a short lock as the margin', () => {
    expect(nextHoldStep(clock.now(), clock.now() + 60_000, clock.now() + 6_000)).toEqual({ kind: 'renew', inMs: 3_000 });
  });

  it('abandons at once when the retry time has come', () => {
    expect(nextHoldStep(clock.now(), clock.now() - 5, clock.now() + 30_000)).toEqual({ kind: 'abandon', inMs: 0 });
  });

  it('holds a message through renewals until its retry time, then abandons it', () => {
    const held = new TestClock(1_767_225_600_000);
    const lockDurationMs = 30_000;
    const retryAt = held.now() + 75_000;
    let lockedUntil = held.now() + lockDurationMs;
    const steps: string[] = [];
    for (;;) {
      const step = nextHoldStep(held.now(), retryAt, lockedUntil);
      held.advance(step.inMs);
      expect(held.now()).toBeLessThan(lockedUntil);
      steps.push(step.kind);
      if (step.kind === 'abandon') break;
      lockedUntil = held.now() + lockDurationMs;
    }
    expect(steps).toEqual(['renew', 'renew', 'abandon']);
    expect(held.now()).toBe(retryAt);
  });
});

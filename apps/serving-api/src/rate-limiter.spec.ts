import { TestClock } from '@pipeline/engine';
import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  it('lets a client make burst requests at once, then one per refill, telling when to come back', () => {
    const clock = new TestClock(0);
    const limiter = new RateLimiter({ perSecond: 4, burst: 2 }, clock);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([undefined, undefined, 1]);
    clock.advance(250);
    expect([limiter.take('a'), limiter.take('a')]).toEqual([undefined, 1]);
    // An idle client's bucket fills to the burst, not beyond.
    clock.advance(60_000);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([undefined, undefined, 1]);
  });

  it('keeps one bucket per client', () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, new TestClock(0));
    expect([limiter.take('a'), limiter.take('b'), limiter.take('a'), limiter.take('b')]).toEqual([undefined, undefined, 1, 1]);
  });

  it('asks a slow-rate client to wait the whole seconds one request takes to refill', () => {
    const limiter = new RateLimiter({ perSecond: 0.1, burst: 1 }, new TestClock(0));
    expect([limiter.take('a'), limiter.take('a')]).toEqual([undefined, 10]);
  });

  it('forgets idle clients once it tracks too many, so churning addresses cannot grow it without bound', () => {
    const clock = new TestClock(0);
    const limiter = new RateLimiter({ perSecond: 10, burst: 5 }, clock, 100);
    for (let i = 0; i < 100; i++) limiter.take(`idle-${i}`);
    clock.advance(1_000);
    limiter.take('newcomer');
    expect(limiter.size).toBe(1);
    // Clients all active at once: the oldest half goes.
    for (let i = 0; i < 150; i++) limiter.take(`busy-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});

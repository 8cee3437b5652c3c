import { TestClock } from '@pipeline/engine';
import { Pacer } from './pacer';

describe('pacer', () => {
  it('sends at once when unlimited', () => {
    const pacer = new Pacer({ kind: 'unlimited' }, new TestClock(0), async () => undefined);
    expect([pacer.delayFor(undefined), pacer.delayFor(5_000)]).toEqual([0, 0]);
  });

  it('spaces events evenly at a target rate', async () => {
    const clock = new TestClock(1_000);
    const waits: number[] = [];
    const pacer = new Pacer({ kind: 'rate', eventsPerSecond: 4 }, clock, async (ms) => {
      waits.push(ms);
      clock.advance(ms);
    });
    for (let i = 0; i < 5; i++) await pacer.pace(undefined);
    expect(waits).toEqual([250, 250, 250, 250]);
    expect(clock.now()).toBe(2_000);
  });

  it('replays event time at the speed factor: an hour of events in a minute at speed 60', async () => {
    const clock = new TestClock(0);
    const pacer = new Pacer({ kind: 'replay', speed: 60 }, clock, async (ms) => clock.advance(ms));
    const hour = 3_600_000;
    await pacer.pace(Date.UTC(2026, 0, 1));
    await pacer.pace(Date.UTC(2026, 0, 1) + hour / 2);
    expect(clock.now()).toBe(30_000);
    await pacer.pace(Date.UTC(2026, 0, 1) + hour);
    expect(clock.now()).toBe(60_000);
  });

  it('sends out-of-order and time-less events at once during a replay', () => {
    const clock = new TestClock(0);
    const pacer = new Pacer({ kind: 'replay', speed: 10 }, clock, async () => undefined);
    expect(pacer.delayFor(100_000)).toBe(0);
    expect(pacer.delayFor(200_000)).toBe(10_000);
    clock.advance(10_000);
    expect(pacer.delayFor(150_000)).toBe(0);
    expect(pacer.delayFor(undefined)).toBe(0);
  });
});

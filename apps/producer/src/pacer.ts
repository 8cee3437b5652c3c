/**
 * Pacing of the producer: as fast as possible, a target rate in events per second, or replay of
 * event time at a speed factor (`speed: 60` plays an hour of event time in a minute).
 * Time is injected: the pacer asks the clock and sleeps through the given `sleep`.
 */
import type { Clock } from '@pipeline/engine';

export type Pacing = { kind: 'unlimited' } | { kind: 'rate'; eventsPerSecond: number } | { kind: 'replay'; speed: number };

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Pacer {
  private startedAt: number | undefined;
  private sent = 0;
  private firstEventTime: number | undefined;

  constructor(
    readonly pacing: Pacing,
    private readonly clock: Clock,
    private readonly sleep: Sleep,
  ) {}

  /**
   * How long to wait before sending the next event, in ms (0: now). `eventTime` is the event's
   * time in epoch ms when known; events without one, or behind the replay's position, go at once.
   */
  delayFor(eventTime: number | undefined): number {
    const now = this.clock.now();
    this.startedAt ??= now;
    switch (this.pacing.kind) {
      case 'unlimited':
        return 0;
      case 'rate': {
        const due = this.startedAt + (this.sent * 1000) / this.pacing.eventsPerSecond;
        this.sent++;
        return Math.max(0, due - now);
      }
      case 'replay': {
        if (eventTime === undefined) return 0;
        this.firstEventTime ??= eventTime;
        const due = this.startedAt + (eventTime - this.firstEventTime) / this.pacing.speed;
        return Math.max(0, due - now);
      }
    }
  }

  /** Waits until the next event is due. */
  async pace(eventTime: number | undefined): Promise<void> {
    const wait = this.delayFor(eventTime);
    if (wait > 0) await this.sleep(wait);
  }
}

/**
 * A token bucket per client: each client may make `burst` requests at once and `perSecond` on
 * average. Buckets fill lazily (on the client's next request, from the time elapsed), so an idle
 * client costs nothing but its entry; full buckets are swept once the map grows past `maxClients`,
 * which bounds memory when addresses churn. Time comes from the injected clock.
 */
import type { Clock } from '@pipeline/engine';
import type { RateLimitSettings } from './serving-api.config';

interface Bucket {
  tokens: number;
  at: number;
}

/** `undefined`: allowed; a number: refused, retry after this many whole seconds. */
export type RateDecision = undefined | number;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly clock: Clock,
    private readonly maxClients = 100_000,
  ) {
    this.perMs = settings.perSecond / 1000;
  }

  /** Takes one request from `client`'s bucket. */
  take(client: string): RateDecision {
    const now = this.clock.now();
    const bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) this.sweep(now);
      this.buckets.set(client, { tokens: this.settings.burst - 1, at: now });
      return undefined;
    }
    const tokens = Math.min(this.settings.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs);
    bucket.at = now;
    if (tokens >= 1) {
      bucket.tokens = tokens - 1;
      return undefined;
    }
    bucket.tokens = tokens;
    return Math.max(1, Math.ceil((1 - tokens) / this.settings.perSecond));
  }

  /** Clients tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops the buckets that would be full by now: forgetting them changes nothing. */
  private sweep(now: number): void {
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.settings.burst) this.buckets.delete(client);
    }
    // Still full of active clients: forget the oldest entries rather than grow without bound.
    if (this.buckets.size >= this.maxClients) {
      let excess = this.buckets.size - Math.floor(this.maxClients / 2);
      for (const client of this.buckets.keys()) {
        if (excess-- <= 0) break;
        this.buckets.delete(client);
      }
    }
  }
}

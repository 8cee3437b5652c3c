/**
 * The last minutes of pipeline status, so the status page shows rates, watermarks and late rows over
 * time the moment it opens: while the API runs, a timer reads the status every `everyMs` and keeps
 * the samples (`StatusSample`, the figures `pipeline start` prints) in a ring buffer of `keepMs`.
 *
 * Invariants:
 * - Bounded: at most `capacity` samples, the oldest overwritten first; samples are returned oldest
 *   first, their times (the injected clock) ascending.
 * - The sampler reads through its own `PipelineStatus`, so its reads never shorten the
 *   between-calls rates that `GET /v1/status` answers with.
 * - One read at a time: the next one is scheduled when the previous one ended, so a slow lake
 *   cannot pile reads up. A failed read keeps no sample and is reported with the history (the
 *   page says so); the sampler goes on.
 * - Stopping waits for the read in flight, so the ports can be closed right after.
 */
import type { OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { StatusSample, StatusView } from '@pipeline/contracts';
import { statusSample } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';

export interface StatusHistoryOptions {
  /** How often the status is read, ms. */
  everyMs: number;
  /** How far back samples are kept, ms. */
  keepMs: number;
}

export const DEFAULT_STATUS_HISTORY: StatusHistoryOptions = { everyMs: 5_000, keepMs: 15 * 60_000 };

/** What the history reads: `PipelineStatus.read`. */
export interface StatusReader {
  read(): Promise<StatusView>;
}

export interface StatusHistorySnapshot {
  everyMs: number;
  keepMs: number;
  samples: StatusSample[];
  /** The last read's failure, when the last read failed. */
  error: { at: number; message: string } | null;
}

export class StatusHistory implements OnApplicationBootstrap, OnModuleDestroy {
  readonly capacity: number;
  private readonly ring: Array<StatusSample | undefined>;
  /** Where the next sample goes; `count` samples end just before it. */
  private next = 0;
  private count = 0;
  private error: StatusHistorySnapshot['error'] = null;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  private running = false;

  constructor(
    private readonly status: StatusReader,
    private readonly clock: Clock,
    readonly options: StatusHistoryOptions = DEFAULT_STATUS_HISTORY,
  ) {
    if (!(options.everyMs > 0) || !(options.keepMs >= options.everyMs)) {
      throw new RangeError(`status history: everyMs must be > 0 and keepMs at least everyMs (got everyMs ${options.everyMs}, keepMs ${options.keepMs})`);
    }
    this.capacity = Math.ceil(options.keepMs / options.everyMs) + 1;
    this.ring = new Array<StatusSample | undefined>(this.capacity);
  }

  /** Reads the status once and keeps the sample. Throws what the read threw (the history keeps the message). */
  async sample(): Promise<StatusSample> {
    let view: StatusView;
    try {
      view = await this.status.read();
    } catch (error) {
      this.error = { at: this.clock.now(), message: error instanceof Error ? error.message : String(error) };
      throw error;
    }
    const at = this.clock.now();
    const previous = this.latest();
    // A clock that went back (a test, a corrected system clock) starts the rates over.
    const sample = statusSample(view, at, previous !== undefined && previous.at < at ? previous : undefined);
    this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.error = null;
    return sample;
  }

  latest(): StatusSample | undefined {
    return this.count === 0 ? undefined : this.ring[(this.next - 1 + this.capacity) % this.capacity];
  }

  /** The samples kept, oldest first; with `after`, only those taken after that time. */
  samples(after?: number): StatusSample[] {
    const out: StatusSample[] = [];
    for (let i = this.count; i > 0; i--) {
      const sample = this.ring[(this.next - i + this.capacity) % this.capacity] as StatusSample;
      if (after === undefined || sample.at > after) out.push(sample);
    }
    return out;
  }

  snapshot(after?: number): StatusHistorySnapshot {
    return { everyMs: this.options.everyMs, keepMs: this.options.keepMs, samples: this.samples(after), error: this.error };
  }

  /** Samples now, then every `everyMs` until `stop`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  private tick(): void {
    // The failure is in `error`, for the page to show.
    this.inFlight = this.sample()
      .catch(() => undefined)
      .finally(() => {
        this.inFlight = undefined;
        if (!this.running) return;
        this.timer = setTimeout(() => this.tick(), this.options.everyMs);
        this.timer.unref();
      });
  }
}

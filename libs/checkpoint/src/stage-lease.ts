/**
 * The lease that makes a singleton stage (bronze, silver) run on one instance while the others
 * stand by. It lives beside the stage's checkpoint, `{root}/lease/{term}`, so it is scoped to that
 * checkpoint: a replay on another checkpoint never waits for the live stage.
 *
 * Invariants, on create-if-absent alone (DESIGN invariant 3):
 * - A term is taken by creating `{root}/lease/{term}` (zero-padded: listing order is term order).
 *   Of two contenders for term N+1, exactly one creates it. A term taken below the newest one (a
 *   contender that read an old listing) is seen at once and not held.
 * - Only the holder of term N writes `{root}/lease/{N}`: each renewal replaces it whole with a
 *   higher renewal count, after checking that term N+1 does not exist (a holder whose lease was
 *   taken stops). A graceful stop writes it once more, marked released: a standby takes the next
 *   term at its next poll.
 * - Expiry is judged by the observer on its own clock: a standby takes term N+1 only after it has
 *   seen term N's record unchanged for a whole lease duration. No clocks are compared across
 *   machines, so clock skew does not matter; only their rates do, which the margin covers.
 * - Fencing: the holder counts its lease valid until (start of its last successful renewal +
 *   duration − margin) on its own monotonic clock, and a renewal counts only if it landed while the
 *   previous one was still valid. A standby's watch of a record starts after it read it, and it
 *   judges by the time before its latest read, so the holder's validity ends a margin before any
 *   standby may take over, however either of them is paused.
 *   Every write of the stage checks `assertHeld` first (`fencedLake`), so a holder that could not
 *   renew, or was paused (GC, a frozen VM) past its validity, writes nothing more. A pause between
 *   that check and the write itself is the one gap left; the stage's create-if-absent commits
 *   close it, as they always did: a batch number is committed once.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LakeNotFoundError, type Lake, type LakeEntry } from '@pipeline/ports';

/** The default lease duration: a standby takes over at most about this long (plus two polls) after the holder died. */
export const DEFAULT_LEASE_DURATION_MS = 10_000;
/** The shortest lease duration accepted: renewals go to the lake four times per duration. */
export const MIN_LEASE_DURATION_MS = 2_000;

/** Elapsed milliseconds on a clock that never goes back (the default is `performance.now()`). */
export interface LeaseClock {
  now(): number;
}

const monotonicClock: LeaseClock = { now: () => performance.now() };

/** What `{root}/lease/{term}` holds. */
export interface LeaseRecord {
  holder: string;
  term: number;
  /** Counts the holder's renewals: a standby sees the lease alive while it changes. */
  renewal: number;
  /** The holder's lease duration: a standby waits at least this long on an unchanged record. */
  durationMs: number;
  /** Written by a graceful stop: the next term may be taken at once. */
  released?: true;
}

export interface StageLeaseOptions {
  /** The stage's name in messages, e.g. `bronze`. */
  stage: string;
  /** This instance's id in the record and in messages; by default host, process id and a random suffix. */
  holder?: string;
  durationMs?: number;
  clock?: LeaseClock;
}

/** The outcome of one attempt to take the lease. */
export type LeaseAttempt =
  | { held: true; term: number; tookOverFrom: string | undefined }
  | { held: false; holder: string; term: number; released: boolean; /** ms until this observer would take it, if nothing changes */ takeoverInMs: number };

/** A stage tried to write without holding its lease (it expired, was taken, or was released). */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly root: string,
    stage: string,
    reason: string,
  ) {
    super(
      `The ${stage} lease on ${root} is no longer held by this instance (${reason}), so it writes nothing more: another instance may run ${stage} now. ` +
        'Restart this instance to stand by; if this happens often, the lake answers too slowly for the lease duration (raise the lease duration setting).',
    );
  }
}

const TERM_DIGITS = 12;
const termName = (term: number): string => String(term).padStart(TERM_DIGITS, '0');

/** A unique id for this process: host, process id and a random suffix (two processes never share one). */
export function defaultLeaseHolder(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export class StageLease {
  readonly holder: string;
  readonly durationMs: number;
  /** How long before its validity ends the holder stops: covers a difference of clock rates and a slow write. */
  readonly marginMs: number;
  private readonly clock: LeaseClock;
  private readonly folder: string;
  private term: number | undefined;
  private renewal = 0;
  /** Monotonic time until which this instance may write; −∞ when it does not hold the lease. */
  private validUntil = Number.NEGATIVE_INFINITY;
  private lostReason = 'it was never taken';
  /** The record a standby watches and since when it saw it unchanged. */
  private observed: { key: string; since: number } | undefined;

  constructor(
    private readonly lake: Lake,
    readonly root: string,
    private readonly options: StageLeaseOptions,
  ) {
    this.holder = options.holder ?? defaultLeaseHolder();
    this.durationMs = options.durationMs ?? DEFAULT_LEASE_DURATION_MS;
    if (!Number.isFinite(this.durationMs) || this.durationMs < MIN_LEASE_DURATION_MS) {
      throw new RangeError(`A ${options.stage} lease duration must be at least ${MIN_LEASE_DURATION_MS} ms, got ${String(options.durationMs)}.`);
    }
    this.marginMs = Math.round(this.durationMs / 5);
    this.clock = options.clock ?? monotonicClock;
    this.folder = `${root}/lease/`;
  }

  /** How often the holder renews: four times per duration, so three renewals in a row may fail before it stops. */
  get renewEveryMs(): number {
    return Math.round(this.durationMs / 4);
  }

  /** How often a standby looks at the lease. */
  get pollEveryMs(): number {
    return Math.min(1_000, Math.round(this.durationMs / 5));
  }

  /** The term this instance holds, if it does. */
  get heldTerm(): number | undefined {
    return this.held ? this.term : undefined;
  }

  /** True while this instance may write: it took or renewed the lease less than (duration − margin) ago. */
  get held(): boolean {
    return this.clock.now() < this.validUntil;
  }

  /** Throws `LeaseLostError` unless this instance may write now. */
  assertHeld(): void {
    if (this.held) return;
    if (this.term === undefined) throw new LeaseLostError(this.root, this.options.stage, this.lostReason);
    // Still valid by its record but not renewed in time: the process was held up (paused, starved of CPU) or the lake was slow.
    const reason = Number.isFinite(this.validUntil)
      ? `not renewed for ${seconds(this.clock.now() - this.validUntil + this.durationMs - this.marginMs)} s, past the ${seconds(this.durationMs - this.marginMs)} s it may write after a renewal: the process was held up (paused, or short of CPU) or the lake answered slowly`
      : this.lostReason;
    throw new LeaseLostError(this.root, this.options.stage, `term ${this.term}: ${reason}`);
  }

  /**
   * One attempt: takes the lease when there is none, when its record says released, or when this
   * instance has seen it unchanged for a whole duration; otherwise says who holds it.
   */
  async tryAcquire(): Promise<LeaseAttempt> {
    if (this.held && this.term !== undefined) return { held: true, term: this.term, tookOverFrom: undefined };
    const newest = await this.newestTerm();
    if (newest === undefined) return this.take(1, undefined);
    // Read before the read (the decision) and after it (the watch's start): a standby paused around
    // its read can only judge the lease younger than it is, never older.
    const beforeRead = this.clock.now();
    let record: LeaseRecord;
    try {
      record = await this.readRecord(newest);
    } catch (error) {
      // Deleted between the listing and the read: a newer term exists; look again next time.
      if (error instanceof LakeNotFoundError) return { held: false, holder: 'unknown', term: newest, released: false, takeoverInMs: this.durationMs };
      throw error;
    }
    if (record.released === true) return this.take(newest + 1, record.holder);
    const key = `${record.term}:${record.renewal}:${record.holder}`;
    if (this.observed?.key !== key) this.observed = { key, since: this.clock.now() };
    const wait = Math.max(record.durationMs, this.durationMs);
    const watched = Math.max(0, beforeRead - this.observed.since);
    if (watched >= wait) return this.take(newest + 1, record.holder);
    return { held: false, holder: record.holder, term: newest, released: false, takeoverInMs: wait - watched };
  }

  /**
   * Extends the lease: `renewed`; `lost` when another instance took the next term (this one must
   * stop at once); `failed` when the lake did not answer (the lease stays valid until it expires,
   * and the next renewal tries again).
   */
  async renew(): Promise<'renewed' | 'lost' | 'failed'> {
    const term = this.term;
    if (term === undefined || !this.held) return 'lost';
    const started = this.clock.now();
    // A fresh count for every attempt: a write that failed but landed must not be written again as
    // the same record, which a standby would take for no renewal at all.
    const renewal = ++this.renewal;
    try {
      if (await this.lake.exists(`${this.folder}${termName(term + 1)}`)) {
        this.drop(`another instance took term ${term + 1}`);
        return 'lost';
      }
      await this.lake.write(this.path(term), JSON.stringify(this.record(term, renewal)));
    } catch {
      return this.held ? 'failed' : 'lost';
    }
    // A renewal counts only if it landed while the lease was still valid: a standby that judged the
    // lease expired read it after that, so it saw this write (and waits again) or none lands in time.
    if (!this.held) return 'lost';
    this.validUntil = started + this.durationMs - this.marginMs;
    return 'renewed';
  }

  /**
   * Gives the lease up: this instance stops counting it as held at once, then marks its record
   * released so a standby takes over at its next poll. Call it only once the stage has stopped
   * writing. Releasing a lease not held does nothing.
   */
  async release(): Promise<void> {
    const term = this.term;
    const wasHeld = this.held;
    this.drop('it was released');
    if (term === undefined || !wasHeld) return;
    if (await this.lake.exists(`${this.folder}${termName(term + 1)}`)) return;
    await this.lake.write(this.path(term), JSON.stringify({ ...this.record(term, ++this.renewal), released: true }));
  }

  private async take(term: number, previous: string | undefined): Promise<LeaseAttempt> {
    const started = this.clock.now();
    const created = await this.lake.createIfAbsent(this.path(term), JSON.stringify(this.record(term, 0)));
    const newest = await this.newestTerm();
    if (!created || newest !== term) {
      // Another contender won this term, or this term was taken below a newer one (an old listing).
      const holder = newest === undefined ? 'unknown' : await this.holderOf(newest);
      return { held: false, holder, term: newest ?? term, released: false, takeoverInMs: this.durationMs };
    }
    this.term = term;
    this.renewal = 0;
    this.observed = undefined;
    this.validUntil = started + this.durationMs - this.marginMs;
    await this.forgetOldTerms(term);
    return { held: true, term, tookOverFrom: previous };
  }

  /** Terms below the previous one are history: deleting them keeps a standby's listing short. */
  private async forgetOldTerms(term: number): Promise<void> {
    const old: string[] = [];
    for await (const entry of this.lake.list(this.folder)) if (this.termOf(entry) < term - 1) old.push(entry.path);
    for (const path of old) await this.lake.delete(path);
  }

  private async holderOf(term: number): Promise<string> {
    try {
      return (await this.readRecord(term)).holder;
    } catch {
      return 'unknown';
    }
  }

  private async newestTerm(): Promise<number | undefined> {
    let newest: number | undefined;
    for await (const entry of this.lake.list(this.folder)) {
      const term = this.termOf(entry);
      if (Number.isSafeInteger(term) && term > 0) newest = Math.max(newest ?? 0, term);
    }
    return newest;
  }

  private termOf(entry: LakeEntry): number {
    const name = entry.path.slice(this.folder.length);
    return /^\d+$/.test(name) ? Number(name) : Number.NaN;
  }

  private async readRecord(term: number): Promise<LeaseRecord> {
    const path = this.path(term);
    let parsed: Partial<LeaseRecord> | null;
    try {
      parsed = JSON.parse((await this.lake.read(path)).toString('utf8')) as Partial<LeaseRecord> | null;
    } catch {
      parsed = null; // Not JSON: not a lease record either.
    }
    if (parsed === null || typeof parsed !== 'object' || typeof parsed.holder !== 'string' || typeof parsed.renewal !== 'number' || typeof parsed.durationMs !== 'number') {
      throw new Error(`The ${this.options.stage} lease record ${path} in ${this.lake.location} is not a lease record; delete it (no instance can hold it) and start again.`);
    }
    return { holder: parsed.holder, term, renewal: parsed.renewal, durationMs: parsed.durationMs, ...(parsed.released === true ? { released: true as const } : {}) };
  }

  private record(term: number, renewal: number): LeaseRecord {
    return { holder: this.holder, term, renewal, durationMs: this.durationMs };
  }

  private path(term: number): string {
    return `${this.folder}${termName(term)}`;
  }

  private drop(reason: string): void {
    this.validUntil = Number.NEGATIVE_INFINITY;
    this.lostReason = reason;
  }
}

/**
 * The lake as a lease holder's stage sees it: every write first checks that the lease is held,
 * so an instance that lost it (or was paused past it) writes nothing more. Reads pass through.
 */
export function fencedLake(lake: Lake, lease: Pick<StageLease, 'assertHeld'>): Lake {
  return {
    location: lake.location,
    createIfAbsent: async (path, data) => {
      lease.assertHeld();
      return await lake.createIfAbsent(path, data);
    },
    write: async (path, data) => {
      lease.assertHeld();
      return await lake.write(path, data);
    },
    delete: async (path) => {
      lease.assertHeld();
      return await lake.delete(path);
    },
    read: (path) => lake.read(path),
    readStream: (path) => lake.readStream(path),
    stat: (path) => lake.stat(path),
    exists: (path) => lake.exists(path),
    list: (prefix, options) => lake.list(prefix, options),
    close: () => lake.close(),
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

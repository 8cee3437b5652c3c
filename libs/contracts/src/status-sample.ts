/**
 * The figures a person watches while the pipeline runs, taken from the serving API's `/v1/status`
 * in one place: `pipeline start`'s live line and the status page's charts both show a
 * `StatusSample`, so the terminal and the page never disagree on a number.
 *
 * Invariants:
 * - A sample is a pure function of one status answer and the time it was taken (the caller's
 *   clock); rates come from the difference to the previous sample, never from a second clock.
 * - Counts are cumulative, as the status gives them. A count that went down (a reset checkpoint,
 *   a store emptied) gives no rate (`null`) rather than a negative one.
 * - `StatusView` lists only the fields read, so any richer status answer (the API's `StatusDto`)
 *   satisfies it.
 */

/** The part of `/v1/status` a sample is made of. */
export interface StatusView {
  capture: { files: number; events: number };
  bronze: { records: number; position: number | null };
  silver: { records: number; rows: number; quarantined: number; duplicates: number; position: number | null; rate: { perSecond: number | null } };
  gold: { rows: number; lateRows: number; shards: ShardSample[] };
  rejected: { setAside: number; restored: number };
  /** Bus dead letters of every queue; `total` null when the API cannot read the bus. */
  deadLetters: { total: number | null };
}

export interface ShardSample {
  shard: number;
  batch: number;
  /** Watermark, epoch ms; null before the first one. */
  watermarkMs: number | null;
  /** Newest event time seen by any shard minus this shard's watermark (ms), or null. */
  lagMs: number | null;
  rows: number;
  lateRows: number;
  /** The source partition holding the watermark back, or null. */
  holdingPartition: string | null;
}

/** Per-second rates of each layer's cumulative count, between the previous sample and this one. */
export interface LayerRates {
  /** Events captured into the lake (bronze's input). */
  captured: number | null;
  /** Records bronze consumed (silver's input). */
  bronze: number | null;
  /** Records silver read. */
  silver: number | null;
  /** Rows silver wrote (gold's input). */
  silverRows: number | null;
  /** Rows gold processed: aggregated or routed to the late table. */
  gold: number | null;
}

export interface StatusSample {
  /** When the status was read, epoch ms. */
  at: number;
  capture: { files: number; events: number };
  bronze: { records: number; batch: number | null };
  silver: { records: number; rows: number; quarantined: number; duplicates: number; batch: number | null; rowsPerSecond: number | null };
  gold: { rows: number; lateRows: number; shards: ShardSample[] };
  rejected: { setAside: number; restored: number };
  /** Dead letters on the bus (a lower bound when a queue has more than the status counts); null: not visible. */
  deadLetters: number | null;
  /** Since the previous sample; all null for the first one. */
  rates: LayerRates;
}

/** The sample of one status answer read at `at`, with rates since `previous` (when given). */
export function statusSample(status: StatusView, at: number, previous?: StatusSample): StatusSample {
  const sample: Omit<StatusSample, 'rates'> = {
    at,
    capture: { files: status.capture.files, events: status.capture.events },
    bronze: { records: status.bronze.records, batch: status.bronze.position },
    silver: {
      records: status.silver.records,
      rows: status.silver.rows,
      quarantined: status.silver.quarantined,
      duplicates: status.silver.duplicates,
      batch: status.silver.position,
      rowsPerSecond: status.silver.rate.perSecond,
    },
    gold: {
      rows: status.gold.rows,
      lateRows: status.gold.lateRows,
      shards: status.gold.shards.map((s) => ({
        shard: s.shard,
        batch: s.batch,
        watermarkMs: s.watermarkMs,
        lagMs: s.lagMs,
        rows: s.rows,
        lateRows: s.lateRows,
        holdingPartition: s.holdingPartition,
      })),
    },
    rejected: { setAside: status.rejected.setAside, restored: status.rejected.restored },
    deadLetters: status.deadLetters.total,
  };
  return { ...sample, rates: ratesBetween(previous, sample) };
}

function ratesBetween(before: StatusSample | undefined, after: Omit<StatusSample, 'rates'>): LayerRates {
  const seconds = before === undefined ? 0 : (after.at - before.at) / 1000;
  const rate = (pick: (s: Omit<StatusSample, 'rates'>) => number): number | null => {
    if (before === undefined || seconds <= 0) return null;
    const delta = pick(after) - pick(before);
    return delta < 0 ? null : delta / seconds;
  };
  return {
    captured: rate((s) => s.capture.events),
    bronze: rate((s) => s.bronze.records),
    silver: rate((s) => s.silver.records),
    silverRows: rate((s) => s.silver.rows),
    gold: rate((s) => s.gold.rows + s.gold.lateRows),
  };
}

/**
 * The one-line view `pipeline start` prints, e.g.
 * `captured 2000 | bronze 2000 | silver 1990 + 6 quarantined + 4 dup (812 rows/s) | gold 1990 rows, 3 late, watermarks 12:00:30@p2 -`
 * (each shard's watermark time, and the partition holding it back), then `| N dead letters` when
 * the bus holds any.
 */
export function statusLine(sample: StatusSample): string {
  const watermarks = sample.gold.shards
    .map((s) => `${s.watermarkMs === null ? '-' : new Date(s.watermarkMs).toISOString().slice(11, 19)}${s.holdingPartition === null ? '' : `@p${s.holdingPartition}`}`)
    .join(' ');
  const rate = sample.silver.rowsPerSecond === null ? '' : ` (${Math.round(sample.silver.rowsPerSecond)} rows/s)`;
  return (
    `captured ${sample.capture.events} | bronze ${sample.bronze.records} | silver ${sample.silver.rows} + ${sample.silver.quarantined} quarantined + ${sample.silver.duplicates} dup${rate}` +
    ` | gold ${sample.gold.rows} rows, ${sample.gold.lateRows} late, ${watermarks === '' ? 'no shard has a watermark yet' : `watermarks ${watermarks}`}` +
    (sample.deadLetters !== null && sample.deadLetters > 0 ? ` | ${sample.deadLetters} dead letters` : '')
  );
}

/**
 * Lake timestamp values (see `TableValue`): a number is epoch milliseconds, a bigint is epoch
 * microseconds. The canonical form of an instant, which every producer of rows writes, is the
 * number when the instant is a whole millisecond and the bigint only when it has digits below the
 * millisecond, so one instant always has one form and equal input gives equal rows and bytes.
 */

const MICROS_PER_MS = 1000n;

export type LakeTimestamp = number | bigint;

/** The canonical value of `ms` epoch milliseconds plus `subMillisMicros` (0–999) microseconds. */
export function lakeTimestamp(ms: number, subMillisMicros: number): LakeTimestamp {
  if (subMillisMicros === 0) return ms === 0 ? 0 : ms; // no -0
  return BigInt(ms) * MICROS_PER_MS + BigInt(subMillisMicros);
}

/** The canonical value of epoch microseconds. */
export function lakeTimestampOfMicros(micros: bigint): LakeTimestamp {
  return micros % MICROS_PER_MS === 0n ? Number(micros / MICROS_PER_MS) : micros;
}

/** Epoch microseconds of a timestamp value. */
export function timestampMicros(value: LakeTimestamp): bigint {
  return typeof value === 'bigint' ? value : BigInt(value) * MICROS_PER_MS;
}

/**
 * Epoch milliseconds of a timestamp value, rounded down (towards the past, also before 1970): the
 * millisecond an event-time window sees.
 */
export function timestampMillis(value: LakeTimestamp): number {
  if (typeof value === 'number') return value;
  const quotient = value / MICROS_PER_MS;
  return Number(value % MICROS_PER_MS < 0n ? quotient - 1n : quotient);
}

/** Microseconds past `timestampMillis(value)`, 0–999. */
export function timestampSubMillisMicros(value: LakeTimestamp): number {
  if (typeof value === 'number') return 0;
  const rest = Number(value % MICROS_PER_MS);
  return rest < 0 ? rest + 1000 : rest;
}

/**
 * Aggregate state of one (window, group key): a row count plus, per aggregate, a running sum, min
 * or max with its count of non-null inputs, or the exact set of distinct non-null values.
 *
 * Invariants: nulls (and missing columns) are ignored by every function but `count`, which counts
 * rows; sum, min, max and avg of no non-null input are null; count_distinct of none is 0 (a count is
 * never null); inputs are added in arrival order, so a sum is the same float however it is
 * resumed. -0 is read as 0 so results and snapshots never depend on the sign of a zero.
 * A sum of finite inputs can overflow to ±Infinity (never to NaN: once infinite, finite inputs
 * leave it so); JSON has no such number, so a snapshot holds it as the text "Infinity" or
 * "-Infinity", and the resumed sum is infinite too.
 */
import type { AggregateFn, AggregationLogic } from './aggregation-config';
import { compareEngineValues, describeValue, isEngineValue, type EngineRow, type EngineValue } from './engine-value';

const COUNT = 0;
const SUM = 1;
const MIN = 2;
const MAX = 3;
const AVG = 4;
const DISTINCT = 5;

const KIND: Record<AggregateFn, number> = { count: COUNT, sum: SUM, min: MIN, max: MAX, avg: AVG, count_distinct: DISTINCT };

/** An overflowed sum, as JSON can hold it. */
export type SavedSum = number | 'Infinity' | '-Infinity';

/**
 * Saved state of one aggregate: count → null (the group's row count is kept once); sum and avg →
 * [sum, non-null inputs]; min and max → the value or null; count_distinct → the distinct values, sorted.
 */
export type AggregateSnapshot = null | number | [sum: SavedSum, inputs: number] | EngineValue[];

/** Running aggregates of one group key in one window. */
export interface GroupState {
  readonly key: readonly EngineValue[];
  rows: number;
  /** Per aggregate: the running sum, min or max. */
  readonly values: number[];
  /** Per aggregate: how many non-null inputs it has taken. */
  readonly inputs: number[];
  /** Per aggregate: the distinct values of a count_distinct. */
  readonly distinct: Array<Set<EngineValue> | undefined>;
  /** The last batch that added a row (drives update-mode output). */
  touchedIn: number;
}

/** Raised for a row the engine cannot aggregate; the batch is rejected before any state changes. */
export class InvalidRowError extends TypeError {
  override readonly name = 'InvalidRowError';
  constructor(
    /** Index of the row in the batch. */
    readonly rowIndex: number,
    readonly column: string,
    readonly reason: string,
  ) {
    super(`Row ${rowIndex} of the batch: ${reason}`);
  }
}

export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
}

const normalise = (value: EngineValue): EngineValue => (value === 0 ? 0 : value);

/** The aggregates of a configuration, compiled to a switch over small integers. */
export class AggregateSet {
  private readonly kinds: number[];
  private readonly columns: Array<string | undefined>;
  private readonly names: string[];
  private readonly fns: AggregateFn[];
  readonly size: number;

  constructor(aggregates: AggregationLogic['aggregates']) {
    this.kinds = aggregates.map((a) => KIND[a.fn]);
    this.columns = aggregates.map((a) => a.column);
    this.names = aggregates.map((a) => a.name);
    this.fns = aggregates.map((a) => a.fn);
    this.size = aggregates.length;
  }

  /** Throws an `InvalidRowError` when a column this set reads holds something it cannot aggregate. */
  checkRow(row: EngineRow, rowIndex: number): void {
    for (let a = 0; a < this.size; a++) {
      const column = this.columns[a];
      if (column === undefined) continue;
      const value: unknown = row[column];
      if (value === undefined || value === null) continue;
      if (this.kinds[a] === DISTINCT) {
        if (!isEngineValue(value)) {
          throw new InvalidRowError(rowIndex, column, `${column} is ${describeValue(value)}, which count_distinct cannot take; give a string, a finite number, a boolean or null.`);
        }
      } else if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InvalidRowError(
          rowIndex,
          column,
          `${column} is ${describeValue(value)}, but ${this.fns[a]} (${this.names[a]}) needs a finite number or null; convert the column to numbers (timestamps as epoch milliseconds) before aggregating.`,
        );
      }
    }
  }

  /** Reads the inputs of every aggregate from `row` into `out` (null for count and for missing values). */
  readInputs(row: EngineRow, out: EngineValue[]): void {
    for (let a = 0; a < this.size; a++) {
      const column = this.columns[a];
      out[a] = column === undefined ? null : normalise(row[column] ?? null);
    }
  }

  newGroup(key: readonly EngineValue[]): GroupState {
    const values = new Array<number>(this.size).fill(0);
    const inputs = new Array<number>(this.size).fill(0);
    const distinct = this.kinds.map((k) => (k === DISTINCT ? new Set<EngineValue>() : undefined));
    return { key, rows: 0, values, inputs, distinct, touchedIn: -1 };
  }

  /** Adds one row, given as the inputs `readInputs` produced. */
  add(group: GroupState, inputs: readonly EngineValue[]): void {
    group.rows++;
    for (let a = 0; a < this.size; a++) {
      const value = inputs[a];
      if (value === null) continue;
      switch (this.kinds[a]) {
        case SUM:
        case AVG:
          group.values[a] += value as number;
          group.inputs[a]++;
          break;
        case MIN:
          if (group.inputs[a] === 0 || (value as number) < group.values[a]) group.values[a] = value as number;
          group.inputs[a]++;
          break;
        case MAX:
          if (group.inputs[a] === 0 || (value as number) > group.values[a]) group.values[a] = value as number;
          group.inputs[a]++;
          break;
        case DISTINCT:
          group.distinct[a]?.add(value);
          break;
        default:
          break;
      }
    }
  }

  /** Adds the rows of `from` to `into`, as when two sessions merge (`from` is left as it was). */
  merge(into: GroupState, from: GroupState): void {
    into.rows += from.rows;
    for (let a = 0; a < this.size; a++) {
      const n = from.inputs[a];
      switch (this.kinds[a]) {
        case SUM:
        case AVG:
          into.values[a] += from.values[a];
          into.inputs[a] += n;
          break;
        case MIN:
          if (n > 0 && (into.inputs[a] === 0 || from.values[a] < into.values[a])) into.values[a] = from.values[a];
          into.inputs[a] += n;
          break;
        case MAX:
          if (n > 0 && (into.inputs[a] === 0 || from.values[a] > into.values[a])) into.values[a] = from.values[a];
          into.inputs[a] += n;
          break;
        case DISTINCT:
          for (const value of from.distinct[a] ?? []) into.distinct[a]?.add(value);
          break;
        default:
          break;
      }
    }
  }

  /** The aggregate values of a group, by aggregate name. */
  results(group: GroupState): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (let a = 0; a < this.size; a++) {
      const n = group.inputs[a];
      switch (this.kinds[a]) {
        case COUNT:
          out[this.names[a]] = group.rows;
          break;
        case SUM:
        case MIN:
        case MAX:
          out[this.names[a]] = n === 0 ? null : group.values[a];
          break;
        case AVG:
          out[this.names[a]] = n === 0 ? null : group.values[a] / n;
          break;
        default:
          out[this.names[a]] = group.distinct[a]?.size ?? 0;
      }
    }
    return out;
  }

  snapshot(group: GroupState): AggregateSnapshot[] {
    const out: AggregateSnapshot[] = [];
    for (let a = 0; a < this.size; a++) {
      const n = group.inputs[a];
      switch (this.kinds[a]) {
        case COUNT:
          out.push(null);
          break;
        case SUM:
        case AVG:
          out.push([savedSum(group.values[a]), n]);
          break;
        case MIN:
        case MAX:
          out.push(n === 0 ? null : group.values[a]);
          break;
        default:
          out.push([...(group.distinct[a] ?? [])].sort(compareEngineValues));
      }
    }
    return out;
  }

  /** Loads `snapshot` into a new, empty `group`; `where` names it in errors. */
  restore(group: GroupState, rows: number, snapshot: readonly AggregateSnapshot[], where: string): void {
    const bad = (what: string) =>
      new InvalidStateError(`Saved aggregation state ${where}: ${what}. The snapshot is damaged or from another engine version; start from a fresh checkpoint.`);
    if (!Number.isSafeInteger(rows) || rows < 1) throw bad(`row count ${String(rows)} is not a positive whole number`);
    if (!Array.isArray(snapshot) || snapshot.length !== this.size)
      throw bad(`expected ${this.size} aggregate states, found ${Array.isArray(snapshot) ? snapshot.length : describeValue(snapshot)}`);
    group.rows = rows;
    for (let a = 0; a < this.size; a++) {
      const saved = snapshot[a];
      const label = `aggregate ${this.names[a]} (${this.fns[a]})`;
      switch (this.kinds[a]) {
        case COUNT:
          if (saved !== null) throw bad(`${label} should be null`);
          break;
        case SUM:
        case AVG: {
          const [savedValue, inputs] = Array.isArray(saved) && saved.length === 2 ? saved : [NaN, NaN];
          const sum = restoredSum(savedValue);
          if (sum === undefined || typeof inputs !== 'number' || !Number.isSafeInteger(inputs) || inputs < 0 || inputs > rows) {
            throw bad(`${label} should be [sum, inputs], found ${JSON.stringify(saved)}`);
          }
          group.values[a] = sum;
          group.inputs[a] = inputs;
          break;
        }
        case MIN:
        case MAX:
          if (saved === null) break;
          if (typeof saved !== 'number' || !Number.isFinite(saved)) throw bad(`${label} should be a number or null, found ${JSON.stringify(saved)}`);
          group.values[a] = saved;
          // Only presence matters for min and max: one input stands for all of them.
          group.inputs[a] = 1;
          break;
        default:
          if (!Array.isArray(saved) || !saved.every(isEngineValue)) throw bad(`${label} should be a list of distinct values, found ${JSON.stringify(saved)}`);
          group.distinct[a] = new Set(saved);
      }
    }
  }
}

function savedSum(sum: number): SavedSum {
  if (sum === Number.POSITIVE_INFINITY) return 'Infinity';
  if (sum === Number.NEGATIVE_INFINITY) return '-Infinity';
  return sum;
}

function restoredSum(saved: unknown): number | undefined {
  if (saved === 'Infinity') return Number.POSITIVE_INFINITY;
  if (saved === '-Infinity') return Number.NEGATIVE_INFINITY;
  return typeof saved === 'number' && Number.isFinite(saved) ? saved : undefined;
}

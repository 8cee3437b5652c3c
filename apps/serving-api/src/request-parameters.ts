/**
 * Request parameters, read one by one like configuration: every problem is collected and reported
 * in one 400 answer that names the parameter, what was expected and what was found. Unknown and
 * repeated parameters are problems too, so a misspelt `limt=5` is not silently ignored.
 */
import { BadRequestException } from '@nestjs/common';
import { MAX_EPOCH_MS } from '@pipeline/contracts';

export interface ParameterProblem {
  parameter: string;
  expected: string;
  found: string;
}

/** The body of a 400 answer. */
export interface BadRequestBody {
  statusCode: 400;
  error: 'Bad Request';
  message: string;
  problems: ParameterProblem[];
}

export class InvalidParametersException extends BadRequestException {
  constructor(readonly problems: ParameterProblem[]) {
    const body: BadRequestBody = {
      statusCode: 400,
      error: 'Bad Request',
      message:
        `${problems.length} problem${problems.length === 1 ? '' : 's'} with the request: ` +
        problems.map((p) => `${p.parameter}: expected ${p.expected}, found ${p.found}`).join('; '),
      problems,
    };
    super(body);
  }
}

/** Most items in one answer. */
export const MAX_PAGE = 1000;

export const TIME_EXPECTED = 'an ISO-8601 time (2026-01-01T00:00:00Z) or epoch milliseconds';

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const EPOCH_MS = /^-?\d{1,16}$/;

/** `2026-01-01T00:00:00Z`, `2026-01-01` (UTC midnight) or epoch ms → epoch ms; `undefined` otherwise. A time without an offset is UTC. */
export function parseTime(text: string): number | undefined {
  if (EPOCH_MS.test(text)) {
    const ms = Number(text);
    return Math.abs(ms) <= MAX_EPOCH_MS ? ms : undefined;
  }
  const m = ISO_TIME.exec(text);
  if (!m) return undefined;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = m as unknown as string[];
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  // Date.UTC rolls 2026-02-30 over to March: a date that does not read back is not a date.
  if (date.getUTCFullYear() !== Number(year) || date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return undefined;
  const millis = fraction === '' ? '' : `.${fraction.slice(1, 4).padEnd(3, '0')}`;
  const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${millis}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

function describe(value: unknown): string {
  return JSON.stringify(value);
}

/** Reads the parameters of one request; `done()` throws every problem found at once. */
export class RequestParameters {
  private readonly problems: ParameterProblem[] = [];
  private readonly read = new Set<string>();

  constructor(private readonly source: Readonly<Record<string, unknown>>) {}

  problem(parameter: string, expected: string, found: string): void {
    this.problems.push({ parameter, expected, found });
  }

  /** The raw text of a parameter, or `undefined` when absent or empty. */
  private raw(name: string): string | undefined {
    this.read.add(name);
    const value = this.source[name];
    if (value === undefined) return undefined;
    if (Array.isArray(value)) {
      this.problem(name, 'a single value', `${value.length} values ${describe(value)}`);
      return undefined;
    }
    const text = String(value);
    return text === '' ? undefined : text;
  }

  string(name: string, options: { required?: boolean; expected?: string } = {}): string | undefined {
    const value = this.raw(name);
    if (value === undefined && options.required) this.problem(name, options.expected ?? 'a value', 'nothing (it is required)');
    return value;
  }

  oneOf(name: string, values: readonly string[], options: { required?: boolean } = {}): string | undefined {
    const expected = values.length === 0 ? 'nothing (the spec defines none)' : `one of ${values.join(', ')}`;
    const value = this.string(name, { required: options.required, expected });
    if (value !== undefined && !values.includes(value)) {
      this.problem(name, expected, describe(value));
      return undefined;
    }
    return value;
  }

  time(name: string, options: { required?: boolean } = {}): number | undefined {
    const value = this.string(name, { required: options.required, expected: TIME_EXPECTED });
    if (value === undefined) return undefined;
    const ms = parseTime(value);
    if (ms === undefined) this.problem(name, TIME_EXPECTED, describe(value));
    return ms;
  }

  int(name: string, options: { default: number; min: number; max: number }): number {
    const value = this.raw(name);
    if (value === undefined) return options.default;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < options.min || n > options.max) {
      this.problem(name, `an integer from ${options.min} to ${options.max}`, describe(value));
      return options.default;
    }
    return n;
  }

  /** `from` must come before `to` when both are given. */
  range(from: number | undefined, to: number | undefined, names: { from: string; to: string } = { from: 'from', to: 'to' }): void {
    if (from !== undefined && to !== undefined && from >= to) {
      this.problem(names.to, `a time after ${names.from} (${new Date(from).toISOString()})`, `${describe(this.source[names.to])} (${new Date(to).toISOString()})`);
    }
  }

  /** Throws every problem, including parameters the endpoint does not take. */
  done(): void {
    const unknown = Object.keys(this.source).filter((name) => !this.read.has(name));
    for (const name of unknown) this.problem(name, `no such parameter (this endpoint takes ${[...this.read].join(', ') || 'none'})`, describe(this.source[name]));
    if (this.problems.length > 0) throw new InvalidParametersException([...this.problems]);
  }
}

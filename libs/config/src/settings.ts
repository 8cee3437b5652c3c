/**
 * Typed settings from environment variables and flags, validated at start-up: every bad or
 * missing value is collected and reported at once, naming the variable, what was expected and
 * what was found (values of secret settings are never echoed).
 */

export interface SettingProblem {
  name: string;
  expected: string;
  found: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly service: string,
    readonly problems: SettingProblem[],
  ) {
    super(
      `${service}: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  - ${p.name}: expected ${p.expected}, found ${p.found}`).join('\n'),
    );
  }
}

type Source = Record<string, string | undefined>;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `5s`, `1.5m`, `2h`, `1d` → milliseconds; `undefined` when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number));
}

/** Parses `64KiB`, `8MiB`, `1GiB`, `1000` (bytes) → bytes. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? 'B').toLowerCase();
  const factor: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };
  return Math.round(Number(m[1]) * (factor[unit] as number));
}

/**
 * Reads settings one by one; problems accumulate until `done()`, which throws them all at once.
 * Each accessor returns a usable fallback when the value is bad, so reading can go on.
 */
export class SettingsReader {
  private readonly problems: SettingProblem[] = [];
  constructor(
    private readonly service: string,
    private readonly source: Source,
  ) {}

  private raw(name: string): string | undefined {
    const v = this.source[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  problem(name: string, expected: string, found: string): void {
    // A setting several readers consult (PIPELINE_BACKEND) is reported once.
    if (this.problems.some((p) => p.name === name && p.expected === expected && p.found === found)) return;
    this.problems.push({ name, expected, found });
  }

  string(name: string, options: { default?: string; required?: boolean; secret?: boolean; pattern?: RegExp; describe?: string } = {}): string {
    const v = this.raw(name);
    if (v === undefined) {
      if (options.required && options.default === undefined) this.problem(name, options.describe ?? 'a value', 'nothing (it is required)');
      return options.default ?? '';
    }
    if (options.pattern && !options.pattern.test(v)) {
      this.problem(name, options.describe ?? `a value matching ${options.pattern}`, options.secret ? 'a malformed value' : JSON.stringify(v));
      return options.default ?? v;
    }
    return v;
  }

  optionalString(name: string): string | undefined {
    return this.raw(name);
  }

  int(name: string, options: { default: number; min?: number; max?: number }): number {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    const n = Number(v);
    const min = options.min ?? Number.MIN_SAFE_INTEGER;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^-?\d+$/.test(v) || n < min || n > max) {
      this.problem(name, `an integer from ${min} to ${max}`, JSON.stringify(v));
      return options.default;
    }
    return n;
  }

  number(name: string, options: { default: number; min?: number; exclusiveMin?: number }): number {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    const n = Number(v);
    const tooSmall = (options.min !== undefined && n < options.min) || (options.exclusiveMin !== undefined && n <= options.exclusiveMin);
    if (!Number.isFinite(n) || tooSmall) {
      const bound = options.exclusiveMin !== undefined ? `greater than ${options.exclusiveMin}` : `at least ${options.min}`;
      this.problem(name, `a number ${bound}`, JSON.stringify(v));
      return options.default;
    }
    return n;
  }

  bool(name: string, options: { default: boolean }): boolean {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.problem(name, 'true or false', JSON.stringify(v));
    return options.default;
  }

  oneOf<T extends string>(name: string, values: readonly T[], options: { default: T }): T {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    if ((values as readonly string[]).includes(v)) return v as T;
    this.problem(name, `one of ${values.join(', ')}`, JSON.stringify(v));
    return options.default;
  }

  duration(name: string, options: { default: number; minMs?: number }): number {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    const ms = parseDuration(v);
    if (ms === undefined || ms < (options.minMs ?? 0)) {
      this.problem(name, `a duration like 500ms, 5s, 2m${options.minMs ? ` of at least ${options.minMs} ms` : ''}`, JSON.stringify(v));
      return options.default;
    }
    return ms;
  }

  byteSize(name: string, options: { default: number; min?: number; max?: number }): number {
    const v = this.raw(name);
    if (v === undefined) return options.default;
    const bytes = parseByteSize(v);
    const min = options.min ?? 1;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    if (bytes === undefined || bytes < min || bytes > max) {
      this.problem(name, `a size like 512KiB or 8MiB, from ${min} to ${max} bytes`, JSON.stringify(v));
      return options.default;
    }
    return bytes;
  }

  /** Throws every problem found so far as one `ConfigError`. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.service, [...this.problems]);
  }
}

/**
 * Structured logs on stderr (stdout is for a command's results): JSON lines (pino) carrying the
 * active trace and span ids, with secrets redacted.
 * `LOG_FORMAT=pretty` prints one short human line per record instead (the default on a terminal).
 */
import { trace } from '@opentelemetry/api';
import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values never reach a log line, wherever they appear (two levels deep). */
const SECRET_KEYS = ['connectionString', 'accountKey', 'sharedAccessKey', 'password', 'secret', 'token', 'authorization', 'sas'];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  service: string;
  level?: string;
  format?: 'json' | 'pretty';
  destination?: DestinationStream;
}

/** The levels `LOG_LEVEL` takes, least to most severe; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** `LOG_LEVEL` names no level: a setting to fix (exit code 2). */
export class LogLevelError extends Error {
  override readonly name = 'LogLevelError';
  readonly exitCode = 2;
}

/** The level `LOG_LEVEL` sets (any case; unset or empty: `info`); throws `LogLevelError` naming the setting and its values. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): string {
  const setting = env['LOG_LEVEL']?.trim() ?? '';
  if (setting === '') return 'info';
  const level = setting.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level;
  throw new LogLevelError(`LOG_LEVEL is ${JSON.stringify(setting)}: expected one of ${LOG_LEVELS.join(', ')}, or unset for info.`);
}

export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? defaultLogFormat();
  const level = options.level ?? logLevel();
  const destination = options.destination ?? (format === 'pretty' ? prettyStream(process.stderr) : pino.destination({ fd: 2, sync: true }));
  return pino(
    {
      level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const ctx = trace.getActiveSpan()?.spanContext();
        return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
      },
    },
    destination,
  );
}

export function defaultLogFormat(env: NodeJS.ProcessEnv = process.env): 'json' | 'pretty' {
  const configured = env['LOG_FORMAT'];
  if (configured === 'json' || configured === 'pretty') return configured;
  return process.stderr.isTTY ? 'pretty' : 'json';
}

const LEVEL_NAMES: Record<string, string> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO ', warn: 'WARN ', error: 'ERROR', fatal: 'FATAL' };

/** A line per record: `12:00:01 INFO  capture  message  key=value …`. */
export function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const { time, level, service, msg, trace_id: _t, span_id: _s, ...rest } = record;
      const clock = typeof time === 'string' ? time.slice(11, 19) : '';
      const extras = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      out.write(`${clock} ${LEVEL_NAMES[String(level)] ?? String(level)} ${String(service ?? '')}  ${String(msg ?? '')}${extras ? `  ${extras}` : ''}\n`);
    },
  };
}

/** NestJS's logger interface over pino, so framework messages share the format and trace ids. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, ...rest: unknown[]): void {
    // Nest's own "log" messages are start-up chatter; the services log what matters themselves.
    this.logger.debug(this.fields(rest), String(message));
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.logger.error(this.fields(rest), String(message));
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.logger.warn(this.fields(rest), String(message));
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.logger.debug(this.fields(rest), String(message));
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.logger.trace(this.fields(rest), String(message));
  }
  private fields(rest: unknown[]): Record<string, unknown> {
    const contextName = rest.length > 0 ? rest[rest.length - 1] : undefined;
    return typeof contextName === 'string' ? { context: contextName } : {};
  }
}

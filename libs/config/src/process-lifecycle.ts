/**
 * What every service entry point does the same way: parse its flags, turn SIGINT/SIGTERM into an
 * abort signal (the service then finishes its current step, flushes and exits), and run `main`
 * with its return value as the exit code.
 */
import type { FactoryProvider, InjectionToken } from '@nestjs/common';
import type { Command } from 'commander';
import { SpecValidationError, type PipelineSpec } from '@pipeline/contracts';
import { ConfigError } from './settings';
import { loadSpecFile, SpecFileError } from './spec-file';

/** Parses `argv` with a command; `--help` gives exit code 0, a usage error 2 (commander prints both). */
export function parseFlags<T>(command: Command, argv: string[]): { flags: T } | { exitCode: number } {
  try {
    command.exitOverride().parse(argv, { from: 'user' });
    return { flags: command.opts<T & Record<string, unknown>>() };
  } catch (error) {
    return { exitCode: (error as { exitCode?: number }).exitCode === 0 ? 0 : 2 };
  }
}

export interface ShutdownSignal {
  readonly signal: AbortSignal;
  /** Stops the service as a signal would, for a failure found in the background; it then exits non-zero. */
  fail(error: Error): void;
  /** The failure passed to `fail`, if any. */
  readonly failure: Error | undefined;
  dispose(): void;
}

/**
 * An abort signal raised by the first SIGINT or SIGTERM; `onSignal` says what happens next. Once a
 * signal came, later ones are ignored until the process exits: a terminal's Ctrl-C reaches every
 * process of the group while `pipeline start` passes a SIGTERM on too, and the second must not cut
 * the first one's clean shutdown short.
 */
export function shutdownSignal(onSignal: (signal: NodeJS.Signals) => void): ShutdownSignal {
  const controller = new AbortController();
  let failure: Error | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    onSignal(signal);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get failure() {
      return failure;
    },
    fail(error: Error) {
      failure ??= error;
      controller.abort(error);
    },
    dispose() {
      if (controller.signal.aborted) return;
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Runs an entry point when its module is the process's main module. */
export function runMain(entry: NodeModule, main: (argv: string[]) => Promise<number>): void {
  if (require.main !== entry) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Reads settings and, when they name one, the pipeline spec; a mistake the user must fix (a bad setting, a missing or invalid spec) is printed and becomes exit code 2. */
export async function loadStartupInputs<C>(readConfig: () => C): Promise<{ config: C } | { exitCode: number }>;
export async function loadStartupInputs<C extends { specFile: string }>(
  readConfig: () => C,
  options: { spec: true },
): Promise<{ config: C; spec: PipelineSpec } | { exitCode: number }>;
export async function loadStartupInputs<C>(readConfig: () => C, options: { spec?: boolean } = {}): Promise<{ config: C; spec?: PipelineSpec } | { exitCode: number }> {
  try {
    const config = readConfig();
    if (!options.spec) return { config };
    return { config, spec: await loadSpecFile((config as C & { specFile: string }).specFile) };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SpecValidationError || error instanceof SpecFileError) {
      process.stderr.write(`${error.message}\n`);
      return { exitCode: 2 };
    }
    throw error;
  }
}

/** Waits `ms`, or less when `signal` aborts first; a service's pause between polls. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Resolves once `signal` is aborted, at once when it already is (a signal during start-up is not missed). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Anything a service opens and must close: a lake, a bus, a hub, a store. */
interface Closable {
  close?(): unknown;
}

/**
 * A NestJS provider that closes the given backends, in the order given, when the application shuts
 * down: Nest calls `onApplicationShutdown` after every module was destroyed, so the services have
 * finished their batch and flushed by then.
 */
export function closeOnShutdown(...backends: InjectionToken[]): FactoryProvider {
  return {
    provide: Symbol('CloseOnShutdown'),
    inject: backends,
    useFactory: (...opened: Closable[]) => ({
      async onApplicationShutdown(): Promise<void> {
        for (const backend of opened) await backend.close?.();
      },
    }),
  };
}

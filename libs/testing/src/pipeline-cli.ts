/**
 * The `pipeline` command as a user runs it, for end-to-end tests: the compiled tool in dist/ (built
 * by `npm test` before Jest runs), one process per call.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
export const PIPELINE_BIN = path.join(root, 'bin', 'pipeline.js');

/** Runs `pipeline <args>` to its end, JSON logs at warn and above on stderr. */
export function runPipeline(args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [PIPELINE_BIN, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * Sends a CSV and drains it through capture, bronze, silver and gold, each stage once and to its end,
 * so each takes what is there in as few batches as its limits allow. Throws with the stage's output
 * when one fails.
 */
export function drainThroughEveryStage(home: string, spec: string, csv: string, extra: { gold?: string[] } = {}): void {
  for (const args of [
    ['produce', '--spec', spec, '--csv', csv, '--no-progress'],
    ['capture', '--drain'],
    ['bronze', '--drain'],
    ['silver', '--spec', spec, '--drain'],
    ['gold', '--spec', spec, '--drain', ...(extra.gold ?? [])],
  ]) {
    const stage = runPipeline([...args, '--home', home]);
    if (stage.status !== 0) throw new Error(`pipeline ${args[0] as string} exited ${String(stage.status ?? stage.signal)}:\n${stage.stderr}\n${stage.stdout}`);
  }
}

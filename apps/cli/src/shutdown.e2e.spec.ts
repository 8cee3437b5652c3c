/**
 * Every long-running service stops on SIGTERM whenever it comes: at many points of its start-up,
 * each service, as its own process, exits by itself within a bound, with code 0 — or, for a signal
 * that comes before Node.js has run any of its code, by the signal's default action (nothing was
 * opened yet).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import { makeTempDir, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
/** How long a service may take to stop once signalled. */
const STOP_BOUND_MS = 15_000;
/**
 * When the signal is sent: at launch, or as the service writes its n-th log line — each line is a
 * step of its start-up (modules, backends, transport, sessions), so the signal lands in every phase
 * on any machine, however fast.
 */
const SIGNAL_AT: Array<{ line: number } | { afterMs: number }> = [{ afterMs: 0 }, { line: 1 }, { line: 2 }, { line: 3 }, { line: 4 }, { line: 5 }, { line: 6 }, { line: 8 }];
/** A service that has written fewer lines by then gets the signal anyway. */
const QUIET_MS = 3_000;

const SERVICES: Array<[string, (home: string, port: number) => string[]]> = [
  ['capture', (home) => ['capture', '--home', home]],
  ['bronze', (home) => ['bronze', '--home', home]],
  ['silver', (home) => ['silver', '--home', home, '--spec', spec]],
  ['gold', (home) => ['gold', '--home', home, '--spec', spec, '--wake', '200ms']],
  ['serving-api', (home, port) => ['serving-api', '--home', home, '--spec', spec, '--port', String(port)]],
];

async function stopsAt(
  args: string[],
  at: { line: number } | { afterMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stoppedInMs: number; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'debug', LOG_FORMAT: 'json' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 'afterMs' in at ? at.afterMs : QUIET_MS);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if ('line' in at && stderr.split('\n').length > at.line) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const signalled = Date.now();
  child.kill('SIGTERM');
  const bound = setTimeout(() => child.kill('SIGKILL'), STOP_BOUND_MS);
  const [code, signal] = await exited;
  clearTimeout(bound);
  return { code, signal, stoppedInMs: Date.now() - signalled, stderr };
}

describe('services stopped during start-up', () => {
  let dir: TempDir;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-shutdown-');
  });
  afterEach(() => dir.dispose());

  it.each(SERVICES)(
    '%s exits by itself with code 0 on a SIGTERM at any point of its start-up',
    async (_name, args) => {
      for (const [i, at] of SIGNAL_AT.entries()) {
        const result = await stopsAt(args(dir.path, 18_600 + i), at);
        const clean = result.code === 0 || (result.code === null && result.signal === 'SIGTERM' && !result.stderr.includes('"level"'));
        expect({ at, clean, inTime: result.stoppedInMs < STOP_BOUND_MS, ...(clean ? {} : { code: result.code, stderr: result.stderr.slice(-2000) }) }).toEqual({
          at,
          clean: true,
          inTime: true,
        });
      }
    },
    200_000,
  );
});

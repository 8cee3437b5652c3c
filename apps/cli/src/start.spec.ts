import type { ChildProcess } from 'node:child_process';
import { PRODUCER_SEMI_SPACE_MIB, SERVICE_HEAP_MIB, serviceV8Flags, superviseService, INITIAL_OLD_SPACE_MIB } from './start';

describe('serviceV8Flags', () => {
  it('caps every service’s heap, gives the producer alone a larger young generation and silver and gold a larger initial old space', () => {
    expect(serviceV8Flags('producer', {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`, `--max-semi-space-size=${PRODUCER_SEMI_SPACE_MIB}`]);
    for (const service of ['silver', 'gold']) {
      expect(serviceV8Flags(service, {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`, `--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`]);
    }
    for (const service of ['capture', 'bronze', 'serving-api']) {
      expect(serviceV8Flags(service, {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`]);
    }
  });

  it('gives silver and gold their initial old space even when NODE_OPTIONS sets the heap (Node refuses that flag there)', () => {
    expect(serviceV8Flags('silver', { NODE_OPTIONS: '--max-old-space-size=1024' })).toEqual([`--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`]);
    expect(INITIAL_OLD_SPACE_MIB).toBeLessThan(SERVICE_HEAP_MIB);
  });

  it('leaves to NODE_OPTIONS each flag it sets', () => {
    expect(serviceV8Flags('producer', { NODE_OPTIONS: '--max-old-space-size=1024' })).toEqual([`--max-semi-space-size=${PRODUCER_SEMI_SPACE_MIB}`]);
    expect(serviceV8Flags('producer', { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8' })).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`]);
    expect(serviceV8Flags('bronze', { NODE_OPTIONS: '--max-old-space-size=1024 --max-semi-space-size=8' })).toEqual([]);
  });
});

describe('superviseService', () => {
  /** A stand-in for a service process: its `exited` settles when the test ends it. */
  interface FakeRun {
    child: { name: string; process: ChildProcess; exited: Promise<number> };
    end: (code: number) => void;
  }
  let runs: FakeRun[];
  let clock: number;
  let stopping: boolean;
  let said: string[];
  const spawnOnce = () => {
    let end: (code: number) => void = () => undefined;
    const exited = new Promise<number>((resolve) => (end = resolve));
    const run: FakeRun = { child: { name: 'silver', process: { pid: runs.length + 1 } as unknown as ChildProcess, exited }, end };
    runs.push(run);
    return run.child;
  };
  const supervise = (limit: number, finishes = false) => superviseService(spawnOnce, 'silver', limit, () => stopping, { finishes, now: () => clock });
  /** Ends the current run with `code` and lets the supervisor see it. */
  const fail = async (code: number) => {
    (runs[runs.length - 1] as FakeRun).end(code);
    await Promise.resolve();
    await Promise.resolve();
  };
  const settled = async (promise: Promise<number>) => Promise.race([promise, new Promise((resolve) => setImmediate(() => resolve('pending')))]);

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    runs = [];
    clock = 0;
    stopping = false;
    said = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((text) => (said.push(String(text)), true));
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('starts a failed service again after 1, 2 and 4 s, then gives up on the next failure within a minute, with its exit code', async () => {
    const service = supervise(3);
    for (const [restart, delay] of [
      [1, 1_000],
      [2, 2_000],
      [3, 4_000],
    ] as const) {
      await fail(137);
      expect(said.at(-1)).toBe(
        `[pipeline] silver failed (exit 137); starting it again in ${delay / 1000} s (restart ${restart} of 3 within a minute). It resumes from its checkpoints.\n`,
      );
      jest.advanceTimersByTime(delay - 1);
      expect(runs).toHaveLength(restart);
      jest.advanceTimersByTime(1);
      expect(runs).toHaveLength(restart + 1);
      // The child names the process running now, which a stop signals.
      expect(service.process).toBe(runs[restart]?.child.process);
      expect(await settled(service.exited)).toBe('pending');
    }
    clock += 59_000;
    await fail(1);
    expect(await settled(service.exited)).toBe(1);
    expect(said.at(-1)).toBe('[pipeline] silver ended 4 times within a minute, the last time failed (exit 1); it is not started again (--restarts 3).\n');
    jest.runAllTimers();
    expect(runs).toHaveLength(4);
  });

  it('counts only the restarts of the last minute', async () => {
    const service = supervise(1);
    await fail(137);
    jest.advanceTimersByTime(1_000);
    clock += 60_000;
    await fail(137);
    jest.advanceTimersByTime(1_000);
    expect(runs).toHaveLength(3);
    expect(await settled(service.exited)).toBe('pending');
    clock += 59_999;
    await fail(137);
    expect(await settled(service.exited)).toBe(137);
  });

  it('does not start again a service that finishes and exits cleanly, refuses its settings (2), is being stopped, or may not restart', async () => {
    for (const [code, limit, stop, finishes] of [
      [0, 3, false, true],
      [0, 3, true, false],
      [2, 3, false, false],
      [143, 3, true, false],
      [137, 0, false, false],
    ] as const) {
      runs = [];
      stopping = stop;
      const service = supervise(limit, finishes);
      await fail(code);
      expect(await settled(service.exited)).toBe(code);
      jest.runAllTimers();
      expect(runs).toHaveLength(1);
    }
  });

  it('starts again a service that runs until stopped and exits cleanly while the pipeline runs (stopped from outside), within the same limit', async () => {
    const service = supervise(1);
    await fail(0);
    expect(said.at(-1)).toBe(
      '[pipeline] silver stopped though the pipeline runs (exit 0: stopped from outside?); starting it again in 1 s (restart 1 of 1 within a minute). It resumes from its checkpoints.\n',
    );
    jest.advanceTimersByTime(1_000);
    expect(runs).toHaveLength(2);
    expect(await settled(service.exited)).toBe('pending');
    await fail(0);
    expect(await settled(service.exited)).toBe(0);
    expect(said.at(-1)).toBe(
      '[pipeline] silver ended 2 times within a minute, the last time stopped though the pipeline runs (exit 0: stopped from outside?); it is not started again (--restarts 1).\n',
    );
  });

  it('does not start it again when a stop comes during the wait, and counts it as stopped', async () => {
    const service = supervise(3);
    await fail(137);
    stopping = true;
    jest.advanceTimersByTime(1_000);
    expect(runs).toHaveLength(1);
    expect(await settled(service.exited)).toBe(0);
    expect(said.at(-1)).toBe('[pipeline] silver is not started again: the pipeline is stopping.\n');
  });
});

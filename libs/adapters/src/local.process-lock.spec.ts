import { spawn } from 'node:child_process';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { ProcessLockHeldError, takeProcessLock } from './local.process-lock';

describe('takeProcessLock', () => {
  let dir: TempDir;
  let file: string;
  beforeEach(async () => {
    dir = await makeTempDir('process-lock-');
    file = path.join(dir.path, 'folder', 'work.lock');
  });
  afterEach(() => dir.dispose());

  it('is held by one taker at a time, names the holder and the way out, and is free again once released', async () => {
    const lock = await takeProcessLock(file, 'The work');
    const holder = JSON.parse(await readFile(file, 'utf8')) as { pid: number; host: string };
    expect(holder).toMatchObject({ pid: process.pid, host: os.hostname() });
    const refused = await takeProcessLock(file, 'The work').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProcessLockHeldError);
    expect((refused as ProcessLockHeldError).exitCode).toBe(2);
    expect((refused as Error).message).toBe(
      `The work already runs: process ${process.pid} on ${os.hostname()}, since ${(refused as ProcessLockHeldError).holder.since}, holds ${file}. Wait for it to end or stop it; if no such process runs, delete ${file}.`,
    );
    await lock.release();
    const again = await takeProcessLock(file, 'The work');
    await again.release();
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes over at once the lock of a process of this host that no longer runs', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid as number;
    await new Promise((resolve) => child.on('exit', resolve));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ pid, host: os.hostname(), since: 'then', token: 'gone' }));
    const lock = await takeProcessLock(file, 'The work');
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('holds for a process of another host while the file is touched, and takes it over once it is stale', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ pid: 1, host: `not-${os.hostname()}`, since: 'then', token: 'elsewhere' }));
    await expect(takeProcessLock(file, 'The work', { staleMs: 60_000 })).rejects.toBeInstanceOf(ProcessLockHeldError);
    const longAgo = new Date(Date.now() - 120_000);
    await utimes(file, longAgo, longAgo);
    const lock = await takeProcessLock(file, 'The work', { staleMs: 60_000 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ pid: process.pid, host: os.hostname() });
    await lock.release();
  });

  it('takes over a lock file a killed holder left unreadable, and leaves alone one another holder took meanwhile', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, '{"pid": 12');
    const written = new Date(Date.now() - 5_000);
    await utimes(file, written, written);
    const lock = await takeProcessLock(file, 'The work');
    // Released by an old holder whose lock was taken over: the file is the new holder's and stays.
    const other = await takeProcessLock(path.join(dir.path, 'other.lock'), 'Other work');
    await writeFile(path.join(dir.path, 'other.lock'), await readFile(file));
    await other.release();
    await expect(readFile(path.join(dir.path, 'other.lock'), 'utf8')).resolves.toBe(await readFile(file, 'utf8'));
    await lock.release();
  });
});

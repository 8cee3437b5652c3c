/**
 * `pipeline produce` on CSV files a user gets wrong, and on a file still being written, as a user
 * runs it: the compiled tool in dist/ (built by `npm test` before Jest runs), a real pipeline home
 * and embedded hub in a temporary folder. A mistake in the input is one line on stderr naming the
 * input and the fix, exit code 2; an internal failure stays exit code 1 with the logged error.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LocalEventHub, takeProcessLock } from '@pipeline/adapters';
import { localPaths } from '@pipeline/config';
import { systemClock } from '@pipeline/engine';
import type { ReceivedEvent } from '@pipeline/ports';
import { makeTempDir, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const HEADER = 'reading_id,device_id,site,ts,temperature,humidity,status\n';
const line = (n: number) => `r${n},dev-00${n % 3},Oslo,2026-01-01T00:00:${String(n).padStart(2, '0')}Z,21.5,40,ok`;

describe('pipeline produce on inputs a user gets wrong', () => {
  let dir: TempDir;
  let home: string;
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist', 'apps', 'cli', 'src', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests.');
  });
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-produce-');
    home = path.join(dir.path, 'home');
  });
  afterEach(async () => {
    await dir.dispose();
  });

  const args = (csv: string) => ['produce', '--home', home, '--spec', spec, '--csv', csv, '--no-progress'];
  const env = { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' };
  const produce = (csv: string) => spawnSync(process.execPath, [bin, ...args(csv)], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });

  /** Runs the producer and returns its single stderr line, after checking the exit code and that nothing else was printed. */
  function refused(csv: string): string {
    const result = produce(csv);
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 2, stdout: '' });
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const only = lines[0] as string;
    expect(only).not.toMatch(/^\{|\bat .+:\d+:\d+/);
    expect(only.startsWith(`--csv ${csv}`)).toBe(true);
    return only;
  }

  async function hubEvents(): Promise<ReceivedEvent[]> {
    const hub = LocalEventHub.open({ file: localPaths(home).eventHubFile, hubName: 'events', partitionCount: 4, clock: systemClock });
    try {
      const events: ReceivedEvent[] = [];
      for (const id of await hub.getPartitionIds()) events.push(...(await hub.receive(id, -1, { maxCount: 10_000, maxWaitMs: 0 })));
      return events.sort((a, b) => Number(a.properties['row']) - Number(b.properties['row']) || a.enqueuedTime - b.enqueuedTime);
    } finally {
      await hub.close();
    }
  }

  it('refuses in one line, sending nothing, while another producer sends the same CSV file to the same hub, and runs once it has ended', async () => {
    const csv = path.join(dir.path, 'readings.csv');
    await writeFile(csv, `${HEADER}${line(1)}\n${line(2)}\n`);
    // The lock a running producer holds, beside its position record.
    const id = createHash('sha256')
      .update(`events\n${path.resolve(csv)}`)
      .digest('hex')
      .slice(0, 24);
    const lockFile = path.join(localPaths(home).home, 'producer', `${id}.lock`);
    const other = await takeProcessLock(lockFile, 'Another producer');
    try {
      const result = produce(csv);
      expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 2, stdout: '' });
      expect(result.stderr.trim()).toMatch(
        new RegExp(
          `^A producer of ${escape(csv)} to event hub "events" already runs: process ${process.pid} on .+, holds ${escape(lockFile)}\\. Wait for it to end or stop it; if no such process runs, delete ${escape(lockFile)}\\.$`,
        ),
      );
      expect(existsSync(localPaths(home).eventHubFile) ? await hubEvents() : []).toEqual([]);
    } finally {
      await other.release();
    }
    expect(produce(csv).status).toBe(0);
    expect((await hubEvents()).map((e) => e.properties['row'])).toEqual([1, 2]);
    expect(existsSync(lockFile)).toBe(false);
  });

  it('says in one line that the CSV file does not exist', () => {
    expect(refused(path.join(dir.path, 'missing.csv'))).toMatch(/ does not exist; check the path\.$/);
    expect(existsSync(localPaths(home).eventHubFile)).toBe(false);
  });

  it('says in one line that the CSV given is a folder', async () => {
    const folder = path.join(dir.path, 'exports.csv');
    await mkdir(folder);
    expect(refused(folder)).toMatch(/ is a folder, not a file; name the CSV file inside it\.$/);
  });

  it('says in one line that a UTF-16 file, with or without a byte order mark, must be saved as UTF-8', async () => {
    const text = `${HEADER}${line(1)}\n${line(2)}\n`;
    const le = Buffer.from(text, 'utf16le');
    const files = {
      'le-bom.csv': Buffer.concat([Buffer.from([0xff, 0xfe]), le]),
      'be-bom.csv': Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(le).swap16()]),
      'le.csv': le,
      'be.csv': Buffer.from(le).swap16(),
    };
    for (const [name, bytes] of Object.entries(files)) {
      const csv = path.join(dir.path, name);
      await writeFile(csv, bytes);
      expect(refused(csv)).toMatch(/UTF-16.*; save it as UTF-8/);
    }
    expect(await hubEvents()).toEqual([]);
  });

  it('says in one line that a header repeats a column name', async () => {
    const csv = path.join(dir.path, 'dup.csv');
    await writeFile(csv, `reading_id,device_id,site,ts,temperature,humidity,status,site\n${line(1)},x\n`);
    expect(refused(csv)).toMatch(/: CSV header on line 1 repeats the name "site" in columns 3 and 8; give each column a unique name$/);
  });

  it('says in one line that a header lacks a column of the spec', async () => {
    const csv = path.join(dir.path, 'renamed.csv');
    await writeFile(csv, `${HEADER.replace('device_id', 'device')}${line(1)}\n`);
    expect(refused(csv)).toMatch(/: the header lacks column "device_id" declared in the spec's source.columns\..*Rename the CSV columns or fix the spec\.$/);
  });

  it('keeps exit code 1 and the logged error for an internal failure', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, `${HEADER}${line(1)}\n`);
    // The producer's own position record, corrupted: not the user's input.
    const id = createHash('sha256').update(`events\n${csv}`).digest('hex').slice(0, 24);
    await mkdir(path.join(home, 'producer'), { recursive: true });
    await writeFile(path.join(home, 'producer', `${id}.json`), '{"nextRow": ');
    const result = produce(csv);
    expect(result.status).toBe(1);
    const logged = result.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; msg: string; err?: { stack?: string } });
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 'error', msg: expect.stringMatching(/^produce failed: /), err: expect.objectContaining({ stack: expect.any(String) }) }),
    );
  });

  it('holds back a last line still being written, and sends it whole with the next run', async () => {
    const csv = path.join(dir.path, 'growing.csv');
    await writeFile(csv, `${HEADER}${line(1)}\n${line(2)}\nr3,dev-000,Oslo,2026-01-01T00:00:03Z,21.5,40,`);
    // A writer that keeps adding to the last line (its status), a character at a time, for as long as the producer runs.
    const child = spawn(process.execPath, [bin, ...args(csv)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let running = true;
    void exited.then(() => (running = false));
    const writing = (async () => {
      while (running) {
        await appendFile(csv, 'k');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    expect(await exited).toBe(0);
    await writing;
    expect(stdout).toContain('Rows 1–2.');
    expect(stdout).toContain('Row 3 not sent: it is the last line, has no line break yet and the file is still being written; run again to send it.');
    // The writer finishes the line; row 3 goes out whole.
    await appendFile(csv, `\n${line(4)}\n`);
    const second = produce(csv);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('Rows 3–4.');
    expect((await hubEvents()).map((e) => [e.properties['row'], e.properties['malformed'] ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
      [4, 'ok'],
    ]);
  });

  it('sends a last line without a line break once the file is still, and sends the row again if its line goes on', async () => {
    const csv = path.join(dir.path, 'paused.csv');
    await writeFile(csv, `${HEADER}${line(1)}\nr2,dev-000,Oslo,2026-01-01T00:0`);
    const first = produce(csv);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('Rows 1–2.');
    expect(first.stdout).toContain('csv_column_count 1');
    // The writer had only paused: it completes row 2 and adds row 3.
    await appendFile(csv, `0:02Z,21.5,40,ok\n${line(3)}\n`);
    const second = produce(csv);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('Rows 2–3.');
    expect(second.stderr).toMatch(/row 2 was sent before its line was complete/);
    expect((await hubEvents()).map((e) => [e.properties['row'], e.properties['malformed'] ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, 'csv_column_count'],
      [2, 'ok'],
      [3, 'ok'],
    ]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { simulate } from './simulate';

/** examples/simulate/sessions.spec.yaml: sessions per user with a 5-minute gap, a 5-minute watermark delay (the README's worked example). */
const examples = path.resolve(__dirname, '..', '..', '..', 'examples', 'simulate');

async function run(mode: 'append' | 'update', input = path.join(examples, 'sessions.jsonl')) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await simulate({ specFile: path.join(examples, 'sessions.spec.yaml'), inputFile: input, mode }, out, err);
  return {
    code,
    stderr,
    lines: stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const session = (user: string, start: string, end: string, duration: string, clicks: number) => ({
  window_start: `2026-01-01T${start}:00.000Z`,
  window_end: `2026-01-01T${end}:00.000Z`,
  duration,
  user_id: user,
  clicks,
  pages: clicks,
});

describe('simulate with session windows', () => {
  it('emits each user’s sessions once closed, with their duration; a row whose own session has closed is late', async () => {
    const { code, lines, stderr } = await run('append');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(lines.map((l) => l['emitted'])).toEqual([
      [],
      [],
      // u1's 10:07 bridged [10:00, 10:08) and [10:10, 10:15) into one session of 4 clicks.
      [session('u1', '10:00', '10:15', '15m', 4), session('u2', '10:01', '10:09', '8m', 2)],
      [session('u2', '10:20', '10:25', '5m', 1)],
    ]);
    expect(lines[3]).toMatchObject({
      watermark: '2026-01-01T10:25:00.000Z',
      late: [{ event_time: '2026-01-01T10:02:00Z', user_id: 'u2', page: 'help' }],
      rowsDroppedByWatermark: 1,
    });
    expect(lines[0]).not.toHaveProperty('superseded');
  });

  it('in update mode, lists the sessions a merge superseded', async () => {
    const { lines } = await run('update');
    expect(lines.map((l) => l['superseded'])).toEqual([[], [], [{ window_start: '2026-01-01T10:10:00.000Z', user_id: 'u1' }], []]);
    expect(lines[1]['emitted']).toEqual([session('u2', '10:01', '10:09', '8m', 2), session('u1', '10:10', '10:15', '5m', 1)]);
    expect(lines[2]['emitted']).toEqual([session('u1', '10:00', '10:15', '15m', 4), session('u2', '10:20', '10:25', '5m', 1)]);
  });
});

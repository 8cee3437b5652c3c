import { aggregationConfigOf } from './aggregation';
import { parseSpec } from './spec';
import { SpecValidationError, type SpecProblem } from './spec.types';

const SPEC = `version: 1
name: visits
source:
  name: clicks
  columns:
    - { name: click_id, type: string }
    - { name: user_id, type: string }
    - { name: ts, type: timestamp }
    - { name: timeout_ms, type: long }
    - { name: page, type: string }
eventTime: { column: ts }
eventId: { column: click_id }
partitionKey: user_id
groupBy: [user_id]
windows:
  - { name: per_hour, type: tumbling, size: 1h }
  - { name: visits, type: session, gap: 5m }
aggregates:
  - { name: clicks, fn: count }
watermark: { delay: 1m }
`;

function edit(from: string, to: string): string {
  if (!SPEC.includes(from)) throw new Error(`test setup: ${JSON.stringify(from)} is not in the spec`);
  return SPEC.replace(from, to);
}

function problemsOf(text: string): SpecProblem[] {
  try {
    parseSpec(text, 'visits.yaml');
  } catch (error) {
    if (error instanceof SpecValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected the spec to be rejected');
}

describe('parseSpec on session windows', () => {
  it('reads a session window with a fixed gap beside a tumbling one, and hands both to the engine', () => {
    const spec = parseSpec(SPEC, 'visits.yaml');
    expect(spec.windows).toEqual([
      { name: 'per_hour', kind: 'tumbling', sizeMs: 3_600_000 },
      { name: 'visits', kind: 'session', gapMs: 300_000 },
    ]);
    const config = aggregationConfigOf(spec);
    expect(config.windows).toEqual([{ name: 'per_hour', sizeMs: 3_600_000, slideMs: 3_600_000 }]);
    expect(config.sessions).toEqual([{ name: 'visits', gapMs: 300_000 }]);
  });

  it('reads a per-row gap from a numeric column', () => {
    const spec = parseSpec(edit('type: session, gap: 5m', 'type: session, gapColumn: timeout_ms'), 'visits.yaml');
    expect(spec.windows[1]).toEqual({ name: 'visits', kind: 'session', gapColumn: 'timeout_ms' });
    expect(aggregationConfigOf(spec).sessions).toEqual([{ name: 'visits', gapColumn: 'timeout_ms' }]);
  });

  it('leaves the engine configuration of specs without sessions as it was (no sessions key)', () => {
    const spec = parseSpec(edit('  - { name: visits, type: session, gap: 5m }\n', ''), 'visits.yaml');
    expect('sessions' in aggregationConfigOf(spec)).toBe(false);
  });

  it('says where the gap is missing, malformed or given twice', () => {
    expect(problemsOf(edit('type: session, gap: 5m', 'type: session'))).toEqual([expect.objectContaining({ path: 'windows[1].gap', line: 17, found: 'missing' })]);
    expect(problemsOf(edit('gap: 5m', 'gap: 0s'))).toEqual([expect.objectContaining({ path: 'windows[1].gap', expected: 'a duration greater than 0, like "1m"', found: '"0s"' })]);
    expect(problemsOf(edit('gap: 5m', 'gap: 5m, gapColumn: timeout_ms'))).toEqual([
      expect.objectContaining({ path: 'windows[1].gapColumn', expected: 'either gap or gapColumn, not both' }),
    ]);
    expect(problemsOf(edit('gap: 5m', 'size: 5m'))).toEqual([
      expect.objectContaining({ path: 'windows[1].gap', found: 'missing' }),
      expect.objectContaining({ path: 'windows[1].size', found: 'the unknown key "size"' }),
    ]);
  });

  it('checks the gap column against the declared columns: present, a long (whole milliseconds)', () => {
    const unknown = problemsOf(edit('gap: 5m', 'gapColumn: timeout'));
    expect(unknown).toEqual([expect.objectContaining({ path: 'windows[1].gapColumn', line: 17, column: 47, found: '"timeout"' })]);
    expect(unknown[0].expected).toContain('did you mean "timeout_ms"?');
    expect(problemsOf(edit('gap: 5m', 'gapColumn: page'))).toEqual([
      expect.objectContaining({
        path: 'windows[1].gapColumn',
        expected: "a long column holding each row's session gap in milliseconds",
        found: '"page", a string column',
      }),
    ]);
  });

  it('keeps window names unique across fixed and session windows', () => {
    expect(problemsOf(edit('name: visits, type: session', 'name: per_hour, type: session'))).toEqual([
      expect.objectContaining({ path: 'windows[1].name', found: '"per_hour" again (first on line 16)' }),
    ]);
  });
});

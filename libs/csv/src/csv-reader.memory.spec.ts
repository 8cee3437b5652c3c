import { Readable } from 'node:stream';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { readCsv } from './index';

// A forced collection makes heapUsed measure what is retained, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;
const HEAP_GROWTH_LIMIT = 50 * MiB;

/** Retained memory: the JS heap plus Buffer backing stores, which live outside heapUsed. */
function retained(): number {
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** Tracks the largest growth of retained memory since construction. */
class HeapWatch {
  private readonly baseline = retained();
  private peak = 0;
  sample(): void {
    this.peak = Math.max(this.peak, retained() - this.baseline);
  }
  get growth(): number {
    return this.peak;
  }
}

/** A Readable that produces `lines` on demand in ~64 KiB chunks and never holds more than one chunk. */
function generated(head: string, lineCount: number, lineAt: (i: number) => string, tail = ''): Readable & { produced: number } {
  let i = 0;
  let headSent = false;
  const stream = new Readable({
    read() {
      const parts: string[] = headSent ? [] : [head];
      headSent = true;
      let size = 0;
      while (i < lineCount && size < 64 * 1024) {
        const line = lineAt(i++);
        parts.push(line);
        size += line.length;
      }
      if (parts.length > 0) {
        const chunk = Buffer.from(parts.join(''), 'utf8');
        state.produced += chunk.length;
        this.push(chunk);
      }
      if (i >= lineCount) {
        if (tail !== '') {
          const end = Buffer.from(tail);
          state.produced += end.length;
          this.push(end);
        }
        this.push(null);
      }
    },
  });
  const state = Object.assign(stream, { produced: 0 });
  return state;
}

describe('readCsv memory', () => {
  it('reads 400,000 rows (~180 MB) in constant memory, even after a runaway quote on the first line', async () => {
    const rowCount = 400_000;
    const line = (i: number): string => `${i},2024-05-01T12:${String(i % 60).padStart(2, '0')}:00Z,sensor-${i % 977},${i % 1000}.25,"ok, fine",${'p'.repeat(380)}\n`;
    const source = generated('id,ts,device,value,note,pad\n1,"runaway\n', rowCount, line);
    const watch = new HeapWatch();
    const reader = readCsv(source, { header: true });

    let rows = 0;
    let malformed = 0;
    let lastRow = 0;
    for await (const record of reader) {
      if (record.kind === 'row') rows++;
      else malformed++;
      lastRow = record.row;
      if (record.row % 50_000 === 0) watch.sample();
    }
    watch.sample();

    expect({ rows, malformed, lastRow }).toEqual({ rows: rowCount, malformed: 1, lastRow: rowCount + 1 });
    expect(reader.bytesRead).toBe(source.produced);
    expect(reader.bytesRead).toBeGreaterThan(3 * HEAP_GROWTH_LIMIT);
    expect(watch.growth).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 120_000);

  it('skips a 200 MB record without buffering it and reads the record after it', async () => {
    const piece = 'x'.repeat(64 * 1024);
    const pieces = 3200;
    const watch = new HeapWatch();
    const source = generated(
      '',
      pieces,
      (i) => {
        if (i % 400 === 0) watch.sample();
        return piece;
      },
      '\nnext,1\n',
    );
    const records = [];
    for await (const record of readCsv(source, { header: false, maxRecordBytes: MiB })) records.push(record);
    watch.sample();

    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ kind: 'malformed', reason: 'csv_too_large', row: 1, line: 1 });
    expect(records[0].kind === 'malformed' && records[0].raw.length).toBe(MiB);
    expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['next', '1'] });
    expect(source.produced).toBeGreaterThan(3 * HEAP_GROWTH_LIMIT);
    expect(watch.growth).toBeLessThan(HEAP_GROWTH_LIMIT);
  });
});

import fc from 'fast-check';
import { capturePath, captureFileTime, capturePrecisionFor, hourOfPath, hourPrefix, nextCapturePath, partitionPrefix, type CapturePrecision } from './capture-layout';
import { captureTimeOfPath } from './manifest';

const layout = { prefix: 'raw', namespace: 'ns', eventHub: 'hub' };

describe('capture layout', () => {
  it('names files the way Event Hubs Capture does, zero-padded, in UTC', () => {
    expect(capturePath(layout, '3', Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('raw/ns/hub/3/2026/01/02/03/04/05.avro');
    expect(partitionPrefix(layout, '3')).toBe('raw/ns/hub/3/');
    expect(hourPrefix(layout, '3', Date.UTC(2026, 11, 31, 23, 59))).toBe('raw/ns/hub/3/2026/12/31/23/');
  });

  it('reads back the time a capture path stands for', () => {
    expect(captureFileTime(layout, '3', 'raw/ns/hub/3/2026/12/31/23/59/58.avro')).toBe(Date.UTC(2026, 11, 31, 23, 59, 58));
  });

  it('names sub-second files by their millisecond, a file on a whole second plainly, and reads both back', () => {
    expect(capturePath(layout, '3', Date.UTC(2026, 0, 2, 3, 4, 5, 78), 'millisecond')).toBe('raw/ns/hub/3/2026/01/02/03/04/05_078.avro');
    expect(capturePath(layout, '3', Date.UTC(2026, 0, 2, 3, 4, 5), 'millisecond')).toBe('raw/ns/hub/3/2026/01/02/03/04/05.avro');
    expect(captureFileTime(layout, '3', 'raw/ns/hub/3/2026/01/02/03/04/05_078.avro')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 78));
    expect(captureTimeOfPath('raw/ns/hub/3/2026/01/02/03/04/05_078.avro')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 78));
    expect(capturePrecisionFor(999)).toBe('millisecond');
    expect(capturePrecisionFor(1000)).toBe('second');
  });

  it('gives every time one path and back, and sorts paths of either precision in time order', () => {
    const time = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) });
    const precision = fc.constantFrom<CapturePrecision>('second', 'millisecond');
    fc.assert(
      fc.property(fc.array(fc.tuple(time, precision), { minLength: 2, maxLength: 20 }), (files) => {
        const named = files.map(([t, p]) => {
          const path = capturePath(layout, '3', t, p);
          const back = captureFileTime(layout, '3', path) as number;
          expect(captureTimeOfPath(path)).toBe(back);
          expect(back).toBe(p === 'second' ? Math.floor(t / 1000) * 1000 : t);
          return { path, time: back };
        });
        const byPath = [...named].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => f.time);
        expect(byPath).toEqual([...named].map((f) => f.time).sort((a, b) => a - b));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses paths that only look like the layout', () => {
    for (const path of [
      'raw/ns/hub/3/2026/13/01/00/00/00.avro',
      'raw/ns/hub/3/2026/02/30/00/00/00.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00.avro.tmp',
      'raw/ns/hub/3/2026/01/01/00/00/extra/00.avro',
      'raw/ns/hub/3/README.md',
      'raw/ns/hub/4/2026/01/01/00/00/00.avro',
      'raw/ns/other/3/2026/01/01/00/00/00.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00_000.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00_1000.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00_25.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00-250.avro',
    ]) {
      expect(captureFileTime(layout, '3', path)).toBeUndefined();
    }
  });

  it('finds the hour folder of any path below one', () => {
    expect(hourOfPath(layout, '3', 'raw/ns/hub/3/2026/01/01/07/notes.txt')).toBe(Date.UTC(2026, 0, 1, 7));
    expect(hourOfPath(layout, '3', 'raw/ns/hub/3/2026/01/01/25/00/00.avro')).toBeUndefined();
    expect(hourOfPath(layout, '3', 'raw/ns/hub/3/junk')).toBeUndefined();
  });
});

describe('paths capture writes', () => {
  const partition = { prefix: 'raw', namespace: 'ns', eventHub: 'hub', partitionId: '3' };

  it('move to the next free second when a file closes in the same second as the previous one', () => {
    const t = Date.UTC(2026, 0, 1, 0, 0, 59, 100);
    const first = nextCapturePath(partition, t, undefined);
    const second = nextCapturePath(partition, t + 500, first);
    const third = nextCapturePath(partition, t + 600, second);
    expect([first, second, third]).toEqual(['raw/ns/hub/3/2026/01/01/00/00/59.avro', 'raw/ns/hub/3/2026/01/01/00/01/00.avro', 'raw/ns/hub/3/2026/01/01/00/01/01.avro']);
  });

  it('move to the next free millisecond for sub-second files, and past a sub-second file for whole seconds', () => {
    const t = Date.UTC(2026, 0, 1, 0, 0, 59, 999);
    const first = nextCapturePath(partition, t, undefined, 'millisecond');
    const second = nextCapturePath(partition, t, first, 'millisecond');
    const third = nextCapturePath(partition, t - 500, second, 'millisecond');
    const fourth = nextCapturePath(partition, t, third, 'second');
    expect([first, second, third, fourth]).toEqual([
      'raw/ns/hub/3/2026/01/01/00/00/59_999.avro',
      'raw/ns/hub/3/2026/01/01/00/01/00.avro',
      'raw/ns/hub/3/2026/01/01/00/01/00_001.avro',
      'raw/ns/hub/3/2026/01/01/00/01/01.avro',
    ]);
  });

  it('keep the clock time when it is already past the previous file', () => {
    const previous = 'raw/ns/hub/3/2026/01/01/00/00/10.avro';
    expect(nextCapturePath(partition, Date.UTC(2026, 0, 1, 0, 5, 0), previous)).toBe('raw/ns/hub/3/2026/01/01/00/05/00.avro');
  });
});

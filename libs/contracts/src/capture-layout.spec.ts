import { capturePath, captureFileTime, hourOfPath, hourPrefix, nextCapturePath, partitionPrefix } from './capture-layout';

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

  it('refuses paths that only look like the layout', () => {
    for (const path of [
      'raw/ns/hub/3/2026/13/01/00/00/00.avro',
      'raw/ns/hub/3/2026/02/30/00/00/00.avro',
      'raw/ns/hub/3/2026/01/01/00/00/00.avro.tmp',
      'raw/ns/hub/3/2026/01/01/00/00/extra/00.avro',
      'raw/ns/hub/3/README.md',
      'raw/ns/hub/4/2026/01/01/00/00/00.avro',
      'raw/ns/other/3/2026/01/01/00/00/00.avro',
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

  it('keep the clock time when it is already past the previous file', () => {
    const previous = 'raw/ns/hub/3/2026/01/01/00/00/10.avro';
    expect(nextCapturePath(partition, Date.UTC(2026, 0, 1, 0, 5, 0), previous)).toBe('raw/ns/hub/3/2026/01/01/00/05/00.avro');
  });
});

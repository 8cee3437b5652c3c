import { capturePath, capturePathTime, nextCapturePath } from './capture-path';

const parts = { prefix: 'raw', namespace: 'ns', eventHub: 'hub', partitionId: '3' };

describe('capture paths', () => {
  it('follow the Event Hubs Capture layout, zero-padded, in UTC', () => {
    expect(capturePath(parts, Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('raw/ns/hub/3/2026/01/02/03/04/05.avro');
  });

  it('read back the time they encode', () => {
    expect(capturePathTime('raw/ns/hub/3/2026/12/31/23/59/58.avro')).toBe(Date.UTC(2026, 11, 31, 23, 59, 58));
    expect(capturePathTime('raw/ns/hub/3/notes.txt')).toBeUndefined();
  });

  it('move to the next free second when a file closes in the same second as the previous one', () => {
    const t = Date.UTC(2026, 0, 1, 0, 0, 59, 100);
    const first = nextCapturePath(parts, t, undefined);
    const second = nextCapturePath(parts, t + 500, first);
    const third = nextCapturePath(parts, t + 600, second);
    expect([first, second, third]).toEqual(['raw/ns/hub/3/2026/01/01/00/00/59.avro', 'raw/ns/hub/3/2026/01/01/00/01/00.avro', 'raw/ns/hub/3/2026/01/01/00/01/01.avro']);
  });

  it('keep the clock time when it is already past the previous file', () => {
    const previous = 'raw/ns/hub/3/2026/01/01/00/00/10.avro';
    expect(nextCapturePath(parts, Date.UTC(2026, 0, 1, 0, 5, 0), previous)).toBe('raw/ns/hub/3/2026/01/01/00/05/00.avro');
  });
});

import { PartitionCursor } from './partition-cursor';
import { PartitionDiscovery, whyNotNew, type DiscoveredFile } from './partition-discovery';
import { LAYOUT, lakeWorld, RecordingLake, recordingLogger, silent, writeCaptureFile, type LakeWorld } from './spec-helpers';

const H = 3_600_000;
const at = (day: number, hour: number, minute = 0, second = 0) => Date.UTC(2026, 0, day, hour, minute, second);
const hour = (day: number, h: number) => `raw/testns/events/0/2026/01/${String(day).padStart(2, '0')}/${String(h).padStart(2, '0')}/`;

describe('partition discovery', () => {
  let w: LakeWorld;
  let lake: RecordingLake;
  beforeEach(async () => {
    w = await lakeWorld('bronze-discovery-');
    lake = new RecordingLake(w.lake);
  });
  afterEach(() => w.dir.dispose());

  const consume = (cursor: PartitionCursor | undefined, files: DiscoveredFile[]) =>
    PartitionCursor.advance(
      cursor,
      files.map((f) => ({ path: f.path, time: f.time, records: 1 })),
      2 * H,
    );

  it('lists only the hour folders from the position minus the lookback to the current hour', async () => {
    for (const s of [0, 2, 4]) await writeCaptureFile(w.lake, '0', at(1, 12, 0, s), 1);
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    const now = at(1, 14, 30);

    const first = await discovery.discover(undefined, () => false, now);
    expect(first.map((f) => f.time)).toEqual([at(1, 12, 0, 0), at(1, 12, 0, 2), at(1, 12, 0, 4)]);
    expect(lake.rawLists()).toEqual([
      // First start: the earliest file, with one call.
      { prefix: 'raw/testns/events/0/', limit: 1 },
      { prefix: hour(1, 10) },
      { prefix: hour(1, 11) },
      { prefix: hour(1, 12) },
      { prefix: hour(1, 13) },
      // An empty hour past the position: one probe finds that nothing follows.
      { prefix: 'raw/testns/events/0/', startAfter: 'raw/testns/events/0/2026/01/01/14', limit: 1 },
    ]);

    const cursor = consume(undefined, first);
    lake.reset();
    expect(await discovery.discover(cursor, () => false, now)).toEqual([]);
    expect(lake.rawLists().map((c) => c.prefix)).toEqual([hour(1, 10), hour(1, 11), hour(1, 12), hour(1, 13), 'raw/testns/events/0/']);
  });

  it('finds files named ahead of the clock, in the next hour, with one probe', async () => {
    // Capture moves a file that would share a second with the previous one to the next free second:
    // near the end of an hour, a burst of small files can be named into the next hour.
    const current = await writeCaptureFile(w.lake, '0', at(1, 14, 59, 58), 1);
    const ahead = await writeCaptureFile(w.lake, '0', at(1, 15, 0, 3), 1);
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    const found = await discovery.discover(undefined, () => false, at(1, 14, 59, 59));
    expect(found.map((f) => f.path)).toEqual([current.path, ahead.path]);
    expect(lake.rawLists().filter((c) => c.startAfter !== undefined)).toEqual([
      { prefix: 'raw/testns/events/0/', startAfter: 'raw/testns/events/0/2026/01/01/15', limit: 1 },
      { prefix: 'raw/testns/events/0/', startAfter: 'raw/testns/events/0/2026/01/01/16', limit: 1 },
    ]);
  });

  it('finds a file that appears late in an older hour folder, once', async () => {
    await writeCaptureFile(w.lake, '0', at(1, 12, 30), 1);
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    const now = at(1, 14, 30);
    const cursor = consume(undefined, await discovery.discover(undefined, () => false, now));

    // Capture back-fills after an outage: an older file, in an hour folder already listed, and a new one.
    const late = await writeCaptureFile(w.lake, '0', at(1, 11, 59), 1);
    const fresh = await writeCaptureFile(w.lake, '0', at(1, 14, 10), 1);
    lake.reset();
    const found = await discovery.discover(cursor, () => false, now);
    expect(found.map((f) => f.path)).toEqual([late.path, fresh.path]);
    // After the current hour, one probe for files named ahead of the clock.
    expect(lake.rawLists().map((c) => c.prefix)).toEqual([hour(1, 10), hour(1, 11), hour(1, 12), hour(1, 13), 'raw/testns/events/0/', hour(1, 14), 'raw/testns/events/0/']);

    const after = consume(cursor, found);
    expect(await discovery.discover(after, () => false, now)).toEqual([]);
    // Files already pending are not reported twice either.
    expect(await discovery.discover(cursor, (path) => path === late.path || path === fresh.path, now)).toEqual([]);
  });

  it('ignores a file older than the lookback window behind the position', async () => {
    await writeCaptureFile(w.lake, '0', at(1, 14, 10), 1);
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    const now = at(1, 14, 30);
    const cursor = consume(undefined, await discovery.discover(undefined, () => false, now));
    await writeCaptureFile(w.lake, '0', at(1, 12, 9), 1);
    const inWindow = await writeCaptureFile(w.lake, '0', at(1, 12, 11), 1);
    expect((await discovery.discover(cursor, () => false, now)).map((f) => f.path)).toEqual([inWindow.path]);
  });

  it('crosses days of empty hours with a few calls, not one per hour', async () => {
    const a = await writeCaptureFile(w.lake, '0', at(1, 12), 1);
    const b = await writeCaptureFile(w.lake, '0', at(5, 8), 1);
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    const found = await discovery.discover(undefined, () => false, at(10, 0));
    expect(found.map((f) => f.path)).toEqual([a.path, b.path]);
    expect(lake.rawLists().map((c) => c.prefix)).toEqual([
      'raw/testns/events/0/',
      hour(1, 10),
      hour(1, 11),
      hour(1, 12),
      hour(1, 13),
      'raw/testns/events/0/',
      hour(5, 8),
      hour(5, 9),
      'raw/testns/events/0/',
    ]);
  });

  it('finds nothing, cheaply, in a partition without files', async () => {
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, silent, 2 * H);
    expect(await discovery.discover(undefined, () => false, at(1, 12))).toEqual([]);
    expect(lake.rawLists()).toEqual([{ prefix: 'raw/testns/events/0/', limit: 1 }]);
  });

  it('ignores files that do not follow the layout, with one warning each', async () => {
    // Sorts before the first capture file, so the search for the earliest file meets it.
    await w.lake.write('raw/testns/events/0/1999-notes.txt', 'notes');
    await w.lake.write('raw/testns/events/0/2026/01/01/12/00/01.avro.tmp', 'partial upload');
    const good = await writeCaptureFile(w.lake, '0', at(1, 12, 0, 2), 1);
    const { logger, records } = recordingLogger();
    const discovery = new PartitionDiscovery('0', LAYOUT, lake, logger, 2 * H);
    expect((await discovery.discover(undefined, () => false, at(1, 12, 30))).map((f) => f.path)).toEqual([good.path]);
    expect(await discovery.discover(undefined, (path) => path === good.path, at(1, 12, 30))).toEqual([]);
    const warned = records.filter((r) => r['level'] === 40).map((r) => r['path']);
    expect(warned.sort()).toEqual(['raw/testns/events/0/1999-notes.txt', 'raw/testns/events/0/2026/01/01/12/00/01.avro.tmp']);
  });

  it('says why a file is not new: before the horizon, consumed, or pending', () => {
    const consumed = { path: 'raw/testns/events/0/2026/01/01/12/00/00.avro', time: at(1, 12) };
    const cursor = PartitionCursor.advance(undefined, [{ ...consumed, records: 1 }], H);
    const later = { path: 'raw/testns/events/0/2026/01/01/12/00/05.avro', time: at(1, 12, 0, 5) };
    expect(whyNotNew({ path: 'raw/testns/events/0/2026/01/01/10/59/59.avro', time: at(1, 10, 59, 59) }, cursor, () => false)).toMatch(/older than the partition's horizon/);
    expect(whyNotNew(consumed, cursor, () => false)).toBe('already consumed, according to the checkpoint');
    expect(whyNotNew(later, cursor, (p) => p === later.path)).toBe('already pending');
    expect(whyNotNew(later, cursor, () => false)).toBeUndefined();
    // Before anything is consumed, no horizon applies unless one is given.
    expect(whyNotNew(later, undefined, () => false)).toBeUndefined();
    expect(whyNotNew(later, undefined, () => false, at(1, 13))).toMatch(/horizon/);
  });
});

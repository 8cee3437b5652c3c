import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { manifestPath, ManifestValidationError, parseManifest, type BronzeManifest } from '@pipeline/contracts';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';
import { fileRef, ManifestConflictError, ManifestLog } from './manifest-log';

const bronze = (sequence: number, files = [fileRef('raw/ns/hub/0/2026/01/01/00/00/00.avro', Buffer.from('x'), 1)]): BronzeManifest => ({
  version: 1,
  layer: 'bronze',
  pipeline: 'p',
  session: 'bronze',
  sequence,
  batch: sequence,
  createdAt: 1_700_000_000_000,
  inputs: [],
  files,
});

describe('manifest log', () => {
  let dir: TempDir;
  let lake: LocalLake;
  let log: ManifestLog;
  beforeEach(async () => {
    dir = await makeTempDir('manifest-spec-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
    log = new ManifestLog(lake);
  });
  afterEach(() => dir.dispose());

  it('reads a session in sequence order from the lake alone, stopping at a gap', async () => {
    for (const n of [0, 1, 2, 4]) await log.write(bronze(n));
    const read: number[] = [];
    for await (const m of log.after('bronze', 'bronze', -1)) read.push(m.sequence);
    expect(read).toEqual([0, 1, 2]);
    const later: number[] = [];
    for await (const m of log.after('bronze', 'bronze', 1)) later.push(m.sequence);
    expect(later).toEqual([2]);
  });

  it('accepts re-writing the same manifest and refuses a different one for the same sequence', async () => {
    await log.write(bronze(0));
    await expect(log.write(bronze(0))).resolves.toMatchObject({ path: manifestPath('bronze', 'bronze', 0) });
    await expect(log.write(bronze(0, []))).rejects.toBeInstanceOf(ManifestConflictError);
  });

  it('keeps manifests under another root apart from those under the default root', async () => {
    const replay = new ManifestLog(lake, undefined, undefined, 'manifests/replay-1');
    await log.write(bronze(0));
    await expect(replay.write(bronze(0, []))).resolves.toMatchObject({ path: manifestPath('bronze', 'bronze', 0, 'manifests/replay-1') });
    await replay.write(bronze(1, []));
    expect(replay.pathOf('bronze', 'bronze', 1)).toBe('manifests/replay-1/bronze/bronze/00000000000000000001.json');
    expect((await collect(replay.after('bronze', 'bronze', -1))).map((m) => [m.sequence, m.files.length])).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect((await collect(log.after('bronze', 'bronze', -1))).map((m) => [m.sequence, m.files.length])).toEqual([[0, 1]]);
    expect(await replay.sessions('bronze')).toEqual(['bronze']);
    expect(await log.read('bronze', 'bronze', 1)).toBeUndefined();
  });

  it('refuses a root that is not a relative lake folder', () => {
    for (const root of ['/abs', 'manifests/../x', 'manifests/', '']) expect(() => new ManifestLog(lake, undefined, undefined, root)).toThrow(RangeError);
  });

  it('rejects a manifest that points outside the lake root', () => {
    const evil = {
      ...bronze(0),
      files: [
        { ...fileRef('x', Buffer.from('x'), 1), path: '../../etc/passwd' },
        { ...fileRef('x', Buffer.from('x'), 1), path: '/abs/file' },
      ],
    };
    expect(() => parseManifest(evil, 'evil.json')).toThrow(ManifestValidationError);
    expect(() => parseManifest(evil, 'evil.json')).toThrow(/files\[0\]\.path "\.\.\/\.\.\/etc\/passwd" has an empty, '\.' or '\.\.' segment/);
    expect(() => parseManifest(evil, 'evil.json')).toThrow(/files\[1\]\.path "\/abs\/file" is absolute/);
  });

  it('lists every problem of a malformed manifest at once', () => {
    let error: ManifestValidationError | undefined;
    try {
      parseManifest({ version: 2, layer: 'gold', session: 'Bad Session', sequence: -1, files: 'none' }, 'm.json');
    } catch (e) {
      error = e as ManifestValidationError;
    }
    expect(error?.problems.length).toBeGreaterThanOrEqual(6);
  });
});

import { spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { LakeError, LakePathError } from '@pipeline/ports';
import { collect, describeLakeContract, makeTempDir, type TempDir } from '@pipeline/testing';
import { LOCAL_LAKE_TEMP_FOLDER, LocalLake } from './local.lake';

describeLakeContract('local', async () => {
  const dir = await makeTempDir('local-lake-');
  return { lake: new LocalLake(path.join(dir.path, 'lake')), dispose: () => dir.dispose() };
});

describe('LocalLake', () => {
  let dir: TempDir;
  let root: string;
  let lake: LocalLake;

  beforeEach(async () => {
    dir = await makeTempDir('local-lake-');
    root = path.join(dir.path, 'lake');
    lake = new LocalLake(root);
  });

  afterEach(async () => {
    await lake.close();
    await dir.dispose();
  });

  it('lists in UTF-8 byte order even outside the BMP, where UTF-16 order differs', async () => {
    // U+FF5E is EF BD 9E in UTF-8, the emoji F0 9F 98 80: byte order puts U+FF5E first, UTF-16 the emoji.
    for (const p of ['😀', '\uff5e', 'z']) await lake.write(p, 'x');
    const listed: string[] = [];
    for await (const entry of lake.list('')) listed.push(entry.path);
    expect(listed).toEqual(['z', '\uff5e', '😀']);
  });

  it('pages from any startAfter in UTF-8 byte order, outside the BMP and around folder separators', async () => {
    const paths = ['😀', '\uff5e', '\ufffe', 'z', 'é/a', 'é-b', 'é😀/x/y', 'é\uff5e/1', 'a/b/c', 'a.b', 'a/😀', 'a/\ue000'];
    for (const p of paths) await lake.write(p, 'x');
    const byBytes = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const listed = async (startAfter?: string) => (await collect(lake.list('', startAfter === undefined ? {} : { startAfter }))).map((e) => e.path);
    expect(await listed()).toEqual(byBytes);
    // Every listed path, and names between and around them (a lone surrogate reads as U+FFFD, as UTF-8 encodes it).
    for (const after of [...paths, 'a', 'a/', 'é', 'é/', '\ud83d', '\uffff', '\u{10ffff}', '']) {
      const key = Buffer.from(after);
      expect({ after, listed: await listed(after) }).toEqual({ after, listed: byBytes.filter((p) => Buffer.compare(Buffer.from(p), key) > 0) });
    }
  });

  it('reports its absolute root folder as location', () => {
    expect(new LocalLake('relative/lake').location).toBe(path.resolve('relative/lake'));
    expect(lake.location).toBe(root);
  });

  it('refuses a folder symlink that leads out of the root, for reads, writes and listings', async () => {
    const outside = path.join(dir.path, 'outside');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'secret.txt'), 'secret');
    await lake.write('inside.txt', 'ok');
    await fsp.symlink(outside, path.join(root, 'escape'));

    await expect(lake.read('escape/secret.txt')).rejects.toThrow(LakePathError);
    await expect(lake.exists('escape/secret.txt')).rejects.toThrow(/outside the lake root/);
    await expect(lake.write('escape/planted.txt', 'x')).rejects.toThrow(LakePathError);
    await expect(lake.createIfAbsent('escape/deeper/planted.txt', 'x')).rejects.toThrow(LakePathError);
    await expect(lake.delete('escape/secret.txt')).rejects.toThrow(LakePathError);
    await expect(collect(lake.list('escape/'))).rejects.toThrow(LakePathError);
    // A full listing skips the link instead of following it.
    expect((await collect(lake.list(''))).map((e) => e.path)).toEqual(['inside.txt']);
    await expect(fsp.readdir(outside)).resolves.toEqual(['secret.txt']);
  });

  it('refuses a file symlink that points out of the root', async () => {
    const secret = path.join(dir.path, 'secret.txt');
    await fsp.writeFile(secret, 'secret');
    await lake.write('placeholder', 'x');
    await fsp.symlink(secret, path.join(root, 'leak.txt'));
    await expect(lake.read('leak.txt')).rejects.toThrow(LakePathError);
    await expect(lake.write('leak.txt', 'overwrite')).rejects.toThrow(LakePathError);
    await expect(fsp.readFile(secret, 'utf8')).resolves.toBe('secret');
  });

  it('hides a temp file left by a crash between temp write and publish, and still creates the object later', async () => {
    await lake.write('warm-up', 'creates the root and temp area');
    await lake.delete('warm-up');
    // What a process that died after fsyncing its temp file, before `link`, leaves behind.
    await fsp.writeFile(path.join(root, LOCAL_LAKE_TEMP_FOLDER, `${process.pid}-crashed`), 'half-published manifest');

    await expect(collect(lake.list(''))).resolves.toEqual([]);
    await expect(collect(lake.list('.t'))).resolves.toEqual([]);
    await expect(lake.exists('manifests/0001.json')).resolves.toBe(false);
    await expect(lake.createIfAbsent('manifests/0001.json', 'whole manifest')).resolves.toBe(true);
    await expect(lake.read('manifests/0001.json')).resolves.toEqual(Buffer.from('whole manifest'));
  });

  it('leaves no temp files behind after successful and refused publishes', async () => {
    await lake.createIfAbsent('a.json', '1');
    await lake.createIfAbsent('a.json', '2');
    await lake.write('b.json', '3');
    await expect(fsp.readdir(path.join(root, LOCAL_LAKE_TEMP_FOLDER))).resolves.toEqual([]);
  });

  it('reserves the temp area: no lake path may start with it', async () => {
    await expect(lake.write(`${LOCAL_LAKE_TEMP_FOLDER}/x`, 'x')).rejects.toThrow(LakePathError);
    await expect(lake.read(`${LOCAL_LAKE_TEMP_FOLDER}/x`)).rejects.toThrow(/reserved/);
    await expect(collect(lake.list(`${LOCAL_LAKE_TEMP_FOLDER}/`))).rejects.toThrow(LakePathError);
    // Only the exact top-level name is reserved.
    await expect(lake.write('.tmpfile', 'x')).resolves.toBeUndefined();
    await expect(lake.write(`data/${LOCAL_LAKE_TEMP_FOLDER}/x`, 'x')).resolves.toBeUndefined();
  });

  it('explains that an object is in the way of a folder', async () => {
    await lake.write('a', 'an object, not a folder');
    await expect(lake.write('a/b', 'x')).rejects.toThrow(/one of its folders is an object/);
    await expect(lake.createIfAbsent('a/b', 'x')).rejects.toThrow(/one of its folders is an object/);
    await expect(lake.createIfAbsent('a/b/c', 'x')).rejects.toThrow(/one of its folders is an object/);
    await expect(lake.createIfAbsent('a/b', 'x')).rejects.toThrow(LakeError);
  });

  it('explains that a folder is in the way of an object', async () => {
    await lake.write('folder/inside', 'x');
    await expect(lake.write('folder', 'x')).rejects.toThrow(/a folder of that name holds other objects/);
    await expect(lake.createIfAbsent('folder', 'x')).rejects.toThrow(/a folder of that name/);
  });

  it('names the object and the lake when storing its bytes fails, not only the system error', async () => {
    await lake.write('first', 'x');
    // The temp area made unusable: storing any object's bytes now fails.
    await fsp.rm(path.join(root, LOCAL_LAKE_TEMP_FOLDER), { recursive: true });
    await fsp.writeFile(path.join(root, LOCAL_LAKE_TEMP_FOLDER), 'not a folder');
    const where = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expect(lake.write('tables/t/part-0.parquet', 'x')).rejects.toThrow(new RegExp(`^Cannot write "tables/t/part-0.parquet" in the lake at ${where}: .*ENOTDIR`));
    await expect(lake.createIfAbsent('tables/t/_delta_log/0.json', 'x')).rejects.toThrow(
      new RegExp(`^Cannot create "tables/t/_delta_log/0.json" in the lake at ${where}: .*ENOTDIR`),
    );
  });

  it('refuses to work once closed', async () => {
    await lake.close();
    await expect(lake.read('x')).rejects.toThrow(/closed/);
  });
});

describe('LocalLake temp area', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('local-lake-temp-');
  });
  afterEach(() => dir.dispose());

  it('removes, at its first write, the temp files of writers that are gone or a day old, and keeps those of running ones', async () => {
    const temp = path.join(dir.path, 'lake', '.tmp');
    await fsp.mkdir(temp, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    await fsp.writeFile(path.join(temp, `${dead}-killed-mid-write`), 'partial');
    await fsp.writeFile(path.join(temp, `${process.pid}-in-progress`), 'partial');
    const old = path.join(temp, `${process.ppid}-a-day-old`);
    await fsp.writeFile(old, 'partial');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await fsp.utimes(old, twoDaysAgo, twoDaysAgo);
    const lake = new LocalLake(path.join(dir.path, 'lake'));
    await lake.write('a/b.txt', 'x');
    expect((await fsp.readdir(temp)).sort()).toEqual([`${process.pid}-in-progress`]);
  });
});

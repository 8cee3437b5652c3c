import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempDir } from './temp-dir';

describe('makeTempDir', () => {
  it('creates a fresh empty folder under the OS temp folder, and removes it with its content', async () => {
    const dir = await makeTempDir('testing-temp-');
    expect(path.dirname(dir.path)).toBe(path.resolve(os.tmpdir()));
    expect(path.basename(dir.path)).toMatch(/^testing-temp-/);
    await expect(fsp.readdir(dir.path)).resolves.toEqual([]);
    await fsp.mkdir(path.join(dir.path, 'nested'));
    await fsp.writeFile(path.join(dir.path, 'nested', 'file.txt'), 'x');
    await dir.dispose();
    await expect(fsp.stat(dir.path)).rejects.toThrow(/ENOENT/);
  });

  it('gives each call its own folder', async () => {
    const [a, b] = await Promise.all([makeTempDir('testing-temp-'), makeTempDir('testing-temp-')]);
    expect(a.path).not.toBe(b.path);
    await a.dispose();
    await b.dispose();
  });

  it('refuses a prefix with a slash, which would leave the temp folder', async () => {
    await expect(makeTempDir('../escape-')).rejects.toThrow(/without slashes/);
  });
});

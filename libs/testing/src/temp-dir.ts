import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TempDir {
  /** Absolute path of the new, empty folder. */
  readonly path: string;
  /** Remove the folder and everything in it. */
  dispose(): Promise<void>;
}

/** A fresh folder under the OS temp folder, named `<prefix><random>`. */
export async function makeTempDir(prefix: string): Promise<TempDir> {
  if (typeof prefix !== 'string' || /[\\/]/.test(prefix)) {
    throw new Error(`makeTempDir needs a folder-name prefix without slashes, got ${JSON.stringify(prefix)}.`);
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    path: dir,
    dispose: () => fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 }),
  };
}

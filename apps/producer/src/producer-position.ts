/**
 * Where the producer is in a source file, kept under the pipeline home, so that producing the same
 * file again resumes after the last row the hub acknowledged instead of sending everything twice
 * (rows appended to the file since are sent). Written atomically (temp file + rename) after every
 * acknowledged send, with each partition's last acknowledged row: a process killed at any moment
 * resends at most the batch whose acknowledgement it had not yet written down.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface ProducerPosition {
  csvFile: string;
  hub: string;
  /** The first row not yet acknowledged by the hub (every row before it was sent). */
  nextRow: number;
  /**
   * Per partition ('' for rows without a key), the last row the hub acknowledged: a partition's rows
   * are sent in file order, so every row of it up to there is in the hub and is not sent again.
   */
  partitions?: Record<string, number>;
  /** The file's size and modification time when the position was written. */
  size: number;
  updatedAt: string;
}

export class ProducerPositions {
  private folderReady = false;

  constructor(private readonly folder: string) {}

  private file(hub: string, csvFile: string): string {
    const id = createHash('sha256')
      .update(`${hub}\n${path.resolve(csvFile)}`)
      .digest('hex')
      .slice(0, 24);
    return path.join(this.folder, `${id}.json`);
  }

  async read(hub: string, csvFile: string): Promise<ProducerPosition | undefined> {
    try {
      return JSON.parse(await readFile(this.file(hub, csvFile), 'utf8')) as ProducerPosition;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(hub: string, csvFile: string, acknowledged: { nextRow: number; partitions: Record<string, number> }): Promise<void> {
    const target = this.file(hub, csvFile);
    if (!this.folderReady) {
      await mkdir(this.folder, { recursive: true });
      this.folderReady = true;
    }
    const { nextRow, partitions } = acknowledged;
    const position: ProducerPosition = { csvFile: path.resolve(csvFile), hub, nextRow, partitions, size: (await stat(csvFile)).size, updatedAt: new Date().toISOString() };
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(position, null, 2));
    await rename(temp, target);
  }
}

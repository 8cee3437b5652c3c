/**
 * Where the producer is in a source file, kept under the pipeline home, so that producing the same
 * file again resumes after the last row the hub acknowledged instead of sending everything twice
 * (rows appended to the file since are sent). Written atomically (temp file + rename) after every
 * acknowledged send, with each partition's last acknowledged row: a process killed at any moment
 * resends at most the batch whose acknowledgement it had not yet written down.
 *
 * A resume never skips a row the hub did not acknowledge as it is now: when the last row sent had no
 * line break and the file has since gone on with that line, that row is sent again, complete; when
 * the file is shorter than what was read, it is another file and the user chooses where to start.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { AcknowledgedPosition } from './csv-producer';

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
  /** Bytes of the file read by the run that wrote the position (its size when that run started). */
  size: number;
  /** The last row sent had no line break after it and ended the file at byte `end`. */
  unterminated?: { row: number; end: number };
  updatedAt: string;
}

/** Where a run that resumes starts, or why it cannot resume by itself. */
export type ResumePoint =
  | {
      kind: 'resume';
      fromRow: number;
      acknowledged: Record<string, number>;
      /** The row sent without its line break and continued in the file since: sent again. */
      resentRow?: number;
      /** The row sent without its line break, the file not grown since: still to watch (`carryUnterminated`). */
      unterminated?: { row: number; end: number };
    }
  | { kind: 'shrunk'; size: number };

/** The recorded position applied to the file as it is now (`size` bytes). */
export async function resumePoint(recorded: ProducerPosition, csvFile: string, size: number): Promise<ResumePoint> {
  if (size < recorded.size) return { kind: 'shrunk', size };
  const acknowledged = recorded.partitions ?? {};
  const cut = recorded.unterminated;
  if (cut === undefined || isLineBreak(await byteAt(csvFile, cut.end))) return { kind: 'resume', fromRow: recorded.nextRow, acknowledged };
  if (size <= cut.end) return { kind: 'resume', fromRow: recorded.nextRow, acknowledged, unterminated: cut };
  // The line went on after it was sent: no partition holds that row as it is now.
  const before = Object.fromEntries(Object.entries(acknowledged).map(([partition, row]) => [partition, Math.min(row, cut.row - 1)]));
  return { kind: 'resume', fromRow: Math.min(recorded.nextRow, cut.row), acknowledged: before, resentRow: cut.row };
}

/**
 * The position a run writes, keeping an earlier run's unterminated row that it did not send again:
 * until the next run finds a line break after it, that line may still go on.
 */
export function carryUnterminated(position: AcknowledgedPosition, earlier: { row: number; end: number } | undefined): AcknowledgedPosition {
  return position.unterminated !== undefined || earlier === undefined ? position : { ...position, unterminated: earlier };
}

async function byteAt(file: string, offset: number): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(1);
    const { bytesRead } = await handle.read(buffer, 0, 1, offset);
    return bytesRead === 1 ? buffer[0] : undefined;
  } finally {
    await handle.close();
  }
}

function isLineBreak(byte: number | undefined): boolean {
  return byte === 0x0a || byte === 0x0d;
}

export class ProducerPositions {
  private folderReady = false;

  constructor(private readonly folder: string) {}

  private file(hub: string, csvFile: string, extension = 'json'): string {
    const id = createHash('sha256')
      .update(`${hub}\n${path.resolve(csvFile)}`)
      .digest('hex')
      .slice(0, 24);
    return path.join(this.folder, `${id}.${extension}`);
  }

  /** The lock a run holds while it sends `csvFile` to `hub`: a second run would send the rows after the same position again. */
  lockFile(hub: string, csvFile: string): string {
    return this.file(hub, csvFile, 'lock');
  }

  /** @throws Error naming the file and the ways on when the file is there but not a position (damaged). */
  async read(hub: string, csvFile: string): Promise<ProducerPosition | undefined> {
    const file = this.file(hub, csvFile);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let position: unknown;
    try {
      position = JSON.parse(text);
    } catch {
      position = undefined;
    }
    const p = position as Partial<ProducerPosition> | null | undefined;
    if (p === null || typeof p !== 'object' || !Number.isSafeInteger(p.nextRow) || typeof p.csvFile !== 'string') {
      throw new Error(
        `The producer's position in ${csvFile}, ${file}, is damaged (${text.length === 0 ? 'empty' : 'not a position it wrote'}), so the producer cannot tell which rows the hub already has. ` +
          'Say where to start with --from-row N, or delete that file to start from row 1 (rows sent again are dropped by silver while it remembers their ids, and land in the late table after).',
      );
    }
    return p as ProducerPosition;
  }

  async write(hub: string, csvFile: string, acknowledged: AcknowledgedPosition): Promise<void> {
    const target = this.file(hub, csvFile);
    if (!this.folderReady) {
      await mkdir(this.folder, { recursive: true });
      this.folderReady = true;
    }
    const { nextRow, partitions, size, unterminated } = acknowledged;
    const position: ProducerPosition = {
      csvFile: path.resolve(csvFile),
      hub,
      nextRow,
      partitions,
      size,
      ...(unterminated ? { unterminated } : {}),
      updatedAt: new Date().toISOString(),
    };
    const temp = `${target}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(position, null, 2));
    await rename(temp, target);
  }
}

/**
 * `pipeline rejected list` and `pipeline rejected restore <path>`: the capture files bronze or
 * silver set aside (the rejected-file log, libs/contracts rejected-file.ts), and the way to put one
 * back once it has been re-copied. Restoring checks that the file now reads as an Event Hubs
 * Capture file and records the restore (create-if-absent); bronze's next listing takes the file
 * into a new batch, exactly once, and silver reads it after that like any new file.
 */
import { hashingStream } from '@pipeline/checkpoint';
import { CaptureFormatError, readCaptureBlocks } from '@pipeline/capture-format';
import {
  REJECTED_RECORD_VERSION,
  RejectedFileLog,
  restoreAdvice,
  type CaptureFileRejection,
  type CaptureFileRestore,
  type CaptureFileTaken,
  type RejectionState,
} from '@pipeline/contracts';
import { LakeNotFoundError, type Lake } from '@pipeline/ports';

/** Counting records needs no map entries: they are skipped, not decoded. */
const COUNT_ONLY = { properties: [], systemProperties: [] };

export interface RejectedFile extends CaptureFileRejection {
  state: RejectionState;
  /** The rejection record's lake path. */
  record: string;
  /** How to put it back (set-aside files only). */
  fix?: string;
  /** How bronze took it back (taken files only). */
  taken?: Pick<CaptureFileTaken, 'takenBy' | 'outcome'>;
}

/** The rejections of capture files under `rawPrefix`, with their state; resolved ones only with `all`. */
export async function listRejected(lake: Lake, options: { rawPrefix: string; all?: boolean }): Promise<RejectedFile[]> {
  const log = new RejectedFileLog(lake);
  const out: RejectedFile[] = [];
  for (const entry of await log.list(`${options.rawPrefix}/`)) {
    if (entry.state === 'taken' && !options.all) continue;
    const rejection = await log.read(entry.path, entry.bronzeBatch);
    const file: RejectedFile = { ...rejection, state: entry.state, record: entry.record };
    if (entry.state === 'set-aside') file.fix = restoreAdvice(rejection);
    if (entry.state === 'taken') {
      const { takenBy, outcome } = await log.readTaken(entry.path, entry.bronzeBatch);
      file.taken = { takenBy, outcome };
    }
    out.push(file);
  }
  return out;
}

export function formatRejected(files: readonly RejectedFile[], all: boolean): string {
  if (files.length === 0) return all ? 'No capture file was ever set aside.\n' : 'No capture file is set aside.\n';
  const lines: string[] = [];
  for (const f of files) {
    const who = f.stage === 'bronze' ? `bronze batch ${f.bronzeBatch}` : `silver batch ${f.silverBatch ?? '?'} (bronze batch ${f.bronzeBatch}, ${f.referenced?.rows ?? 0} records)`;
    lines.push(`${f.path}  partition ${f.partitionId}  ${f.state}  by ${who}: ${f.reason}`, `  ${f.problem}`);
    switch (f.state) {
      case 'set-aside':
        lines.push(`  To put it back: ${f.fix ?? ''}`);
        break;
      case 'restored':
        lines.push('  Restored: bronze takes it at its next listing (or its next start, e.g. `pipeline bronze --drain`).');
        break;
      case 'taken':
        lines.push(`  Taken back by bronze batch ${f.taken?.takenBy ?? '?'}: ${f.taken?.outcome === 'referenced' ? 'referenced' : 'set aside again'}.`);
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}

export type RestoreResult = { kind: 'restored'; restores: CaptureFileRestore[]; message: string } | { kind: 'unchanged'; message: string } | { kind: 'refused'; message: string };

/**
 * Records the restore of every rejection of `path` that is set aside, once the file reads as a
 * capture file again. Refuses (naming what to do) when nothing is set aside at that path or the
 * file still cannot be read.
 */
export async function restoreRejected(lake: Lake, given: string, options: { rawPrefix: string }): Promise<RestoreResult> {
  const path = lakePathOf(given, options.rawPrefix);
  const log = new RejectedFileLog(lake);
  const entries = (await log.list(`${options.rawPrefix}/`)).filter((e) => e.path === path);
  const open = entries.filter((e) => e.state === 'set-aside');
  if (open.length === 0) {
    if (entries.some((e) => e.state === 'restored')) return { kind: 'unchanged', message: `${path} is already restored: bronze takes it at its next listing.` };
    if (entries.length > 0)
      return {
        kind: 'unchanged',
        message: `${path} is not set aside: bronze took it back in batch ${(await log.readTaken(path, (entries.at(-1) as { bronzeBatch: number }).bronzeBatch)).takenBy}.`,
      };
    return { kind: 'refused', message: `No capture file is set aside at ${path} (a lake path under ${options.rawPrefix}/). \`pipeline rejected list\` shows the ones that are.` };
  }
  const rejections = await Promise.all(open.map((e) => log.read(e.path, e.bronzeBatch)));
  const checked = await checkCaptureFile(lake, path);
  if ('problem' in checked) {
    return {
      kind: 'refused',
      message: `${path} is still not a readable capture file: ${checked.problem}\nNothing was restored. To put it back: ${restoreAdvice(rejections[0] as CaptureFileRejection)}`,
    };
  }
  const restores: CaptureFileRestore[] = [];
  for (const rejection of rejections) {
    const restore: CaptureFileRestore = { version: REJECTED_RECORD_VERSION, kind: 'restored', path, bronzeBatch: rejection.bronzeBatch, found: checked };
    await log.restore(restore);
    restores.push(restore);
  }
  const first = rejections[0] as CaptureFileRejection;
  const bytesNote =
    first.stage === 'silver' && first.referenced
      ? first.referenced.sha256 === checked.sha256
        ? ' These are the bytes bronze referenced.'
        : ` These are not the bytes bronze referenced in batch ${first.bronzeBatch}: bronze references the file as it is now.`
      : '';
  return {
    kind: 'restored',
    restores,
    message:
      `Restored ${path}: ${checked.records} records, ${checked.bytes} bytes, SHA-256 ${checked.sha256}.${bytesNote}\n` +
      'Bronze takes it into its next batch, once: at its next listing (every --poll while it runs; every --list-interval with Event Grid notices), ' +
      'or when it starts (`pipeline bronze --drain`). Silver and gold then read it like any new file; `pipeline audit` says when it is through.',
  };
}

/** Accepts a lake path, or a path that ends in one (e.g. `.pipeline/lake/raw/…`, as a file browser shows it). */
function lakePathOf(given: string, rawPrefix: string): string {
  const normalized = given.replace(/\\/g, '/');
  if (normalized.startsWith(`${rawPrefix}/`)) return normalized;
  const at = normalized.lastIndexOf(`/${rawPrefix}/`);
  return at >= 0 ? normalized.slice(at + 1) : normalized;
}

/** Reads the whole file as an Event Hubs Capture file: its fingerprint and records, or what is wrong. */
async function checkCaptureFile(lake: Lake, path: string): Promise<{ bytes: number; sha256: string; records: number } | { problem: string }> {
  let stream: AsyncIterable<Uint8Array>;
  try {
    stream = await lake.readStream(path);
  } catch (error) {
    if (error instanceof LakeNotFoundError) return { problem: `there is no file at ${path} in the lake at ${lake.location}.` };
    throw error;
  }
  const read = hashingStream(stream);
  let records = 0;
  try {
    for await (const block of readCaptureBlocks(read.chunks, path, COUNT_ONLY)) records += block.length;
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) throw error;
    return { problem: read.bytes === 0 ? 'it has 0 bytes.' : error.message };
  }
  return { bytes: read.bytes, sha256: read.sha256(), records };
}

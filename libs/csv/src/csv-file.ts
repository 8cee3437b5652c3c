/**
 * The file-system checks on a CSV file a user names, shared by every command that takes one, so
 * that each says the same thing in the same words before it opens anything.
 */
import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Why `file`, given with `flag` (such as `--csv`), cannot be read as a CSV file: one sentence naming
 * the file and the fix. Undefined when it is a readable file. Synchronous: a check before start-up.
 */
export function csvFileProblem(flag: string, file: string): string | undefined {
  const where = path.isAbsolute(file) ? '' : ` (looked in ${process.cwd()})`;
  try {
    if (statSync(file).isDirectory()) return `${flag} ${file} is a folder, not a file; name the CSV file inside it.`;
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${flag} ${file} does not exist${where}; check the path.${file.startsWith('examples/') ? ' Run the command from the repository root.' : ''}`;
    if (code === 'ENOTDIR') return `${flag} ${file} does not exist: a part of its path is a file, not a folder; check the path.`;
    if (code === 'EACCES' || code === 'EPERM') return `${flag} ${file} cannot be read (permission denied); make it readable, e.g. chmod +r ${file}.`;
    throw error;
  }
}

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { csvFileProblem } from './index';

describe('csvFileProblem', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-file-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds no problem with a readable file, empty or not', () => {
    const file = path.join(dir, 'in.csv');
    fs.writeFileSync(file, '');
    expect(csvFileProblem('--csv', file)).toBeUndefined();
  });

  it('says in one line that a file does not exist, with the folder a relative path was looked up in', () => {
    const absolute = path.join(dir, 'missing.csv');
    expect(csvFileProblem('--csv', absolute)).toBe(`--csv ${absolute} does not exist; check the path.`);
    const relative = path.relative(process.cwd(), absolute);
    expect(csvFileProblem('--csv', relative)).toBe(`--csv ${relative} does not exist (looked in ${process.cwd()}); check the path.`);
    expect(csvFileProblem('--csv', 'examples/nope.csv')).toMatch(/Run the command from the repository root\.$/);
  });

  it('says that a folder is not a file', () => {
    expect(csvFileProblem('--csv', dir)).toBe(`--csv ${dir} is a folder, not a file; name the CSV file inside it.`);
  });

  it('says that a path through a file does not exist', () => {
    const file = path.join(dir, 'in.csv');
    fs.writeFileSync(file, 'a\n');
    expect(csvFileProblem('--csv', path.join(file, 'x.csv'))).toMatch(/does not exist: a part of its path is a file, not a folder/);
  });

  // Root reads any file, so the check can only be seen as another user.
  (process.getuid?.() === 0 ? it.skip : it)('says that a file cannot be read', () => {
    const file = path.join(dir, 'locked.csv');
    fs.writeFileSync(file, 'a\n');
    fs.chmodSync(file, 0o200);
    expect(csvFileProblem('--csv', file)).toMatch(/cannot be read \(permission denied\); make it readable/);
  });
});

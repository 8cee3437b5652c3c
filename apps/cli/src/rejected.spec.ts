import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { CaptureFileWriter } from '@pipeline/capture-format';
import { RejectedFileLog, type CaptureFileRejection } from '@pipeline/contracts';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { formatRejected, listRejected, restoreRejected } from './rejected';

const FILE = 'raw/ns/hub/0/2026/01/01/00/00/05.avro';

function captureFile(records: number): Buffer {
  const writer = new CaptureFileWriter({ codec: 'null', syncMarker: Buffer.alloc(16, 1) });
  for (let i = 0; i < records; i++) {
    writer.append({ sequenceNumber: i, offset: String(i), enqueuedTimeUtc: '1/1/2026 12:00:00 AM', systemProperties: {}, properties: {}, body: Buffer.from('{}') });
  }
  return writer.finish();
}

const rejection = (over: Partial<CaptureFileRejection> = {}): CaptureFileRejection => ({
  version: 1,
  kind: 'rejected',
  path: FILE,
  partitionId: '0',
  stage: 'bronze',
  bronzeBatch: 2,
  reason: 'unreadable',
  problem: 'truncated',
  found: { bytes: 10, sha256: 'a'.repeat(64) },
  ...over,
});

describe('pipeline rejected restore', () => {
  let dir: TempDir;
  let lake: LocalLake;
  beforeEach(async () => {
    dir = await makeTempDir('rejected-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
  });
  afterEach(() => dir.dispose());

  it('refuses a path where nothing is set aside, pointing at the list', async () => {
    expect(await restoreRejected(lake, FILE, { rawPrefix: 'raw' })).toEqual({
      kind: 'refused',
      message: `No capture file is set aside at ${FILE} (a lake path under raw/). \`pipeline rejected list\` shows the ones that are.`,
    });
  });

  it('refuses while the file is missing or still cannot be read, recording nothing, and restores it once it reads', async () => {
    await new RejectedFileLog(lake).reject(rejection());
    const missing = await restoreRejected(lake, FILE, { rawPrefix: 'raw' });
    expect(missing).toMatchObject({ kind: 'refused', message: expect.stringContaining(`there is no file at ${FILE} in the lake at ${lake.location}.`) });
    expect(missing.message).toContain(`To put it back: copy an intact copy of the file to ${FILE}`);

    const intact = captureFile(3);
    await lake.write(FILE, intact.subarray(0, intact.byteLength - 5));
    expect(await restoreRejected(lake, FILE, { rawPrefix: 'raw' })).toMatchObject({
      kind: 'refused',
      message: expect.stringMatching(/still not a readable capture file: .*truncated/),
    });
    expect((await listRejected(lake, { rawPrefix: 'raw' })).map((f) => f.state)).toEqual(['set-aside']);

    await lake.write(FILE, intact);
    // A path on disk that ends with the lake path works too.
    const restored = await restoreRejected(lake, path.join(lake.location, FILE), { rawPrefix: 'raw' });
    expect(restored).toMatchObject({ kind: 'restored', restores: [{ path: FILE, bronzeBatch: 2, found: { bytes: intact.byteLength, records: 3 } }] });
    expect(await restoreRejected(lake, FILE, { rawPrefix: 'raw' })).toEqual({ kind: 'unchanged', message: `${FILE} is already restored: bronze takes it at its next listing.` });
    const [listed] = await listRejected(lake, { rawPrefix: 'raw' });
    expect(listed).toMatchObject({ state: 'restored' });
    expect(formatRejected([listed as NonNullable<typeof listed>], false)).toContain('Restored: bronze takes it at its next listing');
  });

  it('says whether the bytes are those bronze referenced when silver set the file aside', async () => {
    const intact = captureFile(2);
    const sha256 = createHash('sha256').update(intact).digest('hex');
    await new RejectedFileLog(lake).reject(rejection({ stage: 'silver', silverBatch: 4, reason: 'checksum', referenced: { rows: 2, bytes: intact.byteLength, sha256 } }));
    await lake.write(FILE, intact);
    expect((await restoreRejected(lake, FILE, { rawPrefix: 'raw' })).message).toContain('These are the bytes bronze referenced.');
  });
});

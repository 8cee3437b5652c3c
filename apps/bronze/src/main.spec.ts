import * as path from 'node:path';
import { LocalBus, LocalLake } from '@pipeline/adapters';
import { ManifestLog } from '@pipeline/checkpoint';
import { RejectedFileLog } from '@pipeline/contracts';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';
import { BRONZE_MANIFESTS_QUEUE, BRONZE_NOTICES_QUEUE_OPTIONS } from './bronze.module';
import { main } from './main';
import { writeCaptureFile } from './spec-helpers';

const layout = { prefix: 'raw', namespace: 'local', eventHub: 'events' };

describe('pipeline bronze', () => {
  let home: TempDir;
  let lake: LocalLake;
  let stderr: jest.SpyInstance;
  const logLevel = process.env['LOG_LEVEL'];
  beforeEach(async () => {
    process.env['LOG_LEVEL'] = 'silent';
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    home = await makeTempDir('bronze-main-');
    lake = new LocalLake(path.join(home.path, 'lake'));
  });
  afterEach(async () => {
    stderr.mockRestore();
    if (logLevel === undefined) delete process.env['LOG_LEVEL'];
    else process.env['LOG_LEVEL'] = logLevel;
    await home.dispose();
  });

  const written = () => stderr.mock.calls.map((call) => String(call[0])).join('');

  it('drains the capture files into manifests announced on the local bus, and exits 0', async () => {
    const now = Date.now() - 10 * 60_000;
    for (let i = 0; i < 3; i++) await writeCaptureFile(lake, String(i % 2), now + i * 60_000, 2, 0, layout);
    expect(await main(['--home', home.path, '--partitions', '2', '--drain'])).toBe(0);
    const manifests = await collect(new ManifestLog(lake).after('bronze', 'bronze', -1));
    expect(manifests.flatMap((m) => m.files)).toHaveLength(3);
    const bus = LocalBus.open({ file: path.join(home.path, 'bus.sqlite') });
    try {
      const session = await bus.acceptSession(BRONZE_MANIFESTS_QUEUE, { sessionId: 'bronze', maxWaitMs: 0 });
      const messages = (await session?.receive({ maxMessages: 10, maxWaitMs: 0 })) ?? [];
      expect(messages.map((m) => m.messageId)).toEqual(manifests.map((m) => `manifests/bronze/bronze/${String(m.sequence).padStart(20, '0')}.json`));
      await session?.close();
    } finally {
      await bus.close();
    }
  });

  it('reads the notices on the queue --notices-queue names: completes notices, dead-letters what is not one', async () => {
    const file = await writeCaptureFile(lake, '0', Date.now() - 60_000, 2, 0, layout);
    const bus = LocalBus.open({ file: path.join(home.path, 'bus.sqlite') });
    try {
      await bus.ensureQueue('capture-notices', BRONZE_NOTICES_QUEUE_OPTIONS);
      const notice = {
        eventType: 'Microsoft.Storage.BlobCreated',
        subject: `/blobServices/default/containers/lake/blobs/${file.path}`,
        data: { api: 'PutBlockList', contentLength: file.bytes.byteLength, url: `https://acct.blob.core.windows.net/lake/${file.path}` },
      };
      await bus.send('capture-notices', [{ body: notice }, { body: 'not a notice' }]);
      expect(await main(['--home', home.path, '--partitions', '1', '--drain', '--notices-queue', 'capture-notices', '--list-interval', '10m'])).toBe(0);
      expect(await bus.receiver('capture-notices').receive({ maxMessages: 10, maxWaitMs: 0 })).toEqual([]);
      expect((await bus.listDeadLetters('capture-notices')).map((d) => d.reason)).toEqual(['MalformedNotice']);
      const manifests = await collect(new ManifestLog(lake).after('bronze', 'bronze', -1));
      expect(manifests.flatMap((m) => m.files.map((f) => f.path))).toEqual([file.path]);
    } finally {
      await bus.close();
    }
  });

  it('exits 2 listing every bad setting', async () => {
    expect(await main(['--home', home.path, '--max-batch-files', '0', '--lookback', 'soon'])).toBe(2);
    expect(written()).toMatch(/bronze: 2 configuration problems:[\s\S]*BRONZE_LOOKBACK[\s\S]*BRONZE_MAX_BATCH_FILES/);
  });

  it('exits 2 on a checkpoint written for another hub', async () => {
    expect(await main(['--home', home.path, '--drain'])).toBe(0);
    expect(await main(['--home', home.path, '--drain', '--hub', 'other'])).toBe(2);
    expect(written()).toMatch(/eventHub: "events" → "other"/);
  });

  it('sets a corrupt capture file aside, references the others and exits 0', async () => {
    const file = await writeCaptureFile(lake, '0', Date.now() - 60_000, 4, 0, layout);
    const other = await writeCaptureFile(lake, '0', Date.now() - 30_000, 2, 4, layout);
    await lake.write(file.path, file.bytes.subarray(0, 40));
    expect(await main(['--home', home.path, '--partitions', '1', '--drain'])).toBe(0);
    const manifests = await collect(new ManifestLog(lake).after('bronze', 'bronze', -1));
    expect(manifests.flatMap((m) => m.files.map((f) => f.path))).toEqual([other.path]);
    expect(await new RejectedFileLog(lake).list()).toEqual([expect.objectContaining({ path: file.path, state: 'set-aside' })]);
  });
});

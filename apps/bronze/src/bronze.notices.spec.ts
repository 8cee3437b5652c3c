import * as path from 'node:path';
import { LocalBus } from '@pipeline/adapters';
import { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import type { BronzeManifest } from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import { FatalBackendError, type Bus, type Lake, type QueueReceiver, type ReceivedMessage } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { FaultyLake, SimulatedCrash } from '@pipeline/testing';
import type { BronzeCommit } from './bronze-checkpoint';
import { BRONZE_MANIFESTS_QUEUE, BRONZE_MANIFESTS_QUEUE_OPTIONS, BRONZE_NOTICES_QUEUE_OPTIONS } from './bronze.module';
import { BronzeService, type BronzeServiceOptions } from './bronze.service';
import { BLOB_CREATED, CAPTURE_FILE_CREATED } from './capture-notice';
import { CaptureNoticeReader, DEFAULT_NOTICE_READER_OPTIONS, MALFORMED_NOTICE } from './capture-notice-reader';
import { LAYOUT, lakeWorld, RecordingLake, recordingLogger, silent, writeCaptureFile, type LakeWorld } from './spec-helpers';

const QUEUE = 'capture-notices';
const START = Date.UTC(2026, 0, 1, 12, 30);
const LIST_INTERVAL = 5 * 60_000;

/** The BlobCreated event Event Grid sends for a capture file bronze's local lake holds at `path`. */
function blobCreated(filePath: string, bytes: number) {
  return {
    id: `created-${filePath}`,
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    subject: `/blobServices/default/containers/lake/blobs/${filePath}`,
    eventType: BLOB_CREATED,
    eventTime: new Date(START).toISOString(),
    data: { api: 'PutBlockList', contentLength: bytes, blobType: 'BlockBlob', url: `https://acct.blob.core.windows.net/lake/${filePath}` },
    dataVersion: '',
    metadataVersion: '1',
  };
}

function captureFileCreated(filePath: string, partitionId: string, bytes: number) {
  return {
    specversion: '1.0',
    type: CAPTURE_FILE_CREATED,
    source: '/subscriptions/0000/resourcegroups/rg/providers/Microsoft.EventHub/namespaces/testns',
    id: `capture-${filePath}`,
    subject: 'eventhubs/events',
    data: { fileUrl: `https://acct.blob.core.windows.net/lake/${filePath}`, fileType: 'AzureBlockBlob', partitionId, sizeInBytes: bytes, eventCount: 2 },
  };
}

/** Every committed batch's files, by path. */
async function batchesByFile(lake: Lake): Promise<Map<string, number[]>> {
  const checkpoint = new StageCheckpoint<unknown, BronzeCommit>(lake, 'checkpoints/bronze');
  const log = new ManifestLog(lake);
  const batches = new Map<string, number[]>();
  for await (const batch of checkpoint.committedBatches()) {
    const manifest = (await log.read('bronze', 'bronze', batch)) as BronzeManifest;
    for (const file of manifest.files) batches.set(file.path, [...(batches.get(file.path) ?? []), batch]);
  }
  return batches;
}

describe('bronze with capture-file notices', () => {
  let w: LakeWorld;
  let bus: LocalBus;
  let clock: TestClock;
  beforeEach(async () => {
    w = await lakeWorld('bronze-notices-');
    clock = new TestClock(START);
    bus = LocalBus.open({ file: path.join(w.dir.path, 'bus.sqlite'), clock });
    await bus.ensureQueue(BRONZE_MANIFESTS_QUEUE, BRONZE_MANIFESTS_QUEUE_OPTIONS);
    await bus.ensureQueue(QUEUE, BRONZE_NOTICES_QUEUE_OPTIONS);
  });
  afterEach(async () => {
    await bus.close();
    await w.dir.dispose();
  });

  const reader = (receiver: QueueReceiver = bus.receiver(QUEUE), maxMessages = DEFAULT_NOTICE_READER_OPTIONS.maxMessages, logger: Logger = silent) =>
    new CaptureNoticeReader(receiver, logger, { ...DEFAULT_NOTICE_READER_OPTIONS, maxMessages, scope: { layout: LAYOUT, container: 'lake' } });

  function bronze(lake: Lake, over: Partial<BronzeServiceOptions> = {}, theBus: Bus = bus): BronzeService {
    const options: BronzeServiceOptions = {
      layout: LAYOUT,
      partitions: 3,
      pipeline: 'spec',
      checkpointRoot: 'checkpoints/bronze',
      lookbackMs: 2 * 3_600_000,
      maxBatchFiles: 10,
      maxBatchBytes: 1 << 20,
      maxBatchDelayMs: 0,
      pollMs: 1_000,
      notices: { reader: reader(), listIntervalMs: LIST_INTERVAL },
      ...over,
    };
    return new BronzeService(lake, new ManifestLog(lake, theBus, BRONZE_MANIFESTS_QUEUE), clock, silent, options, async (ms) => clock.advance(ms));
  }

  const notify = (...bodies: unknown[]) =>
    bus.send(
      QUEUE,
      bodies.map((body) => ({ body })),
    );
  const waiting = async () => (await bus.receiver(QUEUE).receive({ maxMessages: 100, maxWaitMs: 0 })).length;

  it('batches a file announced by a notice at the next step, without listing the lake', async () => {
    const lake = new RecordingLake(w.lake);
    const service = bronze(lake);
    expect(await service.step(false)).toBe(0);
    lake.reset();

    const file = await writeCaptureFile(w.lake, '1', START - 60_000, 2);
    await notify(blobCreated(file.path, file.bytes.byteLength));
    clock.advance(1_000);
    expect(await service.step(false)).toBe(1);
    expect(lake.rawLists()).toEqual([]);
    expect(await batchesByFile(w.lake)).toEqual(new Map([[file.path, [0]]]));
    expect(await waiting()).toBe(0);
  });

  it('takes files of both event types and schemas, several in one message', async () => {
    const service = bronze(w.lake);
    await service.step(false);
    const a = await writeCaptureFile(w.lake, '0', START - 120_000, 1);
    const b = await writeCaptureFile(w.lake, '2', START - 60_000, 1);
    await notify([blobCreated(a.path, a.bytes.byteLength), captureFileCreated(b.path, '2', b.bytes.byteLength)]);
    expect(await service.step(false)).toBe(1);
    expect([...(await batchesByFile(w.lake)).keys()]).toEqual([a.path, b.path]);
  });

  it('ignores duplicate notices and notices of files already consumed', async () => {
    const service = bronze(w.lake, { maxBatchDelayMs: 2_000 });
    await service.step(false);
    const file = await writeCaptureFile(w.lake, '0', START - 60_000, 3);
    const notice = blobCreated(file.path, file.bytes.byteLength);
    await notify(notice, notice, captureFileCreated(file.path, '0', file.bytes.byteLength));
    expect(await service.step(false)).toBe(0);
    clock.advance(2_000);
    expect(await service.step(false)).toBe(1);

    // Event Grid redelivers after the batch committed, and again after a restart.
    await notify(notice);
    expect(await service.step(false)).toBe(0);
    await notify(notice);
    clock.advance(LIST_INTERVAL);
    expect(await bronze(w.lake, { maxBatchDelayMs: 0 }).step(false)).toBe(0);

    expect(await batchesByFile(w.lake)).toEqual(new Map([[file.path, [0]]]));
    expect(await waiting()).toBe(0);
    expect(await bus.listDeadLetters(QUEUE)).toEqual([]);
  });

  it('ignores notices of partitions it does not read and of files before the horizon, saying why', async () => {
    const { logger, records } = recordingLogger();
    const service = bronze(w.lake, { lookbackMs: 3_600_000, notices: { reader: reader(bus.receiver(QUEUE), 100, logger), listIntervalMs: LIST_INTERVAL } });
    const first = await writeCaptureFile(w.lake, '0', START - 60_000, 1);
    expect(await service.step(false)).toBe(1);

    const elsewhere = await writeCaptureFile(w.lake, '7', START, 1);
    const ancient = await writeCaptureFile(w.lake, '0', START - 3 * 3_600_000, 1);
    await notify(blobCreated(elsewhere.path, 1), blobCreated(ancient.path, 1));
    expect(await service.step(false)).toBe(0);
    expect(await waiting()).toBe(0);
    expect([...(await batchesByFile(w.lake)).keys()]).toEqual([first.path]);
    expect(records.filter((r) => r['msg'] === 'ignoring a capture-file notice').map((r) => [r['path'], r['reason']])).toEqual([
      [elsewhere.path, 'partition 7 is not one of the partitions read, 0…2 (PIPELINE_EVENT_HUB_PARTITIONS)'],
      [ancient.path, expect.stringMatching(/older than the partition's horizon/)],
    ]);
  });

  it('dead-letters a malformed notice with the reason MalformedNotice and what is wrong', async () => {
    const service = bronze(w.lake);
    const file = await writeCaptureFile(w.lake, '0', START - 60_000, 1);
    await notify('not an event', { hello: 'world' }, blobCreated(file.path, file.bytes.byteLength));
    expect(await service.step(false)).toBe(1);

    const dead = await bus.listDeadLetters(QUEUE);
    expect(dead.map((d) => ({ reason: d.reason, body: d.body }))).toEqual([
      { reason: MALFORMED_NOTICE, body: 'not an event' },
      { reason: MALFORMED_NOTICE, body: { hello: 'world' } },
    ]);
    expect(dead[0]?.description).toMatch(/the body is text that is not JSON/);
    expect(dead[1]?.description).toMatch(/neither an Event Grid event .* nor a CloudEvents event/);
    expect(await waiting()).toBe(0);
  });

  it('still finds a file whose notice never came, at the next listing', async () => {
    const lake = new RecordingLake(w.lake);
    const service = bronze(lake);
    expect(await service.step(false)).toBe(0);
    const file = await writeCaptureFile(w.lake, '2', START, 4);

    clock.advance(LIST_INTERVAL - 1);
    lake.reset();
    expect(await service.step(false)).toBe(0);
    expect(lake.rawLists()).toEqual([]);

    clock.advance(1);
    expect(await service.step(false)).toBe(1);
    expect(lake.rawLists().length).toBeGreaterThan(0);
    expect(await batchesByFile(w.lake)).toEqual(new Map([[file.path, [0]]]));
  });

  it.each([
    ['before the offsets of its batch', 2],
    ['after the offsets, before the manifest', 3],
  ])('batches a file exactly once when it crashed %s, after completing its notice', async (_when, crashAt) => {
    const file = await writeCaptureFile(w.lake, '1', START - 60_000, 2);
    await notify(blobCreated(file.path, file.bytes.byteLength));
    // The first step reads the notice before it lists; the crash is at the first batch write.
    const faulty = new FaultyLake(w.lake, crashAt);
    await expect(bronze(faulty).step(false)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(await waiting()).toBe(0);

    // Restarted, with the notice gone: the listing every start begins with finds the file.
    const restarted = bronze(w.lake);
    await restarted.step(false);
    await notify(blobCreated(file.path, file.bytes.byteLength));
    clock.advance(LIST_INTERVAL);
    expect(await restarted.step(false)).toBe(0);

    expect(await batchesByFile(w.lake)).toEqual(new Map([[file.path, [0]]]));
  });

  it('reads at most the configured notices per step, leaving the rest for the next', async () => {
    const files = [];
    for (let i = 0; i < 3; i++) files.push(await writeCaptureFile(w.lake, '0', START - (3 - i) * 60_000, 1));
    const service = bronze(w.lake, { notices: { reader: reader(bus.receiver(QUEUE), 2), listIntervalMs: LIST_INTERVAL } });
    // Listing at start takes all three; the notices then are duplicates, two per step.
    expect(await service.step(false)).toBe(1);
    await notify(...files.map((f) => blobCreated(f.path, f.bytes.byteLength)));
    await service.step(false);
    expect(await bus.receiver(QUEUE).receive({ maxMessages: 10, maxWaitMs: 0 })).toHaveLength(1);
  });

  it('lists the lake instead when the notices queue cannot be read', async () => {
    const service = bronze(w.lake, { notices: { reader: reader(new UnreachableReceiver()), listIntervalMs: LIST_INTERVAL } });
    expect(await service.step(false)).toBe(0);
    const file = await writeCaptureFile(w.lake, '0', START, 1);
    clock.advance(1_000);
    expect(await service.step(false)).toBe(1);
    expect(await batchesByFile(w.lake)).toEqual(new Map([[file.path, [0]]]));
  });

  it('stops on a notices queue that does not exist, as every service does on a failure no retry fixes', async () => {
    const missing = new FatalBackendError(`Service Bus queue "${QUEUE}" does not exist: create it or fix BRONZE_NOTICES_QUEUE.`, `Service Bus queue "${QUEUE}"`);
    const service = bronze(w.lake, { notices: { reader: reader(new UnreachableReceiver(missing)), listIntervalMs: LIST_INTERVAL } });
    await expect(service.step(false)).rejects.toBe(missing);
  });
});

/** A receiver whose namespace cannot be reached, or (with `failure`) that fails as given. */
class UnreachableReceiver implements QueueReceiver {
  readonly queue = QUEUE;
  constructor(private readonly failure: Error = new Error('the Service Bus namespace is unreachable')) {}
  private fail(): Promise<never> {
    return Promise.reject(this.failure);
  }
  receive(): Promise<ReceivedMessage[]> {
    return this.fail();
  }
  complete(): Promise<void> {
    return this.fail();
  }
  abandon(): Promise<void> {
    return this.fail();
  }
  deadLetter(): Promise<void> {
    return this.fail();
  }
  renewMessageLock(): Promise<number> {
    return this.fail();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

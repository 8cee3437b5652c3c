import { capturePath } from '@pipeline/contracts';
import { BLOB_CREATED, CAPTURE_FILE_CREATED, parseCaptureNotices, type CaptureNoticeBody, type NoticeScope } from './capture-notice';
import { LAYOUT } from './spec-helpers';

const TIME = Date.UTC(2026, 0, 1, 12, 30, 5);
const PATH = capturePath(LAYOUT, '2', TIME); // raw/testns/events/2/2026/01/01/12/30/05.avro
const SCOPE: NoticeScope = { layout: LAYOUT, container: 'lake', root: 'pipelines/sensors' };
const BLOB = `pipelines/sensors/${PATH}`;

/** A BlobCreated event in the Event Grid schema, as Azure Storage sends it. */
function blobCreatedEventGrid(blob = BLOB, over: Record<string, unknown> = {}, container = 'lake') {
  return {
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    subject: `/blobServices/default/containers/${container}/blobs/${blob}`,
    eventType: BLOB_CREATED,
    eventTime: '2026-01-01T12:30:06.1234567Z',
    id: '831e1650-001e-001b-66ab-eeb76e069631',
    data: {
      api: 'PutBlockList',
      clientRequestId: '6d79dbfb-0e37-4fc4-981f-442c9ca65760',
      requestId: '831e1650-001e-001b-66ab-eeb76e000000',
      eTag: '0x8D4BCC2E4835CD0',
      contentType: 'application/octet-stream',
      contentLength: 524288,
      blobType: 'BlockBlob',
      url: `https://acct.blob.core.windows.net/${container}/${blob}`,
      sequencer: '00000000000004420000000000028963',
      storageDiagnostics: { batchId: 'b68529f3-68cd-4744-baa4-3c0498ec19f0' },
      ...over,
    },
    dataVersion: '',
    metadataVersion: '1',
  };
}

/** The same event in the CloudEvents 1.0 schema (its subject has no leading slash). */
function blobCreatedCloudEvent(blob = BLOB, over: Record<string, unknown> = {}) {
  const { subject, eventType, eventTime, id, data } = blobCreatedEventGrid(blob, over);
  return {
    specversion: '1.0',
    type: eventType,
    source: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    id,
    time: eventTime,
    subject: subject.slice(1),
    data: { ...data, url: `https://acct.dfs.core.windows.net/lake/${blob}` },
  };
}

/** A CaptureFileCreated event in the Event Grid schema. */
function captureFileCreatedEventGrid(fileUrl = `https://acct.blob.core.windows.net/lake/${BLOB}`, over: Record<string, unknown> = {}) {
  return {
    topic: '/subscriptions/0000/resourcegroups/rg/providers/Microsoft.EventHub/namespaces/testns',
    subject: 'eventhubs/events',
    eventType: CAPTURE_FILE_CREATED,
    eventTime: '2026-01-01T12:31:06.0498024Z',
    id: '14e87d03-6fbf-4bb2-9a21-92bd1281f247',
    data: {
      fileUrl,
      fileType: 'AzureBlockBlob',
      partitionId: '2',
      sizeInBytes: 249168,
      eventCount: 1500,
      firstSequenceNumber: 2400,
      lastSequenceNumber: 3899,
      firstEnqueueTime: '2026-01-01T12:30:05.674Z',
      lastEnqueueTime: '2026-01-01T12:31:04.309Z',
      ...over,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}

function captureFileCreatedCloudEvent(fileUrl?: string) {
  const { eventType, eventTime, id, subject, data } = captureFileCreatedEventGrid(fileUrl);
  return {
    specversion: '1.0',
    type: eventType,
    source: '/subscriptions/0000/resourcegroups/rg/providers/Microsoft.EventHub/namespaces/testns',
    id,
    time: eventTime,
    subject,
    data,
  };
}

const file = (bytes: number) => ({ path: PATH, partitionId: '2', time: TIME, bytes });
const ignored = (pattern: RegExp) => ({ notices: [{ ignored: expect.stringMatching(pattern) as string }] });
const malformed = (body: CaptureNoticeBody) => ('malformed' in body ? body.malformed : `not malformed: ${JSON.stringify(body)}`);

describe('capture-file notices', () => {
  describe('of a created blob', () => {
    it('gives the lake path, partition, time and size of a capture file, in the Event Grid schema', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid(), SCOPE)).toEqual({ notices: [file(524288)] });
    });

    it('gives the same file in the CloudEvents schema, announced on the dfs endpoint', () => {
      expect(parseCaptureNotices(blobCreatedCloudEvent(), SCOPE)).toEqual({ notices: [file(524288)] });
    });

    it('reads every event of an array, in order', () => {
      const other = capturePath(LAYOUT, '0', TIME + 60_000);
      const parsed = parseCaptureNotices([blobCreatedEventGrid(), blobCreatedCloudEvent(`pipelines/sensors/${other}`, { contentLength: 10 })], SCOPE);
      expect(parsed).toEqual({ notices: [file(524288), { path: other, partitionId: '0', time: TIME + 60_000, bytes: 10 }] });
    });

    it('takes the path from the subject, URL-decoded', () => {
      const layout = { ...LAYOUT, eventHub: 'my hub' };
      const path = capturePath(layout, '1', TIME);
      const encoded = path.replace('my hub', 'my%20hub');
      expect(parseCaptureNotices(blobCreatedEventGrid(encoded, {}), { layout, container: 'lake' })).toEqual({ notices: [{ path, partitionId: '1', time: TIME, bytes: 524288 }] });
    });

    it('reads a lake without a root folder, and accepts any container for a local lake', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid(PATH), { layout: LAYOUT, container: 'lake' })).toEqual({ notices: [file(524288)] });
      expect(parseCaptureNotices(blobCreatedEventGrid(PATH, {}, 'anything'), { layout: LAYOUT })).toEqual({ notices: [file(524288)] });
    });

    it('accepts an event whose body arrived as JSON text', () => {
      expect(parseCaptureNotices(JSON.stringify(blobCreatedEventGrid()), SCOPE)).toEqual({ notices: [file(524288)] });
    });

    it('ignores a blob in another container', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid(BLOB, {}, 'other'), SCOPE)).toEqual(ignored(/container "other" is not the lake's container "lake"/));
    });

    it('ignores a blob outside the lake root folder', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid(PATH), SCOPE)).toEqual(ignored(/outside the lake root "pipelines\/sensors"/));
    });

    it('ignores blobs outside the capture files of the hub', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid('pipelines/sensors/manifests/bronze/bronze/00000000000000000001.json'), SCOPE)).toEqual(
        ignored(/outside the capture files of this hub \(raw\/testns\/events\/\)/),
      );
      expect(parseCaptureNotices(blobCreatedEventGrid(`pipelines/sensors/${capturePath({ ...LAYOUT, eventHub: 'other' }, '0', TIME)}`), SCOPE)).toEqual(
        ignored(/outside the capture files/),
      );
    });

    it('ignores folder markers and files that are not .avro', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid('pipelines/sensors/raw/testns/events/2/2026/01/01/12/', { contentLength: 0 }), SCOPE)).toEqual(ignored(/is a folder marker/));
      expect(parseCaptureNotices(blobCreatedEventGrid('pipelines/sensors/raw/testns/events/2/2026/01/01/12', { contentLength: 0 }), SCOPE)).toEqual(
        ignored(/is not an \.avro file/),
      );
      expect(parseCaptureNotices(blobCreatedEventGrid(`${BLOB}.tmp`), SCOPE)).toEqual(ignored(/is not an \.avro file/));
    });

    it('ignores an .avro file that does not follow the capture layout', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid('pipelines/sensors/raw/testns/events/2/2026/13/01/12/30/05.avro'), SCOPE)).toEqual(
        ignored(/does not follow the capture layout \{prefix\}\/\{namespace\}/),
      );
    });

    it('ignores the CreateFile event of a hierarchical-namespace account: the file is still being written', () => {
      expect(parseCaptureNotices(blobCreatedEventGrid(BLOB, { api: 'CreateFile', contentLength: 0 }), SCOPE)).toEqual(ignored(/FlushWithClose event follows/));
      expect(parseCaptureNotices(blobCreatedEventGrid(BLOB, { api: 'FlushWithClose' }), SCOPE)).toEqual({ notices: [file(524288)] });
    });

    it('calls an event without a blob subject or size malformed, saying what it needs', () => {
      expect(malformed(parseCaptureNotices({ ...blobCreatedEventGrid(), subject: 'containers/lake/x.avro' }, SCOPE))).toMatch(
        /the event: a Microsoft.Storage.BlobCreated event needs the subject \/blobServices\/default\/containers\/<container>\/blobs\/<path>, found "containers\/lake\/x.avro"/,
      );
      expect(malformed(parseCaptureNotices(blobCreatedEventGrid(BLOB, { contentLength: '12' }), SCOPE))).toMatch(
        /needs data.contentLength, a whole number of bytes ≥ 0, found "12"/,
      );
    });
  });

  describe('of a capture file Event Hubs wrote', () => {
    it('gives the file from data.fileUrl, in the Event Grid schema', () => {
      expect(parseCaptureNotices(captureFileCreatedEventGrid(), SCOPE)).toEqual({ notices: [file(249168)] });
    });

    it('gives the same file in the CloudEvents schema, and from a dfs URL', () => {
      expect(parseCaptureNotices(captureFileCreatedCloudEvent(), SCOPE)).toEqual({ notices: [file(249168)] });
      expect(parseCaptureNotices(captureFileCreatedCloudEvent(`https://acct.dfs.core.windows.net/lake/${BLOB}`), SCOPE)).toEqual({ notices: [file(249168)] });
    });

    it('reads a path-style emulator URL, whose first segment is the account', () => {
      expect(parseCaptureNotices(captureFileCreatedEventGrid(`http://127.0.0.1:10000/devstoreaccount1/lake/${BLOB}`), SCOPE)).toEqual({ notices: [file(249168)] });
    });

    it('URL-decodes the file URL', () => {
      const layout = { ...LAYOUT, namespace: 'name space' };
      const path = capturePath(layout, '2', TIME);
      expect(parseCaptureNotices(captureFileCreatedEventGrid(`https://acct.blob.core.windows.net/lake/${path.replace(' ', '%20')}`), { layout, container: 'lake' })).toEqual({
        notices: [{ path, partitionId: '2', time: TIME, bytes: 249168 }],
      });
    });

    it('ignores a capture file in another container or outside the hub', () => {
      expect(parseCaptureNotices(captureFileCreatedEventGrid(`https://acct.blob.core.windows.net/other/${BLOB}`), SCOPE)).toEqual(ignored(/container "other"/));
      expect(
        parseCaptureNotices(captureFileCreatedEventGrid(`https://acct.blob.core.windows.net/lake/pipelines/sensors/raw/otherns/events/2/2026/01/01/12/30/05.avro`), SCOPE),
      ).toEqual(ignored(/outside the capture files of this hub/));
    });

    it('calls a partition id that disagrees with the path malformed', () => {
      expect(malformed(parseCaptureNotices(captureFileCreatedEventGrid(undefined, { partitionId: '3' }), SCOPE))).toMatch(/data.partitionId "3" disagrees with the partition "2"/);
    });

    it('calls an event without a file URL or size malformed', () => {
      expect(malformed(parseCaptureNotices(captureFileCreatedEventGrid(undefined, { fileUrl: undefined }), SCOPE))).toMatch(/needs a string data.fileUrl, found nothing/);
      expect(malformed(parseCaptureNotices(captureFileCreatedEventGrid('not a url'), SCOPE))).toMatch(/data.fileUrl "not a url" is not a URL/);
      expect(malformed(parseCaptureNotices(captureFileCreatedEventGrid(undefined, { sizeInBytes: -1 }), SCOPE))).toMatch(/needs data.sizeInBytes/);
    });
  });

  describe('of anything else', () => {
    it('ignores other event types with the type named', () => {
      expect(parseCaptureNotices({ ...blobCreatedEventGrid(), eventType: 'Microsoft.Storage.BlobDeleted' }, SCOPE)).toEqual(
        ignored(/event type Microsoft.Storage.BlobDeleted does not announce a new file/),
      );
    });

    it('calls a body that is no event malformed, with the reason', () => {
      expect(malformed(parseCaptureNotices('hello', SCOPE))).toMatch(/the body is text that is not JSON \("hello"\)/);
      expect(malformed(parseCaptureNotices([], SCOPE))).toMatch(/empty array/);
      expect(malformed(parseCaptureNotices(42, SCOPE))).toMatch(/expected an Event Grid or CloudEvents event \(a JSON object\), found 42/);
      expect(malformed(parseCaptureNotices({ hello: 'world' }, SCOPE))).toMatch(/neither an Event Grid event .* nor a CloudEvents event/);
      expect(malformed(parseCaptureNotices({ type: BLOB_CREATED, data: {} }, SCOPE))).toMatch(/neither an Event Grid event/);
      expect(malformed(parseCaptureNotices({ eventType: BLOB_CREATED, subject: '/x' }, SCOPE))).toMatch(/needs an object "data", found nothing/);
    });

    it('calls a whole array malformed when one of its events is, naming which', () => {
      expect(malformed(parseCaptureNotices([blobCreatedEventGrid(), { nope: true }], SCOPE))).toMatch(/^event 1 of 2: neither an Event Grid event/);
    });
  });
});

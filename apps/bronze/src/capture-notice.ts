/**
 * Reads one queue message body as new-capture-file notices from Azure Event Grid. Pure: no I/O.
 *
 * Accepted: the Event Grid schema (`eventType`, `subject`, `data`) and the CloudEvents 1.0 schema
 * (`specversion`, `type`, `subject`, `data`), one event or an array of them, of two types:
 * - `Microsoft.Storage.BlobCreated`: the blob path comes from the subject
 *   (`/blobServices/default/containers/<container>/blobs/<path>`, URL-decoded), the size from
 *   `data.contentLength`. `CreateFile` events of hierarchical-namespace accounts announce an empty
 *   file that is still being written; only the `FlushWithClose` that follows means it is complete.
 * - `Microsoft.EventHub.CaptureFileCreated`: the path comes from `data.fileUrl` (blob or dfs
 *   endpoint), the size from `data.sizeInBytes`, and `data.partitionId` must agree with the path.
 *
 * The blob path must be in the lake's container and under its root folder (PIPELINE_LAKE_ROOT),
 * which is stripped, and must be a capture file of the layout; every other blob is ignored with a
 * reason. A body that is not such an event at all is malformed: the caller dead-letters it, so
 * nothing is dropped silently. One malformed event makes the whole message malformed.
 */
import { captureFileTime, CAPTURE_LAYOUT, type CaptureLayout } from '@pipeline/contracts';
import type { DiscoveredFile } from './partition-discovery';

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';
export const CAPTURE_FILE_CREATED = 'Microsoft.EventHub.CaptureFileCreated';

/** Where the lake lives in its storage account, to turn a blob into a lake path. */
export interface NoticeScope {
  layout: CaptureLayout;
  /** The lake's container; `undefined` (a local lake, which has none) accepts any container. */
  container?: string;
  /** The lake's folder inside the container (PIPELINE_LAKE_ROOT); none when empty or absent. */
  root?: string;
}

/** One event: a capture file bronze may take, or why it is not one. */
export type CaptureNotice = DiscoveredFile | { ignored: string };

/** One message body: its events' notices, or why it is not a notice at all. */
export type CaptureNoticeBody = { notices: CaptureNotice[] } | { malformed: string };

type Json = Record<string, unknown>;

class Malformed extends Error {}

const SUBJECT = /^\/?blobServices\/default\/containers\/([^/]+)\/blobs\/(.+)$/;
/** Hosts addressed path-style (`http://127.0.0.1:10000/<account>/<container>/…`), as the storage emulators are. */
const PATH_STYLE_HOST = /^(localhost|\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;
const MAX_QUOTED = 120;

export function parseCaptureNotices(body: unknown, scope: NoticeScope): CaptureNoticeBody {
  let value = body;
  // A sender that stringified the JSON twice still sent an event.
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return { malformed: `the body is text that is not JSON (${quote(body)}); expected an Event Grid or CloudEvents event, or an array of them` };
    }
  }
  const events = Array.isArray(value) ? value : [value];
  if (events.length === 0) return { malformed: 'the body is an empty array; expected at least one Event Grid or CloudEvents event' };
  const notices: CaptureNotice[] = [];
  for (const [index, event] of events.entries()) {
    try {
      notices.push(parseEvent(event, scope));
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      const where = Array.isArray(value) ? `event ${index} of ${events.length}` : 'the event';
      return { malformed: `${where}: ${error.message}` };
    }
  }
  return { notices };
}

function parseEvent(event: unknown, scope: NoticeScope): CaptureNotice {
  if (!isObject(event)) throw new Malformed(`expected an Event Grid or CloudEvents event (a JSON object), found ${quote(event)}`);
  const type = typeof event['eventType'] === 'string' ? event['eventType'] : typeof event['type'] === 'string' && 'specversion' in event ? event['type'] : undefined;
  if (type === undefined) {
    throw new Malformed('neither an Event Grid event (no string "eventType") nor a CloudEvents event (no "specversion" and string "type")');
  }
  if (type !== BLOB_CREATED && type !== CAPTURE_FILE_CREATED) return { ignored: `event type ${type} does not announce a new file` };
  const data = event['data'];
  if (!isObject(data)) throw new Malformed(`a ${type} event needs an object "data", found ${quote(data)}`);
  return type === BLOB_CREATED ? blobCreated(event, data, scope) : captureFileCreated(data, scope);
}

function blobCreated(event: Json, data: Json, scope: NoticeScope): CaptureNotice {
  const subject = event['subject'];
  const m = typeof subject === 'string' ? SUBJECT.exec(subject) : null;
  if (!m) throw new Malformed(`a ${BLOB_CREATED} event needs the subject /blobServices/default/containers/<container>/blobs/<path>, found ${quote(subject)}`);
  const bytes = size(data, 'contentLength', BLOB_CREATED);
  if (data['api'] === 'CreateFile') return { ignored: 'a CreateFile event announces a file still being written; its FlushWithClose event follows' };
  const blob = decode(m[2] as string);
  if (blob === undefined) return { ignored: `the blob name ${quote(m[2])} is not valid URL encoding, so it is no capture file` };
  return locate(decode(m[1] as string) ?? (m[1] as string), blob, bytes, scope);
}

function captureFileCreated(data: Json, scope: NoticeScope): CaptureNotice {
  // The 2018 schema spelled it `fileurl`.
  const fileUrl = data['fileUrl'] ?? data['fileurl'];
  if (typeof fileUrl !== 'string') throw new Malformed(`a ${CAPTURE_FILE_CREATED} event needs a string data.fileUrl, found ${quote(fileUrl)}`);
  const partitionId = data['partitionId'];
  if (typeof partitionId !== 'string' || partitionId === '') throw new Malformed(`a ${CAPTURE_FILE_CREATED} event needs a string data.partitionId, found ${quote(partitionId)}`);
  const bytes = size(data, 'sizeInBytes', CAPTURE_FILE_CREATED);
  let url: URL;
  try {
    url = new URL(fileUrl);
  } catch {
    throw new Malformed(`data.fileUrl ${quote(fileUrl)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ignored: `data.fileUrl ${quote(fileUrl)} is not a blob storage URL, so not in the lake` };
  const segments = url.pathname.split('/').slice(1);
  if (PATH_STYLE_HOST.test(url.hostname)) segments.shift();
  const [container, ...rest] = segments;
  const blob = decode(rest.join('/'));
  if (!container || !blob) return { ignored: `data.fileUrl ${quote(fileUrl)} names no blob inside a container` };
  const notice = locate(decode(container) ?? container, blob, bytes, scope);
  if (!('ignored' in notice) && notice.partitionId !== partitionId) {
    throw new Malformed(`data.partitionId ${quote(partitionId)} disagrees with the partition ${quote(notice.partitionId)} of data.fileUrl ${quote(fileUrl)}`);
  }
  return notice;
}

/** The lake path of a blob, checked against the container, the root and the capture layout. */
function locate(container: string, blob: string, bytes: number, scope: NoticeScope): CaptureNotice {
  if (scope.container !== undefined && container !== scope.container) return { ignored: `container ${quote(container)} is not the lake's container ${quote(scope.container)}` };
  if (blob.endsWith('/')) return { ignored: `${quote(blob)} is a folder marker` };
  const root = scope.root ? `${scope.root}/` : '';
  if (!blob.startsWith(root)) return { ignored: `${quote(blob)} is outside the lake root ${quote(scope.root)}` };
  const path = blob.slice(root.length);
  const prefix = `${scope.layout.prefix}/${scope.layout.namespace}/${scope.layout.eventHub}/`;
  if (!path.startsWith(prefix)) return { ignored: `${quote(path)} is outside the capture files of this hub (${prefix})` };
  if (!path.endsWith('.avro')) return { ignored: `${quote(path)} is not an .avro file` };
  const partitionId = path.slice(prefix.length).split('/')[0] as string;
  const time = partitionId === '' ? undefined : captureFileTime(scope.layout, partitionId, path);
  if (time === undefined) {
    return { ignored: `${quote(path)} does not follow the capture layout ${CAPTURE_LAYOUT}` };
  }
  return { path, partitionId, time, bytes };
}

function size(data: Json, field: string, type: string): number {
  const value = data[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Malformed(`a ${type} event needs data.${field}, a whole number of bytes ≥ 0, found ${quote(value)}`);
  }
  return value;
}

function decode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value for a message, shortened: a dead-letter description has a size limit. */
function quote(value: unknown): string {
  const text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  return text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text;
}

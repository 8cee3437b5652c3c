/**
 * A Blob endpoint that lists the way an account with the hierarchical namespace (ADLS Gen2) does,
 * in front of Azurite (which lists the flat way): the lake contract runs against it, so an adapter
 * that relied on the flat namespace's byte order fails here.
 *
 * What it changes, and only that (every other request goes to Azurite unchanged, signature and all):
 * - Get Account Information answers `x-ms-is-hns-enabled: true`.
 * - Writing a blob creates its parent directories, and they stay when the blob is deleted. A
 *   directory reads as an empty blob with the metadata `hdi_isfolder=true`, as on ADLS Gen2.
 * - List Blobs is served from Azurite's content, directory by directory: a flat listing is a
 *   depth-first walk where each directory's children come by name (so "a/b" before "a-c"), each
 *   directory listed as a blob with `hdi_isfolder=true` before its children; a `/`-delimited listing
 *   gives one directory's children by name, each subdirectory both as a BlobPrefix and as its folder
 *   blob. Pages follow `maxresults` and the returned NextMarker (opaque, as the service's).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient, type BlobItem } from '@azure/storage-blob';
import type { AzuriteBlob } from './azurite';

export interface HnsBlobProxy {
  readonly accountUrl: string;
  readonly connectionString: string;
  /** The List Blobs requests served so far: each one's prefix, and whether it was `/`-delimited. */
  listings(): Array<{ prefix: string; delimited: boolean }>;
  stop(): Promise<void>;
}

interface Entry {
  name: string;
  /** A directory: listed as a folder blob (and as a BlobPrefix in a delimited listing). */
  directory: boolean;
  blob?: BlobItem;
}

export async function startHnsBlobProxy(azurite: AzuriteBlob): Promise<HnsBlobProxy> {
  const target = new URL(azurite.accountUrl);
  const account = target.pathname.replace(/^\/|\/$/g, '');
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  /** Directories per container: created by writes, kept after deletes, as HNS does. */
  const directories = new Map<string, Set<string>>();
  const listings: Array<{ prefix: string; delimited: boolean }> = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((error as Error)?.stack ?? error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const [, accountName, container, ...blobParts] = url.pathname.split('/');
    const query = url.searchParams;
    if (accountName !== account) return forward(req, res);
    if (query.get('restype') === 'account' && query.get('comp') === 'properties') {
      req.resume();
      res.writeHead(200, {
        'x-ms-is-hns-enabled': 'true',
        'x-ms-sku-name': 'Standard_LRS',
        'x-ms-account-kind': 'StorageV2',
        'x-ms-version': '2025-01-05',
        'x-ms-request-id': '0',
      });
      return void res.end();
    }
    if (req.method === 'GET' && container && blobParts.length === 0 && query.get('restype') === 'container' && query.get('comp') === 'list') {
      req.resume();
      return list(res, container, query);
    }
    const name = decodeURIComponent(blobParts.join('/'));
    if ((req.method === 'GET' || req.method === 'HEAD') && container && name !== '' && !query.has('comp') && directories.get(container)?.has(name)) {
      req.resume();
      res.writeHead(200, {
        'content-length': '0',
        'content-type': 'application/octet-stream',
        'last-modified': new Date(0).toUTCString(),
        etag: '"0x0"',
        'x-ms-blob-type': 'BlockBlob',
        'x-ms-meta-hdi_isfolder': 'true',
        'x-ms-version': '2025-01-05',
        'x-ms-request-id': '0',
      });
      return void res.end();
    }
    if (req.method === 'PUT' && container && name !== '') {
      const known = directories.get(container) ?? new Set<string>();
      directories.set(container, known);
      const segments = name.split('/');
      for (let i = 1; i < segments.length; i++) known.add(segments.slice(0, i).join('/'));
    }
    return forward(req, res);
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
    req.pipe(upstream);
  }

  async function list(res: ServerResponse, container: string, query: URLSearchParams): Promise<void> {
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') ?? undefined;
    const max = Number(query.get('maxresults') ?? 5000);
    const start = query.get('marker') ? Number(Buffer.from(query.get('marker') as string, 'base64url').toString()) : 0;
    if (delimiter !== undefined && delimiter !== '/') throw new Error(`This double lists with the delimiter "/" only, got ${JSON.stringify(delimiter)}.`);
    listings.push({ prefix, delimited: delimiter !== undefined });

    const client = service.getContainerClient(container);
    const blobs: BlobItem[] = [];
    for await (const blob of client.listBlobsFlat({ prefix, includeMetadata: true })) blobs.push(blob);
    const dirs = new Set([...(directories.get(container) ?? [])].filter((d) => d.startsWith(prefix)));
    for (const blob of blobs) {
      const segments = blob.name.split('/');
      for (let i = 1; i < segments.length; i++) {
        const dir = segments.slice(0, i).join('/');
        if (dir.startsWith(prefix)) dirs.add(dir);
      }
    }
    const entries: Entry[] = [...[...dirs].map((name) => ({ name, directory: true })), ...blobs.map((blob) => ({ name: blob.name, directory: false, blob }))];

    // Depth-first, by name within a directory; a directory before its children.
    const bySegments = (x: Entry, y: Entry) => compareSegments(x.name.split('/'), y.name.split('/')) || Number(y.directory) - Number(x.directory);
    let listed: string[];
    if (delimiter === undefined) {
      listed = entries.sort(bySegments).map((entry) => blobXml(entry));
    } else {
      const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const children = entries.filter((entry) => !entry.name.slice(base.length).includes('/')).sort(bySegments);
      listed = children.flatMap((entry) => (entry.directory ? [blobXml(entry), `<BlobPrefix><Name>${xml(`${entry.name}/`)}</Name></BlobPrefix>`] : [blobXml(entry)]));
    }
    const page = listed.slice(start, start + max);
    const next = start + max < listed.length ? Buffer.from(String(start + max)).toString('base64url') : '';
    const body =
      `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${xml(`http://proxy/${account}`)}" ContainerName="${xml(container)}">` +
      `<Prefix>${xml(prefix)}</Prefix><MaxResults>${max}</MaxResults>${delimiter ? `<Delimiter>${delimiter}</Delimiter>` : ''}` +
      `<Blobs>${page.join('')}</Blobs><NextMarker>${next}</NextMarker></EnumerationResults>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'x-ms-version': '2025-01-05', 'x-ms-request-id': '0' });
    res.end(body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const accountUrl = `http://127.0.0.1:${port}/${account}`;
  return {
    accountUrl,
    connectionString: azurite.connectionString.replace(/BlobEndpoint=[^;]+;/, `BlobEndpoint=${accountUrl};`),
    listings: () => [...listings],
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Segment by segment, each by its UTF-8 bytes; a path before the paths below it. */
function compareSegments(x: string[], y: string[]): number {
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const order = Buffer.compare(Buffer.from(x[i] as string), Buffer.from(y[i] as string));
    if (order !== 0) return order;
  }
  return x.length - y.length;
}

function blobXml(entry: Entry): string {
  const properties = entry.blob?.properties;
  const modified = (properties?.lastModified ?? new Date(0)).toUTCString();
  return (
    `<Blob><Name>${xml(entry.name)}</Name><Properties><Creation-Time>${modified}</Creation-Time><Last-Modified>${modified}</Last-Modified>` +
    `<Etag>${xml(properties?.etag ?? '"0x0"')}</Etag><Content-Length>${properties?.contentLength ?? 0}</Content-Length>` +
    `<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType></Properties>` +
    `<Metadata>${
      entry.directory
        ? '<hdi_isfolder>true</hdi_isfolder>'
        : Object.entries(entry.blob?.metadata ?? {})
            .map(([k, v]) => `<${k}>${xml(v)}</${k}>`)
            .join('')
    }</Metadata></Blob>`
  );
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

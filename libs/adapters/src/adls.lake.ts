/**
 * The lake on Azure Data Lake Storage Gen2 (or any Blob endpoint, such as Azurite), through the
 * Blob API, which hierarchical-namespace accounts serve too.
 *
 * - createIfAbsent is a PUT with `If-None-Match: *`: the service answers 409 when the blob
 *   exists, so exactly one writer creates it (DESIGN invariant 3).
 * - write is a block blob upload: the blob becomes visible only when its block list commits,
 *   so readers see the old or the new content, never a part.
 * - list keeps the port's ascending byte order on both kinds of account. A flat-namespace account
 *   lists a container in that order, so one flat listing serves (5,000 names a request). An account
 *   with the hierarchical namespace (HNS) lists directory by directory, each directory's children by
 *   name, so "a/b" comes before "a-c" although '-' < '/': there the lake walks the directories
 *   (one `/`-delimited listing each), orders each directory's children by the byte order of their
 *   full path (a subdirectory as its name plus '/'), and goes into a subdirectory at its place. That
 *   is exactly byte order, lazily: memory holds one directory's children per level, and `limit` and
 *   `startAfter` stop or skip whole subtrees. The kind of account is asked once
 *   (Get Account Information, `x-ms-is-hns-enabled`); when the answer is refused or missing the
 *   lake walks, which is correct on both. A listing with `startAfter` walks on a flat account too, as
 *   a flat listing would read every name before it (bronze lists past its newest file each poll).
 * - An HNS account's directories are blobs with the metadata `hdi_isfolder=true`: never entries,
 *   and absent for stat, exists, read and readStream, as folders are in the port.
 * Every path is validated with `assertLakePath`; `root` (optional) is a folder inside the container.
 */
import { Readable } from 'node:stream';
import { BlobServiceClient, RestError, type BlobItem, type ContainerClient } from '@azure/storage-blob';
import { assertLakePath, FatalBackendError, LakeError, LakeNotFoundError, type Lake, type LakeEntry } from '@pipeline/ports';

export interface AdlsLakeOptions {
  container: ContainerClient;
  /** A folder inside the container that is the lake root (no leading or trailing slash). */
  root?: string;
  /** How the account lists: asked of the account when absent. */
  namespace?: LakeNamespace;
}

/** `flat`: a flat-namespace Blob account (or Azurite); `hierarchical`: ADLS Gen2 with HNS. */
export type LakeNamespace = 'flat' | 'hierarchical';

export class AdlsLake implements Lake {
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly prefix: string;
  private namespace: Promise<LakeNamespace> | undefined;

  constructor(options: AdlsLakeOptions) {
    this.container = options.container;
    if (options.namespace !== undefined) this.namespace = Promise.resolve(options.namespace);
    if (options.root !== undefined) assertLakePath(options.root);
    this.prefix = options.root ? `${options.root}/` : '';
    // The URL without any query string, so a SAS token never reaches a message.
    this.location = `${this.container.url.split('?')[0]}${this.prefix ? `/${options.root}` : ''}`;
  }

  private blob(path: string) {
    assertLakePath(path);
    return this.container.getBlockBlobClient(`${this.prefix}${path}`);
  }

  async createIfAbsent(path: string, data: Uint8Array | string): Promise<boolean> {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      await this.blob(path).uploadData(body, { conditions: { ifNoneMatch: '*' } });
      return true;
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412)) return false;
      throw this.wrap(error, 'create', path);
    }
  }

  async write(path: string, data: Uint8Array | string): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    try {
      await this.blob(path).uploadData(body);
    } catch (error) {
      throw this.wrap(error, 'write', path);
    }
  }

  async read(path: string): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await this.blob(path).downloadToBuffer();
    } catch (error) {
      throw this.wrap(error, 'read', path);
    }
    // A directory of an HNS account reads as an empty blob: only an empty answer needs a look.
    if (data.length === 0 && (await this.stat(path)) === undefined) throw new LakeNotFoundError(path, this.location);
    return data;
  }

  async readStream(path: string): Promise<Readable> {
    try {
      const response = await this.blob(path).download();
      if (response.metadata?.['hdi_isfolder'] === 'true') throw new LakeNotFoundError(path, this.location);
      const body = response.readableStreamBody;
      if (!body) throw new LakeError(`The lake at ${this.location} returned no body for ${JSON.stringify(path)}.`);
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    } catch (error) {
      throw this.wrap(error, 'read', path);
    }
  }

  async stat(path: string): Promise<LakeEntry | undefined> {
    try {
      const properties = await this.blob(path).getProperties();
      if (properties.metadata?.['hdi_isfolder'] === 'true') return undefined;
      return { path, size: properties.contentLength ?? 0, modifiedAt: properties.lastModified?.getTime() ?? 0 };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw this.wrap(error, 'stat', path);
    }
  }

  async exists(path: string): Promise<boolean> {
    return (await this.stat(path)) !== undefined;
  }

  async *list(prefix: string, options: { startAfter?: string; limit?: number } = {}): AsyncIterable<LakeEntry> {
    assertLakePath(prefix, 'prefix');
    if (options.startAfter !== undefined) assertLakePath(options.startAfter, 'prefix');
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw new LakeError(`list limit must be a non-negative integer, got ${String(options.limit)}.`);
    }
    if (options.limit === 0) return;
    const after = options.startAfter === undefined ? undefined : Buffer.from(`${this.prefix}${options.startAfter}`);
    let count = 0;
    try {
      // A flat listing cannot start in the middle: with `startAfter`, the walk skips what sorts before it.
      const flat = after === undefined && (await this.listingNamespace()) === 'flat';
      const blobs = flat ? this.flatListing(`${this.prefix}${prefix}`) : this.walk(`${this.prefix}${prefix}`, after);
      for await (const item of blobs) {
        if (after !== undefined && Buffer.compare(Buffer.from(item.name), after) <= 0) continue;
        yield { path: item.name.slice(this.prefix.length), size: item.properties.contentLength ?? 0, modifiedAt: item.properties.lastModified?.getTime() ?? 0 };
        if (options.limit !== undefined && ++count >= options.limit) return;
      }
    } catch (error) {
      throw this.wrap(error, 'list', prefix);
    }
  }

  /** How the account lists, asked once; an account that does not say is walked (correct on both). */
  listingNamespace(): Promise<LakeNamespace> {
    this.namespace ??= this.askNamespace().then(
      (hns) => (hns === false ? 'flat' : 'hierarchical'),
      () => 'hierarchical' as const,
    );
    return this.namespace;
  }

  /** `x-ms-is-hns-enabled`, asked of the container, else of the account (Azurite answers only there). */
  private async askNamespace(): Promise<boolean | undefined> {
    const fromContainer = (await this.container.getAccountInfo()).isHierarchicalNamespaceEnabled;
    if (fromContainer !== undefined) return fromContainer;
    const [base, sas] = this.container.url.split('?');
    const accountUrl = `${(base as string).replace(/\/[^/]+\/?$/, '')}${sas ? `?${sas}` : ''}`;
    return (await new BlobServiceClient(accountUrl, this.container.credential).getAccountInfo()).isHierarchicalNamespaceEnabled;
  }

  /** The service's flat listing: byte order on a flat-namespace account. */
  private async *flatListing(prefix: string): AsyncIterable<BlobItem> {
    for await (const item of this.container.listBlobsFlat({ prefix, includeMetadata: true })) if (!isFolderMarker(item)) yield item;
  }

  /**
   * The blobs under `prefix` in byte order, one directory at a time: the children of one directory
   * (blobs, and subdirectories as "name/") sorted by byte order, a subdirectory walked at its place.
   * A subdirectory that sorts wholly before `after` is not listed at all.
   */
  private async *walk(prefix: string, after: Buffer | undefined): AsyncIterable<BlobItem> {
    const children: Array<{ key: Buffer; blob?: BlobItem }> = [];
    for await (const item of this.container.listBlobsByHierarchy('/', { prefix, includeMetadata: true })) {
      if (item.kind === 'prefix') children.push({ key: Buffer.from(item.name) });
      else if (!isFolderMarker(item)) children.push({ key: Buffer.from(item.name), blob: item });
    }
    children.sort((x, y) => Buffer.compare(x.key, y.key));
    for (const child of children) {
      if (child.blob) {
        yield child.blob;
        continue;
      }
      // Every path under the directory starts with its key: all of them are ≤ `after` when the key is
      // below it and not a prefix of it.
      if (after !== undefined && Buffer.compare(child.key, after) < 0 && !after.subarray(0, child.key.length).equals(child.key)) continue;
      yield* this.walk(child.key.toString(), after);
    }
  }

  async delete(path: string): Promise<void> {
    try {
      await this.blob(path).deleteIfExists();
    } catch (error) {
      throw this.wrap(error, 'delete', path);
    }
  }

  async close(): Promise<void> {
    // The SDK's HTTP pipeline holds nothing that needs closing.
  }

  private wrap(error: unknown, operation: string, path: string): Error {
    if (error instanceof LakeError) return error;
    const resource = `the lake at ${this.location}`;
    if (error instanceof RestError && error.code === 'ContainerNotFound') {
      return new FatalBackendError(`The container of ${resource} does not exist: create it (infra/ does) or fix PIPELINE_LAKE_CONTAINER.`, resource, { cause: error });
    }
    if (error instanceof RestError && (error.statusCode === 401 || error.statusCode === 403)) {
      const role = ['read', 'list', 'stat'].includes(operation) ? 'Storage Blob Data Reader' : 'Storage Blob Data Contributor';
      return new FatalBackendError(
        `Could not ${operation} ${JSON.stringify(path)} in ${resource}: the service refused the credentials (HTTP ${error.statusCode} ${error.code ?? ''}). Grant this identity ${role} on the account or container.`,
        resource,
        { cause: error },
      );
    }
    if (error instanceof RestError && error.statusCode === 404) return new LakeNotFoundError(path, this.location);
    const status = error instanceof RestError ? ` (HTTP ${error.statusCode ?? '?'} ${error.code ?? ''})` : '';
    return new LakeError(`Could not ${operation} ${JSON.stringify(path)} in the lake at ${this.location}${status}: ${(error as Error).message}`, { cause: error });
  }
}

/** The directory entries an HNS account lists as blobs. */
function isFolderMarker(item: BlobItem): boolean {
  return item.metadata?.['hdi_isfolder'] === 'true';
}

/**
 * The lake on Azure Data Lake Storage Gen2 (or any Blob endpoint, such as Azurite), through the
 * Blob API, which hierarchical-namespace accounts serve too.
 *
 * - createIfAbsent is a PUT with `If-None-Match: *`: the service answers 409 when the blob
 *   exists, so exactly one writer creates it (DESIGN invariant 3).
 * - write is a block blob upload: the blob becomes visible only when its block list commits,
 *   so readers see the old or the new content, never a part.
 * - list returns blob names in the service's order, skipping the folder markers that
 *   hierarchical accounts return (`hdi_isfolder`); `startAfter` is applied while listing.
 * Every path is validated with `assertLakePath`; `root` (optional) is a folder inside the container.
 */
import { Readable } from 'node:stream';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import { assertLakePath, FatalBackendError, LakeError, LakeNotFoundError, type Lake, type LakeEntry } from '@pipeline/ports';

export interface AdlsLakeOptions {
  container: ContainerClient;
  /** A folder inside the container that is the lake root (no leading or trailing slash). */
  root?: string;
}

export class AdlsLake implements Lake {
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly prefix: string;

  constructor(options: AdlsLakeOptions) {
    this.container = options.container;
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
    try {
      return await this.blob(path).downloadToBuffer();
    } catch (error) {
      throw this.wrap(error, 'read', path);
    }
  }

  async readStream(path: string): Promise<Readable> {
    try {
      const response = await this.blob(path).download();
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
    let count = 0;
    try {
      for await (const item of this.container.listBlobsFlat({ prefix: `${this.prefix}${prefix}`, includeMetadata: true })) {
        if (item.metadata?.['hdi_isfolder'] === 'true') continue;
        const path = item.name.slice(this.prefix.length);
        if (options.startAfter !== undefined && Buffer.compare(Buffer.from(path), Buffer.from(options.startAfter)) <= 0) continue;
        if (options.limit !== undefined && count >= options.limit) return;
        count++;
        yield { path, size: item.properties.contentLength ?? 0, modifiedAt: item.properties.lastModified?.getTime() ?? 0 };
      }
    } catch (error) {
      throw this.wrap(error, 'list', prefix);
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

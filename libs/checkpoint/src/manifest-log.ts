/**
 * Publishing and reading batch manifests. Publish = create the manifest in the lake (only if
 * absent), THEN send a pointer on the bus. Reading never trusts the bus for what to read: a
 * consumer asks the lake for every manifest of its session after its position, in order, so a
 * lost, duplicated or out-of-order message changes nothing, and an empty bus still catches up.
 * One log works under one root folder (`manifests` by default): a replay reads and writes its own
 * manifests under another root, so it never mixes with the pipeline's.
 */
import { createHash, webcrypto } from 'node:crypto';
import {
  DEFAULT_MANIFEST_ROOT,
  manifestLayerPrefix,
  manifestPath,
  manifestRootProblem,
  manifestSessionPrefix,
  parseManifestBytes,
  type Manifest,
  type ManifestFile,
  type ManifestLayer,
  type ManifestPointer,
} from '@pipeline/contracts';
import type { Bus, Lake, OutgoingMessage } from '@pipeline/ports';

export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Below this many bytes `sha256HexAside` hashes on the calling thread: handing off would cost more. */
const HASH_ASIDE_MIN_BYTES = 64 * 1024;

/**
 * `sha256Hex`, computed on libuv's thread pool (Web Crypto's digest) for data of 64 KiB or more, so
 * the calling thread goes on with other work meanwhile. The data is copied when the call is made:
 * changing it afterwards does not change the digest.
 */
export async function sha256HexAside(data: Uint8Array): Promise<string> {
  if (data.byteLength < HASH_ASIDE_MIN_BYTES) return sha256Hex(data);
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

/** A stream passed through as it is read, counting its bytes and hashing them: one read serves a reader and the fingerprint. */
export interface HashingStream {
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Bytes read so far. */
  readonly bytes: number;
  /** Hex SHA-256 of the bytes read; call once, after reading to the end. */
  sha256(): string;
  /** All the bytes, when they were read in one piece (`readHashing` of a small file): a reader that stops early needs no second read to fingerprint them. */
  readonly whole?: Buffer;
}

export function hashingStream(stream: AsyncIterable<Uint8Array>): HashingStream {
  const hash = createHash('sha256');
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  return {
    chunks: chunks(),
    get bytes() {
      return bytes;
    },
    sha256: () => hash.digest('hex'),
  };
}

/**
 * Files listed at this size or less are read in one piece: one read call and one hash update
 * instead of a stream's 64 KiB chunks, each a promise, a buffer and a hash update. Larger files are
 * streamed, so memory stays bounded by this size (plus a block) whatever the lake holds.
 */
export const WHOLE_READ_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The bytes at `path` as a `HashingStream`: read whole when the listing said they are at most
 * `WHOLE_READ_MAX_BYTES` (`listedBytes`), else streamed. The same bytes are hashed and counted
 * either way, and a missing file throws the lake's `LakeNotFoundError` either way. A file replaced
 * by a bigger one since it was listed is still read whole (lake objects are written once; a
 * re-copy of a set-aside file is the exception, and is as big as the original).
 */
export async function readHashing(lake: Lake, path: string, listedBytes: number | undefined): Promise<HashingStream> {
  if (listedBytes === undefined || listedBytes > WHOLE_READ_MAX_BYTES) return hashingStream(await lake.readStream(path));
  const whole = await lake.read(path);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (whole.byteLength > 0) yield whole;
  }
  return { chunks: chunks(), bytes: whole.byteLength, sha256: () => sha256Hex(whole), whole };
}

/** A manifest file reference for bytes already in (or about to be in) the lake. */
export function fileRef(path: string, data: Uint8Array, rows: number, extra: Partial<ManifestFile> = {}): ManifestFile {
  return { path, rows, bytes: data.byteLength, sha256: sha256Hex(data), ...extra };
}

export class ManifestLog {
  constructor(
    private readonly lake: Lake,
    private readonly bus?: Bus,
    private readonly queue?: string,
    /** Lake folder of the manifests, e.g. `manifests/replay-2026-01`. */
    readonly root: string = DEFAULT_MANIFEST_ROOT,
  ) {
    const problem = manifestRootProblem(root);
    if (problem) throw new RangeError(`The manifest root ${JSON.stringify(root)} ${problem}.`);
  }

  /** Where the manifest of `sequence` of a session lives (or would live) under this log's root. */
  pathOf(layer: ManifestLayer, session: string, sequence: number): string {
    return manifestPath(layer, session, sequence, this.root);
  }

  /**
   * Writes the manifest (create-if-absent) and announces it. A manifest already there must be the
   * same batch output (a re-run after a crash); anything else is a conflict between writers.
   */
  async write(manifest: Manifest): Promise<ManifestPointer> {
    const path = this.pathOf(manifest.layer, manifest.session, manifest.sequence);
    const text = JSON.stringify(manifest, null, 2);
    if (!(await this.lake.createIfAbsent(path, text))) {
      const existing = (await this.lake.read(path)).toString('utf8');
      if (existing !== text) {
        throw new ManifestConflictError(
          `Manifest ${path} already exists with other content: two writers produced ${manifest.layer} sequence ${manifest.sequence} of session ${manifest.session}. ` +
            'Only one instance may run a stage on a checkpoint.',
        );
      }
    }
    return { layer: manifest.layer, session: manifest.session, sequence: manifest.sequence, path };
  }

  /** Sends the pointer (the message id is the path, so a repeated announcement is recognisable). */
  async announce(pointer: ManifestPointer, traceparent?: string): Promise<void> {
    await this.announceAll([{ pointer, traceparent }]);
  }

  /**
   * Sends the pointers in order, in one call to the bus (the embedded bus commits them in one
   * transaction; Service Bus sends each session's run as its own batch).
   */
  async announceAll(announcements: readonly { pointer: ManifestPointer; traceparent?: string | undefined }[]): Promise<void> {
    if (!this.bus || !this.queue || announcements.length === 0) return;
    await this.bus.send(
      this.queue,
      announcements.map(
        ({ pointer, traceparent }): OutgoingMessage => ({
          body: pointer,
          subject: `${pointer.layer}.batch`,
          sessionId: pointer.session,
          messageId: pointer.path,
          applicationProperties: traceparent ? { traceparent } : {},
        }),
      ),
    );
  }

  async publish(manifest: Manifest): Promise<ManifestPointer> {
    const pointer = await this.write(manifest);
    await this.announce(pointer, manifest.traceparent);
    return pointer;
  }

  async read(layer: ManifestLayer, session: string, sequence: number): Promise<Manifest | undefined> {
    const path = this.pathOf(layer, session, sequence);
    if (!(await this.lake.exists(path))) return undefined;
    return parseManifestBytes(await this.lake.read(path), path);
  }

  /** Manifests of a session after `afterSequence`, in order, stopping before any gap. */
  async *after(layer: ManifestLayer, session: string, afterSequence: number, limit = Infinity): AsyncIterable<Manifest> {
    const startAfter = afterSequence < 0 ? undefined : this.pathOf(layer, session, afterSequence);
    let expected = afterSequence + 1;
    let count = 0;
    for await (const entry of this.lake.list(manifestSessionPrefix(layer, session, this.root), startAfter ? { startAfter } : {})) {
      if (count >= limit) return;
      if (entry.path !== this.pathOf(layer, session, expected)) return;
      const manifest = parseManifestBytes(await this.lake.read(entry.path), entry.path);
      yield manifest;
      expected++;
      count++;
    }
  }

  /** The sessions that have manifests in a layer. */
  async sessions(layer: ManifestLayer): Promise<string[]> {
    const sessions = new Set<string>();
    const prefix = manifestLayerPrefix(layer, this.root);
    for await (const entry of this.lake.list(prefix)) sessions.add(entry.path.slice(prefix.length).split('/')[0] as string);
    return [...sessions].sort();
  }
}

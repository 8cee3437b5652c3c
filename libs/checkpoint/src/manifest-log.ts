/**
 * Publishing and reading batch manifests. Publish = create the manifest in the lake (only if
 * absent), THEN send a pointer on the bus. Reading never trusts the bus for what to read: a
 * consumer asks the lake for every manifest of its session after its position, in order, so a
 * lost, duplicated or out-of-order message changes nothing, and an empty bus still catches up.
 */
import { createHash } from 'node:crypto';
import { manifestPath, manifestSessionPrefix, parseManifest, type Manifest, type ManifestFile, type ManifestLayer, type ManifestPointer } from '@pipeline/contracts';
import type { Bus, Lake } from '@pipeline/ports';

export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
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
  ) {}

  /**
   * Writes the manifest (create-if-absent) and announces it. A manifest already there must be the
   * same batch output (a re-run after a crash); anything else is a conflict between writers.
   */
  async write(manifest: Manifest): Promise<ManifestPointer> {
    const path = manifestPath(manifest.layer, manifest.session, manifest.sequence);
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
    if (!this.bus || !this.queue) return;
    await this.bus.send(this.queue, [
      {
        body: pointer,
        subject: `${pointer.layer}.batch`,
        sessionId: pointer.session,
        messageId: pointer.path,
        applicationProperties: traceparent ? { traceparent } : {},
      },
    ]);
  }

  async publish(manifest: Manifest): Promise<ManifestPointer> {
    const pointer = await this.write(manifest);
    await this.announce(pointer, manifest.traceparent);
    return pointer;
  }

  async read(layer: ManifestLayer, session: string, sequence: number): Promise<Manifest | undefined> {
    const path = manifestPath(layer, session, sequence);
    if (!(await this.lake.exists(path))) return undefined;
    return parseManifest(JSON.parse((await this.lake.read(path)).toString('utf8')), path);
  }

  /** Manifests of a session after `afterSequence`, in order, stopping before any gap. */
  async *after(layer: ManifestLayer, session: string, afterSequence: number, limit = Infinity): AsyncIterable<Manifest> {
    const startAfter = afterSequence < 0 ? undefined : manifestPath(layer, session, afterSequence);
    let expected = afterSequence + 1;
    let count = 0;
    for await (const entry of this.lake.list(manifestSessionPrefix(layer, session), startAfter ? { startAfter } : {})) {
      if (count >= limit) return;
      if (entry.path !== manifestPath(layer, session, expected)) return;
      const manifest = parseManifest(JSON.parse((await this.lake.read(entry.path)).toString('utf8')), entry.path);
      yield manifest;
      expected++;
      count++;
    }
  }

  /** The sessions that have manifests in a layer. */
  async sessions(layer: ManifestLayer): Promise<string[]> {
    const sessions = new Set<string>();
    for await (const entry of this.lake.list(`manifests/${layer}/`)) sessions.add(entry.path.split('/')[2] as string);
    return [...sessions].sort();
  }
}

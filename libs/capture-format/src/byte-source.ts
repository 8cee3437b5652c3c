/**
 * Pull-based byte reader over an async chunk stream, tracking the absolute file offset. It buffers
 * only what a caller asked for (plus the rest of the last chunk pulled), so memory stays bounded by
 * the largest single read, not the file.
 */

export class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Buffer[] = [];
  /** Read position inside `chunks[0]`. */
  private head = 0;
  private buffered = 0;
  private consumed = 0;
  private ended = false;
  private closed = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.consumed;
  }

  /** Pulls chunks until `n` bytes are buffered or the source ends; returns how many are buffered (≤ n). */
  async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk: unknown = next.value;
      if (typeof chunk === 'string') {
        throw new TypeError('The Capture file source yielded a string: open the stream without an encoding so it yields bytes.');
      }
      if (!(chunk instanceof Uint8Array)) throw new TypeError(`The Capture file source yielded ${typeof chunk}, expected Uint8Array chunks.`);
      if (chunk.byteLength === 0) continue;
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.byteLength;
    }
    return Math.min(n, this.buffered);
  }

  /** True when every byte has been read (pulls one chunk if needed to know). */
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /** Up to `n` buffered bytes without consuming them (a copy when they span chunks). */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    const length = Math.min(n, this.buffered);
    if (first && first.length - this.head >= length) return first.subarray(this.head, this.head + length);
    const out = Buffer.allocUnsafe(length);
    this.walk(length, out);
    return out;
  }

  /** Consumes `n` buffered bytes into a new Buffer that owns its memory. */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    this.consume(n, out);
    return out;
  }

  /**
   * Consumes `n` buffered bytes as a view of the chunk they lie in (a copy when they span chunks):
   * no copy, but the view keeps the whole chunk alive, so it is for bytes not kept past their use.
   */
  view(n: number): Buffer {
    const first = this.chunks[0];
    if (!first || first.length - this.head < n) return this.take(n);
    const out = first.subarray(this.head, this.head + n);
    this.consume(n);
    return out;
  }

  skip(n: number): void {
    this.consume(n);
  }

  /** Releases the source (e.g. closes the file stream); safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.chunks = [];
    this.buffered = 0;
    if (!this.ended) await this.iterator.return?.();
  }

  private consume(n: number, out?: Buffer): void {
    const { index, head } = this.walk(n, out);
    this.chunks.splice(0, index);
    this.head = head;
    this.buffered -= n;
    this.consumed += n;
  }

  /** Steps `n` bytes through the chunks (copying them into `out` if given); returns where it stopped. */
  private walk(n: number, out?: Buffer): { index: number; head: number } {
    if (n > this.buffered) throw new RangeError(`ByteSource: asked for ${n} bytes with ${this.buffered} buffered.`);
    let written = 0;
    let index = 0;
    let head = this.head;
    while (written < n) {
      const chunk = this.chunks[index];
      const length = Math.min(n - written, chunk.length - head);
      if (out) chunk.copy(out, written, head, head + length);
      written += length;
      head += length;
      if (head === chunk.length) {
        index++;
        head = 0;
      }
    }
    return { index, head };
  }
}

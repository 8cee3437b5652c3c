/**
 * A growing byte buffer written front to back: little-endian numbers, varints, UTF-8 text. The
 * Parquet encoder writes pages, Thrift headers and the footer through it, so values go straight
 * into one buffer instead of one small array each.
 */
/** Strings up to this length are tried as ASCII first (`utf8`). */
const SHORT_TEXT = 64;

export class ByteSink {
  buf: Buffer;
  view: DataView;
  pos = 0;

  constructor(capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.pos + n, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  byte(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** An unsigned varint (LEB128) of a non-negative safe integer. */
  varint(value: number): void {
    this.ensure(10);
    while (value >= 0x80) {
      this.buf[this.pos++] = value % 0x80 | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.pos++] = value;
  }

  int32(value: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, value, true);
    this.pos += 4;
  }

  bytes(source: Uint8Array): void {
    this.ensure(source.length);
    this.buf.set(source, this.pos);
    this.pos += source.length;
  }

  /** Appends `text` as UTF-8 (lone surrogates become U+FFFD, as TextEncoder does) and returns its byte length. */
  utf8(text: string): number {
    const length = text.length;
    this.ensure(length * 3);
    const buf = this.buf;
    const at = this.pos;
    // A short ASCII string (ids, codes) is its own UTF-8: copied here, it spares a call into the runtime.
    if (length <= SHORT_TEXT) {
      let i = 0;
      for (; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        buf[at + i] = code;
      }
      if (i === length) {
        this.pos = at + length;
        return length;
      }
    }
    const written = buf.write(text, at);
    this.pos = at + written;
    return written;
  }

  /** The bytes written so far, copied out (the sink may be reused). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

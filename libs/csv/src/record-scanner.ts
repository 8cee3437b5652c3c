/**
 * Byte-level CSV record splitter: finds record boundaries in a stream of chunks without decoding.
 *
 * Invariants:
 * - Every syntax byte (quote, delimiter, CR, LF) is ASCII, so boundaries found on bytes are valid in UTF-8.
 * - A quote opens a quoted field only at the start of a field; anywhere else it is a syntax error that
 *   does not change the state, so a stray quote cannot extend a record past its line.
 * - Results depend only on the bytes, never on how they were chunked: every decision that needs a byte
 *   not yet received waits for it, and the size limit is judged on exactly the first maxRecordBytes + 1 bytes.
 * - Memory holds at most the current record (≤ maxRecordBytes + 1 bytes) plus one chunk; bytes of an
 *   oversized record past the limit are scanned and dropped.
 * - Record views returned by next() are valid only until the next push().
 */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/** Outside quotes, at the first byte of a field. */
const FIELD_START = 0;
/** Outside quotes, inside an unquoted field (or the junk after a closing quote). */
const UNQUOTED = 1;
/** Inside a quoted field. */
const QUOTED = 2;
/** A quote was seen inside a quoted field; the next byte tells an escaped quote from a closing one. */
const QUOTE_IN_QUOTED = 3;
type ScanState = typeof FIELD_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED;

/** Buffering the current record. */
const NORMAL = 0;
/** Past the size limit of an already-reported record: scanning quote-aware for its end, keeping nothing. */
const SKIP_RECORD = 1;
/** Skipping to the next physical line break, quotes ignored (a quote that never closed). */
const SKIP_LINE = 2;
type ScanMode = typeof NORMAL | typeof SKIP_RECORD | typeof SKIP_LINE;

const NEED_MORE = -1;
const OVERFLOW = -2;

const MIN_ACCUMULATOR_BYTES = 64 * 1024;

export type ScannedRecord =
  /**
   * A syntactically valid record; `hasQuotes` says whether any field is quoted; `terminated` is false
   * only for the last record of the input when no line break follows it.
   */
  | { kind: 'record'; bytes: Buffer; line: number; hasQuotes: boolean; terminated: boolean }
  /** A record that cannot be split into fields. */
  | { kind: 'broken'; bytes: Buffer; line: number; reason: 'csv_quote' | 'csv_too_large'; message: string; terminated: boolean };

export interface RecordScannerOptions {
  delimiter: number;
  maxRecordBytes: number;
}

export class RecordScanner {
  private readonly delimiter: number;
  private readonly maxRecordBytes: number;

  private buf: Buffer = Buffer.alloc(0);
  private len = 0;
  /** Reused for records that straddle chunks. */
  private accumulator: Buffer | undefined;
  private bufIsAccumulator = false;
  /** The stream byte just before buf[0] (for CRLF pairing when nothing is kept). */
  private byteBeforeBuf = -1;

  /** Scan position and start of the current record, as indexes into buf. */
  private p = 0;
  private rs = 0;
  private state: ScanState = FIELD_START;
  private mode: ScanMode = NORMAL;
  private quoteOpenedAt = 0;

  /** Physical line where the current record starts, and line breaks seen inside its quoted fields. */
  private line = 1;
  private embeddedBreaks = 0;
  private hasQuotes = false;
  private quoteError: string | undefined;
  private quoteErrorOffset = 0;
  private quoteErrorLine = 0;

  private bomPending = true;
  /** The previous record ended with CR: an LF right after it belongs to the same terminator. */
  private afterCR = false;
  private eof = false;
  private finished = false;

  /** Next index ≥ the last query holding the byte, or len when none; -1 when stale. */
  private nextLF = -1;
  private nextCR = -1;
  private nextQuote = -1;

  constructor(options: RecordScannerOptions) {
    this.delimiter = options.delimiter;
    this.maxRecordBytes = options.maxRecordBytes;
  }

  /** True once end() was called and every record has been returned. */
  get done(): boolean {
    return this.finished;
  }

  /** Adds the next chunk; call only after next() returned undefined. */
  push(chunk: Buffer): void {
    if (this.eof) throw new Error('RecordScanner.push() after end()');
    if (chunk.length === 0) return;
    const keep = this.mode === NORMAL ? this.len - this.rs : 0;
    const shift = this.len - keep;
    if (shift > 0) this.byteBeforeBuf = this.buf[shift - 1];
    if (keep === 0) {
      this.buf = chunk;
      this.bufIsAccumulator = false;
    } else {
      const need = keep + chunk.length;
      let acc = this.accumulator;
      if (acc === undefined || acc.length < need) {
        acc = Buffer.allocUnsafe(Math.max(need, (acc?.length ?? 0) * 2, MIN_ACCUMULATOR_BYTES));
        this.buf.copy(acc, 0, this.rs, this.len);
        this.accumulator = acc;
      } else if (!this.bufIsAccumulator || this.rs > 0) {
        // Buffer#copy is memmove, so moving the kept tail to the front of the same buffer is safe.
        this.buf.copy(acc, 0, this.rs, this.len);
      }
      chunk.copy(acc, keep);
      this.buf = acc.subarray(0, need);
      this.bufIsAccumulator = true;
    }
    this.len = this.buf.length;
    this.p -= shift;
    this.rs = this.mode === NORMAL ? this.rs - shift : this.p;
    this.quoteOpenedAt -= shift;
    this.invalidateCaches();
  }

  /** Marks the end of input: the last record may lack a terminator, and open quotes are now errors. */
  end(): void {
    this.eof = true;
  }

  /** The next record, or undefined when more input is needed (or, once `done`, when there is none). */
  next(): ScannedRecord | undefined {
    for (;;) {
      if (this.finished) return undefined;
      if (this.bomPending && !this.skipBom()) return undefined;
      if (this.afterCR) {
        if (this.p === this.len && !this.eof) return undefined;
        if (this.p < this.len && this.buf[this.p] === LF) this.p++;
        this.afterCR = false;
        if (this.mode === NORMAL) this.rs = this.p;
      }
      if (this.mode === SKIP_LINE) {
        const brk = Math.min(this.findLF(this.p), this.findCR(this.p));
        if (brk === this.len && !this.eof) {
          this.p = this.len;
          return undefined;
        }
        this.finishSkip(brk);
        continue;
      }
      const end = this.scan();
      let record: ScannedRecord | undefined;
      if (end >= 0) {
        record = this.endRecord(end);
      } else if (end === OVERFLOW) {
        record = this.overflow();
      } else if (!this.eof) {
        return undefined;
      } else {
        record = this.endOfInput();
      }
      if (record !== undefined) return record;
    }
  }

  /** Skips a UTF-8 BOM at the start of the stream; false while too few bytes are here to tell. */
  private skipBom(): boolean {
    const { buf, p } = this;
    const available = this.len - p;
    const prefixOfBom = (available < 1 || buf[p] === 0xef) && (available < 2 || buf[p + 1] === 0xbb) && (available < 3 || buf[p + 2] === 0xbf);
    if (prefixOfBom && available < 3) {
      if (!this.eof) return false;
    } else if (prefixOfBom) {
      this.p = this.rs = p + 3;
    }
    this.bomPending = false;
    return true;
  }

  /**
   * Advances through the current record. Returns the index of the byte that ends it (CR or LF),
   * NEED_MORE when the buffer ran out first, or OVERFLOW when the size limit was reached first.
   */
  private scan(): number {
    const buf = this.buf;
    const len = this.len;
    const delimiter = this.delimiter;
    let p = this.p;
    let state = this.state;
    let result: number;
    for (;;) {
      const limit = this.limitFor(state);
      const end = limit < len ? limit : len;
      const stopped = end === limit ? OVERFLOW : NEED_MORE;
      if (state === QUOTED) {
        const quote = this.findQuote(p);
        const stop = quote < end ? quote : end;
        this.countBreaks(p, stop);
        if (quote >= end) {
          p = end;
          result = stopped;
          break;
        }
        p = quote + 1;
        state = QUOTE_IN_QUOTED;
        continue;
      }
      if (state === QUOTE_IN_QUOTED) {
        if (p >= end) {
          result = stopped;
          break;
        }
        const b = buf[p];
        if (b === QUOTE) {
          p++;
          state = QUOTED;
        } else if (b === delimiter) {
          p++;
          state = FIELD_START;
        } else if (b === LF || b === CR) {
          result = p;
          break;
        } else {
          this.noteQuoteError(p, 'text follows the closing quote of a field');
          state = UNQUOTED;
        }
        continue;
      }
      const special = Math.min(this.findLF(p), this.findCR(p), this.findQuote(p));
      if (special >= end) {
        if (end > p) state = buf[end - 1] === delimiter ? FIELD_START : UNQUOTED;
        p = end;
        result = stopped;
        break;
      }
      if (buf[special] !== QUOTE) {
        result = special;
        break;
      }
      const atFieldStart = special === p ? state === FIELD_START : buf[special - 1] === delimiter;
      if (atFieldStart) {
        state = QUOTED;
        this.hasQuotes = true;
        this.quoteOpenedAt = special;
      } else {
        this.noteQuoteError(special, 'a quote appears inside an unquoted field');
        state = UNQUOTED;
      }
      p = special + 1;
    }
    this.p = p;
    this.state = state;
    return result;
  }

  /** Index at which scanning in `state` stops as oversized; Infinity when unbounded. */
  private limitFor(state: ScanState): number {
    if (this.mode === NORMAL) return this.rs + this.maxRecordBytes + 1;
    // While skipping, only a quoted field can run on; bound it so a stray quote cannot eat the file.
    return state === QUOTED || state === QUOTE_IN_QUOTED ? this.quoteOpenedAt + this.maxRecordBytes + 1 : Infinity;
  }

  /** The record ends at `end` (its CR or LF, or len at end of input). */
  private endRecord(end: number): ScannedRecord | undefined {
    const { buf, rs: start, line } = this;
    const breaks = this.embeddedBreaks;
    const hasQuotes = this.hasQuotes;
    const quoteError = this.quoteError;
    const errorOffset = this.quoteErrorOffset;
    const errorLine = this.quoteErrorLine;
    const wasSkipping = this.mode !== NORMAL;
    const terminated = end < this.len;
    this.startNextRecordAt(end, line + breaks + 1);
    if (wasSkipping || end === start) return undefined;
    if (quoteError !== undefined) {
      if (breaks > 0) {
        return this.quarantineFirstLine(start, line, `${quoteError} on line ${errorLine}, in a record spanning lines ${line}-${line + breaks}`);
      }
      return broken(buf.subarray(start, end), line, 'csv_quote', `line ${line}: ${quoteError} (byte ${errorOffset + 1} of the record); ${QUOTE_FIX}`, terminated);
    }
    return { kind: 'record', bytes: buf.subarray(start, end), line, hasQuotes, terminated };
  }

  /** The current record reached maxRecordBytes + 1 bytes without ending. */
  private overflow(): ScannedRecord | undefined {
    const { buf, rs: start, line, maxRecordBytes } = this;
    if (this.mode !== NORMAL) {
      this.mode = SKIP_LINE;
      return undefined;
    }
    const quoteOpen = this.state === QUOTED || this.state === QUOTE_IN_QUOTED;
    if (quoteOpen && this.embeddedBreaks > 0) {
      return this.quarantineFirstLine(start, line, `a quoted field is still open after ${maxRecordBytes} bytes (the record size limit, --max-record-size)`);
    }
    this.mode = quoteOpen ? SKIP_LINE : SKIP_RECORD;
    this.rs = this.p;
    const cause = quoteOpen ? ' (inside a quoted field that is still open)' : '';
    // Reported before its end is seen, so it counts as terminated: the rest of it is skipped.
    return broken(
      buf.subarray(start, start + maxRecordBytes),
      line,
      'csv_too_large',
      `line ${line}: the record is longer than the record size limit of ${maxRecordBytes} bytes${cause}; raw holds its first ${maxRecordBytes} bytes and the rest of the record was skipped; raise the limit with --max-record-size if records this large are expected`,
      true,
    );
  }

  /** Input ended while scanning the current record. */
  private endOfInput(): ScannedRecord | undefined {
    if (this.mode !== NORMAL) {
      this.finished = true;
      return undefined;
    }
    if (this.state === QUOTED) {
      const { buf, rs: start, len, line } = this;
      if (this.embeddedBreaks > 0) return this.quarantineFirstLine(start, line, 'a quoted field is never closed before the end of the file');
      this.startNextRecordAt(len, line + 1);
      return broken(buf.subarray(start, len), line, 'csv_quote', `line ${line}: a quoted field is never closed before the end of the file; ${QUOTE_FIX}`, false);
    }
    if (this.rs === this.len) {
      this.finished = true;
      return undefined;
    }
    return this.endRecord(this.len);
  }

  /**
   * Reports only the first physical line of the current record as broken and rescans from the next
   * line, so one bad quote costs one line instead of everything up to the next quote.
   */
  private quarantineFirstLine(start: number, line: number, problem: string): ScannedRecord {
    this.invalidateCaches();
    const brk = Math.min(this.findLF(start), this.findCR(start));
    this.startNextRecordAt(brk, line + 1);
    return broken(
      this.buf.subarray(start, brk),
      line,
      'csv_quote',
      `line ${line}: ${problem}; only line ${line} was quarantined and reading resumed on line ${line + 1}; ${QUOTE_FIX}`,
      true,
    );
  }

  /** Ends a skip at the line break `brk` (or len at end of input). */
  private finishSkip(brk: number): void {
    this.startNextRecordAt(brk, this.line + this.embeddedBreaks + 1);
  }

  /** Resets per-record state for a record starting after the terminator at `terminator`. */
  private startNextRecordAt(terminator: number, line: number): void {
    if (terminator < this.len) {
      this.afterCR = this.buf[terminator] === CR;
      this.p = terminator + 1;
    } else {
      this.afterCR = false;
      this.p = this.len;
    }
    this.rs = this.p;
    this.line = line;
    this.state = FIELD_START;
    this.embeddedBreaks = 0;
    this.hasQuotes = false;
    this.quoteError = undefined;
    this.mode = NORMAL;
  }

  private noteQuoteError(at: number, what: string): void {
    if (this.quoteError !== undefined || this.mode !== NORMAL) return;
    this.quoteError = what;
    this.quoteErrorOffset = at - this.rs;
    this.quoteErrorLine = this.line + this.embeddedBreaks;
  }

  /** Counts physical line breaks (LF, CRLF, lone CR) in buf[from, to) inside a quoted field. */
  private countBreaks(from: number, to: number): void {
    let breaks = 0;
    for (let i = this.findCR(from); i < to; i = this.findCR(i + 1)) breaks++;
    for (let i = this.findLF(from); i < to; i = this.findLF(i + 1)) {
      const before = i > 0 ? this.buf[i - 1] : this.byteBeforeBuf;
      if (before !== CR) breaks++;
    }
    this.embeddedBreaks += breaks;
  }

  private invalidateCaches(): void {
    this.nextLF = this.nextCR = this.nextQuote = -1;
  }

  private findLF(from: number): number {
    if (this.nextLF < from) this.nextLF = indexOrEnd(this.buf, LF, from);
    return this.nextLF;
  }

  private findCR(from: number): number {
    if (this.nextCR < from) this.nextCR = indexOrEnd(this.buf, CR, from);
    return this.nextCR;
  }

  private findQuote(from: number): number {
    if (this.nextQuote < from) this.nextQuote = indexOrEnd(this.buf, QUOTE, from);
    return this.nextQuote;
  }
}

const QUOTE_FIX = 'quote the whole field and double every quote inside it ("say ""hi""")';

function indexOrEnd(buf: Buffer, byte: number, from: number): number {
  if (from >= buf.length) return buf.length;
  const at = buf.indexOf(byte, from);
  return at < 0 ? buf.length : at;
}

function broken(bytes: Buffer, line: number, reason: 'csv_quote' | 'csv_too_large', message: string, terminated: boolean): ScannedRecord {
  return { kind: 'broken', bytes, line, reason, message, terminated };
}

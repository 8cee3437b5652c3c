/**
 * Streaming CSV reader: bytes in, one CsvRecord per non-empty record out, in order.
 *
 * Invariants:
 * - Memory is constant in the file size: at most one chunk and the records it completes are held
 *   (see RecordScanner; `batches()` hands those records over together).
 * - No record is dropped: anything that cannot become fields is yielded as 'malformed' with its raw bytes.
 * - `row` counts every non-empty record after the header, malformed ones included, so row numbers stay
 *   stable across runs and resume with `fromRow` lands on the same record.
 * - A file that is not UTF-8 text as a whole (UTF-16, with or without a byte order mark) fails on its
 *   first record with a CsvFileError, before any record is yielded: it is one mistake, not a row each.
 * - With `rowsAsBytes`, a good record comes as its bytes and field separators instead of decoded
 *   fields, judged exactly as the decoded record would be (the same UTF-8 and width checks, the
 *   same malformed records): only the form of a good row differs.
 */
import { isUtf8 } from 'node:buffer';
import { CsvFileError, CsvHeaderError, type CsvHeader, type CsvReadOptions, type CsvReader, type CsvRecord, type CsvRecordOrBytes } from './csv.types';
import { separatorIndexes, splitFields } from './fields';
import { RecordScanner, type ScannedRecord } from './record-scanner';

const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** Reads bytes (Readable or any AsyncIterable<Uint8Array>), yields records in order. */
export function readCsv(source: AsyncIterable<Uint8Array>, options: CsvReadOptions & { rowsAsBytes: true }): CsvReader<CsvRecordOrBytes>;
export function readCsv(source: AsyncIterable<Uint8Array>, options: CsvReadOptions): CsvReader;
export function readCsv(source: AsyncIterable<Uint8Array>, options: CsvReadOptions): CsvReader<CsvRecordOrBytes> {
  return new StreamingCsvReader(source, validateOptions(options));
}

interface ResolvedOptions {
  delimiter: string;
  header: boolean;
  expectedColumns: number | undefined;
  maxRecordBytes: number;
  fromRow: number;
  rowsAsBytes: boolean;
}

/** Why `delimiter` cannot separate fields, or undefined when it can. */
export function delimiterProblem(delimiter: string): string | undefined {
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    return `the delimiter must be one ASCII character other than a quote, CR or LF (such as "," ";" or "\\t"), got ${JSON.stringify(delimiter)}`;
  }
  return undefined;
}

function validateOptions(options: CsvReadOptions): ResolvedOptions {
  const delimiter = options.delimiter ?? ',';
  const problem = delimiterProblem(delimiter);
  if (problem !== undefined) throw new RangeError(`CSV ${problem}`);
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  requirePositiveInteger('maxRecordBytes', maxRecordBytes);
  const fromRow = options.fromRow ?? 1;
  requirePositiveInteger('fromRow', fromRow);
  if (options.expectedColumns !== undefined) requirePositiveInteger('expectedColumns', options.expectedColumns);
  return { delimiter, header: options.header, expectedColumns: options.expectedColumns, maxRecordBytes, fromRow, rowsAsBytes: options.rowsAsBytes === true };
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`CSV option ${name} must be a positive integer, got ${value}`);
}

class StreamingCsvReader implements CsvReader<CsvRecordOrBytes> {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private readonly scanner: RecordScanner;
  // TextDecoder with fatal:true rejects invalid UTF-8 instead of inserting U+FFFD; ignoreBOM keeps a
  // mid-file U+FEFF as data (the file's leading BOM is dropped by the scanner).
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private consumed = 0;
  private firstScanned = true;
  private headerRead: Promise<CsvHeader | undefined> | undefined;
  private expectedColumns: number | undefined;
  private iterated = false;
  private readonly delimiterByte: number;

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly options: ResolvedOptions,
  ) {
    this.chunks = source[Symbol.asyncIterator]();
    this.delimiterByte = options.delimiter.charCodeAt(0);
    this.scanner = new RecordScanner({ delimiter: this.delimiterByte, maxRecordBytes: options.maxRecordBytes });
    this.expectedColumns = options.expectedColumns;
  }

  get bytesRead(): number {
    return this.consumed;
  }

  header(): Promise<CsvHeader | undefined> {
    this.headerRead ??= this.options.header ? this.readHeader() : Promise.resolve(undefined);
    return this.headerRead;
  }

  [Symbol.asyncIterator](): AsyncIterator<CsvRecordOrBytes> {
    this.claim();
    return this.records();
  }

  batches(): AsyncIterable<CsvRecordOrBytes[]> {
    this.claim();
    return this.recordBatches();
  }

  private claim(): void {
    if (this.iterated) throw new Error('a CsvReader can be iterated only once; call readCsv() again on a new source');
    this.iterated = true;
  }

  private async *records(): AsyncGenerator<CsvRecordOrBytes> {
    for await (const batch of this.recordBatches()) yield* batch;
  }

  /** Every record the scanner holds after each pull, as one array (at most one chunk's records). */
  private async *recordBatches(): AsyncGenerator<CsvRecordOrBytes[]> {
    try {
      await this.header();
      const { fromRow } = this.options;
      let row = 0;
      for (;;) {
        const first = await this.nextScanned();
        if (first === undefined) return;
        const batch: CsvRecordOrBytes[] = [];
        for (let scanned: ScannedRecord | undefined = first; scanned !== undefined; scanned = this.scanner.next()) {
          row++;
          if (row >= fromRow) batch.push(this.toRecord(scanned, row));
        }
        if (batch.length > 0) yield batch;
      }
    } finally {
      await this.chunks.return?.();
    }
  }

  /** The next record from the scanner, pulling chunks as needed; undefined at the end of input. */
  private async nextScanned(): Promise<ScannedRecord | undefined> {
    let scanned = this.scanner.next();
    while (scanned === undefined && !this.scanner.done) {
      await this.pull();
      scanned = this.scanner.next();
    }
    if (scanned !== undefined && this.firstScanned) {
      this.firstScanned = false;
      checkEncoding(scanned);
    }
    return scanned;
  }

  /** Feeds the scanner one more chunk, or the end of input. */
  private async pull(): Promise<void> {
    const step = await this.chunks.next();
    if (step.done === true) {
      this.scanner.end();
      return;
    }
    const chunk = asBuffer(step.value);
    this.consumed += chunk.length;
    this.scanner.push(chunk);
  }

  private async readHeader(): Promise<CsvHeader | undefined> {
    const scanned = await this.nextScanned();
    if (scanned === undefined) return undefined;
    const { line } = scanned;
    if (scanned.kind === 'broken') throw new CsvHeaderError(`CSV header on line ${line} is unusable: ${scanned.message}`, line);
    const text = this.decode(scanned.bytes);
    if (text === undefined) {
      throw new CsvHeaderError(`CSV header on line ${line} is not valid UTF-8; save the file as UTF-8 (not Latin-1 or UTF-16)`, line);
    }
    const names = splitFields(text, this.options.delimiter, scanned.hasQuotes);
    validateHeaderNames(names, line, this.options.delimiter);
    if (this.expectedColumns !== undefined && names.length !== this.expectedColumns) {
      throw new CsvHeaderError(
        `CSV header on line ${line} has ${names.length} columns but ${this.expectedColumns} are expected; check the delimiter (${JSON.stringify(this.options.delimiter)}) and the number of columns`,
        line,
      );
    }
    this.expectedColumns = names.length;
    return { names, line };
  }

  private toRecord(scanned: ScannedRecord, row: number): CsvRecordOrBytes {
    const record = this.recordOf(scanned, row);
    return scanned.terminated ? record : { ...record, unterminated: true };
  }

  private recordOf(scanned: ScannedRecord, row: number): CsvRecordOrBytes {
    const { line } = scanned;
    if (scanned.kind === 'broken') {
      return { kind: 'malformed', row, line, reason: scanned.reason, message: scanned.message, raw: Buffer.from(scanned.bytes) };
    }
    if (this.options.rowsAsBytes) {
      const record = this.rowBytesOf(scanned.bytes, row, line, scanned.hasQuotes);
      if (record !== undefined) return record;
    }
    const text = this.decode(scanned.bytes);
    if (text === undefined) return notUtf8(scanned.bytes, row, line);
    const fields = splitFields(text, this.options.delimiter, scanned.hasQuotes);
    const expected = this.expectedColumns;
    if (expected !== undefined && fields.length !== expected) return this.wrongColumnCount(scanned.bytes, row, line, fields.length);
    return { kind: 'row', row, line, fields };
  }

  /**
   * The record as bytes and field separators, found on the bytes (a delimiter and a quote are ASCII,
   * never inside a UTF-8 sequence); `undefined` for one whose quotes the byte split does not follow,
   * which is then decoded and split as text (where it fails with its own message).
   */
  private rowBytesOf(bytes: Buffer, row: number, line: number, hasQuotes: boolean): CsvRecordOrBytes | undefined {
    if (!isUtf8(bytes)) return notUtf8(bytes, row, line);
    const separators = separatorIndexes(bytes, this.delimiterByte, hasQuotes);
    if (separators === undefined) return undefined;
    const expected = this.expectedColumns;
    if (expected !== undefined && separators.length + 1 !== expected) return this.wrongColumnCount(bytes, row, line, separators.length + 1);
    return { kind: 'rowBytes', row, line, bytes, separators };
  }

  private wrongColumnCount(bytes: Buffer, row: number, line: number, found: number): CsvRecord {
    return {
      kind: 'malformed',
      row,
      line,
      reason: 'csv_column_count',
      message: `line ${line}: expected ${this.expectedColumns} fields, found ${found}; quote fields that contain the delimiter (${JSON.stringify(this.options.delimiter)})`,
      raw: Buffer.from(bytes),
    };
  }

  /** The record's text, or undefined when it is not valid UTF-8. */
  private decode(bytes: Buffer): string | undefined {
    try {
      return this.decoder.decode(bytes);
    } catch {
      return undefined;
    }
  }
}

function notUtf8(bytes: Buffer, row: number, line: number): CsvRecord {
  return {
    kind: 'malformed',
    row,
    line,
    reason: 'csv_utf8',
    message: `line ${line}: the record is not valid UTF-8; save the file as UTF-8 (not Latin-1 or UTF-16)`,
    raw: Buffer.from(bytes),
  };
}

/**
 * Rejects a file that is UTF-16 rather than UTF-8, judged on its first record: a UTF-16 byte order
 * mark, or NUL bytes, which UTF-16 puts in every ASCII character and no CSV text holds.
 */
function checkEncoding(first: ScannedRecord): void {
  const { bytes, line } = first;
  const fix = 'save it as UTF-8 (in most editors: Save As, encoding UTF-8)';
  if (line === 1 && bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new CsvFileError(`the file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8; ${fix}`, line);
  }
  if (bytes.includes(0)) {
    throw new CsvFileError(`line ${line} holds NUL bytes: the file looks like UTF-16 without a byte order mark (or is not text at all), not UTF-8; ${fix}`, line);
  }
}

function validateHeaderNames(names: string[], line: number, delimiter: string): void {
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    const column = index + 1;
    if (name.trim() === '') {
      throw new CsvHeaderError(
        `CSV header on line ${line} has an empty name in column ${column}; name every column (a trailing ${JSON.stringify(delimiter)} adds an empty column)`,
        line,
      );
    }
    const first = seen.get(name);
    if (first !== undefined) {
      throw new CsvHeaderError(`CSV header on line ${line} repeats the name ${JSON.stringify(name)} in columns ${first} and ${column}; give each column a unique name`, line);
    }
    seen.set(name, column);
  });
}

function asBuffer(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`CSV source must yield bytes (Buffer or Uint8Array), got ${typeof chunk}; open the stream without an encoding`);
}

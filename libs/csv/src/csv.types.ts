import type { MalformedReason } from '@pipeline/contracts';

export interface CsvReadOptions {
  /** One ASCII character other than a quote, CR or LF; default ','. */
  delimiter?: string;
  /** The first non-empty record is the header. */
  header: boolean;
  /** Expected field count; with header:true it defaults to the header's length. Without either, rows are not checked. */
  expectedColumns?: number;
  /** Largest record in bytes before it is cut off as malformed 'csv_too_large' (default 1 MiB): bounds memory on a runaway quote. */
  maxRecordBytes?: number;
  /** Skip data records before this 1-based row number (resume), still counting them. */
  fromRow?: number;
  /**
   * Yield each good record as its bytes and field separators (`rowBytes`) instead of decoded fields:
   * a reader that copies fields into its own output (the producer's event bodies) skips decoding and
   * splitting every field.
   */
  rowsAsBytes?: boolean;
}

/**
 * `unterminated` marks the last record of the input when no line break follows it. RFC 4180 makes
 * it a record; in a file still being written it may be a line cut short, so a reader of such files
 * can hold it back until the file stops changing.
 */
export type CsvRecord =
  | { kind: 'row'; row: number; line: number; fields: string[]; unterminated?: true }
  | { kind: 'malformed'; row: number; line: number; reason: MalformedReason; message: string; raw: Buffer; unterminated?: true };

/** What a reader opened with `rowsAsBytes` yields. */
export type CsvRecordOrBytes = CsvRecord | RowBytes;

/**
 * A record as bytes (only with `rowsAsBytes`). The bytes are valid UTF-8 and hold exactly the
 * expected number of fields: field `i` is `bytes` from just after separator `i - 1` (or 0) to
 * separator `i` (or the end). A field that starts with a quote is quoted: its value is what lies
 * between its quotes, each doubled quote standing for one. `bytes` is a view of the reader's buffer,
 * valid until the reader reads on (the next batch): copy what is kept longer.
 */
export interface RowBytes {
  kind: 'rowBytes';
  row: number;
  line: number;
  bytes: Buffer;
  /** Index in `bytes` of each delimiter that separates two fields, in order (one fewer than the fields). */
  separators: number[];
  unterminated?: true;
}

export interface CsvHeader {
  names: string[];
  line: number;
}

export interface CsvReader<R extends CsvRecordOrBytes = CsvRecord> extends AsyncIterable<R> {
  /** Resolves once the header is read (or undefined with header:false / empty input). */
  header(): Promise<CsvHeader | undefined>;
  /**
   * The same records in order, as arrays of those one chunk of input completes: one promise per
   * chunk instead of one per record, for readers of millions of rows. A reader is iterated once,
   * either way.
   */
  batches(): AsyncIterable<R[]>;
  /** Bytes consumed so far (for progress/ETA against the file size). */
  readonly bytesRead: number;
}

/**
 * The file as a whole cannot be read as CSV (not UTF-8, an unusable header): a problem the user
 * fixes in the file. The message says what is wrong and how to fix it, without naming the file.
 */
export class CsvFileError extends Error {
  constructor(
    message: string,
    /** 1-based physical line where the problem shows. */
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvFileError';
  }
}

/** The header record cannot be used (duplicate or empty names, invalid UTF-8, broken quoting, wrong width). */
export class CsvHeaderError extends CsvFileError {
  constructor(message: string, line: number) {
    super(message, line);
    this.name = 'CsvHeaderError';
  }
}

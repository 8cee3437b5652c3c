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
}

/**
 * `unterminated` marks the last record of the input when no line break follows it. RFC 4180 makes
 * it a record; in a file still being written it may be a line cut short, so a reader of such files
 * can hold it back until the file stops changing.
 */
export type CsvRecord =
  | { kind: 'row'; row: number; line: number; fields: string[]; unterminated?: true }
  | { kind: 'malformed'; row: number; line: number; reason: MalformedReason; message: string; raw: Buffer; unterminated?: true };

export interface CsvHeader {
  names: string[];
  line: number;
}

export interface CsvReader extends AsyncIterable<CsvRecord> {
  /** Resolves once the header is read (or undefined with header:false / empty input). */
  header(): Promise<CsvHeader | undefined>;
  /**
   * The same records in order, as arrays of those one chunk of input completes: one promise per
   * chunk instead of one per record, for readers of millions of rows. A reader is iterated once,
   * either way.
   */
  batches(): AsyncIterable<CsvRecord[]>;
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

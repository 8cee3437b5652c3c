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

export type CsvRecord =
  | { kind: 'row'; row: number; line: number; fields: string[] }
  | { kind: 'malformed'; row: number; line: number; reason: MalformedReason; message: string; raw: Buffer };

export interface CsvHeader {
  names: string[];
  line: number;
}

export interface CsvReader extends AsyncIterable<CsvRecord> {
  /** Resolves once the header is read (or undefined with header:false / empty input). */
  header(): Promise<CsvHeader | undefined>;
  /** Bytes consumed so far (for progress/ETA against the file size). */
  readonly bytesRead: number;
}

/** The header record cannot be used (duplicate or empty names, invalid UTF-8, broken quoting, wrong width). */
export class CsvHeaderError extends Error {
  constructor(
    message: string,
    /** 1-based physical line of the header record. */
    readonly line: number,
  ) {
    super(message);
    this.name = 'CsvHeaderError';
  }
}

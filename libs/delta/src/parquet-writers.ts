/**
 * Which Parquet writer makes a batch's data files, and why a batch names it.
 *
 * A batch's files must come out byte for byte the same when the batch is re-run (DESIGN invariant
 * 2): `DeltaTable` refuses a data file that is already there with other bytes. A new writer gives
 * other bytes for the same rows, so a batch planned (its offsets recorded) by a build with the old
 * writer and re-run after an upgrade would be refused at its first file. So the writer is part of
 * what a batch consumes: a stage records `PARQUET_WRITER_VERSION` in the offsets of each batch it
 * plans and passes the recorded version to `writeDataFiles` / `writeFiles` (`parquetWriter`);
 * offsets recorded before versions were (no field) mean version 1, the writer of that time.
 * Files already in a table stay as they are: both versions write valid Parquet of the same types,
 * and readers read either.
 *
 * Versions:
 * 1. hyparquet-writer (`encodeParquet` in `parquet-file.ts`), Delta statistics by `computeFileStats`.
 * 2. `parquet-encoder.ts`, statistics gathered in the same pass (the same statistics).
 *
 * A version is never changed once released; a new writer takes the next number, and the old ones
 * stay for batches recorded with them.
 */
import type { TableColumn, TableRow } from '@pipeline/contracts';
import { computeFileStats, fileStatsOf, type FileStats } from './file-stats';
import { encodeParquetFile } from './parquet-encoder';
import { encodeParquet } from './parquet-file';

export type ParquetWriterVersion = 1 | 2;

/** The writer new batches record and use. */
export const PARQUET_WRITER_VERSION: ParquetWriterVersion = 2;

/** The writer of a batch whose offsets record none: the one before versions were recorded. */
export const UNRECORDED_PARQUET_WRITER: ParquetWriterVersion = 1;

/** The writer version a batch's offsets name (`undefined`: recorded before versions were). */
export function parquetWriterOf(recorded: number | undefined): ParquetWriterVersion {
  if (recorded === undefined) return UNRECORDED_PARQUET_WRITER;
  if (recorded === 1 || recorded === 2) return recorded;
  throw new RangeError(
    `The batch's offsets name Parquet writer version ${JSON.stringify(recorded)}, which this build does not have (it has 1 and 2): ` +
      'the batch was planned by a newer build. Run that build (or a newer one) to finish it.',
  );
}

/** A data file's bytes and its Delta statistics (computed on demand, as before: after the file is written). */
export interface EncodedDataFile {
  bytes: Buffer;
  stats: () => FileStats;
}

/** The Parquet bytes of `rows` over `columns` as writer `version` writes them. */
export function encodeDataFile(columns: readonly TableColumn[], rows: readonly TableRow[], version: ParquetWriterVersion): EncodedDataFile {
  switch (version) {
    case 1:
      return { bytes: encodeParquet(columns, rows), stats: () => computeFileStats(columns, rows) };
    case 2: {
      const { bytes, summaries } = encodeParquetFile(columns, rows);
      return { bytes, stats: () => fileStatsOf(columns, rows.length, summaries) };
    }
  }
}

export {
  DeltaTable,
  DeltaConflictError,
  DeltaLogGapError,
  tableId,
  type WrittenDataFile,
  type DeltaTableOptions,
  type WriteFilesOptions,
  type CommitOptions,
  type CommitResult,
} from './delta-table';
export {
  readDeltaSnapshot,
  readDeltaRows,
  readTableFile,
  decodeSnapshotFile,
  DeltaSnapshotFollower,
  toTableValue,
  type DeltaSnapshot,
  type ReadDeltaOptions,
  type ReadTableFileOptions,
  type DecodeSnapshotFileOptions,
} from './delta-reader';
export {
  DeltaLogError,
  logEntryPath,
  type AddFile,
  type RemoveFile,
  type DeltaAction,
  type DeltaMetadata,
  type DeltaProtocol,
  type DeltaTxn,
  type DeltaCommitInfo,
} from './delta-log';
export { DeltaDataError, type TimestampPrecision } from './parquet-file';
export { encodeDataFile, parquetWriterOf, PARQUET_WRITER_VERSION, UNRECORDED_PARQUET_WRITER, type ParquetWriterVersion, type EncodedDataFile } from './parquet-writers';
export { computeFileStats, compareCodePoints, type FileStats } from './file-stats';
export { HIVE_DEFAULT_PARTITION, escapePartitionPathValue, encodeAddPath, decodeAddPath } from './partition-values';
export {
  DeltaSchemaError,
  parseSparkSchema,
  toSparkSchema,
  tableColumnTypeOf,
  type SparkDataType,
  type SparkStructField,
  type SparkStructType,
  type SparkArrayType,
  type SparkMapType,
} from './spark-schema';

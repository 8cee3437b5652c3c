export type { CaptureRecord, CaptureValue } from './capture-record';
export { CAPTURE_RECORD_SCHEMA } from './capture-record';
export { formatEnqueuedTimeUtc, parseEnqueuedTimeUtc } from './enqueued-time';
export { captureRecordFromEvent } from './capture-record-from-event';
export { deriveSyncMarker } from './sync-marker';
export type { CaptureCodec, CaptureFileWriterOptions } from './capture-file-writer';
export { CaptureFileWriter } from './capture-file-writer';
export { CaptureFormatError } from './capture-format-error';
export type { CaptureFileInfo, CaptureFileScan, CaptureFileScanOptions, CaptureReadOptions } from './capture-file-reader';
export { countCaptureRecords, openCaptureFile, readCaptureBlocks, readCaptureFile, scanCaptureFile } from './capture-file-reader';
export type { RecordSelection } from './record-decoder';
export {
  capturesExactly,
  capturePropertiesBound,
  NO_ROOM,
  NOT_EXACT,
  readCaptureProperties,
  readCaptureStringProperty,
  writeCaptureProperties,
  writeExactCaptureProperties,
  writtenProperties,
} from './capture-properties';

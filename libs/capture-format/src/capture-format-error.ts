/** A Capture Avro file that cannot be read: names the file and the byte offset where it went wrong. */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';

  constructor(
    readonly file: string,
    readonly byteOffset: number,
    readonly problem: string,
  ) {
    super(`Invalid Event Hubs Capture file ${file} at byte ${byteOffset}: ${problem}`);
  }
}

/**
 * RFC 4180 output: a field is quoted only when it must be (it contains the delimiter, a quote,
 * CR or LF, or starts/ends with a space that a lenient reader might trim); quotes inside are doubled.
 */

/** One CSV record without its line ending. */
export function formatCsvRecord(fields: readonly string[], delimiter = ','): string {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    throw new RangeError(`formatCsvRecord needs a one-character delimiter other than a quote or line break, got ${JSON.stringify(delimiter)}`);
  }
  return fields.map((field) => formatCsvField(field, delimiter)).join(delimiter);
}

export function formatCsvField(field: string, delimiter = ','): string {
  const needsQuotes = field.includes(delimiter) || /["\r\n]/.test(field) || field.startsWith(' ') || field.endsWith(' ');
  return needsQuotes ? `"${field.replace(/"/g, '""')}"` : field;
}

/**
 * Splits one CSV record into field values: decoded, or found on its bytes.
 *
 * Invariant: the input was accepted by RecordScanner, so every quoted field starts at a field start,
 * doubles its inner quotes and is followed by the delimiter or the end of the record.
 */

import type { RowBytes } from './csv.types';

const QUOTE = 0x22;

/**
 * Positions of the delimiters that separate the fields of a record the scanner accepted (a delimiter
 * inside a quoted field is not one), by a loop over the bytes: a native search per field costs more
 * on short records. `undefined` if a quoted field is not closed right before a delimiter or the end.
 */
export function separatorIndexes(bytes: Buffer, delimiter: number, hasQuotes: boolean): number[] | undefined {
  const found: number[] = [];
  const length = bytes.length;
  if (!hasQuotes) {
    for (let i = 0; i < length; i++) if (bytes[i] === delimiter) found.push(i);
    return found;
  }
  let i = 0;
  for (;;) {
    if (bytes[i] === QUOTE) {
      // To the closing quote: a doubled quote is part of the value.
      for (i++; ; i++) {
        if (i >= length) return undefined;
        if (bytes[i] !== QUOTE) continue;
        if (bytes[i + 1] !== QUOTE) break;
        i++;
      }
      i++;
      if (i >= length) return found;
      if (bytes[i] !== delimiter) return undefined;
    } else {
      while (i < length && bytes[i] !== delimiter) i++;
      if (i >= length) return found;
    }
    found.push(i);
    i++;
  }
}

/** Field `index` of a record as bytes, decoded (a quoted one without its quotes, each doubled quote as one). */
export function fieldText(record: RowBytes, index: number): string {
  const { bytes, separators } = record;
  const start = index === 0 ? 0 : (separators[index - 1] as number) + 1;
  const end = index < separators.length ? (separators[index] as number) : bytes.length;
  if (start === end) return '';
  if (bytes[start] !== QUOTE) return bytes.toString('utf8', start, end);
  return bytes.toString('utf8', start + 1, end - 1).replaceAll('""', '"');
}

export function splitFields(text: string, delimiter: string, hasQuotes: boolean): string[] {
  if (!hasQuotes) return text.split(delimiter);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) {
      const next = text.indexOf(delimiter, i);
      if (next < 0) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, next));
      i = next + 1;
      continue;
    }
    let value = '';
    let from = i + 1;
    for (;;) {
      const quote = text.indexOf('"', from);
      if (quote < 0) throw new Error(`unterminated quoted field in a record the scanner accepted: ${JSON.stringify(text)}`);
      if (text.charCodeAt(quote + 1) === QUOTE) {
        value += text.slice(from, quote + 1);
        from = quote + 2;
        continue;
      }
      value += text.slice(from, quote);
      i = quote + 1;
      break;
    }
    fields.push(value);
    if (i >= text.length) return fields;
    i += 1;
  }
}

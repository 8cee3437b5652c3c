/**
 * Splits one CSV record into field values: decoded, or found on the bytes of an unquoted one.
 *
 * Invariant: the input was accepted by RecordScanner, so every quoted field starts at a field start,
 * doubles its inner quotes and is followed by the delimiter or the end of the record.
 */

import type { UnquotedRow } from './csv.types';

const QUOTE = 0x22;

/** Positions of `delimiter` (a byte) in `bytes`, by a loop: a native search per field costs more on short records. */
export function delimiterIndexes(bytes: Buffer, delimiter: number): number[] {
  const found: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === delimiter) found.push(i);
  return found;
}

/** Field `index` of an unquoted row, decoded. */
export function fieldText(record: UnquotedRow, index: number): string {
  const start = index === 0 ? 0 : (record.delimiters[index - 1] as number) + 1;
  const end = index < record.delimiters.length ? (record.delimiters[index] as number) : record.bytes.length;
  return start === end ? '' : record.bytes.toString('utf8', start, end);
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

/**
 * Splits a body that holds one CSV record (`content_type: csv`) into fields, with the same quoting
 * rules as the producer's CSV reader: a quote opens a quoted field only at the start of a field,
 * inner quotes are doubled, and a closing quote is followed by the delimiter or the end. One
 * trailing line break is allowed; a line break outside quotes anywhere else means more than one
 * record, which a single event cannot be.
 */

export type CsvLineResult = { ok: true; fields: string[] } | { ok: false; reason: 'csv_quote' | 'unknown_shape'; message: string };

const QUOTE = '"';

export function parseCsvLine(body: string, delimiter: string): CsvLineResult {
  const text = stripLineEnd(body);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    const fieldNumber = fields.length + 1;
    if (text[i] === QUOTE) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf(QUOTE, from);
        if (quote < 0) return { ok: false, reason: 'csv_quote', message: `field ${fieldNumber} of the CSV line opens a quote that is never closed` };
        if (text[quote + 1] === QUOTE) {
          value += text.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += text.slice(from, quote);
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i >= text.length) return { ok: true, fields };
      if (text[i] !== delimiter) {
        return { ok: false, reason: 'csv_quote', message: `field ${fieldNumber} of the CSV line has text after its closing quote (a quote inside a quoted field must be doubled)` };
      }
      i += 1;
      continue;
    }
    const next = text.indexOf(delimiter, i);
    const field = next < 0 ? text.slice(i) : text.slice(i, next);
    if (field.includes(QUOTE)) {
      return { ok: false, reason: 'csv_quote', message: `field ${fieldNumber} of the CSV line has a quote inside an unquoted field (quote the whole field and double the quote)` };
    }
    if (field.includes('\n') || field.includes('\r')) {
      return { ok: false, reason: 'unknown_shape', message: 'the CSV body holds more than one line; a csv event carries exactly one record' };
    }
    fields.push(field);
    if (next < 0) return { ok: true, fields };
    i = next + 1;
  }
}

function stripLineEnd(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n') || text.endsWith('\r')) return text.slice(0, -1);
  return text;
}

/**
 * Splits one decoded CSV record into field values.
 *
 * Invariant: the input was accepted by RecordScanner, so every quoted field starts at a field start,
 * doubles its inner quotes and is followed by the delimiter or the end of the record.
 */

const QUOTE = 0x22;

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

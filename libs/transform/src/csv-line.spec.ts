import { parseCsvLine } from './csv-line';

describe('parseCsvLine', () => {
  it('splits a line on the delimiter', () => {
    expect(parseCsvLine('a,b,,d', ',')).toEqual({ ok: true, fields: ['a', 'b', '', 'd'] });
    expect(parseCsvLine('a\tb', '\t')).toEqual({ ok: true, fields: ['a', 'b'] });
  });

  it('reads quoted fields with delimiters, doubled quotes and line breaks inside', () => {
    expect(parseCsvLine('"Oslo, Harbour","Lyon ""Gerland""","two\nlines",""', ',')).toEqual({ ok: true, fields: ['Oslo, Harbour', 'Lyon "Gerland"', 'two\nlines', ''] });
  });

  it('allows one trailing line break of any style', () => {
    for (const end of ['\n', '\r\n', '\r']) expect(parseCsvLine(`a,"b"${end}`, ',')).toEqual({ ok: true, fields: ['a', 'b'] });
  });

  it('reads a trailing delimiter as a last empty field', () => {
    expect(parseCsvLine('a,', ',')).toEqual({ ok: true, fields: ['a', ''] });
    expect(parseCsvLine('"a",', ',')).toEqual({ ok: true, fields: ['a', ''] });
  });

  it('reads an empty line as one empty field', () => {
    expect(parseCsvLine('', ',')).toEqual({ ok: true, fields: [''] });
  });

  it('rejects a quote inside an unquoted field', () => {
    expect(parseCsvLine('a,b"c', ',')).toMatchObject({ ok: false, reason: 'csv_quote', message: expect.stringContaining('field 2') });
  });

  it('rejects text after a closing quote', () => {
    expect(parseCsvLine('"Lyon "Gerland"",x', ',')).toMatchObject({
      ok: false,
      reason: 'csv_quote',
      message: expect.stringContaining('field 1 of the CSV line has text after its closing quote'),
    });
  });

  it('rejects a quote that is never closed', () => {
    expect(parseCsvLine('a,"b', ',')).toMatchObject({ ok: false, reason: 'csv_quote' });
  });

  it('rejects a second record after an unquoted line break', () => {
    expect(parseCsvLine('a,b\nc,d', ',')).toMatchObject({ ok: false, reason: 'unknown_shape' });
  });
});

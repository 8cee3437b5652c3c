import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { CsvFileError, CsvHeaderError, readCsv, type CsvHeader, type CsvReadOptions, type CsvRecord } from './index';

async function* chunksOf(input: Buffer | string, size = Number.POSITIVE_INFINITY): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readAll(input: Buffer | string, options: CsvReadOptions, chunkSize?: number): Promise<{ header: CsvHeader | undefined; records: CsvRecord[] }> {
  const reader = readCsv(chunksOf(input, chunkSize), options);
  const records: CsvRecord[] = [];
  for await (const record of reader) records.push(record);
  return { header: await reader.header(), records };
}

async function fieldsOf(input: Buffer | string, options: CsvReadOptions = { header: false }): Promise<string[][]> {
  const { records } = await readAll(input, options);
  return records.map((r) => {
    if (r.kind !== 'row') throw new Error(`expected only rows, got ${r.reason}: ${r.message}`);
    return r.fields;
  });
}

function malformed(record: CsvRecord | undefined): Extract<CsvRecord, { kind: 'malformed' }> {
  if (record?.kind !== 'malformed') throw new Error(`expected a malformed record, got ${JSON.stringify(record)}`);
  return record;
}

describe('readCsv', () => {
  describe('RFC 4180 syntax', () => {
    it('splits records on LF and fields on the delimiter', async () => {
      expect(await fieldsOf('a,b,c\n1,2,3\n')).toEqual([
        ['a', 'b', 'c'],
        ['1', '2', '3'],
      ]);
    });

    it('keeps delimiters inside quoted fields', async () => {
      expect(await fieldsOf('"a,b",c\n"",",",x\n')).toEqual([
        ['a,b', 'c'],
        ['', ',', 'x'],
      ]);
    });

    it('turns doubled quotes inside a quoted field into one quote', async () => {
      expect(await fieldsOf('"say ""hi""",""""\n')).toEqual([['say "hi"', '"']]);
    });

    it('keeps LF and CRLF inside quoted fields as they are and numbers lines physically', async () => {
      const { records } = await readAll('"a\nb",1\n"c\r\nd",2\r\nlast,3\n', { header: false });
      expect(records).toEqual([
        { kind: 'row', row: 1, line: 1, fields: ['a\nb', '1'] },
        { kind: 'row', row: 2, line: 3, fields: ['c\r\nd', '2'] },
        { kind: 'row', row: 3, line: 5, fields: ['last', '3'] },
      ]);
    });

    it('skips a UTF-8 BOM at the start of the file', async () => {
      const { header, records } = await readAll('\uFEFFid,name\n1,ä\n', { header: true });
      expect(header).toEqual({ names: ['id', 'name'], line: 1 });
      expect(records).toEqual([{ kind: 'row', row: 1, line: 2, fields: ['1', 'ä'] }]);
    });

    it('keeps a BOM that is not at the start of the file as data', async () => {
      expect(await fieldsOf('a\n\uFEFFb\n')).toEqual([['a'], ['\uFEFFb']]);
    });

    it('reads CRLF files without leaving CR in the last field', async () => {
      const { records } = await readAll('a,b\r\n1,2\r\n3,4\r\n', { header: true });
      expect(records).toEqual([
        { kind: 'row', row: 1, line: 2, fields: ['1', '2'] },
        { kind: 'row', row: 2, line: 3, fields: ['3', '4'] },
      ]);
    });

    it('accepts a lone CR as a record separator', async () => {
      const { records } = await readAll('a,b\r1,2\r"x\ry",4', { header: true });
      expect(records).toEqual([
        { kind: 'row', row: 1, line: 2, fields: ['1', '2'] },
        { kind: 'row', row: 2, line: 3, fields: ['x\ry', '4'], unterminated: true },
      ]);
    });

    it('skips empty lines without counting them as rows but still counts their lines', async () => {
      const { records } = await readAll('\n\na,b\n\n1,2\r\n\r\n\r3,4\n\n', { header: true });
      expect(records).toEqual([
        { kind: 'row', row: 1, line: 5, fields: ['1', '2'] },
        { kind: 'row', row: 2, line: 8, fields: ['3', '4'] },
      ]);
    });

    it('treats a line of spaces as a record, not as an empty line', async () => {
      const { records } = await readAll('a,b\n   \n1,2\n', { header: true });
      expect(malformed(records[0])).toMatchObject({ row: 1, line: 2, reason: 'csv_column_count', raw: Buffer.from('   ') });
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 3, fields: ['1', '2'] });
    });

    it('reads the last record when the file has no trailing newline', async () => {
      expect(await fieldsOf('a,b\n1,2')).toEqual([
        ['a', 'b'],
        ['1', '2'],
      ]);
      expect(await fieldsOf('a,"b"')).toEqual([['a', 'b']]);
    });

    it('marks the last record as unterminated when no line break follows it, and only that one', async () => {
      const { records } = await readAll('a,b\n1,2\n3,4', { header: true });
      expect(records).toEqual([
        { kind: 'row', row: 1, line: 2, fields: ['1', '2'] },
        { kind: 'row', row: 2, line: 3, fields: ['3', '4'], unterminated: true },
      ]);
      // Cut short, as a file still being written may be: still a record, malformed and marked.
      const cut = await readAll('a,b\n1,2\n3', { header: true });
      expect(malformed(cut.records[1])).toMatchObject({ row: 2, reason: 'csv_column_count', unterminated: true });
      const openQuote = await readAll('a,b\n1,"2', { header: true });
      expect(malformed(openQuote.records[0])).toMatchObject({ row: 1, reason: 'csv_quote', unterminated: true });
      for (const ending of ['\n', '\r\n', '\r']) {
        const whole = await readAll(`a,b\n1,2${ending}`, { header: true });
        expect(whole.records).toEqual([{ kind: 'row', row: 1, line: 2, fields: ['1', '2'] }]);
      }
    });

    it('does not make a record of the trailing newline', async () => {
      expect(await fieldsOf('a,b\n')).toEqual([['a', 'b']]);
      expect(await fieldsOf('a,b\r\n')).toEqual([['a', 'b']]);
    });

    it('keeps empty fields, including a trailing one', async () => {
      expect(await fieldsOf(',,\na,,\n"",x,\n')).toEqual([
        ['', '', ''],
        ['a', '', ''],
        ['', 'x', ''],
      ]);
    });

    it('reads a semicolon-delimited file', async () => {
      expect(await fieldsOf('a;"b;c";d,e\n', { header: false, delimiter: ';' })).toEqual([['a', 'b;c', 'd,e']]);
    });

    it('reads a tab-delimited file with quoted tabs', async () => {
      expect(await fieldsOf('a\t"b\tc"\t\n', { header: false, delimiter: '\t' })).toEqual([['a', 'b\tc', '']]);
    });
  });

  describe('rows as bytes (rowsAsBytes)', () => {
    it('gives a good record as its bytes and the delimiters between its fields, quoted ones included', async () => {
      const input = 'a,"b,""c""",,"",é\n';
      const records = [];
      for await (const batch of readCsv(chunksOf(input), { header: false, expectedColumns: 5, rowsAsBytes: true }).batches()) {
        for (const record of batch) records.push(record.kind === 'rowBytes' ? { ...record, bytes: record.bytes.toString('utf8') } : record);
      }
      expect(records).toEqual([{ kind: 'rowBytes', row: 1, line: 1, bytes: 'a,"b,""c""",,"",é', separators: [1, 11, 12, 15] }]);
    });

    it('judges a record as the decoded reader does: not UTF-8, the wrong width', async () => {
      const input = Buffer.concat([Buffer.from('a,b\n1,"2,3",4\n'), Buffer.from([0x78, 0x2c, 0xff, 0x0a])]);
      const records = [];
      for await (const batch of readCsv(chunksOf(input), { header: true, rowsAsBytes: true }).batches()) records.push(...batch);
      expect(records.map((r) => (r.kind === 'malformed' ? r.reason : r.kind))).toEqual(['csv_column_count', 'csv_utf8']);
    });
  });

  describe('malformed records', () => {
    it('reports a record with too few fields as csv_column_count, saying expected and found', async () => {
      const { records } = await readAll('a,b,c\n1,2\n4,5,6\n', { header: true });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 2, reason: 'csv_column_count', raw: Buffer.from('1,2') });
      expect(bad.message).toContain('expected 3 fields, found 2');
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 3, fields: ['4', '5', '6'] });
    });

    it('reports a record with too many fields as csv_column_count', async () => {
      const { records } = await readAll('1,2,3,4\r\n', { header: false, expectedColumns: 3 });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 1, reason: 'csv_column_count', raw: Buffer.from('1,2,3,4') });
      expect(bad.message).toContain('expected 3 fields, found 4');
    });

    it('accepts rows of any width when neither header nor expectedColumns sets one', async () => {
      expect(await fieldsOf('a\nb,c\n')).toEqual([['a'], ['b', 'c']]);
    });

    it('reports a quote inside an unquoted field as csv_quote and reads the next line normally', async () => {
      const { records } = await readAll('1,ab"c\n2,ok\n', { header: false, expectedColumns: 2 });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 1, reason: 'csv_quote', raw: Buffer.from('1,ab"c') });
      expect(bad.message).toContain('quote appears inside an unquoted field');
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['2', 'ok'] });
    });

    it('reports a quote after leading spaces as a quote inside an unquoted field', async () => {
      const { records } = await readAll('1, "b"\n', { header: false });
      expect(malformed(records[0]).reason).toBe('csv_quote');
    });

    it('reports text between a closing quote and the delimiter as csv_quote', async () => {
      const { records } = await readAll('"ab"c,1\n2,3\n', { header: false, expectedColumns: 2 });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 1, reason: 'csv_quote', raw: Buffer.from('"ab"c,1') });
      expect(bad.message).toContain('text follows the closing quote');
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['2', '3'] });
    });

    it('quarantines only the first line of a quote never closed before end of file and reads the lines after it', async () => {
      const { records } = await readAll('id,v\n1,"open\n2,b\n3,c\n', { header: true });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 2, reason: 'csv_quote', raw: Buffer.from('1,"open') });
      expect(bad.message).toContain('never closed');
      expect(records.slice(1)).toEqual([
        { kind: 'row', row: 2, line: 3, fields: ['2', 'b'] },
        { kind: 'row', row: 3, line: 4, fields: ['3', 'c'] },
      ]);
    });

    it('reports a one-line record whose quote is never closed with all of its bytes', async () => {
      const { records } = await readAll('1,2\n3,"4', { header: false });
      expect(malformed(records[1])).toMatchObject({ row: 2, line: 2, reason: 'csv_quote', raw: Buffer.from('3,"4') });
    });

    it('quarantines only the first line when a stray opening quote is closed by a quote on a later line', async () => {
      const { records } = await readAll('1,"a\n2,b\n3,"c"x\n4,d\n', { header: false, expectedColumns: 2 });
      expect(malformed(records[0])).toMatchObject({ row: 1, line: 1, reason: 'csv_quote', raw: Buffer.from('1,"a') });
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['2', 'b'] });
      expect(malformed(records[2])).toMatchObject({ row: 3, line: 3, reason: 'csv_quote', raw: Buffer.from('3,"c"x') });
      expect(records[3]).toEqual({ kind: 'row', row: 4, line: 4, fields: ['4', 'd'] });
    });

    it('reports invalid UTF-8 as csv_utf8 and keeps the raw bytes exactly', async () => {
      const latin1 = Buffer.from([0x31, 0x2c, 0x63, 0x61, 0x66, 0xe9]); // "1,café" in Latin-1
      const truncated = Buffer.from([0x32, 0x2c, 0xe2, 0x82]); // a cut-off "€"
      const input = Buffer.concat([Buffer.from('id,v\r\n'), latin1, Buffer.from('\r\n'), truncated, Buffer.from('\n3,ok\n')]);
      const { records } = await readAll(input, { header: true });
      expect(malformed(records[0])).toMatchObject({ row: 1, line: 2, reason: 'csv_utf8', raw: latin1 });
      expect(malformed(records[0]).message).toContain('not valid UTF-8');
      expect(malformed(records[1])).toMatchObject({ row: 2, line: 3, reason: 'csv_utf8', raw: truncated });
      expect(records[2]).toEqual({ kind: 'row', row: 3, line: 4, fields: ['3', 'ok'] });
    });

    it('keeps the raw bytes of a malformed record valid after later chunks arrive', async () => {
      const input = '"a"b,1\n' + 'x,y\n'.repeat(1000);
      const { records } = await readAll(input, { header: false }, 5);
      expect(malformed(records[0]).raw.toString()).toBe('"a"b,1');
    });
  });

  describe('header', () => {
    it('reads the header before any row and checks rows against its width', async () => {
      const reader = readCsv(chunksOf('\n"id","na,me"\n1,x\n2\n'), { header: true });
      expect(await reader.header()).toEqual({ names: ['id', 'na,me'], line: 2 });
      const records: CsvRecord[] = [];
      for await (const record of reader) records.push(record);
      expect(records[0]).toEqual({ kind: 'row', row: 1, line: 3, fields: ['1', 'x'] });
      expect(malformed(records[1]).reason).toBe('csv_column_count');
    });

    it('resolves no header and yields no records for an empty file', async () => {
      expect(await readAll('', { header: true })).toEqual({ header: undefined, records: [] });
      expect(await readAll('\uFEFF\r\n\n', { header: true })).toEqual({ header: undefined, records: [] });
    });

    it('resolves no header with header:false and treats the first record as a row', async () => {
      const { header, records } = await readAll('a,b\n', { header: false });
      expect(header).toBeUndefined();
      expect(records).toEqual([{ kind: 'row', row: 1, line: 1, fields: ['a', 'b'] }]);
    });

    it('rejects duplicate header names, naming the line, the name and both columns', async () => {
      const error = await readAll('\nid,ts,id\n1,2,3\n', { header: true }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CsvHeaderError);
      expect(error).toMatchObject({ line: 2, message: expect.stringContaining('line 2 repeats the name "id" in columns 1 and 3') });
    });

    it('rejects an empty header name', async () => {
      await expect(readAll('id,,v\n', { header: true })).rejects.toThrow(/line 1 has an empty name in column 2/);
      await expect(readAll('id,v,\n', { header: true })).rejects.toThrow(CsvHeaderError);
    });

    it('rejects a header that is not valid UTF-8', async () => {
      const input = Buffer.concat([Buffer.from('id,'), Buffer.from([0xff]), Buffer.from('\n1,2\n')]);
      await expect(readAll(input, { header: true })).rejects.toThrow(/line 1 is not valid UTF-8/);
    });

    it('rejects a UTF-16 file, with or without a byte order mark, before yielding any record', async () => {
      const text = 'id,v\n1,a\n2,b\n';
      const le = Buffer.from(text, 'utf16le');
      const be = Buffer.from(le).swap16();
      const files = {
        'UTF-16LE with BOM': Buffer.concat([Buffer.from([0xff, 0xfe]), le]),
        'UTF-16BE with BOM': Buffer.concat([Buffer.from([0xfe, 0xff]), be]),
        'UTF-16LE without BOM': le,
        'UTF-16BE without BOM': be,
      };
      for (const [name, bytes] of Object.entries(files)) {
        for (const header of [true, false]) {
          const error = await readAll(bytes, { header }).catch((e: unknown) => e);
          expect([name, error]).toEqual([name, expect.any(CsvFileError)]);
          expect((error as Error).message).toMatch(/UTF-16.*save it as UTF-8/);
        }
      }
      await expect(readAll(files['UTF-16LE with BOM'], { header: true })).rejects.toThrow(/starts with a UTF-16 byte order mark/);
      await expect(readAll(files['UTF-16LE without BOM'], { header: true })).rejects.toThrow(/line 1 holds NUL bytes/);
    });

    it('rejects a header with broken quoting', async () => {
      await expect(readAll('id,"v"x\n1,2\n', { header: true })).rejects.toThrow(CsvHeaderError);
    });

    it('rejects a header whose width differs from expectedColumns', async () => {
      await expect(readAll('a,b\n1,2\n', { header: true, expectedColumns: 3 })).rejects.toThrow(/has 2 columns but 3 are expected/);
    });

    it('rejects the header through both header() and iteration', async () => {
      const reader = readCsv(chunksOf('a,a\n'), { header: true });
      await expect(reader.header()).rejects.toThrow(CsvHeaderError);
      await expect(
        (async () => {
          for await (const _ of reader) {
            // unreachable: the header fails first
          }
        })(),
      ).rejects.toThrow(CsvHeaderError);
    });
  });

  describe('fromRow', () => {
    it('skips records before fromRow but keeps counting them, malformed ones included', async () => {
      const input = 'h1,h2\n1,a\n\n"bad\n3,c\n4,d\n5,e\n';
      const { records } = await readAll(input, { header: true, fromRow: 3 });
      expect(records).toEqual([
        { kind: 'row', row: 3, line: 5, fields: ['3', 'c'] },
        { kind: 'row', row: 4, line: 6, fields: ['4', 'd'] },
        { kind: 'row', row: 5, line: 7, fields: ['5', 'e'] },
      ]);
    });

    it('yields nothing when fromRow is past the last row', async () => {
      const { records } = await readAll('1\n2\n', { header: false, fromRow: 3 });
      expect(records).toEqual([]);
    });
  });

  describe('maxRecordBytes', () => {
    it('accepts a record of exactly maxRecordBytes', async () => {
      expect(await fieldsOf('12345\n', { header: false, maxRecordBytes: 5 })).toEqual([['12345']]);
    });

    it('cuts a longer record as csv_too_large, keeping its first maxRecordBytes bytes, and reads the next record', async () => {
      const { records } = await readAll('123456789\nok\n', { header: false, maxRecordBytes: 5 });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 1, reason: 'csv_too_large', raw: Buffer.from('12345') });
      expect(bad.message).toContain('longer than the record size limit of 5 bytes');
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['ok'] });
    });

    it('skips a too-large record up to its real end past quoted newlines', async () => {
      const { records } = await readAll('a,"x\ny\nz",bbbbbbbbbbbbbbbbbbbb\nnext,1\n', { header: false, maxRecordBytes: 12 });
      expect(malformed(records[0])).toMatchObject({ line: 1, reason: 'csv_too_large', raw: Buffer.from('a,"x\ny\nz",bb') });
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 4, fields: ['next', '1'] });
    });

    it('quarantines only the first line of a quote still open at maxRecordBytes', async () => {
      const lines = Array.from({ length: 50 }, (_, i) => `${i},v${i}`);
      const { records } = await readAll(`x,"runaway\n${lines.join('\n')}\n`, { header: false, maxRecordBytes: 64 });
      const bad = malformed(records[0]);
      expect(bad).toMatchObject({ row: 1, line: 1, reason: 'csv_quote', raw: Buffer.from('x,"runaway') });
      expect(bad.message).toContain('still open after 64 bytes');
      expect(records.slice(1)).toEqual(lines.map((l, i) => ({ kind: 'row', row: i + 2, line: i + 2, fields: l.split(',') })));
    });

    it('reports a single unclosed-quote line longer than the limit as csv_too_large and resumes on the next line', async () => {
      const { records } = await readAll(`1,"${'z'.repeat(40)}\n2,b\n`, { header: false, maxRecordBytes: 16 });
      expect(malformed(records[0])).toMatchObject({ line: 1, reason: 'csv_too_large', raw: Buffer.from(`1,"${'z'.repeat(13)}`) });
      expect(records[1]).toEqual({ kind: 'row', row: 2, line: 2, fields: ['2', 'b'] });
    });

    it('bounds a quote opened in the skipped part of a too-large record and resumes after the next line', async () => {
      const { records } = await readAll(`${'a'.repeat(20)},"open\n${'b\n'.repeat(20)}`, { header: false, maxRecordBytes: 10 });
      expect(malformed(records[0])).toMatchObject({ line: 1, reason: 'csv_too_large' });
      // The quote opens at byte 21 and is given up at byte 32 (inside line 4); skipping then stops at the end of line 4.
      const rows = records.slice(1);
      expect(rows).toEqual(Array.from({ length: 17 }, (_, i) => ({ kind: 'row', row: i + 2, line: i + 5, fields: ['b'] })));
    });
  });

  describe('messages', () => {
    it('name the flag a user sets, never an option name of this library', async () => {
      const inputs = [
        'h1,h2\n12345678901234567890,1\n', // too large
        `h1,h2\nx,"runaway\n${'a,b\n'.repeat(30)}`, // a quote still open at the size limit
        'h1,h2\n1,a"b\n', // a stray quote
        'h1,h2\nonly\n', // the column count
        'h1,h2\nz,"never closed', // a quote open at the end
      ];
      const messages: string[] = [];
      for (const input of inputs) {
        const { records } = await readAll(input, { header: true, maxRecordBytes: 16 });
        messages.push(malformed(records[0]).message);
      }
      messages.push(malformed((await readAll(Buffer.from([0x31, 0x2c, 0xff, 0x0a]), { header: false })).records[0]).message);
      messages.push(((await readAll('a,b\n', { header: true, expectedColumns: 3 }).catch((e: unknown) => e)) as Error).message);
      for (const message of messages) expect(message).not.toMatch(/maxRecordBytes|expectedColumns|fromRow/);
      expect(messages[0]).toContain('--max-record-size');
      expect(messages[1]).toContain('--max-record-size');
    });
  });

  describe('sources', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-reader-'));
    });
    afterEach(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('reads a file stream and reports bytesRead equal to the file size', async () => {
      const file = path.join(dir, 'events.csv');
      fs.writeFileSync(file, 'id,v\n' + Array.from({ length: 5000 }, (_, i) => `${i},"v ${i}"`).join('\r\n'));
      const reader = readCsv(fs.createReadStream(file, { highWaterMark: 1024 }), { header: true });
      let rows = 0;
      for await (const record of reader) if (record.kind === 'row') rows++;
      expect(rows).toBe(5000);
      expect(reader.bytesRead).toBe(fs.statSync(file).size);
    });

    it('destroys the source stream when the consumer stops early', async () => {
      const source = Readable.from(chunksOf('a\n'.repeat(10_000), 64));
      for await (const record of readCsv(source, { header: false })) {
        if (record.row === 3) break;
      }
      expect(source.destroyed).toBe(true);
    });

    it('rejects a source that yields strings, naming the fix', async () => {
      const iterate = async (): Promise<void> => {
        for await (const _ of readCsv(Readable.from(['a,b\n']), { header: false })) {
          // unreachable: the first chunk is rejected
        }
      };
      await expect(iterate()).rejects.toThrow(/without an encoding/);
    });

    it('can be iterated only once', () => {
      const reader = readCsv(chunksOf('a\n'), { header: false });
      reader[Symbol.asyncIterator]();
      expect(() => reader[Symbol.asyncIterator]()).toThrow(/only once/);
    });

    it('rejects unusable options up front', () => {
      expect(() => readCsv(chunksOf(''), { header: false, delimiter: '"' })).toThrow(/one ASCII character/);
      expect(() => readCsv(chunksOf(''), { header: false, delimiter: ';;' })).toThrow(/one ASCII character/);
      expect(() => readCsv(chunksOf(''), { header: false, maxRecordBytes: 0 })).toThrow(/maxRecordBytes must be a positive integer/);
      expect(() => readCsv(chunksOf(''), { header: false, fromRow: 1.5 })).toThrow(/fromRow/);
    });
  });
});

import fc from 'fast-check';
import { fieldText, readCsv, type CsvReadOptions, type CsvRecord } from './index';

/** Yields `bytes` in chunks whose sizes cycle through `sizes`. */
async function* chunked(bytes: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    // A fresh copy per chunk, so a reader that kept a view into an old chunk would be caught by content checks.
    yield Buffer.from(bytes.subarray(at, at + size));
    at += size;
  }
}

async function* split(bytes: Buffer, at: number): AsyncGenerator<Buffer> {
  yield Buffer.from(bytes.subarray(0, at));
  yield Buffer.from(bytes.subarray(at));
}

async function collect(source: AsyncIterable<Uint8Array>, options: CsvReadOptions): Promise<CsvRecord[] | string> {
  const records: CsvRecord[] = [];
  try {
    for await (const record of readCsv(source, options)) records.push(record);
  } catch (error) {
    return `${String(error)}`;
  }
  return records;
}

/**
 * The records of a reader opened with `rowsAsBytes`, each row as bytes turned into the `row` its
 * bytes hold (decoded while its bytes are still valid), or the error.
 */
async function collectFromBytes(source: AsyncIterable<Uint8Array>, options: CsvReadOptions): Promise<CsvRecord[] | string> {
  const records: CsvRecord[] = [];
  try {
    for await (const batch of readCsv(source, { ...options, rowsAsBytes: true }).batches()) {
      for (const record of batch) {
        if (record.kind !== 'rowBytes') {
          records.push(record);
          continue;
        }
        const { kind, bytes, separators, ...rest } = record;
        expect(kind).toBe('rowBytes');
        // Each separator is a delimiter byte, in order.
        for (const at of separators) expect(bytes[at]).toBe((options.delimiter ?? ',').charCodeAt(0));
        expect([...separators].sort((a, b) => a - b)).toEqual(separators);
        records.push({ kind: 'row', ...rest, fields: Array.from({ length: separators.length + 1 }, (_, i) => fieldText(record, i)) });
      }
    }
  } catch (error) {
    return `${String(error)}`;
  }
  return records;
}

/** The records of `batches()`, in order, or the error; each batch non-empty. */
async function collectBatches(source: AsyncIterable<Uint8Array>, options: CsvReadOptions): Promise<CsvRecord[] | string> {
  const records: CsvRecord[] = [];
  try {
    for await (const batch of readCsv(source, options).batches()) {
      expect(batch.length).toBeGreaterThan(0);
      records.push(...batch);
    }
  } catch (error) {
    return `${String(error)}`;
  }
  return records;
}

const corpus: Array<{ name: string; input: Buffer; options: CsvReadOptions }> = [
  { name: 'quoted fields with CRLF, BOM and header', input: Buffer.from('\uFEFFid,"na""me"\r\n1,"a,b"\r\n2,"x\r\ny"\r\n\r\n3,""\r\n'), options: { header: true } },
  { name: 'lone CRs and empty lines', input: Buffer.from('a\r\rb\r"c\rd"\r\r\n"e"\r'), options: { header: false } },
  { name: 'every broken quote kind', input: Buffer.from('1,a"b\n2,"c"d\n3,"open\n4,e\n5,"f\n6,"g"h\n7,i'), options: { header: false, expectedColumns: 2 } },
  {
    name: 'multi-byte UTF-8 and invalid bytes',
    input: Buffer.concat([Buffer.from('€,"日本\n語",😀\n'), Buffer.from([0xe2, 0x82, 0x2c, 0x61, 0x0a]), Buffer.from('é,ü,"ß"')]),
    options: { header: false, expectedColumns: 3 },
  },
  { name: 'records around maxRecordBytes', input: Buffer.from('12345\n123456\n"1\n2"3\n"ab\ncd\nef\n1,"x\ny\nz"\nok\n"""""x\n'), options: { header: false, maxRecordBytes: 5 } },
  { name: 'a quote left open in a too-large record', input: Buffer.from(`${'a'.repeat(9)},"q\nw\ne\nr\nt\ny\nend\n`), options: { header: false, maxRecordBytes: 4 } },
  { name: 'CRLF inside the skipped part of a too-large record', input: Buffer.from('abcdefgh,"x\r\ny\r\n\r\nz",w\r\nok\r\n'), options: { header: false, maxRecordBytes: 4 } },
  { name: 'tab-delimited with fromRow', input: Buffer.from('h\tk\n1\t"a\tb"\n2\tb\n"3"\tc\n4\t"d"\n'), options: { header: true, delimiter: '\t', fromRow: 2 } },
  { name: 'a header split by the BOM', input: Buffer.from('\uFEFF"a","b"\n1,2'), options: { header: true } },
  { name: 'bytes that look like a partial BOM', input: Buffer.from([0xef, 0xbb, 0x0a, 0x41, 0x0a]), options: { header: false } },
];

describe('readCsv across chunk boundaries', () => {
  describe.each(corpus)('$name', ({ input, options }) => {
    it('yields the same records whichever byte the input is split at', async () => {
      const reference = await collect(chunked(input, [input.length]), options);
      expect(Array.isArray(reference) && reference.length > 0).toBe(true);
      for (let at = 0; at <= input.length; at++) {
        expect({ at, records: await collect(split(input, at), options) }).toEqual({ at, records: reference });
      }
    });

    it('yields the same records with rows as bytes, whichever byte the input is split at', async () => {
      const reference = await collect(chunked(input, [input.length]), options);
      for (let at = 0; at <= input.length; at++) {
        expect({ at, records: await collectFromBytes(split(input, at), options) }).toEqual({ at, records: reference });
      }
    });

    it('yields the same records from 1-, 2- and 3-byte chunks', async () => {
      const reference = await collect(chunked(input, [input.length]), options);
      for (const sizes of [[1], [2], [3], [1, 7, 2]]) {
        expect({ sizes, records: await collect(chunked(input, sizes), options) }).toEqual({ sizes, records: reference });
      }
    });
  });

  it('yields the same records for any bytes under any chunking', async () => {
    const piece = fc.constantFrom('a', 'b', '"', '""', ',', ';', '\n', '\r', '\r\n', ' ', 'é', '\xff', '\xfe', '\u0000', '\uFEFF', '😀');
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 24 }),
        fc.boolean(),
        async (pieces, sizes, maxRecordBytes, header) => {
          // '\xff' and '\xfe' stand for lone bytes, never valid UTF-8 (together, a UTF-16 byte order mark).
          const input = Buffer.concat(pieces.map((p) => (p === '\xff' ? Buffer.from([0xff]) : p === '\xfe' ? Buffer.from([0xfe]) : Buffer.from(p))));
          const options: CsvReadOptions = { header, maxRecordBytes };
          const reference = await collect(chunked(input, [Math.max(1, input.length)]), options);
          expect(await collect(chunked(input, sizes), options)).toEqual(reference);
          // In batches: the same records, or the same error.
          expect(await collectBatches(chunked(input, sizes), options)).toEqual(reference);
          // Rows as bytes: the same fields, the same malformed records (invalid UTF-8, wrong width), the same error.
          expect(await collectFromBytes(chunked(input, sizes), { ...options, expectedColumns: 2 })).toEqual(
            await collect(chunked(input, sizes), { ...options, expectedColumns: 2 }),
          );
          expect(await collectBatches(chunked(input, sizes), { ...options, fromRow: 2 })).toEqual(await collect(chunked(input, sizes), { ...options, fromRow: 2 }));
          if (Array.isArray(reference)) {
            expect(reference.map((r) => r.row)).toEqual(reference.map((_, i) => i + 1));
            for (const record of reference) if (record.kind === 'malformed') expect(record.raw.length).toBeLessThanOrEqual(maxRecordBytes);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('RFC 4180 round trip', () => {
  const unit = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom('"', ',', ';', '\t', '\n', '\r', '\r\n', ' ', '\uFEFF') },
    // Any character but NUL: NUL bytes in the first record mark a UTF-16 file, which the reader refuses.
    { weight: 5, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\u0000') },
  );
  const field = fc.record({ value: fc.string({ unit, maxLength: 12 }), forceQuotes: fc.boolean() });
  const table = fc.integer({ min: 1, max: 5 }).chain((columns) =>
    fc.record({
      columns: fc.constant(columns),
      rows: fc.array(fc.array(field, { minLength: columns, maxLength: columns }), { minLength: 1, maxLength: 20 }),
      delimiter: fc.constantFrom(',', ';', '\t'),
      newline: fc.constantFrom('\n', '\r\n', '\r'),
      trailingNewline: fc.boolean(),
      bom: fc.boolean(),
      sizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
    }),
  );

  function serialize(value: string, forceQuotes: boolean, delimiter: string, alone: boolean): string {
    const needsQuotes = forceQuotes || /["\r\n]/.test(value) || value.includes(delimiter) || value.startsWith('\uFEFF') || (alone && value === '');
    return needsQuotes ? `"${value.replaceAll('"', '""')}"` : value;
  }

  it('parses back exactly the fields that were written', async () => {
    await fc.assert(
      fc.asyncProperty(table, async ({ columns, rows, delimiter, newline, trailingNewline, bom, sizes }) => {
        const lines = rows.map((row) => row.map((f) => serialize(f.value, f.forceQuotes, delimiter, columns === 1)).join(delimiter));
        const text = (bom ? '\uFEFF' : '') + lines.join(newline) + (trailingNewline ? newline : '');
        const records = await collect(chunked(Buffer.from(text, 'utf8'), sizes), { header: false, delimiter, expectedColumns: columns });
        expect(records).toEqual(rows.map((row, i) => expect.objectContaining({ kind: 'row', row: i + 1, fields: row.map((f) => f.value) })));
        const fromBytes = await collectFromBytes(chunked(Buffer.from(text, 'utf8'), sizes), { header: false, delimiter, expectedColumns: columns });
        expect(fromBytes).toEqual(records);
      }),
      { numRuns: 500 },
    );
  });
});

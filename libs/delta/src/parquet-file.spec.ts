import type { TableColumn, TableRow } from '@pipeline/contracts';
import { decodeParquet, DeltaDataError, encodeParquet } from './parquet-file';

describe('encodeParquet', () => {
  it('keeps the sign of every zero in a double column that holds both 0 and -0', async () => {
    const columns: TableColumn[] = [{ name: 'x', type: 'double', nullable: true }];
    for (const values of [
      [-0, 0, 0, -0, 1.5, null],
      [0, -0, 0, 0],
    ]) {
      const decoded = await decodeParquet(
        encodeParquet(
          columns,
          values.map((x) => ({ x })),
        ),
      );
      expect(decoded.map((r) => (Object.is(r['x'], -0) ? '-0' : r['x']))).toEqual(values.map((x) => (Object.is(x, -0) ? '-0' : x)));
    }
  });

  it('writes a double column without both zeros byte for byte as before', () => {
    const columns: TableColumn[] = [{ name: 'x', type: 'double', nullable: false }];
    const rows = [1.5, 1.5, 2, 1.5, -0, -0].map((x) => ({ x }));
    expect(encodeParquet(columns, rows).toString('base64')).toMatchInlineSnapshot(
      `"UEFSMRUGFWAVPlwVDBUAFQwVABUAFQAAADAAAAUBBPg/BQcVCAgAQAAFAREYJACAAAAAAAAAAIAVBBksSAxzcGFya19zY2hlbWEVAgAVCiUAGAF4ABYMGRwZHCYIHBUKGRUAGRgBeBUCFgwWigEWaCYIPDYAKAgAAAAAAAAAQBgIAAAAAAAAAIA2AAAZHBUGFQAVAgAAABaKARYMNmgAKCFwaXBlbGluZS1kZWx0YSAoaHlwYXJxdWV0LXdyaXRlcikZHBwAAACQAAAAUEFSMQ=="`,
    );
  });
});

describe('timestamps in Parquet files', () => {
  const columns: TableColumn[] = [
    { name: 't', type: 'timestamp', nullable: true },
    { name: 'u', type: 'timestamp', nullable: false },
  ];
  const millisRows: TableRow[] = [
    { t: Date.UTC(2026, 0, 1, 0, 0, 10, 123), u: -62135596800000 },
    { t: null, u: 253402300799999 },
    { t: -1, u: 0 },
  ];

  it('writes epoch milliseconds byte for byte as before microseconds were kept', () => {
    expect(encodeParquet(columns, millisRows).toString('base64')).toBe(
      'UEFSMRUGFSQVKFwVBhUCFQYVABUEFQAAAAMFEDz4trpGSEcGABj8////////FQYVMBU0XBUGFQAVBhUAFQAVAAAAGFwAQNQAAUAj/xhcc8wMRIQDAAAAAAAAAAAVBBk8SAxzcGFya19zY2hlbWEVBAAVBCUCGAF0JRRMjBEcLAAAAAAAFQQlABgBdSUUTIwRHCwAAAAAABYGGRwZLCYIHBUEGRUAGRgBdBUCFgYWThZSJgg8NgIoCPi2ukZIRwYAGAgY/P///////wAZHBUGFQAVAgAAACZaHBUEGRUAGRgBdRUCFgYWWhZeJlo8NgAoCBhcc8wMRIQDGAgAQNQAAUAj/wAZHBUGFQAVAgAAABaoARYGNrABACghcGlwZWxpbmUtZGVsdGEgKGh5cGFycXVldC13cml0ZXIpGSwcAAAcAAAA6AAAAFBBUjE=',
    );
  });

  it('writes an instant the same whether given as epoch ms or as whole-millisecond epoch µs', () => {
    const asMicros = millisRows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? BigInt(v) * 1000n : v])));
    expect(encodeParquet(columns, asMicros).equals(encodeParquet(columns, millisRows))).toBe(true);
  });

  it('reads back the exact microseconds when asked, across the years 0001 to 9999 and before 1970', async () => {
    const rows: TableRow[] = [
      { t: 1_767_225_610_123_456n, u: -62_135_596_799_999_999n },
      { t: -1n, u: 253_402_300_799_999_999n },
      { t: Date.UTC(2026, 0, 1, 0, 0, 10, 123), u: -999n },
      { t: null, u: 1n },
    ];
    const bytes = encodeParquet(columns, rows);
    expect(await decodeParquet(bytes, undefined, 'micros')).toEqual(rows);
    expect(encodeParquet(columns, rows).equals(bytes)).toBe(true);
  });

  it('reads microseconds as epoch ms rounded down by default, as gold and the engine take them', async () => {
    const rows: TableRow[] = [
      { t: 1_767_225_610_123_999n, u: -62_135_596_799_999_999n },
      { t: -1n, u: 253_402_300_799_999_999n },
      { t: -1_001n, u: 1767225610123 },
    ];
    expect(await decodeParquet(encodeParquet(columns, rows))).toEqual([
      { t: 1_767_225_610_123, u: -62_135_596_800_000 },
      { t: -1, u: 253_402_300_799_999 },
      { t: -2, u: 1767225610123 },
    ]);
  });

  it('refuses a timestamp that is neither a safe integer of ms nor a 64-bit bigint of µs', () => {
    for (const u of [1.5, 2n ** 63n, -(2n ** 63n) - 1n, '2026-01-01'] as const) {
      expect(() => encodeParquet(columns, [{ t: null, u }])).toThrow(DeltaDataError);
    }
    expect(() => encodeParquet(columns, [{ t: null, u: 1.5 }])).toThrow(
      'Row 0: column "u" is timestamp but the value is number 1.5. Expected epoch milliseconds as an integer number, or epoch microseconds as a 64-bit bigint.',
    );
  });
});

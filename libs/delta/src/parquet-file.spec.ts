import type { TableColumn } from '@pipeline/contracts';
import { decodeParquet, encodeParquet } from './parquet-file';

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

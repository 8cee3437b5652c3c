import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
it('loads', () => {
  const buf = parquetWriteBuffer({ columnData: [{ name: 'a', data: [1, 2], type: 'INT64' as never }] });
  expect(parquetMetadata(buf).num_rows).toBe(2n);
});

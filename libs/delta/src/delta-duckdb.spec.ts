import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TableRow, TableSchema } from '@pipeline/contracts';
import { LocalLake } from '@pipeline/adapters';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { DeltaTable } from './delta-table';
import { readDeltaSnapshot } from './delta-reader';
import { decodeAddPath } from './partition-values';

const SCHEMA: TableSchema = {
  columns: [
    { name: 'event_id', type: 'string', nullable: false },
    { name: 'reading', type: 'double', nullable: true },
    { name: 'count', type: 'long', nullable: true },
    { name: 'small', type: 'integer', nullable: true },
    { name: 'ok', type: 'boolean', nullable: true },
    { name: 'event_time', type: 'timestamp', nullable: true },
    { name: 'day', type: 'date', nullable: true },
    { name: 'payload', type: 'binary', nullable: true },
    { name: 'device', type: 'string', nullable: true },
  ],
  partitionBy: ['device'],
};

const ROWS: TableRow[] = [
  {
    event_id: 'e1',
    reading: 1.5,
    count: 9007199254740991,
    small: -5,
    ok: true,
    event_time: Date.UTC(2026, 0, 1, 12, 30, 0, 123),
    day: '2026-01-01',
    payload: Buffer.from([0, 1, 255]),
    device: 'a/b c%d',
  },
  { event_id: 'e2', reading: null, count: null, small: null, ok: null, event_time: null, day: null, payload: null, device: null },
  {
    event_id: 'e3',
    reading: -2,
    count: -1,
    small: 7,
    ok: false,
    event_time: Date.UTC(1999, 11, 31, 23, 59, 59, 999),
    day: '1999-12-31',
    payload: Buffer.from('hi'),
    device: 'plain',
  },
];

describe('a table written by DeltaTable, read by DuckDB', () => {
  let temp: TempDir;
  let lake: LocalLake;

  beforeEach(async () => {
    temp = await makeTempDir('delta-duckdb-');
    lake = new LocalLake(temp.path);
  });
  afterEach(async () => {
    await lake.close();
    await temp.dispose();
  });

  it('returns the same rows with timestamps as timestamps and dates as dates', async () => {
    const table = await DeltaTable.open(lake, 'tables/silver', SCHEMA);
    await table.commit(await table.writeFiles(ROWS, { filePrefix: 'part-1', commitTime: 1 }), { txn: { appId: 'silver', version: 1 }, commitTime: 1 });

    const snapshot = await readDeltaSnapshot(lake, 'tables/silver');
    const files = snapshot.files.map((file) => `'${path.join(temp.path, 'tables/silver', decodeAddPath(file.path)).replace(/'/g, "''")}'`);
    const source = `read_parquet([${files.join(', ')}], hive_partitioning = true, hive_types = {'device': VARCHAR})`;

    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS();
      expect(Object.fromEntries(described.map((row) => [row['column_name'], row['column_type']]))).toEqual({
        event_id: 'VARCHAR',
        reading: 'DOUBLE',
        count: 'BIGINT',
        small: 'INTEGER',
        ok: 'BOOLEAN',
        event_time: 'TIMESTAMP WITH TIME ZONE',
        day: 'DATE',
        payload: 'BLOB',
        device: 'VARCHAR',
      });
      const rows = (
        await connection.runAndReadAll(
          `SELECT event_id, reading, count::VARCHAR AS count, small, ok, epoch_ms(event_time) AS event_time, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%g') AS event_time_utc,
                  day::VARCHAR AS day, hex(payload) AS payload, device FROM ${source} ORDER BY event_id`,
        )
      ).getRowObjectsJS();
      expect(rows).toEqual([
        {
          event_id: 'e1',
          reading: 1.5,
          count: '9007199254740991',
          small: -5,
          ok: true,
          event_time: BigInt(Date.UTC(2026, 0, 1, 12, 30, 0, 123)),
          event_time_utc: '2026-01-01 12:30:00.123',
          day: '2026-01-01',
          payload: '0001FF',
          device: 'a/b c%d',
        },
        { event_id: 'e2', reading: null, count: null, small: null, ok: null, event_time: null, event_time_utc: null, day: null, payload: null, device: null },
        {
          event_id: 'e3',
          reading: -2,
          count: '-1',
          small: 7,
          ok: false,
          event_time: BigInt(Date.UTC(1999, 11, 31, 23, 59, 59, 999)),
          event_time_utc: '1999-12-31 23:59:59.999',
          day: '1999-12-31',
          payload: '6869',
          device: 'plain',
        },
      ]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

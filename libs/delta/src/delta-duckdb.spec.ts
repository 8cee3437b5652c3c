import * as path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { TableRow, TableSchema } from '@pipeline/contracts';
import { LocalLake } from '@pipeline/adapters';
import { collect, makeTempDir, type TempDir } from '@pipeline/testing';
import { DeltaTable } from './delta-table';
import { readDeltaRows, readDeltaSnapshot } from './delta-reader';
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

  it('returns the exact microseconds of a silver-like table, across the years 0001 to 9999', async () => {
    const schema: TableSchema = {
      columns: [
        { name: 'event_id', type: 'string', nullable: false },
        { name: 'seen', type: 'timestamp', nullable: true },
        { name: 'event_time', type: 'timestamp', nullable: false },
        { name: 'event_date', type: 'date', nullable: false },
        { name: 'enqueued_time', type: 'timestamp', nullable: false },
      ],
      partitionBy: ['event_date'],
    };
    const enqueued = Date.UTC(2026, 0, 2, 3, 4, 5);
    const rows: TableRow[] = [
      { event_id: 'micros', seen: 1_767_225_610_000_001n, event_time: 1_767_225_610_123_456n, event_date: '2026-01-01', enqueued_time: enqueued },
      { event_id: 'millis', seen: null, event_time: Date.UTC(2026, 0, 1, 0, 0, 10, 123), event_date: '2026-01-01', enqueued_time: enqueued },
      { event_id: 'first', seen: -62_135_596_800_000, event_time: -62_135_596_799_999_999n, event_date: '0001-01-01', enqueued_time: enqueued },
      { event_id: 'last', seen: null, event_time: 253_402_300_799_999_999n, event_date: '9999-12-31', enqueued_time: enqueued },
      { event_id: 'before-1970', seen: null, event_time: -1n, event_date: '1969-12-31', enqueued_time: enqueued },
    ];
    const table = await DeltaTable.open(lake, 'tables/silver', schema);
    await table.commit(await table.writeFiles(rows, { filePrefix: 'part-00000001-shard-000', commitTime: 1 }), { txn: { appId: 'silver', version: 1 }, commitTime: 1 });

    const snapshot = await readDeltaSnapshot(lake, 'tables/silver');
    const files = snapshot.files.map((file) => `'${path.join(temp.path, 'tables/silver', decodeAddPath(file.path)).replace(/'/g, "''")}'`);
    const source = `read_parquet([${files.join(', ')}], hive_partitioning = true, hive_types = {'event_date': DATE})`;
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const read = (
        await connection.runAndReadAll(
          `SELECT event_id, epoch_us(event_time) AS event_time, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S.%f') AS event_time_utc,
                  epoch_us(seen) AS seen, epoch_us(enqueued_time) AS enqueued_time, event_date::VARCHAR AS event_date FROM ${source} ORDER BY event_time`,
        )
      ).getRowObjectsJS();
      expect(read).toEqual([
        {
          event_id: 'first',
          event_time: -62_135_596_799_999_999n,
          event_time_utc: '0001-01-01 00:00:00.000001',
          seen: -62_135_596_800_000_000n,
          enqueued_time: BigInt(enqueued) * 1000n,
          event_date: '0001-01-01',
        },
        { event_id: 'before-1970', event_time: -1n, event_time_utc: '1969-12-31 23:59:59.999999', seen: null, enqueued_time: BigInt(enqueued) * 1000n, event_date: '1969-12-31' },
        {
          event_id: 'millis',
          event_time: 1_767_225_610_123_000n,
          event_time_utc: '2026-01-01 00:00:10.123000',
          seen: null,
          enqueued_time: BigInt(enqueued) * 1000n,
          event_date: '2026-01-01',
        },
        {
          event_id: 'micros',
          event_time: 1_767_225_610_123_456n,
          event_time_utc: '2026-01-01 00:00:10.123456',
          seen: 1_767_225_610_000_001n,
          enqueued_time: BigInt(enqueued) * 1000n,
          event_date: '2026-01-01',
        },
        {
          event_id: 'last',
          event_time: 253_402_300_799_999_999n,
          event_time_utc: '9999-12-31 23:59:59.999999',
          seen: null,
          enqueued_time: BigInt(enqueued) * 1000n,
          event_date: '9999-12-31',
        },
      ]);
      // A filter between two microseconds of one millisecond finds the row (no statistic cuts it off).
      const filtered = (
        await connection.runAndReadAll(`SELECT event_id FROM ${source} WHERE event_time > TIMESTAMPTZ '2026-01-01 00:00:10.123455+00' ORDER BY event_id`)
      ).getRowObjectsJS();
      expect(filtered).toEqual([{ event_id: 'last' }, { event_id: 'micros' }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }

    // The project's own reader gives the same microseconds when asked, and milliseconds rounded down otherwise.
    const exact = await collect(readDeltaRows(lake, 'tables/silver', { timestamps: 'micros' }));
    expect(exact.map((row) => [row['event_id'], row['event_time'], row['seen']]).sort()).toEqual(rows.map((row) => [row['event_id'], row['event_time'], row['seen']]).sort());
    const millis = await collect(readDeltaRows(lake, 'tables/silver'));
    expect(millis.find((row) => row['event_id'] === 'before-1970')?.['event_time']).toBe(-1);
    expect(millis.find((row) => row['event_id'] === 'micros')?.['event_time']).toBe(Date.UTC(2026, 0, 1, 0, 0, 10, 123));
  });
});

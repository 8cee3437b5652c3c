import { decodeAddPath, encodeAddPath, escapePartitionPathValue, parsePartitionValue, partitionFolder, serializePartitionValue } from './partition-values';

describe('partition values', () => {
  it('escapes folder names as Spark does and encodes the add path as a URI', () => {
    expect(escapePartitionPathValue('/%20%f')).toBe('%2F%2520%25f');
    expect(escapePartitionPathValue('a b:c=d?e#f\u0001')).toBe('a b%3Ac%3Dd%3Fe%23f%01');
    expect(partitionFolder(['letter', 'date'], { letter: '/%20%f', date: null })).toBe('letter=%2F%2520%25f/date=__HIVE_DEFAULT_PARTITION__');
    // The dat multi_partitioned fixture stores this add path for the folder above.
    expect(encodeAddPath('letter=%2F%2520%25f/date=1970-01-01/data=😈/part.parquet')).toBe('letter=%252F%252520%2525f/date=1970-01-01/data=😈/part.parquet');
    expect(decodeAddPath('letter=%252F%252520%2525f/x%20y.parquet')).toBe('letter=%2F%2520%25f/x y.parquet');
  });

  it('refuses absolute add paths', () => {
    expect(() => decodeAddPath('s3://bucket/table/part.parquet')).toThrow(/is absolute; only paths relative to the table root are supported/);
  });

  it('serialises values in the protocol form and parses them back typed', () => {
    const ms = Date.UTC(2026, 0, 1, 1, 2, 3, 45);
    expect(serializePartitionValue('timestamp', ms, 't')).toBe('2026-01-01 01:02:03.045000');
    expect(parsePartitionValue('timestamp', '2026-01-01 01:02:03.045000', 't')).toBe(ms);
    expect(parsePartitionValue('timestamp', '2026-01-01T02:02:03.045+01:00', 't')).toBe(ms);
    expect(serializePartitionValue('string', '', 's')).toBeNull();
    expect(serializePartitionValue('boolean', false, 'b')).toBe('false');
    expect(parsePartitionValue('long', '-12', 'n')).toBe(-12);
    expect(parsePartitionValue('binary', 'hello', 'd')).toEqual(Buffer.from('hello'));
    expect(parsePartitionValue('date', '__HIVE_DEFAULT_PARTITION__', 'd')).toBeNull();
    expect(() => parsePartitionValue('date', 'yesterday', 'day')).toThrow('Partition value "yesterday" of column "day" is not a valid date.');
  });

  it('keeps dates and timestamps of the years 0001 to 0099 as they are, not as 1900 to 1999', () => {
    const ms = new Date('0050-06-01T12:00:00.000Z').getTime();
    expect(serializePartitionValue('date', '0050-06-01', 'd')).toBe('0050-06-01');
    expect(parsePartitionValue('date', '0050-06-01', 'd')).toBe('0050-06-01');
    expect(serializePartitionValue('timestamp', ms, 't')).toBe('0050-06-01 12:00:00.000000');
    expect(parsePartitionValue('timestamp', '0050-06-01 12:00:00.000000', 't')).toBe(ms);
    expect(parsePartitionValue('timestamp', '0001-01-01 00:00:00', 't')).toBe(new Date('0001-01-01T00:00:00Z').getTime());
    expect(() => serializePartitionValue('date', '0050-02-30', 'd')).toThrow(/cannot hold/);
  });
});

import { groupKeyHash, shardOf } from './shard';

describe('shardOf', () => {
  // Shard assignment is fixed per checkpoint: these vectors must never change. They were checked
  // against an independent Python implementation of the documented encoding and hash.
  it.each<[unknown[], number, number, number]>([
    [[], 2872998923, 3, 11],
    [['dev-001'], 1398744683, 3, 619],
    [['dev-002'], 2988165212, 0, 92],
    [['São Paulo'], 585353905, 1, 689],
    [[''], 3392663995, 3, 443],
    [[null], 1911777871, 3, 591],
    [[42], 3274180993, 1, 385],
    [[1.5], 2269006709, 1, 885],
    [[true], 1096793167, 3, 79],
    [[false], 1421005985, 1, 161],
    [['dev-001', 5], 1580851135, 3, 959],
    [['a', 'b'], 1314889355, 3, 651],
    [['ab'], 3961360257, 1, 897],
    [[Buffer.from([1, 2, 3])], 2566260232, 0, 520],
    [['😀'], 744758598, 2, 326],
  ])('keeps the group key %p at hash %d, shard %d of 4 and shard %d of 1024', (values, hash, of4, of1024) => {
    expect(groupKeyHash(values)).toBe(hash);
    expect(shardOf(values, 4)).toBe(of4);
    expect(shardOf(values, 1024)).toBe(of1024);
  });

  it('hashes a text of any length as the documented encoding, s<bytes>:<utf8>', () => {
    // FNV-1a then fmix32 over the encoding's bytes, written out here from the module's header.
    const documented = (text: string): number => {
      let h = 0x811c9dc5;
      for (const byte of Buffer.from(`s${Buffer.byteLength(text)}:${text}`)) h = Math.imul(h ^ byte, 0x01000193);
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
      return h >>> 0;
    };
    for (const length of [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345]) {
      const text = 'k'.repeat(length);
      expect(groupKeyHash([text])).toBe(documented(text));
      expect(groupKeyHash([`${text}é`])).toBe(documented(`${text}é`));
    }
  });

  it('treats -0 like 0 and undefined like null', () => {
    expect(groupKeyHash([-0])).toBe(groupKeyHash([0]));
    expect(groupKeyHash([undefined])).toBe(groupKeyHash([null]));
  });

  it('does not confuse values that concatenate to the same text', () => {
    expect(groupKeyHash(['a', 'b'])).not.toBe(groupKeyHash(['ab']));
    expect(groupKeyHash(['1'])).not.toBe(groupKeyHash([1]));
    expect(groupKeyHash(['true'])).not.toBe(groupKeyHash([true]));
    expect(groupKeyHash([null])).not.toBe(groupKeyHash(['']));
  });

  it('puts every key in shard 0 when there is one shard', () => {
    for (const key of ['a', 'b', 'c', 42, null]) expect(shardOf([key], 1)).toBe(0);
  });

  it('spreads many device ids evenly over the shards', () => {
    const shards = 8;
    const counts = new Array<number>(shards).fill(0);
    for (let i = 0; i < 8000; i++) counts[shardOf([`dev-${String(i).padStart(4, '0')}`], shards)]++;
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  it('rejects a shard count that is not a positive whole number', () => {
    for (const shards of [0, -1, 1.5, Number.NaN, 2 ** 32]) expect(() => shardOf(['a'], shards)).toThrow(RangeError);
  });

  it('rejects group key values that are not lake values', () => {
    expect(() => shardOf([{ a: 1 }], 4)).toThrow(/group key value 0 is a object/);
  });
});

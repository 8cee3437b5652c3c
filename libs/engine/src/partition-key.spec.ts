import * as fc from 'fast-check';
import { partitionIndexForKey, partitionKeyHash } from './partition-key';

/**
 * Published vectors: Azure/azure-sdk-for-net,
 * sdk/eventhub/Azure.Messaging.EventHubs/tests/Core/PartitionResolverTests.cs
 * (`PartitionHashTestCases`, the hashes the service gateway computes); the same list appears in
 * Azure/azure-sdk-for-python's buffered-producer partition resolver tests.
 */
const publishedHashes: ReadonlyArray<[key: string, hash: number]> = [
  ['7', -15263],
  ['131', 30562],
  ['7149583486996073602', 12977],
  ['FWfAT', -22341],
  ['sOdeEAsyQoEuEFPGerWO', -6503],
  ['FAyAIctPeCgmiwLKbJcyswoHglHVjQdvtBowLACDNORsYvOcLddNJYDmhAVkbyLOrHTKLneMNcbgWVlasVywOByANjs', 5226],
  ['1XYM6!(7(lF5wq4k4m*e$Nc!1ezLJv*1YK1Y-C^*&B$O)lq^iUkG(TNzXG;Zi#z2Og*Qq0#^*k):vXh$3,C7We7%W0meJ;b3,rQCg^J;^twXgs5E$$hWKxqp', 23950],
  ['E(x;RRIaQcJs*P;D&jTPau-4K04oqr:lF6Z):ERpo&;9040qyV@G1_c9mgOs-8_8/10Fwa-7b7-yP!T-!IH&968)FWuI;(^g$2fN;)HJ^^yTn:', -29304],
  ['!c*_!I@1^c', 15372],
  ['p4*!jioeO/z-!-;w:dh', -3104],
  ['$0cb', 26269],
  ['-4189260826195535198', 453],
];

describe('partitionKeyHash', () => {
  it.each(publishedHashes)('hashes %j to the value the Event Hubs service computes (%d)', (key, hash) => {
    expect(partitionKeyHash(key)).toBe(hash);
  });

  it('always yields a signed 16-bit integer', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (key) => {
        const hash = partitionKeyHash(key);
        return Number.isInteger(hash) && hash >= -32768 && hash <= 32767;
      }),
    );
  });
});

describe('partitionIndexForKey', () => {
  it('maps the published keys to |hash % count| for several partition counts', () => {
    for (const [key, hash] of publishedHashes) {
      for (const count of [1, 2, 4, 7, 32, 2000]) {
        expect(partitionIndexForKey(key, count)).toBe(Math.abs(hash % count));
      }
    }
  });

  it('keeps a negative hash in range the way C# does (truncating remainder, then absolute value)', () => {
    // -15263 % 4 is -3 in C# and JS alike; the partition is 3.
    expect(partitionIndexForKey('7', 4)).toBe(3);
  });

  it('always returns an index inside the hub', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), fc.integer({ min: 1, max: 2048 }), (key, count) => {
        const index = partitionIndexForKey(key, count);
        return Number.isInteger(index) && index >= 0 && index < count;
      }),
    );
  });

  it('is stable: the same key always lands in the same partition', () => {
    fc.assert(fc.property(fc.string({ maxLength: 64 }), fc.integer({ min: 1, max: 64 }), (key, count) => partitionIndexForKey(key, count) === partitionIndexForKey(key, count)));
  });

  it('spreads distinct keys over every partition of a 32-partition hub', () => {
    const counts = new Array<number>(32).fill(0);
    for (let i = 0; i < 32_000; i++) counts[partitionIndexForKey(`device-${i}`, 32)]++;
    // A fair hash puts ~1000 keys in each; a broken one leaves partitions empty or crowded.
    expect(Math.min(...counts)).toBeGreaterThan(700);
    expect(Math.max(...counts)).toBeLessThan(1300);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionIndexForKey('k', 0)).toThrow(/partitionCount must be a positive integer, got 0/);
    expect(() => partitionIndexForKey('k', 2.5)).toThrow(RangeError);
  });
});

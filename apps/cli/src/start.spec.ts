import { PRODUCER_SEMI_SPACE_MIB, SERVICE_HEAP_MIB, serviceV8Flags, INITIAL_OLD_SPACE_MIB } from './start';

describe('serviceV8Flags', () => {
  it('caps every service’s heap, gives the producer alone a larger young generation and silver and gold a larger initial old space', () => {
    expect(serviceV8Flags('producer', {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`, `--max-semi-space-size=${PRODUCER_SEMI_SPACE_MIB}`]);
    for (const service of ['silver', 'gold']) {
      expect(serviceV8Flags(service, {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`, `--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`]);
    }
    for (const service of ['capture', 'bronze', 'serving-api']) {
      expect(serviceV8Flags(service, {})).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`]);
    }
  });

  it('gives silver and gold their initial old space even when NODE_OPTIONS sets the heap (Node refuses that flag there)', () => {
    expect(serviceV8Flags('silver', { NODE_OPTIONS: '--max-old-space-size=1024' })).toEqual([`--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`]);
    expect(INITIAL_OLD_SPACE_MIB).toBeLessThan(SERVICE_HEAP_MIB);
  });

  it('leaves to NODE_OPTIONS each flag it sets', () => {
    expect(serviceV8Flags('producer', { NODE_OPTIONS: '--max-old-space-size=1024' })).toEqual([`--max-semi-space-size=${PRODUCER_SEMI_SPACE_MIB}`]);
    expect(serviceV8Flags('producer', { NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8' })).toEqual([`--max-old-space-size=${SERVICE_HEAP_MIB}`]);
    expect(serviceV8Flags('bronze', { NODE_OPTIONS: '--max-old-space-size=1024 --max-semi-space-size=8' })).toEqual([]);
  });
});

import { deriveEventId, EVENT_ID_NAMESPACE, uuidV5 } from './event-id';

describe('deriveEventId', () => {
  it('matches the RFC 9562 version 5 test vector', () => {
    // The DNS namespace and "www.example.com" (RFC 9562, appendix A.4).
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('is a version 5 UUID of the source name and row number in the pipeline namespace', () => {
    const id = deriveEventId('sensors', 1);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).toBe(uuidV5(EVENT_ID_NAMESPACE, 'sensors\n1'));
  });

  it('is stable forever: these values (checked with Python uuid.uuid5) must never change', () => {
    expect(deriveEventId('sensors', 1)).toBe('8ffd77b9-9b91-5628-ac7b-672ebff7491d');
    expect(deriveEventId('sensors', 2_000_000)).toBe('f1c07031-df41-5f97-b2f5-041cd07c5623');
  });

  it('differs between rows and between sources', () => {
    const ids = new Set<string>();
    for (let row = 1; row <= 1000; row++) ids.add(deriveEventId('sensors', row));
    ids.add(deriveEventId('sensors-2', 1));
    ids.add(deriveEventId('sensor', 11));
    expect(ids.size).toBe(1002);
  });

  it('rejects row numbers that are not 1-based integers', () => {
    for (const row of [0, -1, 1.5, Number.NaN]) expect(() => deriveEventId('sensors', row)).toThrow(RangeError);
    expect(() => uuidV5('not-a-uuid', 'x')).toThrow(/namespace must be a UUID/);
  });
});

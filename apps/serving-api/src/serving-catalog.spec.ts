import { ServingCatalog } from './serving-catalog';

const base = { name: 'p', windows: [{ name: 'w', kind: 'tumbling' as const, sizeMs: 60_000 }], aggregates: [{ name: 'n', fn: 'count' as const }] };

describe('ServingCatalog.parseKey', () => {
  it('takes a bare value or the canonical text when the spec groups by one column', () => {
    const catalog = new ServingCatalog({ ...base, groupBy: ['device_id'] });
    expect(catalog.parseKey('d1')).toEqual({ pk: 'device_id=d1' });
    expect(catalog.parseKey('device_id=d1')).toEqual({ pk: 'device_id=d1' });
    expect(catalog.parseKey('device_id=a%20b')).toEqual({ pk: 'device_id=a%20b' });
    expect(catalog.parseKey('site=s1')).toEqual({ expected: 'a device_id value, or device_id=…' });
  });

  it('needs every grouping column in order when there are several', () => {
    const catalog = new ServingCatalog({ ...base, groupBy: ['site', 'device_id'] });
    expect(catalog.parseKey('site=s%2F1&device_id=d1')).toEqual({ pk: 'site=s%2F1&device_id=d1' });
    expect(catalog.parseKey('device_id=d1&site=s1')).toHaveProperty('expected');
    expect(catalog.parseKey('d1')).toEqual({ expected: 'site=…&device_id=… (every grouping column, in this order)' });
  });

  it('knows the one global group when the spec has no grouping columns', () => {
    const catalog = new ServingCatalog({ ...base, groupBy: [] });
    expect(catalog.parseKey('_all')).toEqual({ pk: '_all' });
    expect(catalog.parseKey('d1')).toHaveProperty('expected');
  });
});

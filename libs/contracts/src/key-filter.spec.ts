import { keyFilterOf, keyFilterOfRows, parseKeyFilter, rowKeyText } from './key-filter';

describe('key filter', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `device_id=d${i}&site=s${i % 7}`);

  it('holds every key it was built from (never a false "absent")', () => {
    const filter = parseKeyFilter(keyFilterOf(keys));
    expect(keys.filter((key) => !filter.mayHold(key))).toEqual([]);
  });

  it('says "absent" to nearly every other key (about 1% false "maybe")', () => {
    const filter = parseKeyFilter(keyFilterOf(keys));
    const others = Array.from({ length: 20_000 }, (_, i) => `device_id=x${i}&site=s${i % 7}`);
    const maybe = others.filter((key) => filter.mayHold(key)).length;
    expect(maybe / others.length).toBeLessThan(0.02);
  });

  it('gives the same text whatever order or repetition the keys come in', () => {
    expect(keyFilterOf([...keys].reverse().concat(keys.slice(0, 50)))).toBe(keyFilterOf(keys));
    expect(keyFilterOf([])).toMatch(/^bloom1:7:[A-Za-z0-9+/]+=*$/);
  });

  it('names a row by its canonical key text, timestamps in epoch ms and nulls as empty', () => {
    expect(rowKeyText({ device_id: 'a b', at: 1_767_225_600_000_123n, zone: null }, ['device_id', 'at', 'zone'])).toBe('device_id=a%20b&at=1767225600000&zone=');
    expect(rowKeyText({ device_id: 'd1' }, [])).toBe('_all');
    const filter = parseKeyFilter(keyFilterOfRows([{ device_id: 'd1', zone: 2 }], ['device_id', 'zone']));
    expect([filter.mayHold('device_id=d1&zone=2'), filter.mayHold('device_id=d1&zone=3')]).toEqual([true, false]);
  });

  it('says "maybe" to every key when the text is missing or not a filter it can read', () => {
    for (const text of [undefined, '', 'bloom2:7:AAAA', 'bloom1:0:AAAA', 'bloom1:7:', 'bloom1:7:***']) expect(parseKeyFilter(text).mayHold('device_id=x')).toBe(true);
  });
});

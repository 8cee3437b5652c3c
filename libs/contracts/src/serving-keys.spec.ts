import { isWindowDocumentId, windowDocumentId, windowDocumentIdPrefix } from './serving-keys';

const WINDOWS = ['per_minute', 'w1', 'a/b', 'x#'];
const PKS = ['device_id=dev-0001', 'origin=BGX', 'a=%2F', 'k=a/b?c#d\\e', '_all', 'k=é€😀', '', 'k=|', 'k=1|2'];
const STARTS = [0, 1_767_225_600_000, -62_135_596_800_000, 7, -1];

describe('window document ids', () => {
  it('are the prefix of their window and pk followed by the start, for every window, pk and start', () => {
    for (const window of WINDOWS)
      for (const pk of PKS) for (const start of STARTS) expect(windowDocumentIdPrefix(window, pk) + String(start)).toBe(windowDocumentId(window, pk, start));
  });

  it('are recognised exactly: the id of the same window, pk and start, and no other', () => {
    for (const window of WINDOWS)
      for (const pk of PKS)
        for (const start of STARTS) {
          const id = windowDocumentId(window, pk, start);
          expect(isWindowDocumentId(id, window, pk, start)).toBe(true);
          for (const other of [
            `${id}0`,
            id.slice(1),
            id.slice(0, -1),
            `${id.slice(0, -1)}9`,
            id.replace('|', '/'),
            ` ${id}`,
            id.toUpperCase() === id ? `${id}x` : id.toUpperCase(),
          ])
            expect(isWindowDocumentId(other, window, pk, start)).toBe(false);
          for (const otherPk of PKS) if (otherPk !== pk && windowDocumentId(window, otherPk, start) !== id) expect(isWindowDocumentId(id, window, otherPk, start)).toBe(false);
          for (const otherStart of STARTS) if (otherStart !== start) expect(isWindowDocumentId(id, window, pk, otherStart)).toBe(false);
        }
  });
});

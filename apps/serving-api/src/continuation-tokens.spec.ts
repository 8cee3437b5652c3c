import { randomBytes } from 'node:crypto';
import { ContinuationTokens, queryDigest, type PagedQuery } from './continuation-tokens';

describe('ContinuationTokens', () => {
  const tokens = new ContinuationTokens(randomBytes(32));
  const query: PagedQuery = { pk: 'device_id=ATL', window: 'per_minute', from: 0, to: 60_000 };

  it('gives back the store token for the query it was sealed for', () => {
    expect(tokens.open(tokens.seal('c3RvcmU', query), query)).toEqual({ storeToken: 'c3RvcmU' });
  });

  it('refuses it for another key, window or range, naming the query', () => {
    const sealed = tokens.seal('c3RvcmU', query);
    for (const other of [
      { ...query, pk: 'device_id=ORD' },
      { ...query, window: undefined },
      { ...query, from: undefined },
      { ...query, to: 120_000 },
    ]) {
      expect(tokens.open(sealed, other)).toEqual({ problem: expect.stringContaining('a token of this same query') });
    }
  });

  it('refuses an edited token, one signed with another key, and one of another shape, naming the signature or the shape', () => {
    const sealed = tokens.seal('c3RvcmU', query);
    const [store, digest, mac] = sealed.split('.') as [string, string, string];
    const signature = { problem: expect.stringContaining('the signature does not match') };
    expect(tokens.open(`c3RvcmV.${digest}.${mac}`, query)).toEqual(signature);
    // A token of another query re-labelled with this query's digest: the signature covers the digest.
    expect(tokens.open(`${store}.${queryDigest({ ...query, pk: 'x' })}.${mac}`, query)).toEqual(signature);
    expect(tokens.open(`${store}.${digest}.${mac.slice(0, -4)}`, query)).toEqual(signature);
    expect(tokens.open(new ContinuationTokens(randomBytes(32)).seal('c3RvcmU', query), query)).toEqual(signature);
    for (const shape of ['c3RvcmU', `${store}.${digest}`, `${sealed}.x`, `${store}.${digest}.${mac}!`, '']) {
      expect(tokens.open(shape, query)).toEqual({ problem: expect.stringContaining('wrong shape') });
    }
  });

  it('tells absent fields from empty ones in the canonical query', () => {
    expect(queryDigest({ pk: 'a', window: undefined, from: undefined, to: undefined })).not.toBe(queryDigest({ pk: 'a', window: '', from: undefined, to: undefined }));
    expect(queryDigest({ pk: 'a', window: undefined, from: 0, to: undefined })).not.toBe(queryDigest({ pk: 'a', window: undefined, from: undefined, to: 0 }));
  });
});

import { EntraTestTenant } from '@pipeline/testing';
import { bearerToken, EntraTokenVerifier, metadataUrl } from './entra-token-verifier';
import type { EntraAuthSettings } from './serving-api.config';

describe('EntraTokenVerifier', () => {
  let tenant: EntraTestTenant;
  let settings: EntraAuthSettings;

  beforeAll(async () => {
    tenant = await EntraTestTenant.start();
    settings = { tenantId: tenant.tenantId, audiences: [tenant.clientId, tenant.appIdUri], role: 'Pipeline.Read', authority: tenant.authority, clockToleranceSeconds: 60 };
  });
  afterAll(() => tenant.stop());
  afterEach(() => tenant.fail(false));

  it('finds the metadata where Entra publishes it', () => {
    expect(metadataUrl({ authority: 'https://login.microsoftonline.com', tenantId: 'contoso.onmicrosoft.com' })).toBe(
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration',
    );
  });

  it('reads a bearer token from the Authorization header, whatever the scheme case, and says what is wrong otherwise', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toEqual({ token: 'abc.def.ghi' });
    expect(bearerToken('bearer abc')).toEqual({ token: 'abc' });
    expect(bearerToken(undefined)).toEqual({ missing: expect.stringContaining('no Authorization header') });
    expect(bearerToken('Basic dXNlcjpwYXNz')).toEqual({ missing: expect.stringContaining('not a bearer token') });
    expect(bearerToken('Bearer')).toEqual({ missing: expect.stringContaining('not a bearer token') });
    expect(bearerToken('Bearer   ')).toEqual({ missing: expect.stringContaining('empty bearer token') });
  });

  it('allows a token of the tenant for either audience with the role, and names the caller by oid', async () => {
    const verifier = new EntraTokenVerifier(settings);
    for (const aud of [tenant.clientId, tenant.appIdUri]) {
      expect(await verifier.verify(await tenant.token({ aud, roles: ['Other', 'Pipeline.Read'] }))).toEqual({
        kind: 'allowed',
        principal: { id: '11111111-2222-3333-4444-555555555555', roles: ['Other', 'Pipeline.Read'] },
      });
    }
  });

  it('forbids a valid token without the role, naming the role to assign', async () => {
    const outcome = await new EntraTokenVerifier(settings).verify(await tenant.token({ roles: ['Pipeline.Write'] }));
    expect(outcome).toMatchObject({ kind: 'forbidden', reason: expect.stringContaining('app role Pipeline.Read') });
  });

  it.each([
    ['another audience', { aud: 'api://someone-else' }, /another audience \(aud\)/],
    ['another issuer', { iss: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0' }, /another issuer \(iss\)/],
    ['an expiry beyond the clock tolerance', { expiresIn: -120 }, /has expired/],
    ['no expiry', { expiresIn: null }, /"exp" claim|no expiry/],
    ['a start beyond the clock tolerance', { notBeforeIn: 300 }, /not valid yet/],
  ])('refuses a token with %s', async (_name, claims, reason) => {
    const outcome = await new EntraTokenVerifier(settings).verify(await tenant.token({ roles: ['Pipeline.Read'], ...claims }));
    expect(outcome.kind).toBe('unauthenticated');
    expect(outcome.kind === 'unauthenticated' && outcome.reason).toMatch(reason);
  });

  it('accepts a token expired or not yet valid within the clock tolerance', async () => {
    const verifier = new EntraTokenVerifier(settings);
    expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'], expiresIn: -30 }))).kind).toBe('allowed');
    expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'], notBeforeIn: 30 }))).kind).toBe('allowed');
  });

  it('refuses a bad signature, a key the tenant never published, a token not signed with RS256 and garbage', async () => {
    const verifier = new EntraTokenVerifier(settings);
    const good = await tenant.token({ roles: ['Pipeline.Read'] });
    const [header, payload] = good.split('.');
    const forged = await tenant.token({ roles: ['Pipeline.Read'], key: await EntraTestTenant.newKey('key-1') });
    const unpublished = await tenant.token({ roles: ['Pipeline.Read'], key: await EntraTestTenant.newKey('never-published') });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'key-1' })).toString('base64url')}.${payload}.`;
    const reasons = await Promise.all([forged, unpublished, unsigned, `${header}.${payload}`, 'not-a-jwt'].map(async (t) => verifier.verify(t)));
    expect(reasons).toEqual([
      { kind: 'unauthenticated', reason: 'the token signature is not valid' },
      { kind: 'unauthenticated', reason: 'the token is signed with a key the tenant does not publish' },
      { kind: 'unauthenticated', reason: 'the token is not signed with RS256' },
      { kind: 'unauthenticated', reason: 'the token is not a well-formed JWT' },
      { kind: 'unauthenticated', reason: 'the token is not a well-formed JWT' },
    ]);
    // No outcome repeats the token.
    expect(JSON.stringify(reasons)).not.toContain(payload);
  });

  it('fetches the metadata and keys once, and the keys again when a token names a new key', async () => {
    const verifier = new EntraTokenVerifier(settings, { keyRefetchCooldownMs: 0 });
    const [metadataBefore, keysBefore] = [tenant.metadataFetches, tenant.keySetFetches];
    for (let i = 0; i < 3; i++) expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'], oid: `caller-${i}` }))).kind).toBe('allowed');
    expect([tenant.metadataFetches - metadataBefore, tenant.keySetFetches - keysBefore]).toEqual([1, 1]);
    await tenant.rotate(`key-${Date.now()}`);
    expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'] }))).kind).toBe('allowed');
    expect([tenant.metadataFetches - metadataBefore, tenant.keySetFetches - keysBefore]).toEqual([1, 2]);
  });

  it('does not fetch the keys for every token that names an unknown key', async () => {
    const verifier = new EntraTokenVerifier(settings);
    expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'] }))).kind).toBe('allowed');
    const keysBefore = tenant.keySetFetches;
    const stranger = await EntraTestTenant.newKey('stranger');
    for (let i = 0; i < 5; i++) expect((await verifier.verify(await tenant.token({ roles: ['Pipeline.Read'], key: stranger, oid: `x-${i}` }))).kind).toBe('unauthenticated');
    expect(tenant.keySetFetches - keysBefore).toBe(0);
  });

  it('answers unavailable while the tenant cannot be reached, and recovers without a restart', async () => {
    const verifier = new EntraTokenVerifier(settings);
    tenant.fail(true);
    const token = await tenant.token({ roles: ['Pipeline.Read'] });
    expect(await verifier.verify(token)).toMatchObject({ kind: 'unavailable', reason: expect.stringContaining('answered 500') });
    tenant.fail(false);
    expect((await verifier.verify(token)).kind).toBe('allowed');
  });

  it('keeps a verified token no longer than it is valid', async () => {
    let now = Date.now();
    const verifier = new EntraTokenVerifier(settings, { now: () => now });
    const token = await tenant.token({ roles: ['Pipeline.Read'], expiresIn: 600 });
    expect((await verifier.verify(token)).kind).toBe('allowed');
    now += 600_000 + 61_000;
    expect(await verifier.verify(token)).toEqual({ kind: 'unauthenticated', reason: 'the token has expired: get a new one' });
  });

  it('keeps at most cacheSize verified tokens, and still verifies the ones it forgot', async () => {
    const verifier = new EntraTokenVerifier(settings, { cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map((i) => tenant.token({ roles: ['Pipeline.Read'], oid: `caller-${i}` })));
    for (const token of [...tokens, ...tokens]) expect((await verifier.verify(token)).kind).toBe('allowed');
    expect((verifier as unknown as { verified: Map<string, unknown> }).verified.size).toBe(2);
  });
});

/**
 * A local stand-in for a Microsoft Entra ID tenant, for tests of bearer-token authentication: an
 * HTTP server with the tenant's OpenID metadata (`/{tenant}/v2.0/.well-known/openid-configuration`)
 * and key set (`/{tenant}/discovery/v2.0/keys`), RSA keys made in the test, and tokens issued with
 * them, shaped like Entra's v2.0 access tokens. Nothing leaves the machine.
 *
 * `rotate()` publishes a new key (the old one stays published, as Entra does during a rollover);
 * `fail(true)` makes both documents answer 500; counters say how often each was fetched.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface TokenClaims {
  aud?: string;
  iss?: string;
  roles?: string[];
  oid?: string;
  sub?: string;
  /** Seconds from now (negative: already expired); `null` leaves `exp` out. */
  expiresIn?: number | null;
  notBeforeIn?: number;
  /** Sign with this key instead of the current one (e.g. one the tenant never published). */
  key?: SigningKey;
  /** Override the header's kid. */
  kid?: string;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export class EntraTestTenant {
  readonly tenantId = '6f1c2a8e-0b3d-4c5e-9a7f-1d2e3f4a5b6c';
  readonly clientId = '0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f';
  readonly appIdUri = 'api://pipeline-serving-api';
  metadataFetches = 0;
  keySetFetches = 0;
  private readonly published: SigningKey[] = [];
  private failing = false;

  private constructor(
    private readonly server: Server,
    readonly authority: string,
  ) {}

  static async start(): Promise<EntraTestTenant> {
    const started: { tenant?: EntraTestTenant } = {};
    const server = createServer((request, response) => started.tenant?.answer(request.url ?? '/', response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const tenant = new EntraTestTenant(server, `http://127.0.0.1:${port}`);
    tenant.published.push(await EntraTestTenant.newKey('key-1'));
    started.tenant = tenant;
    return tenant;
  }

  static async newKey(kid: string): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, kty: 'RSA', use: 'sig', alg: 'RS256' } };
  }

  get issuer(): string {
    return `${this.authority}/${this.tenantId}/v2.0`;
  }

  /** Publishes a new signing key, which signs the tokens issued from now on. */
  async rotate(kid: string): Promise<SigningKey> {
    const key = await EntraTestTenant.newKey(kid);
    this.published.push(key);
    return key;
  }

  fail(failing: boolean): void {
    this.failing = failing;
  }

  async token(claims: TokenClaims = {}): Promise<string> {
    const key = claims.key ?? (this.published[this.published.length - 1] as SigningKey);
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      aud: claims.aud ?? this.clientId,
      iss: claims.iss ?? this.issuer,
      oid: claims.oid ?? '11111111-2222-3333-4444-555555555555',
      sub: claims.sub ?? 'subject-1',
      tid: this.tenantId,
      ver: '2.0',
    };
    if (claims.roles !== undefined) payload['roles'] = claims.roles;
    const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: claims.kid ?? key.kid }).setIssuedAt(now);
    if (claims.expiresIn !== null) jwt.setExpirationTime(now + (claims.expiresIn ?? 3600));
    jwt.setNotBefore(now + (claims.notBeforeIn ?? -60));
    return jwt.sign(key.privateKey);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private answer(url: string, response: ServerResponse): void {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (url === `/${this.tenantId}/v2.0/.well-known/openid-configuration`) {
      this.metadataFetches++;
      if (this.failing) return send(500, { error: 'server_error' });
      return send(200, {
        issuer: this.issuer,
        jwks_uri: `${this.authority}/${this.tenantId}/discovery/v2.0/keys`,
        token_endpoint: `${this.authority}/${this.tenantId}/oauth2/v2.0/token`,
      });
    }
    if (url === `/${this.tenantId}/discovery/v2.0/keys`) {
      this.keySetFetches++;
      if (this.failing) return send(500, { error: 'server_error' });
      return send(200, { keys: this.published.map((k) => k.publicJwk) });
    }
    send(404, { error: 'not_found' });
  }
}

/**
 * Verifies Microsoft Entra ID access tokens (JWT bearer tokens) for the serving API.
 *
 * - Keys: the tenant's OpenID metadata (`{authority}/{tenant}/v2.0/.well-known/openid-configuration`)
 *   names the `jwks_uri`; `jose`'s remote key set caches the keys, imports each once, and fetches the
 *   set again when a token names an unknown `kid` (at most every 30 s, so forged `kid`s cannot make
 *   it fetch per request). A failed metadata fetch is retried by the next request, not cached.
 * - Claims: RS256 signature, `iss` (the tenant's v2.0 issuer, or its v1.0 `sts.windows.net` issuer
 *   for tokens of an API that accepts v1 tokens), `aud` (one of the configured audiences), `exp`
 *   (required) and `nbf` with a small clock tolerance. Authorization is an app role in `roles`.
 * - Cost: a token seen before is not verified again until it expires (a bounded cache keyed by the
 *   token text), so a client reusing its token pays one signature check, not one per request. The
 *   signature check is WebCrypto's (asynchronous).
 * - Secrecy: outcomes name what is wrong with a token, never its text or claims' values.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { EntraAuthSettings } from './serving-api.config';

/** Who called, from a verified token. */
export interface Principal {
  /** The stable caller id: `oid` (user or service principal), else `sub`, else the client app id. */
  id: string;
  roles: readonly string[];
}

export type VerifyOutcome =
  | { kind: 'allowed'; principal: Principal }
  /** 401: no usable token; `reason` is safe to show the caller. */
  | { kind: 'unauthenticated'; reason: string }
  /** 403: a valid token without the required role. */
  | { kind: 'forbidden'; reason: string; principal: Principal }
  /** 503: the tenant's keys cannot be fetched now. */
  | { kind: 'unavailable'; reason: string };

export interface VerifierOptions {
  /** Wall clock for `exp`/`nbf`, ms (tokens are wall-clock things). */
  now?: () => number;
  /** Most verified tokens kept. */
  cacheSize?: number;
  /** Timeout of each metadata and key-set fetch, ms. */
  fetchTimeoutMs?: number;
  /** Least time between two key-set fetches, ms: a token naming an unknown key fetches the set again only after this. */
  keyRefetchCooldownMs?: number;
}

interface CachedToken {
  /** The answer for this token, made once: a hit allocates nothing. */
  outcome: VerifyOutcome;
  /** `exp` in ms, tolerance included. */
  expiresAt: number;
  /** `nbf` in ms, tolerance included (0 when absent). */
  notBefore: number;
}

interface Keys {
  issuers: string[];
  getKey: JWTVerifyGetKey;
}

const DEFAULT_CACHE_SIZE = 2048;
const V2_ISSUER_TENANT = /^https:\/\/login\.microsoftonline\.com\/([0-9a-f-]{36})\/v2\.0$/i;

export function metadataUrl(settings: Pick<EntraAuthSettings, 'authority' | 'tenantId'>): string {
  return `${settings.authority}/${encodeURIComponent(settings.tenantId)}/v2.0/.well-known/openid-configuration`;
}

/** The bearer token of an `Authorization` header, or why there is none. */
export function bearerToken(header: string | undefined): { token: string } | { missing: string } {
  if (header === undefined || header === '') return { missing: 'no Authorization header: send Authorization: Bearer <access token>' };
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer')
    return { missing: 'the Authorization header is not a bearer token: send Authorization: Bearer <access token>' };
  const token = header.slice(space + 1).trim();
  return token === '' ? { missing: 'the Authorization header has an empty bearer token' } : { token };
}

export class EntraTokenVerifier {
  private keys: Promise<Keys> | undefined;
  private readonly verified = new Map<string, CachedToken>();
  private readonly now: () => number;
  private readonly cacheSize: number;
  private readonly fetchTimeoutMs: number;
  private readonly keyRefetchCooldownMs: number;

  constructor(
    private readonly settings: EntraAuthSettings,
    options: VerifierOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
    this.keyRefetchCooldownMs = options.keyRefetchCooldownMs ?? 30_000;
  }

  get requiredRole(): string {
    return this.settings.role;
  }

  /** Verifies `token` and checks the role. Never throws for a bad token. */
  async verify(token: string): Promise<VerifyOutcome> {
    const cached = this.verified.get(token);
    const now = this.now();
    if (cached !== undefined) {
      if (now < cached.expiresAt && now >= cached.notBefore) return cached.outcome;
      this.verified.delete(token);
    }
    let keys: Keys;
    try {
      keys = await this.loadKeys();
    } catch (error) {
      return { kind: 'unavailable', reason: `cannot fetch the signing keys of tenant ${this.settings.tenantId}: ${(error as Error).message}` };
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.getKey, {
        algorithms: ['RS256'],
        issuer: keys.issuers,
        audience: this.settings.audiences,
        clockTolerance: this.settings.clockToleranceSeconds,
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      }));
    } catch (error) {
      return tokenProblem(error);
    }
    const principal = principalOf(payload);
    if (principal === undefined) return { kind: 'unauthenticated', reason: 'the token names no caller (no oid, sub, azp or appid claim)' };
    const outcome = this.authorize(principal);
    this.remember(token, payload, outcome);
    return outcome;
  }

  private authorize(principal: Principal): VerifyOutcome {
    if (principal.roles.includes(this.settings.role)) return { kind: 'allowed', principal };
    return {
      kind: 'forbidden',
      principal,
      reason: `the token does not carry the app role ${this.settings.role}: assign the caller that role on the API's enterprise application, then get a new token`,
    };
  }

  private remember(token: string, payload: JWTPayload, outcome: VerifyOutcome): void {
    const toleranceMs = this.settings.clockToleranceSeconds * 1000;
    if (this.verified.size >= this.cacheSize) {
      // Oldest first (Map keeps insertion order): drop one to make room.
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, {
      outcome,
      expiresAt: (payload.exp as number) * 1000 + toleranceMs,
      notBefore: payload.nbf === undefined ? 0 : payload.nbf * 1000 - toleranceMs,
    });
  }

  private loadKeys(): Promise<Keys> {
    if (this.keys === undefined) {
      const loading = this.fetchKeys();
      this.keys = loading;
      // A failed fetch is not kept: the next request tries again.
      loading.catch(() => {
        if (this.keys === loading) this.keys = undefined;
      });
    }
    return this.keys;
  }

  private async fetchKeys(): Promise<Keys> {
    const url = metadataUrl(this.settings);
    const response = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const metadata = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (typeof metadata.issuer !== 'string' || typeof metadata.jwks_uri !== 'string') throw new Error(`${url} has no issuer or jwks_uri`);
    const issuers = [metadata.issuer];
    const tenant = V2_ISSUER_TENANT.exec(metadata.issuer)?.[1];
    if (tenant !== undefined) issuers.push(`https://sts.windows.net/${tenant}/`);
    return {
      issuers,
      getKey: createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: this.fetchTimeoutMs, cooldownDuration: this.keyRefetchCooldownMs, cacheMaxAge: 600_000 }),
    };
  }
}

function principalOf(payload: JWTPayload): Principal | undefined {
  const id = [payload['oid'], payload.sub, payload['azp'], payload['appid']].find((v): v is string => typeof v === 'string' && v !== '');
  if (id === undefined) return undefined;
  const roles = Array.isArray(payload['roles']) ? (payload['roles'] as unknown[]).filter((r): r is string => typeof r === 'string') : [];
  return { id, roles };
}

/** What is wrong with a token, in words safe to send back (no token text, no claim values). */
function tokenProblem(error: unknown): VerifyOutcome {
  const fail = (reason: string): VerifyOutcome => ({ kind: 'unauthenticated', reason });
  const code = error instanceof errors.JOSEError ? String(error.code) : '';
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return fail('the token has expired: get a new one');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return fail(claimProblem((error as errors.JWTClaimValidationFailed).claim));
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('the token signature is not valid');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return fail('the token is signed with a key the tenant does not publish');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return fail('the token is not signed with RS256');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return fail('the token is not a well-formed JWT');
    case 'ERR_JWKS_TIMEOUT':
      return { kind: 'unavailable', reason: 'fetching the tenant signing keys timed out' };
    default:
      // The key set's fetch failing (network, HTTP status, not a key set): not the caller's fault.
      return { kind: 'unavailable', reason: `cannot fetch the tenant signing keys: ${(error as Error).message}` };
  }
}

function claimProblem(claim: string): string {
  switch (claim) {
    case 'aud':
      return 'the token is for another audience (aud): request it for this API (its application id URI or client id)';
    case 'iss':
      return "the token was issued by another issuer (iss): it must come from this API's Entra tenant";
    case 'nbf':
      return 'the token is not valid yet (nbf)';
    case 'exp':
      return 'the token has no expiry (exp)';
    default:
      return `the token's ${claim} claim is not acceptable`;
  }
}

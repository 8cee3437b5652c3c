/**
 * The serving API's edge: what every request meets before a controller, as Fastify hooks.
 *
 * In order, for each request:
 * 1. Security headers (nosniff, no framing, no referrer, a Content-Security-Policy that allows
 *    scripts and styles from this origin only; HSTS when configured, i.e. behind TLS).
 * 2. CORS for the configured origins only (none by default); a preflight is answered here.
 * 3. 405 with `Allow` for a known path asked with a method it does not take (404 stays for unknown paths).
 * 4. Authentication and authorization on data routes (route patterns under `/v1/`) when a verifier
 *    is configured: 401 with `WWW-Authenticate: Bearer` for a missing or bad token, 403 without the
 *    role, 503 when the tenant's keys cannot be fetched. Everything else is public: the health
 *    probes, the OpenAPI document and Swagger UI (they describe the API, they hold no data) and the
 *    status page's static files. The decision is made on the matched route pattern, not on the raw
 *    URL, so no spelling of a path reaches a data route without a token.
 * 5. A per-client rate limit (token bucket): keyed by the caller's id when authenticated, else by
 *    the client address; health probes are not limited. A request with a bad token is charged to
 *    its address, so guessing tokens is limited too.
 * And after each answer, one access log line: method, route, status, duration, trace id. Never the
 * Authorization header, a token or the query string (it may carry continuation tokens).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '@pipeline/telemetry';
import { bearerToken, type EntraTokenVerifier, type VerifyOutcome } from './entra-token-verifier';
import type { RateLimiter } from './rate-limiter';

export interface EdgeOptions {
  verifier?: EntraTokenVerifier;
  rateLimiter?: RateLimiter;
  corsOrigins?: readonly string[];
  hsts?: boolean;
  accessLog?: Logger;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Trace id of the request's server span (set by registerRequestSpans), for the access log. */
    traceId: string;
  }
}

/** Routes under this prefix serve data and need a token when authentication is on. */
export const DATA_ROUTE_PREFIX = '/v1/';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
/** Swagger UI's page carries an inline <style>; its scripts are files, so scripts stay 'self' only. */
const DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'content-security-policy': CSP,
};
const HSTS = 'max-age=31536000; includeSubDomains';

const CORS_ALLOW_HEADERS = 'authorization, if-none-match, traceparent, tracestate, content-type';
const CORS_EXPOSE_HEADERS = 'etag, retry-after, www-authenticate';
const REALM = 'serving-api';
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

interface KnownRoute {
  pattern: RegExp;
  methods: Set<string>;
}

export function registerEdge(fastify: FastifyInstance, options: EdgeOptions): void {
  const { verifier, rateLimiter, accessLog } = options;
  const corsOrigins = new Set(options.corsOrigins ?? []);
  const hsts = options.hsts ?? false;
  const routes = new Map<string, KnownRoute>();

  fastify.decorateRequest('traceId', '');

  // Routes are added after this (Nest registers them on init), so every one is seen here.
  fastify.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return;
    const known = routes.get(route.url) ?? { pattern: routePattern(route.url), methods: new Set<string>() };
    for (const method of [route.method].flat()) known.methods.add(method);
    routes.set(route.url, known);
  });

  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url;
    void reply.headers(SECURITY_HEADERS);
    if (route !== undefined && route.startsWith('/docs')) void reply.header('content-security-policy', DOCS_CSP);
    if (hsts) void reply.header('strict-transport-security', HSTS);

    const origin = request.headers.origin;
    if (origin !== undefined && corsOrigins.has(origin)) {
      void reply.header('access-control-allow-origin', origin).header('vary', 'Origin').header('access-control-expose-headers', CORS_EXPOSE_HEADERS);
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        return reply
          .code(204)
          .header('access-control-allow-methods', 'GET, HEAD')
          .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
          .header('access-control-max-age', '600')
          .send();
      }
    }

    if (route === undefined) {
      const allow = allowedMethods(routes, pathOf(request.url));
      if (allow !== undefined) {
        return reply
          .code(405)
          .header('allow', allow)
          .send({ statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not allowed on ${pathOf(request.url)}: it takes ${allow}.` });
      }
    } else if (verifier !== undefined && route.startsWith(DATA_ROUTE_PREFIX) && request.method !== 'OPTIONS') {
      const outcome = await authenticate(verifier, request.headers.authorization);
      if (outcome.kind === 'unauthenticated' || outcome.kind === 'unavailable') {
        const retryAfter = rateLimiter?.take(request.ip);
        if (retryAfter !== undefined) return tooManyRequests(reply, retryAfter);
        return outcome.kind === 'unauthenticated' ? unauthorized(reply, outcome.reason, request.headers.authorization !== undefined) : unavailable(reply, outcome.reason);
      }
      const retryAfter = rateLimiter?.take(outcome.principal.id);
      if (retryAfter !== undefined) return tooManyRequests(reply, retryAfter);
      return outcome.kind === 'forbidden' ? forbidden(reply, outcome.reason) : undefined;
    }
    if (rateLimiter !== undefined && (route === undefined || !route.startsWith('/health/'))) {
      const retryAfter = rateLimiter.take(request.ip);
      if (retryAfter !== undefined) return tooManyRequests(reply, retryAfter);
    }
    return undefined;
  });

  if (accessLog !== undefined) {
    fastify.addHook('onResponse', (request, reply, done) => {
      accessLog.info(
        {
          method: request.method,
          route: request.routeOptions.url ?? null,
          status: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 100) / 100,
          trace_id: request.traceId || incomingTraceId(request.headers.traceparent),
        },
        'request',
      );
      done();
    });
  }
}

async function authenticate(verifier: EntraTokenVerifier, header: string | undefined): Promise<VerifyOutcome> {
  const bearer = bearerToken(header);
  if ('missing' in bearer) return { kind: 'unauthenticated', reason: bearer.missing };
  return verifier.verify(bearer.token);
}

/** RFC 6750: no error code when no token was sent; `invalid_token` when one was and it is bad. */
function unauthorized(reply: FastifyReply, reason: string, tokenSent: boolean): FastifyReply {
  const challenge = tokenSent ? `Bearer realm="${REALM}", error="invalid_token", error_description="${quotable(reason)}"` : `Bearer realm="${REALM}"`;
  return reply
    .code(401)
    .header('www-authenticate', challenge)
    .header('cache-control', 'no-store')
    .send({ statusCode: 401, error: 'Unauthorized', message: `A valid bearer token is required: ${reason}.` });
}

function forbidden(reply: FastifyReply, reason: string): FastifyReply {
  return reply
    .code(403)
    .header('www-authenticate', `Bearer realm="${REALM}", error="insufficient_scope", error_description="${quotable(reason)}"`)
    .header('cache-control', 'no-store')
    .send({ statusCode: 403, error: 'Forbidden', message: `The caller may not read this API: ${reason}.` });
}

function unavailable(reply: FastifyReply, reason: string): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', '5')
    .send({ statusCode: 503, error: 'Service Unavailable', message: `Tokens cannot be verified now (${reason}); try again shortly.` });
}

function tooManyRequests(reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
  return reply
    .code(429)
    .header('retry-after', String(retryAfterSeconds))
    .send({ statusCode: 429, error: 'Too Many Requests', message: `Too many requests from this client: retry after ${retryAfterSeconds} s.` });
}

/** A header's quoted-string may not hold `"` or `\`. */
function quotable(text: string): string {
  return text.replace(/["\\]/g, "'");
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** `/v1/keys/:key/latest` → a pattern matching one path segment per parameter. */
export function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

function allowedMethods(routes: Map<string, KnownRoute>, path: string): string | undefined {
  const methods = new Set<string>();
  for (const route of routes.values()) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
  return methods.size === 0 ? undefined : [...methods].sort().join(', ');
}

function incomingTraceId(traceparent: string | string[] | undefined): string | null {
  if (typeof traceparent !== 'string') return null;
  return TRACEPARENT.exec(traceparent)?.[1] ?? null;
}

/**
 * Builds the serving API on Fastify: the edge (security headers, CORS, 405s, bearer-token
 * authentication, rate limit, access log: http-edge.ts), the module, conditional reads (ETags), the
 * OpenAPI document at /docs/json with Swagger UI at /docs. The store is wrapped once so each call
 * is a span `pipeline.serving-store.<method>`. Returns the app initialised but not listening, so
 * tests can `inject` requests and main can `listen`.
 *
 * Without `edge` settings the API is open (no authentication, no rate limit, no CORS), as locally;
 * security headers and signed continuation tokens are always on.
 */
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { instrumentPort, type Logger } from '@pipeline/telemetry';
import { EntraTokenVerifier } from './entra-token-verifier';
import { registerEtags } from './etag';
import { DATA_ROUTE_PREFIX, registerEdge } from './http-edge';
import { RateLimiter } from './rate-limiter';
import { registerRequestSpans } from './request-span';
import type { EdgeSettings } from './serving-api.config';
import { ServingApiModule, type ServingApiDeps } from './serving-api.module';

export interface ServingApiOptions extends Omit<ServingApiDeps, 'tokenKey'> {
  logger?: LoggerService | false;
  /** Where the access log goes (one line per request); none when absent or `edge.accessLog` is false. */
  accessLog?: Logger;
  /** Internet-facing settings; absent ones take the local defaults (open API). */
  edge?: Partial<EdgeSettings>;
  /** A verifier to use instead of one built from `edge.auth` (tests give one with their clock). */
  verifier?: EntraTokenVerifier;
}

const SECURITY_SCHEME = 'entra';

export async function createServingApi(options: ServingApiOptions): Promise<NestFastifyApplication> {
  const { logger, accessLog, edge = {}, verifier: givenVerifier, ...deps } = options;
  const store = instrumentPort('serving-store', deps.store);
  const adapter = new FastifyAdapter({
    trustProxy: edge.trustProxyHops ? edge.trustProxyHops : false,
    requestTimeout: edge.requestTimeoutMs ?? 0,
    connectionTimeout: edge.connectionTimeoutMs ?? 0,
  });
  const app = await NestFactory.create<NestFastifyApplication>(ServingApiModule.register({ ...deps, store, tokenKey: edge.tokenKey?.key }), adapter, {
    logger: logger ?? false,
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  const verifier = givenVerifier ?? (edge.auth ? new EntraTokenVerifier(edge.auth) : undefined);
  registerRequestSpans(fastify);
  registerEdge(fastify, {
    verifier,
    rateLimiter: edge.rateLimit ? new RateLimiter(edge.rateLimit, deps.clock) : undefined,
    corsOrigins: edge.corsOrigins,
    hsts: edge.hsts,
    accessLog: edge.accessLog === false ? undefined : accessLog,
  });
  registerEtags(fastify);
  const builder = new DocumentBuilder()
    .setTitle(`${deps.spec.name} serving API`)
    .setDescription(
      'Window aggregates of the pipeline (per key, latest, top-N), late rows and pipeline status. ' +
        `Windows: ${deps.spec.windows.map((w) => w.name).join(', ')}. Aggregates: ${deps.spec.aggregates.map((a) => a.name).join(', ')}. ` +
        `Grouping columns: ${deps.spec.groupBy.join(', ') || '(none: the key is _all)'}.`,
    )
    .setVersion('1');
  if (verifier !== undefined) {
    builder
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `A Microsoft Entra ID access token for this API carrying the app role ${verifier.requiredRole}.` },
        SECURITY_SCHEME,
      )
      .addSecurityRequirements(SECURITY_SCHEME);
  }
  const document = SwaggerModule.createDocument(app, builder.build());
  // Only data routes need the token: the health probes say so in the document too.
  for (const [path, operations] of Object.entries(document.paths)) {
    if (verifier === undefined || path.startsWith(DATA_ROUTE_PREFIX)) continue;
    for (const operation of Object.values(operations)) if (typeof operation === 'object' && operation !== null && 'responses' in operation) operation.security = [];
  }
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
  await app.init();
  return app;
}

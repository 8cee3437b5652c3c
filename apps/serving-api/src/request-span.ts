/**
 * One server span per request, named `<METHOD> <route>` (`GET /v1/keys/:key/latest`; just the
 * method for a path no route serves), active from the first hook to the answer so the store spans
 * (`pipeline.serving-store.<method>`) are its children. An incoming W3C `traceparent` makes it a
 * child of the caller's span. Registered before the edge, so answers the edge gives itself (401,
 * 405, 429) are traced too and the access log carries their trace id.
 *
 * Fastify hooks rather than a Nest interceptor: an interceptor puts every request through rxjs and
 * Nest's async-resource binding, which cost more than the handler of a point read.
 */
import { context, isSpanContextValid, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { tracer } from '@pipeline/telemetry';
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span, ended with the answer. */
    serverSpan: Span | null;
  }
}

export function registerRequestSpans(fastify: FastifyInstance): void {
  const spans = tracer('serving-api');
  fastify.decorateRequest('serverSpan', null);
  fastify.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const query = request.url.indexOf('?');
    const path = query < 0 ? request.url : request.url.slice(0, query);
    const parent = propagation.extract(context.active(), request.headers);
    const span = spans.startSpan(
      route === undefined ? request.method : `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, ...(route === undefined ? {} : { 'http.route': route }), 'url.path': path } },
      parent,
    );
    request.serverSpan = span;
    const spanContext = span.spanContext();
    if (isSpanContextValid(spanContext)) request.traceId = spanContext.traceId;
    // The rest of the hooks and the handler run from `done`: they, and what they start, see the span.
    context.with(trace.setSpan(parent, span), done);
  });
  fastify.addHook('onError', (request, _reply, error, done) => {
    request.serverSpan?.recordException(error);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const span = request.serverSpan;
    if (span !== null) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}

/**
 * One server span per request, named `<METHOD> <route>` (`GET /v1/keys/:key/latest`), active while
 * the handler runs so the store spans (`pipeline.serving-store.<method>`) are its children. An
 * incoming W3C `traceparent` makes it a child of the caller's span.
 */
import { HttpException, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { context, isSpanContextValid, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { tracer } from '@pipeline/telemetry';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, tap, throwError, type Observable } from 'rxjs';

@Injectable()
export class RequestSpanInterceptor implements NestInterceptor {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = execution.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const route = request.routeOptions.url ?? request.url.split('?')[0] ?? request.url;
    const parent = propagation.extract(context.active(), request.headers);
    const span = tracer('serving-api').startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0] ?? request.url },
      },
      parent,
    );
    const spanContext = span.spanContext();
    if (isSpanContextValid(spanContext)) request.traceId = spanContext.traceId;
    // Nest binds the handler to the async context current when next.handle() is called.
    const handled = context.with(trace.setSpan(parent, span), () => next.handle());
    return handled.pipe(
      tap(() => {
        span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }),
      catchError((error: unknown) => {
        const status = error instanceof HttpException ? error.getStatus() : 500;
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        }
        span.end();
        return throwError(() => error);
      }),
    );
  }
}

/**
 * Telemetry at the port boundary: `instrumentPort('serving-store', store)` returns the same port
 * with every method call in a span `pipeline.<port>.<method>` (a child of the active span) and a
 * duration histogram of the same name. A failure — a throw or a rejected promise — is recorded on
 * the span (exception event, ERROR status) and rethrown unchanged. Methods that return an async
 * iterable (`Lake.list`) get a span that lasts until the iteration ends. Properties that are not
 * functions (`location`) pass through; methods are called on the original object, so private
 * state works as before.
 */
import { context, metrics, SpanKind, SpanStatusCode, trace, type Attributes, type Histogram, type Span } from '@opentelemetry/api';

export interface InstrumentOptions {
  /** Tracer and meter name (default `pipeline`). */
  instrumentationName?: string;
  /** Extra attributes on every span, e.g. the adapter's kind. */
  attributes?: Attributes;
}

const PORT_NAME = /^[a-z][a-z0-9-]*$/;

/** Wraps every method of `impl` in a span and a duration histogram named `pipeline.<name>.<method>`. */
export function instrumentPort<T extends object>(name: string, impl: T, options: InstrumentOptions = {}): T {
  if (!PORT_NAME.test(name)) throw new Error(`instrumentPort needs a port name in lowercase kebab-case (e.g. "serving-store"), got ${JSON.stringify(name)}.`);
  const instrumentation = options.instrumentationName ?? 'pipeline';
  const wrapped = new Map<PropertyKey, unknown>();
  const histograms = new Map<string, Histogram>();

  const histogramOf = (spanName: string): Histogram => {
    let histogram = histograms.get(spanName);
    if (!histogram) {
      histogram = metrics.getMeter(instrumentation).createHistogram(spanName, { unit: 'ms', description: `Duration of ${spanName} calls` });
      histograms.set(spanName, histogram);
    }
    return histogram;
  };

  const wrap = (method: string, original: (...args: unknown[]) => unknown) => {
    const spanName = `pipeline.${name}.${method}`;
    return function instrumented(this: unknown, ...args: unknown[]): unknown {
      const span = trace.getTracer(instrumentation).startSpan(spanName, {
        kind: SpanKind.CLIENT,
        attributes: { 'pipeline.port': name, 'pipeline.port.method': method, ...options.attributes },
      });
      const started = performance.now();
      const finish = (error?: unknown) => {
        if (error !== undefined) recordError(span, error);
        span.end();
        histogramOf(spanName).record(performance.now() - started, error === undefined ? {} : { 'error.type': errorType(error) });
      };
      let result: unknown;
      try {
        result = context.with(trace.setSpan(context.active(), span), () => original.apply(impl, args));
      } catch (error) {
        finish(error);
        throw error;
      }
      if (isPromiseLike(result)) {
        return Promise.resolve(result).then(
          (value) => {
            finish();
            return value;
          },
          (error: unknown) => {
            finish(error);
            throw error;
          },
        );
      }
      if (isAsyncIterable(result)) return traceIteration(result, finish);
      finish();
      return result;
    };
  };

  return new Proxy(impl, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      let fn = wrapped.get(property);
      if (!fn) {
        fn = wrap(property, value as (...args: unknown[]) => unknown);
        wrapped.set(property, fn);
      }
      return fn;
    },
  });
}

function recordError(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
}

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/** The span of a call returning an async iterable ends when the iteration does (fully, by break, or by error). */
async function* traceIteration<V>(iterable: AsyncIterable<V>, finish: (error?: unknown) => void): AsyncGenerator<V> {
  let failure: unknown;
  try {
    yield* iterable;
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    finish(failure);
  }
}

import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { instrumentPort } from './instrument';
import { inSpan, startTelemetry } from './tracing';

interface Greeter {
  readonly location: string;
  greet(name: string): Promise<string>;
  fail(): Promise<void>;
  count(): number;
  letters(word: string): AsyncIterable<string>;
}

class RealGreeter implements Greeter {
  readonly location = 'memory';
  #greeting = 'hello';
  async greet(name: string): Promise<string> {
    return `${this.#greeting} ${name}`;
  }
  async fail(): Promise<void> {
    throw new RangeError('no greeting today');
  }
  count(): number {
    return 3;
  }
  async *letters(word: string): AsyncIterable<string> {
    for (const letter of word) yield letter;
  }
}

describe('instrumentPort', () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'instrument-spec', exporter });
  afterAll(() => telemetry.shutdown());
  beforeEach(() => exporter.reset());

  it('runs each method call in a child span named after the port and the method', async () => {
    const greeter = instrumentPort('greeter', new RealGreeter() as Greeter);
    await inSpan('request', {}, async () => {
      expect(await greeter.greet('ada')).toBe('hello ada');
    });
    const [call, request] = exporter.getFinishedSpans();
    expect(call?.name).toBe('pipeline.greeter.greet');
    expect(call?.attributes).toMatchObject({ 'pipeline.port': 'greeter', 'pipeline.port.method': 'greet' });
    expect(call?.parentSpanContext?.spanId).toBe(request?.spanContext().spanId);
    expect(call?.spanContext().traceId).toBe(request?.spanContext().traceId);
  });

  it('records a rejected call on its span and rethrows the same error', async () => {
    const greeter = instrumentPort('greeter', new RealGreeter() as Greeter);
    await expect(greeter.fail()).rejects.toThrow(RangeError);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no greeting today' });
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('passes plain properties through and traces synchronous methods', () => {
    const greeter = instrumentPort('greeter', new RealGreeter() as Greeter);
    expect(greeter.location).toBe('memory');
    expect(greeter.count()).toBe(3);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['pipeline.greeter.count']);
  });

  it('keeps the span of an async iterable open until the iteration ends', async () => {
    const greeter = instrumentPort('greeter', new RealGreeter() as Greeter);
    const letters: string[] = [];
    for await (const letter of greeter.letters('abc')) {
      letters.push(letter);
      expect(exporter.getFinishedSpans()).toHaveLength(0);
    }
    expect(letters).toEqual(['a', 'b', 'c']);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['pipeline.greeter.letters']);
  });

  it('returns the same wrapped function for a method every time', () => {
    const greeter = instrumentPort('greeter', new RealGreeter() as Greeter);
    expect(greeter.greet).toBe(greeter.greet);
  });

  it('rejects a port name that would make odd span names', () => {
    expect(() => instrumentPort('Serving Store', new RealGreeter())).toThrow(/lowercase kebab-case/);
  });
});

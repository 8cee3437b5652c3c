import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { envDetector, hostDetector, osDetector, processDetector, serviceInstanceIdDetector } from '@opentelemetry/resources';
import { propagatorFor, resourceDetectorsFor, telemetryResource } from './providers';

describe('the propagators of OTEL_PROPAGATORS', () => {
  it('are W3C trace context and baggage when the variable is unset or empty (undefined registers the default)', () => {
    expect(propagatorFor(undefined)).toBeUndefined();
    expect(propagatorFor([])).toBeUndefined();
  });

  it('are the ones named, each once, in the order named', () => {
    expect(propagatorFor(['tracecontext', 'baggage'])?.fields()).toEqual(['traceparent', 'tracestate', 'baggage']);
    expect(propagatorFor(['tracecontext', 'tracecontext'])).toBeInstanceOf(W3CTraceContextPropagator);
    expect(propagatorFor(['b3', 'tracecontext'])?.fields()).toEqual(['b3', 'traceparent', 'tracestate']);
    expect(propagatorFor(['b3multi'])?.fields()).toEqual(expect.arrayContaining(['x-b3-traceid', 'x-b3-spanid']));
    expect(propagatorFor(['jaeger'])?.fields()).toEqual(['uber-trace-id']);
  });

  it('are none (null: register nothing) for `none`, or when no name is one it knows; an unknown name beside known ones is skipped', () => {
    expect(propagatorFor(['none', 'tracecontext'])).toBeNull();
    expect(propagatorFor(['xray'])).toBeNull();
    expect(propagatorFor(['xray', 'baggage'])?.fields()).toEqual(['baggage']);
  });
});

describe('the resource detectors of OTEL_NODE_RESOURCE_DETECTORS', () => {
  it('are env, process and host when the variable is unset, every one for `all`, none for `none`', () => {
    expect(resourceDetectorsFor(undefined)).toEqual([envDetector, processDetector, hostDetector]);
    expect(resourceDetectorsFor(['all'])).toEqual([hostDetector, osDetector, serviceInstanceIdDetector, processDetector, envDetector]);
    expect(resourceDetectorsFor(['none', 'env'])).toEqual([]);
  });

  it('are the ones named, skipping a name it does not know', () => {
    expect(resourceDetectorsFor(['os', 'gcp', 'env'])).toEqual([osDetector, envDetector]);
  });
});

describe('the telemetry resource', () => {
  const saved = process.env['OTEL_RESOURCE_ATTRIBUTES'];
  afterEach(() => {
    if (saved === undefined) delete process.env['OTEL_RESOURCE_ATTRIBUTES'];
    else process.env['OTEL_RESOURCE_ATTRIBUTES'] = saved;
  });

  it("adds OTEL_RESOURCE_ATTRIBUTES to the SDK's defaults, and the service name wins over one given there", () => {
    process.env['OTEL_RESOURCE_ATTRIBUTES'] = 'service.name=other,team=ingest';
    const { attributes } = telemetryResource('silver', [envDetector]);
    expect(attributes).toMatchObject({ 'service.name': 'silver', team: 'ingest', 'telemetry.sdk.language': 'nodejs' });
  });

  it('has only the defaults and the service name without detectors', () => {
    process.env['OTEL_RESOURCE_ATTRIBUTES'] = 'team=ingest';
    expect(telemetryResource('gold', []).attributes).not.toHaveProperty('team');
  });
});

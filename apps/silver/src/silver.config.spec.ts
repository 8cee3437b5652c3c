import { ConfigError } from '@pipeline/config';
import { silverConfig } from './silver.config';

const env = { PIPELINE_HOME: '/tmp/home', PIPELINE_SPEC: 'spec.yaml' };

describe('silver config', () => {
  it('writes to the pipeline tables and manifests and reads every capture file by default', () => {
    expect(silverConfig({}, env)).toMatchObject({ tablesRoot: 'tables', manifestsRoot: 'manifests', captureRange: { from: null, to: null }, leaseDurationMs: 10_000 });
  });

  it('takes the lease duration from the flag over the environment, and refuses one too short to renew', () => {
    expect(silverConfig({ leaseDuration: '4s' }, { ...env, SILVER_LEASE_DURATION: '1m' }).leaseDurationMs).toBe(4_000);
    expect(silverConfig({}, { ...env, SILVER_LEASE_DURATION: '1m' }).leaseDurationMs).toBe(60_000);
    expect(() => silverConfig({}, { ...env, SILVER_LEASE_DURATION: '1s' })).toThrow(/SILVER_LEASE_DURATION/);
  });

  it('takes roots and a capture-time range from flags over environment variables', () => {
    const config = silverConfig(
      { tablesRoot: 'tables/replay-1', captureFrom: '2026-01-01T00:00:00Z', captureTo: '2026-01-01T02:00:00+01:00' },
      { ...env, SILVER_TABLES_ROOT: 'tables/env', SILVER_MANIFESTS_ROOT: 'manifests/replay-1', SILVER_CAPTURE_FROM: '2020-01-01' },
    );
    expect(config).toMatchObject({
      tablesRoot: 'tables/replay-1',
      manifestsRoot: 'manifests/replay-1',
      captureRange: { from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 1, 1) },
    });
  });

  it('reads a time without an offset as UTC and leaves an unset end open', () => {
    expect(silverConfig({ captureFrom: '2026-01-01T12:30' }, env).captureRange).toEqual({ from: Date.UTC(2026, 0, 1, 12, 30), to: null });
  });

  it('lists every bad root and time at once, and an empty range', () => {
    let error: ConfigError | undefined;
    try {
      silverConfig({ tablesRoot: '../outside', manifestsRoot: '/abs', captureFrom: 'yesterday' }, env);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems.map((p) => p.name)).toEqual(['SILVER_TABLES_ROOT', 'SILVER_MANIFESTS_ROOT', 'SILVER_CAPTURE_FROM']);
    expect(() => silverConfig({ captureFrom: '2026-01-02', captureTo: '2026-01-01' }, env)).toThrow(/SILVER_CAPTURE_TO: expected a time after SILVER_CAPTURE_FROM/);
  });
});

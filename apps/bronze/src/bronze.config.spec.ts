import * as path from 'node:path';
import { ConfigError } from '@pipeline/config';
import { bronzeConfig } from './bronze.config';

describe('bronze config', () => {
  it('has defaults for everything, under the pipeline home', () => {
    const config = bronzeConfig({}, { PIPELINE_HOME: '/tmp/home' });
    expect(config).toEqual({
      home: path.resolve('/tmp/home'),
      lake: { kind: 'local', root: path.join(path.resolve('/tmp/home'), 'lake') },
      bus: { kind: 'local', file: path.join(path.resolve('/tmp/home'), 'bus.sqlite') },
      namespace: 'local',
      hubName: 'events',
      partitions: 4,
      prefix: 'raw',
      pipeline: 'events',
      checkpointRoot: 'checkpoints/bronze',
      lookbackMs: 7_200_000,
      maxBatchFiles: 100,
      maxBatchBytes: 32 * 1024 * 1024,
      maxBatchDelayMs: 2_000,
      pollMs: 1_000,
      noticesQueue: undefined,
      listIntervalMs: 10_000,
      drain: false,
      leaseDurationMs: 10_000,
    });
  });

  it('takes the lease duration from the flag over the environment, and refuses one too short to renew', () => {
    expect(bronzeConfig({ leaseDuration: '5s' }, { BRONZE_LEASE_DURATION: '30s' }).leaseDurationMs).toBe(5_000);
    expect(bronzeConfig({}, { BRONZE_LEASE_DURATION: '30s' }).leaseDurationMs).toBe(30_000);
    expect(() => bronzeConfig({}, { BRONZE_LEASE_DURATION: '500ms' })).toThrow(/BRONZE_LEASE_DURATION/);
  });

  it('lists every 5 minutes once notices are on, or as often as told', () => {
    expect(bronzeConfig({}, { BRONZE_NOTICES_QUEUE: 'capture-notices' })).toMatchObject({ noticesQueue: 'capture-notices', listIntervalMs: 300_000 });
    expect(bronzeConfig({ noticesQueue: 'from-flag', listInterval: '90s' }, { BRONZE_NOTICES_QUEUE: 'from-env', BRONZE_LIST_INTERVAL: '10m' })).toMatchObject({
      noticesQueue: 'from-flag',
      listIntervalMs: 90_000,
    });
    expect(bronzeConfig({}, { BRONZE_POLL: '5s' })).toMatchObject({ noticesQueue: undefined, listIntervalMs: 10_000 });
  });

  it('refuses a bad notices queue name, and takes a listing interval without notices too', () => {
    const problems = (env: Record<string, string>) => {
      try {
        bronzeConfig({}, env);
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map((p) => `${p.name}: expected ${p.expected}, found ${p.found}`);
      }
    };
    expect(problems({ BRONZE_NOTICES_QUEUE: '-notices-', BRONZE_LIST_INTERVAL: 'often' })).toEqual([
      expect.stringMatching(/^BRONZE_NOTICES_QUEUE: expected a Service Bus queue name .*, found "-notices-"$/),
      expect.stringMatching(/^BRONZE_LIST_INTERVAL: expected a duration like 500ms, 5s, 2m.*, found "often"$/),
    ]);
    expect(problems({ BRONZE_LIST_INTERVAL: '1m' })).toEqual([]);
  });

  it('lists the whole lookback window every 10 s without notices, and every 5 min with them, unless told', () => {
    expect(bronzeConfig({}, {}).listIntervalMs).toBe(10_000);
    expect(bronzeConfig({}, { BRONZE_NOTICES_QUEUE: 'capture-notices' }).listIntervalMs).toBe(300_000);
    expect(bronzeConfig({ listInterval: '2s' }, {}).listIntervalMs).toBe(2_000);
  });

  it('takes flags over environment variables', () => {
    const env = { PIPELINE_EVENT_HUB: 'from-env', BRONZE_MAX_BATCH_FILES: '7', BRONZE_LOOKBACK: '30m', BRONZE_CHECKPOINT: 'env-cp' };
    const config = bronzeConfig(
      { hub: 'from-flag', maxBatchFiles: '9', lookback: '3h', maxBatchSize: '1MiB', maxBatchDelay: '500ms', poll: '250ms', partitions: '8', checkpoint: 'flag-cp', drain: true },
      env,
    );
    expect(config).toMatchObject({
      hubName: 'from-flag',
      maxBatchFiles: 9,
      lookbackMs: 3 * 3_600_000,
      maxBatchBytes: 1024 * 1024,
      maxBatchDelayMs: 500,
      pollMs: 250,
      partitions: 8,
      checkpointRoot: 'checkpoints/flag-cp',
      drain: true,
    });
    expect(bronzeConfig({}, env)).toMatchObject({ hubName: 'from-env', maxBatchFiles: 7, lookbackMs: 1_800_000, checkpointRoot: 'checkpoints/env-cp' });
  });

  it('lists every bad setting at once, naming the variable and what it expects', () => {
    let error: ConfigError | undefined;
    try {
      bronzeConfig({ maxBatchFiles: '0', lookback: 'soon', maxBatchSize: 'big', partitions: 'many', checkpoint: '../x' }, { BRONZE_RAW_PREFIX: '/abs' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems.map((p) => p.name).sort()).toEqual([
      'BRONZE_CHECKPOINT',
      'BRONZE_LOOKBACK',
      'BRONZE_MAX_BATCH_FILES',
      'BRONZE_MAX_BATCH_SIZE',
      'BRONZE_RAW_PREFIX',
      'PIPELINE_EVENT_HUB_PARTITIONS',
    ]);
    expect(error?.message).toMatch(/BRONZE_LOOKBACK: expected a duration like 500ms, 5s, 2m of at least 60000 ms, found "soon"/);
  });
});

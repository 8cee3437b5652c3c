import * as path from 'node:path';
import { ConfigError } from '@pipeline/config';
import { servingApiConfig } from './serving-api.config';
import { main } from './main';

describe('servingApiConfig', () => {
  it('uses the defaults: port 8080 on loopback, the store beside the lake under the home', () => {
    const config = servingApiConfig({}, { PIPELINE_SPEC: 'spec.yaml', PIPELINE_HOME: '/data/p' });
    expect(config).toEqual({
      home: '/data/p',
      lake: { kind: 'local', root: path.join('/data/p', 'lake') },
      serving: { kind: 'local', file: path.join('/data/p', 'serving.sqlite') },
      deadLetters: { kind: 'local', file: path.join('/data/p', 'bus.sqlite') },
      specFile: 'spec.yaml',
      host: '127.0.0.1',
      port: 8080,
      rawPrefix: 'raw',
      captureCheckpoint: 'capture-events',
      bronzeCheckpoint: 'bronze',
      silverCheckpoint: 'silver',
      goldCheckpoint: 'gold',
      history: { everyMs: 5_000, keepMs: 15 * 60_000 },
      edge: {
        auth: undefined,
        rateLimit: { perSecond: 100, burst: 200 },
        corsOrigins: [],
        hsts: false,
        trustProxyHops: 0,
        requestTimeoutMs: 30_000,
        connectionTimeoutMs: 120_000,
        tokenKey: { key: expect.any(Buffer), shared: false },
        accessLog: true,
      },
    });
  });

  it('names the capture checkpoint after the hub as capture does, unless CAPTURE_CHECKPOINT says otherwise, and refuses a bad name', () => {
    expect(servingApiConfig({}, { PIPELINE_SPEC: 'spec.yaml', PIPELINE_EVENT_HUB: 'telemetry' }).captureCheckpoint).toBe('capture-telemetry');
    expect(servingApiConfig({}, { PIPELINE_SPEC: 'spec.yaml', PIPELINE_EVENT_HUB: 'telemetry', CAPTURE_CHECKPOINT: 'capture-v2' }).captureCheckpoint).toBe('capture-v2');
    expect(() => servingApiConfig({}, { PIPELINE_SPEC: 'spec.yaml', CAPTURE_CHECKPOINT: '../elsewhere' })).toThrow(/CAPTURE_CHECKPOINT: expected a checkpoint name/);
  });

  it('reads how often the status page history is sampled and how much is kept, refusing a history shorter than one interval', () => {
    const base = { PIPELINE_SPEC: 'spec.yaml', GOLD_CHECKPOINT: 'gold-v2' };
    expect(servingApiConfig({}, { ...base, SERVING_STATUS_SAMPLE_INTERVAL: '500ms', SERVING_STATUS_HISTORY: '2m' })).toMatchObject({
      goldCheckpoint: 'gold-v2',
      history: { everyMs: 500, keepMs: 120_000 },
    });
    expect(() => servingApiConfig({}, { ...base, SERVING_STATUS_SAMPLE_INTERVAL: '10s', SERVING_STATUS_HISTORY: '5s' })).toThrow(
      /SERVING_STATUS_HISTORY: expected at least SERVING_STATUS_SAMPLE_INTERVAL \(10000 ms\), found 5000 ms/,
    );
    expect(() => servingApiConfig({}, { ...base, SERVING_STATUS_SAMPLE_INTERVAL: '10' })).toThrow(/SERVING_STATUS_SAMPLE_INTERVAL: expected a duration/);
  });

  it('reads Entra ID authentication and the internet-facing settings', () => {
    const config = servingApiConfig(
      {},
      {
        PIPELINE_SPEC: 'spec.yaml',
        SERVING_AUTH: 'entra',
        SERVING_AUTH_TENANT_ID: '6f1c2a8e-0b3d-4c5e-9a7f-1d2e3f4a5b6c',
        SERVING_AUTH_AUDIENCE: 'api://pipeline, 0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f',
        SERVING_AUTH_CLOCK_SKEW: '30s',
        SERVING_RATE_LIMIT: '5',
        SERVING_CORS_ORIGINS: 'https://a.example.com,http://localhost:5173',
        SERVING_HSTS: 'true',
        SERVING_TRUST_PROXY: '1',
        SERVING_REQUEST_TIMEOUT: '10s',
        SERVING_TOKEN_KEY: 'k'.repeat(40),
        SERVING_ACCESS_LOG: 'false',
      },
    );
    expect(config.edge).toEqual({
      auth: {
        tenantId: '6f1c2a8e-0b3d-4c5e-9a7f-1d2e3f4a5b6c',
        audiences: ['api://pipeline', '0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f'],
        role: 'Pipeline.Read',
        authority: 'https://login.microsoftonline.com',
        clockToleranceSeconds: 30,
      },
      rateLimit: { perSecond: 5, burst: 10 },
      corsOrigins: ['https://a.example.com', 'http://localhost:5173'],
      hsts: true,
      trustProxyHops: 1,
      requestTimeoutMs: 10_000,
      connectionTimeoutMs: 120_000,
      tokenKey: { key: Buffer.from('k'.repeat(40)), shared: true },
      accessLog: false,
    });
    expect(servingApiConfig({}, { PIPELINE_SPEC: 'spec.yaml', SERVING_RATE_LIMIT: '0' }).edge.rateLimit).toBeUndefined();
  });

  it('lists every problem of the internet-facing settings at once, without echoing the token key', () => {
    let error: unknown;
    try {
      servingApiConfig(
        {},
        {
          PIPELINE_SPEC: 'spec.yaml',
          SERVING_AUTH: 'entra',
          SERVING_AUTH_TENANT_ID: 'common',
          SERVING_CORS_ORIGINS: 'https://ok.example.com,*',
          SERVING_TOKEN_KEY: 'short-secret',
        },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.name)).toEqual(['SERVING_AUTH_TENANT_ID', 'SERVING_AUTH_AUDIENCE', 'SERVING_CORS_ORIGINS', 'SERVING_TOKEN_KEY']);
    expect(problems.find((p) => p.name === 'SERVING_AUTH_AUDIENCE')?.found).toBe('nothing (it is required)');
    expect((error as Error).message).not.toContain('short-secret');
  });

  it('reads the bus for the dead letters locally, and on Azure only when it is given the namespace', () => {
    const azure = {
      PIPELINE_SPEC: 'spec.yaml',
      PIPELINE_BACKEND: 'azure',
      AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net',
      AZURE_COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
    };
    expect(servingApiConfig({}, azure).deadLetters).toBeUndefined();
    expect(servingApiConfig({}, { ...azure, AZURE_SERVICEBUS_NAMESPACE: 'pipeline-bus.servicebus.windows.net' }).deadLetters).toMatchObject({ kind: 'azure' });
  });

  it('lets flags win over the environment', () => {
    const config = servingApiConfig(
      { spec: 'flag.yaml', port: '9000', host: '0.0.0.0', home: '/flag' },
      { PIPELINE_SPEC: 'env.yaml', SERVING_PORT: '1', SERVING_HOST: 'localhost', PIPELINE_HOME: '/env' },
    );
    expect(config).toMatchObject({ specFile: 'flag.yaml', port: 9000, host: '0.0.0.0', home: '/flag' });
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      servingApiConfig({ port: 'eighty' }, { SERVING_HOST: 'a host', SILVER_CHECKPOINT: '../x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.name)).toEqual(['PIPELINE_SPEC', 'SERVING_PORT', 'SERVING_HOST', 'SILVER_CHECKPOINT']);
  });
});

describe('pipeline serving-api', () => {
  it('exits with code 2 for a usage error', async () => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['--no-such-flag'])).toBe(2);
    } finally {
      stderr.mockRestore();
    }
  });

  it('exits with code 2 and names the problem when the spec file is missing', async () => {
    const written: string[] = [];
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      expect(await main(['--spec', '/nonexistent/spec.yaml', '--port', '0'])).toBe(2);
    } finally {
      stderr.mockRestore();
    }
    expect(written.join('')).toContain('Pipeline spec /nonexistent/spec.yaml does not exist');
  });
});

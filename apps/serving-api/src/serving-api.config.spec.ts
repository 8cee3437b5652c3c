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
      specFile: 'spec.yaml',
      host: '127.0.0.1',
      port: 8080,
      rawPrefix: 'raw',
      bronzeCheckpoint: 'bronze',
      silverCheckpoint: 'silver',
      goldCheckpoint: 'gold',
      history: { everyMs: 5_000, keepMs: 15 * 60_000 },
    });
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

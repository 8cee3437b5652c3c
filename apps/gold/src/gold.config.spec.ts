import * as path from 'node:path';
import { ConfigError } from '@pipeline/config';
import { goldConfig } from './gold.config';

const env = { PIPELINE_HOME: '/tmp/home', PIPELINE_SPEC: 'spec.yaml' };

describe('gold config', () => {
  it('reads the pipeline manifests into the pipeline tables and serving store by default', () => {
    expect(goldConfig({}, env)).toMatchObject({
      tablesRoot: 'tables',
      manifestsRoot: 'manifests',
      serving: { kind: 'local', file: path.join(path.resolve('/tmp/home'), 'serving.sqlite') },
    });
  });

  it('takes roots and the store file from flags over environment variables', () => {
    const config = goldConfig({ tablesRoot: 'tables/r1', store: '/tmp/home/serving-r1.sqlite' }, { ...env, GOLD_TABLES_ROOT: 'tables/env', GOLD_MANIFESTS_ROOT: 'manifests/r1' });
    expect(config).toMatchObject({ tablesRoot: 'tables/r1', manifestsRoot: 'manifests/r1', serving: { kind: 'local', file: '/tmp/home/serving-r1.sqlite' } });
  });

  it('lists every bad root and store at once', () => {
    let error: ConfigError | undefined;
    try {
      goldConfig({ tablesRoot: 'tables/', manifestsRoot: 'manifests/../x', store: 'stores/' }, env);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems.map((p) => p.name)).toEqual(['GOLD_TABLES_ROOT', 'GOLD_MANIFESTS_ROOT', 'GOLD_SERVING_STORE']);
  });

  it('names a retired setting a deployment still sets, so gold can say it does nothing now', () => {
    expect(goldConfig({}, env).retired).toEqual([]);
    expect(goldConfig({}, { ...env, GOLD_MAX_SESSIONS: '4' }).retired).toEqual(['GOLD_MAX_SESSIONS']);
  });

  it('finishes the input only for a drain, and says so when asked to finish a running service', () => {
    expect(goldConfig({ drain: true, endOfInput: true }, env)).toMatchObject({ drain: true, endOfInput: true });
    expect(goldConfig({ drain: true }, env)).toMatchObject({ endOfInput: false });
    expect(() => goldConfig({ endOfInput: true }, env)).toThrow(/--end-of-input: expected --drain with it/);
  });
});

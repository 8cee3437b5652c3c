import { ConfigError, parseByteSize, parseDuration, SettingsReader } from './settings';
import { resolvePipelineHome } from './home';

describe('settings', () => {
  it('lists every bad or missing variable at once, with what was expected and found', () => {
    const settings = new SettingsReader('capture', { CAPTURE_WINDOW: 'soon', PARTITIONS: '0', CODEC: 'zstd', SKIP: 'maybe' });
    settings.duration('CAPTURE_WINDOW', { default: 5_000 });
    settings.int('PARTITIONS', { default: 4, min: 1, max: 1024 });
    settings.oneOf('CODEC', ['null', 'deflate'], { default: 'null' });
    settings.bool('SKIP', { default: true });
    settings.string('REQUIRED_THING', { required: true, describe: 'the spec file (--spec)' });
    let error: unknown;
    try {
      settings.done();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.name)).toEqual(['CAPTURE_WINDOW', 'PARTITIONS', 'CODEC', 'SKIP', 'REQUIRED_THING']);
    expect((error as ConfigError).message).toContain('capture: 5 configuration problems');
    expect((error as ConfigError).message).toContain('PARTITIONS: expected an integer from 1 to 1024, found "0"');
    expect((error as ConfigError).message).toContain('REQUIRED_THING: expected the spec file (--spec), found nothing (it is required)');
  });

  it('never echoes the value of a secret setting', () => {
    const settings = new SettingsReader('svc', { CONNECTION: 'Endpoint=sb://x;SharedAccessKey=hunter2' });
    settings.string('CONNECTION', { secret: true, pattern: /^https:/, describe: 'an https URL' });
    expect(() => settings.done()).toThrow(/found a malformed value/);
    expect(() => settings.done()).not.toThrow(/hunter2/);
  });

  it('uses defaults for absent or blank variables and passes good values through', () => {
    const settings = new SettingsReader('svc', { A: ' ', B: '12', C: '250ms', D: '8MiB', E: 'off' });
    expect(settings.int('A', { default: 3 })).toBe(3);
    expect(settings.int('B', { default: 3 })).toBe(12);
    expect(settings.duration('C', { default: 1 })).toBe(250);
    expect(settings.byteSize('D', { default: 1 })).toBe(8 * 1024 * 1024);
    expect(settings.bool('E', { default: true })).toBe(false);
    expect(() => settings.done()).not.toThrow();
  });

  it('parses durations and sizes with units', () => {
    expect([parseDuration('1.5m'), parseDuration('2h'), parseDuration('1d'), parseDuration('10'), parseDuration('5 s')]).toEqual([
      90_000,
      7_200_000,
      86_400_000,
      undefined,
      undefined,
    ]);
    expect([parseByteSize('64KiB'), parseByteSize('1000'), parseByteSize('1GB'), parseByteSize('lots')]).toEqual([65_536, 1000, 1e9, undefined]);
  });

  it('finds the pipeline home from the flag, then PIPELINE_HOME, then ./.pipeline', () => {
    expect(resolvePipelineHome('/data/p', { PIPELINE_HOME: '/env' }, '/cwd')).toBe('/data/p');
    expect(resolvePipelineHome(undefined, { PIPELINE_HOME: 'rel' }, '/cwd')).toBe('/cwd/rel');
    expect(resolvePipelineHome(undefined, {}, '/cwd')).toBe('/cwd/.pipeline');
  });
});

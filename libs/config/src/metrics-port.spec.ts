import { readMetricsPort } from './metrics-port';
import { ConfigError } from './settings';

describe('the metrics port', () => {
  it('is off unless set, and the flag wins over METRICS_PORT', () => {
    expect(readMetricsPort('gold', {}, {})).toBeUndefined();
    expect(readMetricsPort('gold', {}, { METRICS_PORT: '9464' })).toBe(9464);
    expect(readMetricsPort('gold', { metricsPort: '9470' }, { METRICS_PORT: '9464' })).toBe(9470);
  });

  it('refuses what is not a port, naming the service, the setting and the value', () => {
    for (const bad of ['0', '65536', 'http', '94.64']) {
      expect(() => readMetricsPort('gold', { metricsPort: bad }, {})).toThrow(ConfigError);
      expect(() => readMetricsPort('gold', { metricsPort: bad }, {})).toThrow(
        `gold: 1 configuration problem:\n  - METRICS_PORT: expected an integer from 1 to 65535, found "${bad}"`,
      );
    }
  });
});

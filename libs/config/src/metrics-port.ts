/**
 * The metrics port every service takes the same way: `--metrics-port`, else `METRICS_PORT`. Unset,
 * a service serves no `/metrics` (it still exports over OTLP when an endpoint is set); `pipeline
 * start` gives each service its own port.
 */
import { SettingsReader } from './settings';

/** The flag's help, the same in every service. */
export const METRICS_PORT_FLAG = '--metrics-port <port>';
export const METRICS_PORT_HELP = 'serve Prometheus metrics on GET /metrics at this port (default: $METRICS_PORT; none: off)';

export interface MetricsPortFlags {
  metricsPort?: string;
}

/** The metrics port, `undefined` when none is set; a `ConfigError` naming `METRICS_PORT` when it is not a port. */
export function readMetricsPort(service: string, flags: MetricsPortFlags, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const settings = new SettingsReader(service, { METRICS_PORT: flags.metricsPort ?? env['METRICS_PORT'] });
  const port = settings.int('METRICS_PORT', { default: 0, min: 1, max: 65_535 });
  settings.done();
  return port === 0 ? undefined : port;
}

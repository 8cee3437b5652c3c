/**
 * docs/settings.md must name every setting the services read: each service's own settings in its
 * section, the backend settings in the backends section. A setting added in code without its line
 * in the reference fails here.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const reference = readFileSync(path.join(root, 'docs/settings.md'), 'utf8');
const SERVICES = ['producer', 'capture', 'bronze', 'silver', 'gold', 'serving-api'] as const;

/** Setting names a source file reads through a SettingsReader or from `env[...]`. */
function settingNames(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/settings\.(?:string|optionalString|int|number|bool|oneOf|duration|byteSize)\(\s*'([A-Z][A-Z0-9_]+)'/g)) names.add(m[1] as string);
  for (const m of text.matchAll(/env\['([A-Z][A-Z0-9_]+)'\]/g)) names.add(m[1] as string);
  for (const m of text.matchAll(/(?:endpoint|connectionString): '([A-Z][A-Z0-9_]+)'/g)) names.add(m[1] as string);
  return [...names].sort();
}

/** The text of a `## <title>` section, up to the next one. */
function section(title: string): string {
  const start = reference.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`docs/settings.md has no "## ${title}" section`);
  const end = reference.indexOf('\n## ', start + 4);
  return reference.slice(start, end < 0 ? undefined : end);
}

describe('the settings reference (docs/settings.md)', () => {
  it.each(SERVICES)('lists every setting %s reads in its section', (service) => {
    const names = settingNames(`apps/${service}/src/${service}.config.ts`).filter((n) => n !== 'PIPELINE_HOME');
    expect(names.length).toBeGreaterThan(2);
    const text = section(service);
    expect(names.filter((n) => !text.includes(`\`${n}\``))).toEqual([]);
  });

  it('lists every telemetry setting (traces, metrics, logs) in the common section', () => {
    const names = ['libs/config/src/metrics-port.ts', 'libs/telemetry/src/tracing.ts', 'libs/telemetry/src/metrics.ts', 'libs/telemetry/src/logger.ts'].flatMap(settingNames);
    expect(names).toEqual(expect.arrayContaining(['METRICS_PORT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_METRIC_EXPORT_INTERVAL', 'LOG_LEVEL']));
    const text = section('Common to every service');
    expect(names.filter((n) => !text.includes(`\`${n}\``))).toEqual([]);
  });

  it('lists every backend setting in the backends section', () => {
    const names = settingNames('libs/config/src/backends.ts');
    expect(names).toEqual(expect.arrayContaining(['PIPELINE_BACKEND', 'AZURE_STORAGE_ACCOUNT_URL', 'AZURE_COSMOS_CONNECTION_STRING']));
    const text = section('Backends');
    // The capture-only names are in capture's section.
    const missing = names.filter((n) => !text.includes(`\`${n}\``) && !section('capture').includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});

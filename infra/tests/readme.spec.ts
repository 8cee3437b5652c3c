/**
 * The README's "Running on Azure" table of settings per service against what infra/main.bicep gives
 * each Container App: a setting added to one and not the other fails here.
 */
import { join, resolve } from 'node:path';
import { read, serviceEnvNames } from './bicep-text';

const repo = resolve(__dirname, '../..');
const mainBicep = read(join(repo, 'infra/main.bicep'));
const SERVICES = ['producer', 'capture', 'bronze', 'silver', 'gold', 'serving-api'] as const;
/** The module of each service in main.bicep. */
const MODULE: Record<(typeof SERVICES)[number], string> = {
  producer: 'producer',
  capture: 'capture',
  bronze: 'bronze',
  silver: 'silver',
  gold: 'gold',
  'serving-api': 'servingApi',
};
/** Set by the container-app and container-job modules for every service, and the serving API's listener. */
const EVERYWHERE = new Set(['PIPELINE_BACKEND', 'AZURE_CLIENT_ID', 'AZURE_CREDENTIAL', 'SERVING_PORT', 'SERVING_HOST']);

/** The README's table: first column the service, third the settings it needs on Azure. */
function readmeAzureSettings(): Map<string, Set<string>> {
  const readme = read(join(repo, 'README.md'));
  const start = readme.indexOf('\n## Running on Azure\n');
  if (start < 0) throw new Error('README.md has no "## Running on Azure" section');
  const end = readme.indexOf('\n## ', start + 1);
  const rows = readme
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => /^\| (producer|capture|bronze|silver|gold|serving-api) /.test(line));
  return new Map(
    rows.map((row) => {
      const cells = row.split('|').map((c) => c.trim());
      return [cells[1] as string, new Set([...(cells[3] as string).matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string))];
    }),
  );
}

describe("the README's Azure section", () => {
  const table = readmeAzureSettings();

  it('has a row per deployed service', () => {
    expect([...table.keys()].sort()).toEqual([...SERVICES].sort());
  });

  it.each(SERVICES)('lists for %s exactly the settings infra/main.bicep gives it', (service) => {
    const fromBicep = [...serviceEnvNames(mainBicep, MODULE[service])].filter((name) => !EVERYWHERE.has(name)).sort();
    expect(fromBicep.length).toBeGreaterThan(2);
    expect([...(table.get(service) ?? [])].sort()).toEqual(fromBicep);
  });
});

/**
 * The README's compose and Azure sections, and the guides, against the files they describe: every
 * link resolves, the compose section names what docker-compose.yml runs, and the README's table of
 * Azure settings per service matches what infra/main.bicep gives each Container App.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEPLOYED_APPS, loadCompose, readRepoFile, REPO_ROOT } from './repo-files';

const GUIDES = ['README.md', 'docs/settings.md', 'docs/deploy.md', 'docs/runbook.md', 'infra/README.md', 'deploy/README.md'];

/** GitHub's anchor for a heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" heading`);
  const level = heading.split(' ')[0] as string;
  const next = markdown.slice(start + heading.length + 2).search(new RegExp(`\\n#{1,${level.length}} `));
  return next < 0 ? markdown.slice(start) : markdown.slice(start, start + heading.length + 2 + next);
}

/** The README's "service → Azure settings" table: first column the service, third the settings. */
function readmeAzureSettings(): Map<string, Set<string>> {
  const rows = section(readRepoFile('README.md'), '## Running on Azure')
    .split('\n')
    .filter((line) => /^\| (producer|capture|bronze|silver|gold|serving-api) /.test(line));
  return new Map(
    rows.map((row) => {
      const cells = row.split('|').map((c) => c.trim());
      return [cells[1] as string, new Set([...(cells[3] as string).matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string))];
    }),
  );
}

/** Environment variable names main.bicep gives a service's module, following `*Settings` vars. */
function bicepSettings(symbol: string): Set<string> {
  const bicep = readRepoFile('infra/main.bicep');
  const start = bicep.search(new RegExp(`^module ${symbol} `, 'm'));
  if (start < 0) throw new Error(`infra/main.bicep has no module ${symbol}`);
  const end = bicep.indexOf('\n}\n', start);
  const body = bicep.slice(start, end);
  const env = /\n {4}env: ([\s\S]*?)(?=\n {4}[a-zA-Z]+:|\n {2}\})/.exec(body)?.[1] ?? '';
  const names = new Set([...env.matchAll(/name: '([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1] as string));
  for (const ref of env.matchAll(/\b(\w+Settings)\b/g)) {
    const value = new RegExp(`^var ${ref[1]} = ([\\s\\S]*?)\\n(?=var |module |resource |output |//)`, 'm').exec(bicep)?.[1] ?? '';
    for (const m of value.matchAll(/name: '([A-Z][A-Z0-9_]+)'/g)) names.add(m[1] as string);
  }
  return names;
}

describe('the guides', () => {
  it.each(GUIDES)('%s links only to files and headings that exist', (guide) => {
    const text = readRepoFile(guide);
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [file, anchor] = (target as string).split('#') as [string, string | undefined];
      const resolved = file === '' ? path.join(REPO_ROOT, guide) : path.resolve(REPO_ROOT, path.dirname(guide), file);
      if (!existsSync(resolved)) {
        broken.push(target as string);
        continue;
      }
      if (anchor && resolved.endsWith('.md')) {
        const headings = [...readFileSync(resolved, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1] as string));
        if (!headings.includes(anchor)) broken.push(target as string);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("the README's compose section", () => {
  it('names every emulator and tool docker-compose.yml runs, and the six services are in it', () => {
    const compose = loadCompose();
    const services = Object.keys(compose.services).sort();
    expect(services).toEqual(
      [
        'azurite',
        'capture',
        'bronze',
        'cosmos-emulator',
        'eventhubs-emulator',
        'gold',
        'jaeger',
        'otel-collector',
        'producer',
        'serving-api',
        'servicebus-emulator',
        'silver',
        'sqlserver',
      ].sort(),
    );
    const text = section(readRepoFile('README.md'), '## Deploying');
    for (const words of [
      'Azurite',
      'Event Hubs and Service Bus emulators',
      'SQL Server',
      'Cosmos DB emulator',
      'OpenTelemetry collector',
      'Jaeger',
      'ACCEPT_EULA=Y docker compose up --build',
    ]) {
      expect(text).toContain(words);
    }
    for (const app of DEPLOYED_APPS) expect(compose.services[app]?.build).toBeDefined();
  });
});

describe("the README's Azure section", () => {
  const table = readmeAzureSettings();
  const bicepModule: Record<string, string> = { producer: 'producer', capture: 'capture', bronze: 'bronze', silver: 'silver', gold: 'gold', 'serving-api': 'servingApi' };
  // Set by the container-app and container-job modules for every service, and serving-api's listener.
  const everywhere = new Set(['PIPELINE_BACKEND', 'AZURE_CLIENT_ID', 'SERVING_PORT', 'SERVING_HOST']);

  it('has a row per deployed service', () => {
    expect([...table.keys()].sort()).toEqual([...DEPLOYED_APPS].sort());
  });

  it.each(DEPLOYED_APPS)('lists for %s exactly the settings infra/main.bicep gives it', (app) => {
    const fromBicep = [...bicepSettings(bicepModule[app] as string)].filter((name) => !everywhere.has(name)).sort();
    expect(fromBicep.length).toBeGreaterThan(2);
    expect([...(table.get(app) ?? [])].sort()).toEqual(fromBicep);
  });
});

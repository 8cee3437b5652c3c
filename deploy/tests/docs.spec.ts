/**
 * The README's compose section and the guides, against the files they describe: every link
 * resolves, and the compose section names what docker-compose.yml runs. The README's Azure section
 * is checked against the Bicep in infra/tests/readme.spec.ts.
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

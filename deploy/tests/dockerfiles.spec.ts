import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEPLOYED_APPS, REPO_ROOT, dockerStages, readRepoFile, resolveFrom, type DockerStage } from './repo-files';

const NODE_IMAGE = 'node:22-bookworm-slim';
const runs = (stage: DockerStage): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
const of = (stage: DockerStage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe.each(DEPLOYED_APPS)('apps/%s/Dockerfile', (app) => {
  const { args, stages } = dockerStages(readRepoFile(`apps/${app}/Dockerfile`));
  const build = stages[0] as DockerStage;
  const runtime = stages[stages.length - 1] as DockerStage;

  it('builds in two stages on Node 22 LTS (bookworm-slim)', () => {
    expect(stages.map((s) => resolveFrom(s.from, args))).toEqual([NODE_IMAGE, NODE_IMAGE]);
    expect(build.name).toBe('build');
  });

  it('installs the toolchain better-sqlite3 falls back to when no prebuilt binary fits', () => {
    expect(runs(build).join('\n')).toMatch(/apt-get install[^\n]*\bpython3\b[^\n]*\bmake\b[^\n]*\bg\+\+/);
  });

  it('builds the workspace and packages its own app into /out, then installs production dependencies there', () => {
    const commands = runs(build).join('\n');
    expect(runs(build).some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit=dev'))).toBe(true);
    expect(commands).toContain('npm run build');
    expect(commands).toContain(`node deploy/app-package.js ${app} --out /out`);
    expect(of(build, 'WORKDIR').pop()).toBe('/out');
    expect(runs(build).pop()).toMatch(/npm ci --omit=dev/);
    for (const other of DEPLOYED_APPS.filter((a) => a !== app)) expect(commands).not.toContain(`app-package.js ${other} `);
  });

  it('copies only /out from the build stage into the runtime stage', () => {
    expect(of(runtime, 'COPY')).toEqual(['--from=build /out/ ./']);
    expect(of(runtime, 'ADD')).toEqual([]);
  });

  it('caps the V8 heap as `pipeline start` does, well inside the container memory', () => {
    // apps/cli/src/start.ts SERVICE_HEAP_MIB; the Container Apps default is 1Gi (infra/modules).
    expect(of(runtime, 'ENV').join(' ')).toMatch(/NODE_OPTIONS="[^"]*--max-old-space-size=384\b/);
    expect(readRepoFile('apps/cli/src/start.ts')).toContain('SERVICE_HEAP_MIB = 384;');
  });

  it('gives the producer alone a larger young generation, as `pipeline start` does', () => {
    // apps/cli/src/start.ts PRODUCER_SEMI_SPACE_MIB and serviceV8Flags.
    const options = of(runtime, 'ENV').join(' ');
    if (app === 'producer') {
      expect(options).toMatch(/NODE_OPTIONS="[^"]*--max-semi-space-size=32\b/);
      expect(readRepoFile('apps/cli/src/start.ts')).toContain('PRODUCER_SEMI_SPACE_MIB = 32;');
    } else {
      expect(options).not.toContain('--max-semi-space-size');
    }
  });

  it('runs as the unprivileged node user in production mode', () => {
    expect(of(runtime, 'USER')).toEqual(['node']);
    expect(of(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
    // Nothing after USER may switch back to root.
    const afterUser = runtime.instructions.slice(runtime.instructions.findIndex((i) => i.keyword === 'USER'));
    expect(afterUser.filter((i) => i.keyword === 'RUN')).toEqual([]);
  });

  it('starts the compiled main through the alias register, stopping on SIGTERM', () => {
    const cmd = JSON.parse(of(runtime, 'CMD')[0] as string) as string[];
    // Silver and gold start with a larger old space, as `pipeline start` gives them (INITIAL_OLD_SPACE_MIB).
    const largerStart = app === 'silver' || app === 'gold';
    const v8Flags = largerStart ? ['--initial-old-space-size=192'] : [];
    expect(cmd).toEqual(['node', ...v8Flags, '-r', './bin/register.js', `dist/apps/${app}/src/main.js`]);
    if (largerStart) expect(readRepoFile('apps/cli/src/start.ts')).toContain('INITIAL_OLD_SPACE_MIB = 192;');
    expect(fs.existsSync(path.join(REPO_ROOT, `apps/${app}/src/main.ts`))).toBe(true);
    expect(of(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(of(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  if (app === 'serving-api') {
    it('listens on all interfaces and probes /health/live with Node fetch', () => {
      expect(of(runtime, 'ENV').join(' ')).toMatch(/\bSERVING_HOST=0\.0\.0\.0\b/);
      expect(of(runtime, 'EXPOSE')).toEqual(['8080']);
      const probe = of(runtime, 'HEALTHCHECK')[0] ?? '';
      expect(probe).toContain('fetch(');
      expect(probe).toContain('/health/live');
      expect(probe).not.toMatch(/\b(curl|wget)\b/);
    });
  } else {
    it('has no HTTP health check (a worker without an HTTP server)', () => {
      expect(of(runtime, 'HEALTHCHECK')).toEqual([]);
    });
  }
});

describe('.dockerignore', () => {
  const ignored = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps host builds and dependencies out of the context, so every image builds its own', () => {
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', 'dist', '.nx']));
  });

  it('keeps what the build stage needs in the context', () => {
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'deploy', 'bin', 'examples', 'apps', 'libs', 'nx.json']) {
      expect(ignored).not.toContain(needed);
    }
  });
});

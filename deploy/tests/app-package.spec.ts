import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEPLOYED_APPS, REPO_ROOT, runtimeClosure } from './repo-files';

// Plain CommonJS script (it runs in the image build before anything is compiled for it).
const appPackage = require('../app-package.js') as {
  DEPLOYABLE_APPS: string[];
  EXAMPLES: Record<string, string[]>;
  packageOf(specifier: string): string | undefined;
  pruneLockFile(lock: unknown, manifest: { name: string; version: string; dependencies: Record<string, string> }): LockFile;
};

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
interface LockFile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

const SCRIPT = path.join(REPO_ROOT, 'deploy', 'app-package.js');
const rootLock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as LockFile;
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const folders = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

/** Node's lookup inside a lock file: the nearest node_modules/<name> walking up from `from`. */
function resolve(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  for (let base = from; ; ) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

describe('deploy/app-package.js', () => {
  let work: string;
  const outputs = new Map<string, { status: number | null; stderr: string; out: string }>();

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'app-package-'));
    for (const app of DEPLOYED_APPS) {
      const out = path.join(work, app);
      const run = spawnSync(process.execPath, [SCRIPT, app, '--out', out], { cwd: os.tmpdir(), encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
      outputs.set(app, { status: run.status, stderr: run.stderr, out });
    }
  }, 180_000);

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('packages exactly the six deployed services', () => {
    expect([...appPackage.DEPLOYABLE_APPS].sort()).toEqual([...DEPLOYED_APPS].sort());
  });

  describe.each(DEPLOYED_APPS)('for %s', (app) => {
    const output = () => {
      const o = outputs.get(app);
      if (!o || o.status !== 0) throw new Error(`app-package.js ${app} failed (exit ${o?.status}): ${o?.stderr}`);
      return o.out;
    };

    it('lists exactly the npm packages its compiled code and libs require, and the peers of those the workspace installs for them', () => {
      const manifest = readJson<{ dependencies: Record<string, string> }>(path.join(output(), 'package.json'));
      const required = runtimeClosure(app).packages;
      const workspace = readJson<{ dependencies: Record<string, string> }>(path.join(REPO_ROOT, 'package.json')).dependencies;
      const peers = [...required].flatMap((pkg) =>
        Object.keys(readJson<{ peerDependencies?: Record<string, string> }>(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json')).peerDependencies ?? {}),
      );
      const expected = new Set([...required, ...peers.filter((peer) => workspace[peer] !== undefined)]);
      expect(Object.keys(manifest.dependencies).sort()).toEqual([...expected].sort());
      // NestJS loads it by name for the Swagger UI: without it the serving API does not start.
      if (app === 'serving-api') expect(manifest.dependencies['@fastify/static']).toBeDefined();
    });

    it('pins every package at the version package-lock.json installs', () => {
      const manifest = readJson<{ dependencies: Record<string, string> }>(path.join(output(), 'package.json'));
      for (const [name, version] of Object.entries(manifest.dependencies)) {
        expect({ name, version }).toEqual({ name, version: rootLock.packages[`node_modules/${name}`]?.version });
      }
    });

    it('copies exactly the dist folders of the app and the libs it requires', () => {
      expect(folders(path.join(output(), 'dist', 'apps'))).toEqual([app]);
      expect(folders(path.join(output(), 'dist', 'libs'))).toEqual([...runtimeClosure(app).libs].sort());
      expect(fs.existsSync(path.join(output(), 'dist', 'apps', app, 'src', 'main.js'))).toBe(true);
      expect(fs.readFileSync(path.join(output(), 'bin', 'register.js'), 'utf8')).toBe(fs.readFileSync(path.join(REPO_ROOT, 'bin', 'register.js'), 'utf8'));
    });

    it('ships the files its compiled code reads at run time (the assets folders the build copies), as they are in the sources', () => {
      const sources = path.join(REPO_ROOT, 'apps', app, 'src');
      const assets = (fs.readdirSync(sources, { recursive: true }) as string[]).filter((f) => f.split(path.sep).includes('assets') && fs.statSync(path.join(sources, f)).isFile());
      if (app === 'serving-api') expect(assets.map((f) => path.basename(f)).sort()).toEqual(['index.html', 'status-page.css', 'status-page.js']);
      for (const file of assets) {
        expect({ file, text: fs.readFileSync(path.join(output(), 'dist', 'apps', app, 'src', file), 'utf8') }).toEqual({
          file,
          text: fs.readFileSync(path.join(sources, file), 'utf8'),
        });
      }
    });

    it('ships the example files its settings point at', () => {
      const shipped = fs.existsSync(path.join(output(), 'examples')) ? folders(path.join(output(), 'examples')).map((f) => `examples/${f}`) : [];
      expect(shipped).toEqual([...(appPackage.EXAMPLES[app] ?? [])].sort());
    });

    it('allows the install scripts the workspace allows, for the packages it installs (better-sqlite3 builds its addon)', () => {
      const manifest = readJson<{ allowScripts?: Record<string, boolean> }>(path.join(output(), 'package.json'));
      const lock = readJson<LockFile>(path.join(output(), 'package-lock.json'));
      const installed = new Set(Object.keys(lock.packages).map((key) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)));
      const workspace = readJson<{ allowScripts: Record<string, boolean> }>(path.join(REPO_ROOT, 'package.json')).allowScripts;
      expect(manifest.allowScripts).toEqual(Object.fromEntries(Object.entries(workspace).filter(([name]) => installed.has(name))));
      expect(manifest.allowScripts?.['better-sqlite3']).toBe(true);
    });

    it('writes a lock file whose root matches the manifest and that resolves every needed package', () => {
      const manifest = readJson<{ dependencies: Record<string, string> }>(path.join(output(), 'package.json'));
      const lock = readJson<LockFile>(path.join(output(), 'package-lock.json'));
      expect(lock.packages['']?.dependencies).toEqual(manifest.dependencies);
      const missing: string[] = [];
      for (const [at, entry] of Object.entries(lock.packages)) {
        expect({ at, dev: entry.dev, devOptional: entry.devOptional }).toEqual({ at, dev: undefined, devOptional: undefined });
        if (entry.optional) continue;
        const needed = [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional)];
        for (const name of needed) if (!resolve(lock.packages, at, name)) missing.push(`${at || '(root)'} → ${name}`);
      }
      expect(missing).toEqual([]);
    });
  });

  describe('lock pruning', () => {
    const lock: LockFile = {
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '1.0.0' }, devDependencies: { jest: '1.0.0' } } as LockEntry,
        'node_modules/a': { version: '1.0.0', dependencies: { b: '^2', util: '^0.12' }, peerDependencies: { c: '*', d: '*' }, peerDependenciesMeta: { d: { optional: true } } },
        'node_modules/a/node_modules/b': { version: '2.0.0' },
        'node_modules/b': { version: '1.0.0', dev: true },
        'node_modules/util': { version: '0.12.5', devOptional: true },
        'node_modules/c': { version: '3.0.0', dev: true },
        'node_modules/d': { version: '4.0.0', dev: true },
        'node_modules/jest': { version: '1.0.0', dev: true },
      },
    };
    const manifest = { name: 'pipeline-x', version: '0.1.0', dependencies: { a: '1.0.0' } };

    it('keeps nested copies, packages named like built-ins and required peers, and drops dev-only packages and optional peers', () => {
      expect(Object.keys(appPackage.pruneLockFile(lock, manifest).packages).sort()).toEqual([
        '',
        'node_modules/a',
        'node_modules/a/node_modules/b',
        'node_modules/c',
        'node_modules/util',
      ]);
    });

    it('clears dev flags so npm ci --omit=dev installs every kept package', () => {
      const pruned = appPackage.pruneLockFile(lock, manifest);
      expect(Object.values(pruned.packages).filter((e) => e.dev || e.devOptional)).toEqual([]);
    });

    it('rejects a manifest version that the lock file does not install', () => {
      expect(() => appPackage.pruneLockFile(lock, { ...manifest, dependencies: { a: '9.9.9' } })).toThrow(/a@9\.9\.9 .* package-lock\.json has 1\.0\.0/);
    });

    it('names the package whose dependency the lock file lacks', () => {
      const broken = { ...lock, packages: { ...lock.packages, 'node_modules/util': undefined } } as unknown as LockFile;
      delete broken.packages['node_modules/util'];
      expect(() => appPackage.pruneLockFile(broken, manifest)).toThrow(/no entry for util, needed by node_modules\/a/);
    });
  });

  it('reads package names from specifiers, leaving out relative paths and Node built-ins', () => {
    expect(['@nestjs/common/decorators', 'yaml', 'node:fs', 'fs/promises', './x', 'util'].map((s) => appPackage.packageOf(s))).toEqual([
      '@nestjs/common',
      'yaml',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('refuses an app that is not deployed, naming the ones that are', () => {
    const run = spawnSync(process.execPath, [SCRIPT, 'cli', '--out', path.join(os.tmpdir(), 'never-written')], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown app "cli": expected one of producer, capture, bronze, silver, gold, serving-api');
  });
});

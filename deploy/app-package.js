#!/usr/bin/env node
'use strict';
/**
 * Lays out one service's deployable folder (the input of a container image's runtime stage):
 * package.json + pruned package-lock.json listing only the npm packages that service loads,
 * dist/apps/<app>, the dist/libs/<lib> folders it needs, bin/register.js and its example files.
 *
 * Invariants:
 * - The package set comes from the Nx project graph: the external `npm:` dependencies of the
 *   production files (those tsconfig.build.json compiles) of the app and of every `@pipeline/*`
 *   lib they reach. Spec files and test-only libs never contribute.
 * - Imports the compiler erased (type-only ones) are dropped by checking the compiled files; a
 *   compiled `require` the graph does not know about fails the run instead of shipping a broken image.
 * - Versions are the ones package-lock.json resolved (the hoisted copy the workspace runs with).
 * - The lock file is package-lock.json cut down to the entries those packages reach, at their original
 *   paths; its root lists exactly the manifest's dependencies (`npm ci` rejects a manifest and lock
 *   that disagree), and no entry is flagged dev (`npm ci --omit=dev` would skip it).
 *
 * Run after `npm run build`, from anywhere: `node deploy/app-package.js <app> --out <dir>`.
 */
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const ROOT = path.resolve(__dirname, '..');

/** The services that ship as images (apps/cli is the developer CLI and is not deployed). */
const DEPLOYABLE_APPS = ['producer', 'capture', 'bronze', 'silver', 'gold', 'serving-api'];

/** Example files each image carries: the spec for services reading PIPELINE_SPEC, the CSV for the producer. */
const EXAMPLES = {
  producer: ['examples/sensors.spec.yaml', 'examples/sensors.sample.csv'],
  capture: [],
  bronze: [],
  silver: ['examples/sensors.spec.yaml'],
  gold: ['examples/sensors.spec.yaml'],
  'serving-api': ['examples/sensors.spec.yaml'],
};

const USAGE = `Usage: node deploy/app-package.js <app> --out <dir> [--json]

Writes <dir>/package.json and <dir>/package-lock.json with only the npm packages <app> loads
(from the Nx project graph, at the versions in package-lock.json), and copies dist/apps/<app>,
the dist/libs folders it needs, bin/register.js and its example files into <dir>.
Run \`npm run build\` first. Then \`npm ci --omit=dev\` in <dir> installs the runtime dependencies.

  <app>        one of: ${DEPLOYABLE_APPS.join(', ')}
  --out <dir>  output folder (created; must be empty or absent)
  --json       print the plan (libs, dependencies, dropped type-only imports) as JSON on stdout
  --help       show this text`;

class UsageError extends Error {}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; undefined for relative, absolute and built-in specifiers. */
function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtinModules.includes(name) ? undefined : name;
}

/** Module specifiers of every `require("…")` with a literal argument in compiled CommonJS. */
function requiredSpecifiers(jsText) {
  const found = new Set();
  for (const m of jsText.matchAll(/\brequire\(\s*(["'])([^"'\n]+)\1\s*\)/g)) found.add(m[2]);
  return found;
}

/** Workspace-relative paths of the files `npm run build` compiles (tsconfig.build.json's include/exclude). */
function productionFiles() {
  const ts = require('typescript');
  const configPath = path.join(ROOT, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(`cannot read ${configPath}: ${ts.flattenDiagnosticMessageText(read.error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, configPath);
  return new Set(parsed.fileNames.map((f) => path.relative(ROOT, f).split(path.sep).join('/')));
}

async function loadGraph() {
  // The daemon is a long-lived background process: wrong for a one-shot build step.
  process.env.NX_DAEMON ??= 'false';
  const { createProjectGraphAsync, workspaceRoot } = require('@nx/devkit');
  if (path.resolve(workspaceRoot) !== ROOT) {
    throw new Error(`Nx resolved the workspace root to ${workspaceRoot}, not ${ROOT}: run this script with the repository root as the working directory.`);
  }
  const graph = await createProjectGraphAsync({ exitOnError: false });
  // File-level dependencies are in the file map Nx caches while building the graph.
  const { readFileMapCache } = require('@nx/devkit/internal');
  const fileMap = readFileMapCache()?.fileMap?.projectFileMap;
  if (!fileMap) throw new Error('the Nx file map cache is missing after building the project graph; delete .nx/workspace-data and retry.');
  return { graph, fileMap };
}

/** The compiled file of a workspace source file (`apps/x/src/a.ts` → `dist/apps/x/src/a.js`). */
function compiledPath(sourceFile) {
  return path.join(ROOT, 'dist', sourceFile.replace(/\.ts$/, '.js'));
}

/**
 * What the image of `app` needs. Returns `{ app, libs, dependencies, typeOnly, examples }`:
 * libs are project names (= folder names under libs/), dependencies map package → locked version.
 */
async function planAppPackage(app, loaded) {
  if (!DEPLOYABLE_APPS.includes(app)) {
    throw new UsageError(`unknown app ${JSON.stringify(app)}: expected one of ${DEPLOYABLE_APPS.join(', ')}.`);
  }
  const { graph, fileMap } = loaded ?? (await loadGraph());
  if (!graph.nodes[app]) throw new Error(`the Nx project graph has no project named ${app}: check apps/${app}/project.json.`);
  const production = productionFiles();

  const libs = new Set();
  const candidates = new Map(); // package name → external node
  const queue = [app];
  const seen = new Set();
  const compiled = [];
  while (queue.length > 0) {
    const project = queue.shift();
    if (seen.has(project)) continue;
    seen.add(project);
    const files = (fileMap[project] ?? []).filter((f) => production.has(f.file));
    if (files.length === 0) {
      throw new Error(
        `project ${project} is imported by production code of ${app} but tsconfig.build.json compiles none of its files: move the import into a spec file or add the library to the build.`,
      );
    }
    if (project !== app) libs.add(project);
    for (const file of files) {
      compiled.push(compiledPath(file.file));
      for (const dep of file.deps ?? []) {
        const target = typeof dep === 'string' ? dep : dep.length === 3 ? dep[1] : dep[0];
        const external = graph.externalNodes?.[target];
        if (external) candidates.set(external.data.packageName, external);
        else if (graph.nodes[target] && !seen.has(target)) queue.push(target);
      }
    }
  }

  // What the compiled code actually loads: type-only imports vanish in compilation.
  const required = new Map(); // package → first compiled file requiring it
  const requiredLibs = new Set();
  for (const file of compiled) {
    if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run \`npm run build\` before packaging ${app}.`);
    for (const specifier of requiredSpecifiers(fs.readFileSync(file, 'utf8'))) {
      const alias = /^@pipeline\/([a-z][a-z0-9-]*)$/.exec(specifier);
      if (alias) requiredLibs.add(alias[1]);
      else {
        const pkg = packageOf(specifier);
        if (pkg && !required.has(pkg)) required.set(pkg, path.relative(ROOT, file));
      }
    }
  }
  for (const [pkg, file] of required) {
    if (!candidates.has(pkg)) throw new Error(`${file} requires ${pkg}, which the Nx project graph does not list for ${app}: is it installed and imported with a static import?`);
  }
  for (const lib of requiredLibs) {
    if (!libs.has(lib)) throw new Error(`compiled code of ${app} requires @pipeline/${lib}, which the Nx project graph does not reach: check the import in its sources.`);
  }

  const dependencies = {};
  const typeOnly = [];
  for (const [pkg, node] of [...candidates].sort(([a], [b]) => a.localeCompare(b))) {
    if (required.has(pkg)) dependencies[pkg] = node.data.version;
    else typeOnly.push(pkg);
  }
  const runtimePeers = workspacePeersOf(Object.keys(dependencies));
  for (const [pkg, version] of Object.entries(runtimePeers)) dependencies[pkg] ??= version;
  const sorted = Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b)));
  return { app, libs: [...libs].sort(), dependencies: sorted, runtimePeers: Object.keys(runtimePeers), typeOnly, examples: EXAMPLES[app] };
}

/**
 * Peer dependencies of the given packages that the workspace declares as its own dependencies, at
 * their locked versions. Some packages load optional peers by name at run time — NestJS loads
 * `@fastify/static` for the Swagger UI — so no require in the compiled code names them, yet the
 * service fails without them; the workspace lists each one it needs.
 */
function workspacePeersOf(packages) {
  const rootDependencies = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies ?? {};
  const lockPackages = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')).packages ?? {};
  const peers = {};
  for (const pkg of packages) {
    for (const peer of Object.keys(lockPackages[`node_modules/${pkg}`]?.peerDependencies ?? {})) {
      const version = lockPackages[`node_modules/${peer}`]?.version;
      if (rootDependencies[peer] !== undefined && version !== undefined && !packages.includes(peer)) peers[peer] = version;
    }
  }
  return peers;
}

/** The manifest of the deployable folder; only `dependencies` drive the install. */
function manifestFor(plan) {
  const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const manifest = {
    name: `pipeline-${plan.app}`,
    version: root.version,
    description: `The ${plan.app} service of ${root.name}.`,
    license: root.license,
    private: true,
    engines: root.engines,
    dependencies: plan.dependencies,
  };
  return manifest;
}

function copyInto(out, relative) {
  const source = path.join(ROOT, relative);
  if (!fs.existsSync(source)) throw new Error(`${relative} is missing: run \`npm run build\` (for dist/) or restore the file.`);
  fs.cpSync(source, path.join(out, relative), { recursive: true, filter: (f) => !f.endsWith('.tsbuildinfo') });
}

/** The lock entry path a package named `name` resolves to from the package at `from` (Node's lookup, walking up). */
function resolveInLock(packages, from, name) {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

/**
 * package-lock.json (v2/v3) reduced to what installing `dependencies` needs: every entry reachable
 * through dependencies, optionalDependencies and required (non-optional) peerDependencies,
 * kept at its original path, so each kept package resolves exactly as it does in the workspace.
 * Nothing is dev any more; `optional` is set when only optional edges reach an entry.
 */
function pruneLockFile(rootLock, manifest) {
  if (!rootLock.packages || (rootLock.lockfileVersion ?? 0) < 2) {
    throw new Error('package-lock.json has no "packages" section (lockfileVersion < 2): regenerate it with npm 7 or later.');
  }
  const packages = rootLock.packages;
  const required = new Map(); // lock path → reached through a non-optional edge
  const queue = [];
  const visit = (from, name, optional, who) => {
    const at = resolveInLock(packages, from, name);
    if (!at) {
      if (optional) return;
      throw new Error(`package-lock.json has no entry for ${name}, needed by ${who}: run \`npm install\` at the repository root to repair the lock file.`);
    }
    const before = required.get(at);
    if (before === undefined || (before === false && !optional)) {
      required.set(at, before === true || !optional);
      queue.push(at);
    }
  };
  for (const [name, version] of Object.entries(manifest.dependencies)) {
    const locked = packages[`node_modules/${name}`]?.version;
    if (locked !== version)
      throw new Error(`${manifest.name} needs ${name}@${version} but package-lock.json has ${locked ?? 'no top-level entry'}: run \`npm install\` at the repository root.`);
    visit('', name, false, manifest.name);
  }
  while (queue.length > 0) {
    const at = queue.shift();
    const entry = packages[at];
    if (entry.link) throw new Error(`package-lock.json links ${at} to ${entry.resolved} (a workspace package): images cannot ship workspace links.`);
    const optional = required.get(at) === false;
    for (const name of Object.keys(entry.dependencies ?? {})) visit(at, name, optional, at);
    for (const name of Object.keys(entry.optionalDependencies ?? {})) visit(at, name, true, at);
    // npm installs required peers itself; optional peers only when something else needs them.
    for (const name of Object.keys(entry.peerDependencies ?? {})) {
      if (entry.peerDependenciesMeta?.[name]?.optional !== true) visit(at, name, optional, at);
    }
  }
  const pruned = {
    '': { name: manifest.name, version: manifest.version, license: manifest.license, dependencies: manifest.dependencies, engines: manifest.engines },
  };
  for (const at of [...required.keys()].sort()) {
    const { dev: _dev, devOptional: _devOptional, optional: _optional, peer: _peer, ...entry } = packages[at];
    pruned[at] = required.get(at) ? entry : { ...entry, optional: true };
  }
  return { name: manifest.name, version: manifest.version, lockfileVersion: rootLock.lockfileVersion, requires: true, packages: pruned };
}

/** Writes the deployable folder of `plan.app` into `out` (absent or empty). */
function writeAppPackage(plan, out) {
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new UsageError(`--out ${out} is not empty: pass a new or empty folder.`);
  const manifest = manifestFor(plan);
  // Nx's createLockFile (23.2) drops packages named like Node built-ins (util, events), which makes `npm ci` fail.
  const lock = pruneLockFile(JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')), manifest);
  // npm 11 runs install scripts (better-sqlite3's native build) only for packages allowScripts names.
  const installed = new Set(Object.keys(lock.packages).map((key) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)));
  const rootAllowScripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).allowScripts ?? {};
  const allowScripts = Object.fromEntries(Object.entries(rootAllowScripts).filter(([name]) => installed.has(name)));
  if (Object.keys(allowScripts).length > 0) manifest.allowScripts = allowScripts;
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(path.join(out, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  copyInto(out, 'bin/register.js');
  copyInto(out, `dist/apps/${plan.app}`);
  for (const lib of plan.libs) copyInto(out, `dist/libs/${lib}`);
  for (const example of plan.examples) copyInto(out, example);
}

function parseArgs(argv) {
  const args = { app: undefined, out: undefined, json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--json') args.json = true;
    else if (a === '--out') {
      args.out = argv[++i];
      if (args.out === undefined) throw new UsageError('--out needs a folder, e.g. --out /out');
    } else if (a.startsWith('--out=')) args.out = a.slice('--out='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (args.app === undefined) args.app = a;
    else throw new UsageError(`unexpected argument ${JSON.stringify(a)}: give one app`);
  }
  return args;
}

async function main(argv) {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!args.app) throw new UsageError('name the app to package, e.g. node deploy/app-package.js silver --out /out');
  if (!args.out) throw new UsageError('--out is required, e.g. --out /out');
  const loaded = await loadGraph();
  const plan = await planAppPackage(args.app, loaded);
  const out = path.resolve(args.out);
  writeAppPackage(plan, out);
  if (args.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
  else process.stderr.write(`${plan.app}: ${Object.keys(plan.dependencies).length} packages, libs ${plan.libs.join(', ')} → ${out}\n`);
}

if (require.main === module) {
  // Nx resolves the workspace from the working directory.
  process.chdir(ROOT);
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`app-package: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`\n${USAGE}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}

module.exports = { DEPLOYABLE_APPS, EXAMPLES, packageOf, requiredSpecifiers, resolveInLock, pruneLockFile, planAppPackage, writeAppPackage };

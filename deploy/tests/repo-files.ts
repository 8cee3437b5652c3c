/**
 * Reading the repository's deployment files for the deploy checks: the compose file (YAML merge
 * keys resolved, `${VAR}` interpolation as Compose does it), Dockerfiles split into stages, and the
 * CommonJS `require`s of compiled code. Paths are relative to the repository root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { parse } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEPLOYED_APPS = ['producer', 'capture', 'bronze', 'silver', 'gold', 'serving-api'] as const;
export type DeployedApp = (typeof DEPLOYED_APPS)[number];

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  command?: string[];
}
export interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readRepoFile(relative: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, relative), 'utf8');
}

/** docker-compose.yml as Compose reads it: merge keys (`<<`) applied, not yet interpolated. */
export function loadCompose(): ComposeFile {
  return parse(readRepoFile('docker-compose.yml'), { merge: true }) as ComposeFile;
}

/**
 * Compose interpolation of one value: `$$` → `$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?message}` (throws when unset or empty). Unset variables without a default become ''.
 */
export function interpolate(value: string, variables: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare) as string;
      const current = variables[name];
      const unset = operator?.startsWith(':') ? current === undefined || current === '' : current === undefined;
      if (operator?.endsWith('?') && unset) throw new Error(`compose variable ${name} is required: ${argument}`);
      if (operator?.endsWith('-') && unset) return argument ?? '';
      return current ?? '';
    },
  );
}

/** A service's environment after interpolation, as the container sees it. */
export function serviceEnvironment(service: ComposeService, variables: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    if (value !== null) env[name] = interpolate(String(value), variables);
  }
  return env;
}

export interface DockerInstruction {
  keyword: string;
  args: string;
}
export interface DockerStage {
  from: string;
  name: string | undefined;
  instructions: DockerInstruction[];
}

/** Dockerfile instructions grouped by stage; line continuations joined, comments dropped. */
export function dockerStages(text: string): { args: DockerInstruction[]; stages: DockerStage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') && pending === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    if (pending === '' && line === '') continue;
    logical.push((pending + line).trim());
    pending = '';
  }
  const args: DockerInstruction[] = [];
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const space = line.indexOf(' ');
    const keyword = line.slice(0, space).toUpperCase();
    const rest = line.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!m) throw new Error(`cannot parse FROM ${rest}`);
      stages.push({ from: m[1] as string, name: m[2], instructions: [] });
    } else if (stages.length === 0) args.push({ keyword, args: rest });
    else (stages[stages.length - 1] as DockerStage).instructions.push({ keyword, args: rest });
  }
  return { args, stages };
}

/** Resolves `${NAME}` in a FROM line with the Dockerfile's global ARG defaults. */
export function resolveFrom(from: string, args: DockerInstruction[]): string {
  const defaults = new Map(args.filter((a) => a.keyword === 'ARG').map((a) => a.args.split('=') as [string, string]));
  return from.replace(/\$\{(\w+)\}/g, (_, name: string) => defaults.get(name) ?? '');
}

/** npm package names a compiled CommonJS file loads (`require("x/sub")` → `x`), built-ins excluded. */
export function requiredPackages(jsText: string): { packages: Set<string>; pipelineLibs: Set<string> } {
  const packages = new Set<string>();
  const pipelineLibs = new Set<string>();
  for (const m of jsText.matchAll(/\brequire\(\s*(["'])([^"'\n]+)\1\s*\)/g)) {
    const specifier = m[2] as string;
    const lib = /^@pipeline\/([a-z][a-z0-9-]*)$/.exec(specifier);
    if (lib) pipelineLibs.add(lib[1] as string);
    else if (!specifier.startsWith('.') && !specifier.startsWith('node:') && !specifier.startsWith('/')) {
      const parts = specifier.split('/');
      const name = specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
      if (!builtinModules.includes(name)) packages.add(name);
    }
  }
  return { packages, pipelineLibs };
}

/** Compiled .js files under a dist folder whose TypeScript source still exists (stale outputs ignored). */
export function compiledFiles(distFolder: string): string[] {
  const absolute = path.join(REPO_ROOT, distFolder);
  if (!fs.existsSync(absolute)) return [];
  return fs
    .readdirSync(absolute, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(distFolder, f))
    .filter((f) => fs.existsSync(path.join(REPO_ROOT, f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts'))));
}

/** The npm packages and `@pipeline/*` libs the compiled app loads, following lib requires transitively. */
export function runtimeClosure(app: string): { packages: Set<string>; libs: Set<string> } {
  const packages = new Set<string>();
  const libs = new Set<string>();
  const pending = [`dist/apps/${app}`];
  while (pending.length > 0) {
    const folder = pending.pop() as string;
    for (const file of compiledFiles(folder)) {
      const found = requiredPackages(readRepoFile(file));
      found.packages.forEach((p) => packages.add(p));
      for (const lib of found.pipelineLibs) {
        if (!libs.has(lib)) {
          libs.add(lib);
          pending.push(`dist/libs/${lib}`);
        }
      }
    }
  }
  return { packages, libs };
}

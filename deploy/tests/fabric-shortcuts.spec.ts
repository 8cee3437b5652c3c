/**
 * deploy/fabric-shortcuts.js against a local HTTP server that answers like Fabric's OneLake
 * Shortcuts API (Create Shortcut: 201, or 409 when the name is taken unless
 * shortcutConflictPolicy=CreateOrOverwrite; Get Shortcut: 200 or 404) and records every request.
 * The script runs as its own process, over real HTTP.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { REPO_ROOT } from './repo-files';

const SCRIPT = path.join(REPO_ROOT, 'deploy', 'fabric-shortcuts.js');
const script = require('../fabric-shortcuts.js') as { PIPELINE_TABLES: string[]; dfsLocation(url: string): string | undefined };

const WORKSPACE = 'cfafbeb1-8037-4d0c-896e-a46fb27ff229';
const LAKEHOUSE = '56bac802-080d-4f73-8a42-1b406eb1fcac';
const CONNECTION = '9c08dcab-4d97-448d-8f42-7b0ba25bdc71';
const TOKEN = 'test-token-not-for-printing';
const SHORTCUTS = `/v1/workspaces/${WORKSPACE}/items/${LAKEHOUSE}/shortcuts`;

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}
interface Shortcut {
  path: string;
  name: string;
  target: { adlsGen2: { location: string; subpath: string; connectionId: string } };
}

/** A Fabric look-alike: shortcuts by "path/name", every request recorded, optional scripted answers first. */
class FakeFabric {
  readonly requests: Recorded[] = [];
  readonly shortcuts = new Map<string, Shortcut>();
  /** Answers given, in order, before the normal behaviour (status, headers, body). */
  readonly scripted: { status: number; headers?: Record<string, string>; body: unknown }[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };
    const next = this.scripted.shift();
    if (next) return reply(next.status, next.body, next.headers);
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'POST' && url.pathname === SHORTCUTS) {
      const shortcut = body as Shortcut;
      const key = `${shortcut.path}/${shortcut.name}`;
      if (this.shortcuts.has(key) && url.searchParams.get('shortcutConflictPolicy') !== 'CreateOrOverwrite') {
        return reply(409, { errorCode: 'EntityConflict', message: `A shortcut named ${shortcut.name} already exists` });
      }
      this.shortcuts.set(key, shortcut);
      return reply(201, shortcut, { location: `${this.url}${SHORTCUTS}/${key}` });
    }
    if (req.method === 'GET' && url.pathname.startsWith(`${SHORTCUTS}/`)) {
      const key = decodeURIComponent(url.pathname.slice(SHORTCUTS.length + 1));
      const found = this.shortcuts.get(key);
      return found ? reply(200, found) : reply(404, { errorCode: 'EntityNotFound', message: 'no such shortcut' });
    }
    return reply(404, { errorCode: 'NotFound', message: `${req.method} ${req.url}` });
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the script as a process (asynchronously, so the server in this process keeps answering). */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      cwd: REPO_ROOT,
      // Only what the test gives: no Azure sign-in from the machine's environment.
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('deploy/fabric-shortcuts.js', () => {
  const fabric = new FakeFabric();
  beforeAll(() => fabric.start());
  afterAll(() => fabric.stop());
  beforeEach(() => {
    fabric.requests.length = 0;
    fabric.shortcuts.clear();
    fabric.scripted.length = 0;
  });

  const args = () => [
    '--workspace',
    WORKSPACE,
    '--lakehouse',
    LAKEHOUSE,
    '--connection',
    CONNECTION,
    '--account-url',
    'https://stlakeabc.dfs.core.windows.net',
    '--api',
    fabric.url,
  ];
  const expectedBody = (table: string, name = table) => ({
    path: 'Tables',
    name,
    target: { adlsGen2: { location: 'https://stlakeabc.dfs.core.windows.net', subpath: `/lake/tables/${table}`, connectionId: CONNECTION } },
  });

  it('shortcuts exactly the Delta tables the pipeline writes under tables/ (bronze writes none)', () => {
    const audit = readFileSync(path.join(REPO_ROOT, 'apps/cli/src/audit.ts'), 'utf8');
    const start = readFileSync(path.join(REPO_ROOT, 'apps/cli/src/start.ts'), 'utf8');
    const written = new Set([...`${audit}\n${start}`.matchAll(/'tables\/(\w+)'/g)].map((m) => m[1] as string));
    expect([...written].sort()).toEqual([...script.PIPELINE_TABLES].sort());
    expect(script.PIPELINE_TABLES).not.toContain('bronze');
  });

  it('prints its usage with --help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: node deploy\/fabric-shortcuts\.js --workspace <id>/);
    expect(result.stdout).toContain('--dry-run');
  });

  it('names every missing argument at once, with its flag and variable, and sends nothing', async () => {
    const result = await run(['--api', fabric.url], { FABRIC_TOKEN: TOKEN });
    expect(result.code).toBe(2);
    for (const missing of [
      '--workspace (or FABRIC_WORKSPACE_ID)',
      '--lakehouse (or FABRIC_LAKEHOUSE_ID)',
      '--connection (or FABRIC_CONNECTION_ID)',
      '--account-url (or AZURE_STORAGE_DFS_URL)',
    ])
      expect(result.stderr).toContain(`missing ${missing}`);
    expect(fabric.requests).toEqual([]);
  });

  it('refuses an account URL that is not a storage endpoint, an unknown argument and a bad table name', async () => {
    const bad = await run([...args().slice(0, 6), '--account-url', 'https://example.com/lake', '--tables', 'gold,../x', '--bogus'], { FABRIC_TOKEN: TOKEN });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--account-url https://example.com/lake is not a storage endpoint');
    expect(bad.stderr).toContain('--tables: "../x" is not a folder name');
    expect(bad.stderr).toContain('unknown argument --bogus');
    expect(fabric.requests).toEqual([]);
  });

  it('turns a blob endpoint into the dfs endpoint a shortcut names', () => {
    expect(script.dfsLocation('https://stlakeabc.blob.core.windows.net/')).toBe('https://stlakeabc.dfs.core.windows.net');
    expect(script.dfsLocation('https://stlakeabc.dfs.core.windows.net')).toBe('https://stlakeabc.dfs.core.windows.net');
    expect(script.dfsLocation('http://stlakeabc.dfs.core.windows.net')).toBeUndefined();
    expect(script.dfsLocation('https://stlakeabc.dfs.core.windows.net/lake')).toBeUndefined();
  });

  it('prints the requests with --dry-run and sends none, without signing in', async () => {
    const result = await run([...args(), '--dry-run']);
    expect(result.code).toBe(0);
    expect(fabric.requests).toEqual([]);
    const blocks = result.stdout.split(/^(?=POST )/m);
    expect(blocks).toHaveLength(4);
    expect(blocks[0]?.split('\n')[0]).toBe(`POST ${fabric.url}${SHORTCUTS}`);
    expect(JSON.parse(blocks[2]?.slice(blocks[2].indexOf('\n')) ?? '')).toEqual(expectedBody('gold'));
  });

  it('creates one shortcut per table with the Create Shortcut body, signed with the token it never prints', async () => {
    const result = await run(args(), { FABRIC_TOKEN: TOKEN });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(fabric.requests.map((r) => `${r.method} ${r.url}`)).toEqual(Array(4).fill(`POST ${SHORTCUTS}`));
    expect(fabric.requests.map((r) => r.body)).toEqual(['silver', 'quarantine', 'gold', 'late'].map((t) => expectedBody(t)));
    expect(new Set(fabric.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${TOKEN}`]));
    expect(result.stdout).toContain('created Tables/gold → https://stlakeabc.dfs.core.windows.net/lake/tables/gold');
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it('changes nothing when run again: a 409 on a shortcut that already points there is fine', async () => {
    expect((await run(args(), { FABRIC_TOKEN: TOKEN })).code).toBe(0);
    const before = JSON.stringify([...fabric.shortcuts]);
    fabric.requests.length = 0;
    const again = await run(args(), { FABRIC_TOKEN: TOKEN });
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual(
      ['silver', 'quarantine', 'gold', 'late'].map((t) => `exists  Tables/${t} → https://stlakeabc.dfs.core.windows.net/lake/tables/${t}`),
    );
    // Each create is answered 409, then the existing shortcut is read and compared.
    expect(fabric.requests.map((r) => `${r.method} ${r.url}`).slice(0, 2)).toEqual([`POST ${SHORTCUTS}`, `GET ${SHORTCUTS}/Tables/silver`]);
    expect(JSON.stringify([...fabric.shortcuts])).toBe(before);
  });

  it('fails on a shortcut of the same name pointing elsewhere, and replaces it only with --overwrite', async () => {
    fabric.shortcuts.set('Tables/gold', {
      ...expectedBody('gold'),
      target: { adlsGen2: { location: 'https://other.dfs.core.windows.net', subpath: '/x/gold', connectionId: CONNECTION } },
    });
    const refused = await run([...args(), '--tables', 'gold'], { FABRIC_TOKEN: TOKEN });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'failed  Tables/gold: a shortcut of that name points at https://other.dfs.core.windows.net/x/gold, not https://stlakeabc.dfs.core.windows.net/lake/tables/gold',
    );
    expect(refused.stderr).toContain('--overwrite');
    expect(fabric.shortcuts.get('Tables/gold')?.target.adlsGen2.location).toBe('https://other.dfs.core.windows.net');

    fabric.requests.length = 0;
    const replaced = await run([...args(), '--tables', 'gold', '--overwrite'], { FABRIC_TOKEN: TOKEN });
    expect(replaced.code).toBe(0);
    expect(fabric.requests.map((r) => r.url)).toEqual([`${SHORTCUTS}?shortcutConflictPolicy=CreateOrOverwrite`]);
    expect(fabric.shortcuts.get('Tables/gold')).toEqual(expectedBody('gold'));
  });

  it("names a replay's tables with a prefix, in a schema, from the blob endpoint azd prints", async () => {
    const result = await run(
      [
        '--workspace',
        WORKSPACE,
        '--lakehouse',
        LAKEHOUSE,
        '--api',
        fabric.url,
        '--tables-root',
        'tables/replay1',
        '--name-prefix',
        'replay1_',
        '--schema',
        'pipeline',
        '--tables',
        'gold',
      ],
      { FABRIC_TOKEN: TOKEN, FABRIC_CONNECTION_ID: CONNECTION, AZURE_STORAGE_ACCOUNT_URL: 'https://stlakeabc.blob.core.windows.net', PIPELINE_LAKE_CONTAINER: 'lake' },
    );
    expect(result.code).toBe(0);
    expect(fabric.requests.map((r) => r.body)).toEqual([
      {
        path: 'Tables/pipeline',
        name: 'replay1_gold',
        target: { adlsGen2: { location: 'https://stlakeabc.dfs.core.windows.net', subpath: '/lake/tables/replay1/gold', connectionId: CONNECTION } },
      },
    ]);
  });

  it('waits as a 429 says and tries again; reports any other error with Fabric’s code and goes on', async () => {
    fabric.scripted.push({ status: 429, headers: { 'retry-after': '1' }, body: { errorCode: 'RequestBlocked', message: 'slow down' } });
    fabric.scripted.push({ status: 403, body: { errorCode: 'InsufficientPrivileges', message: 'The caller does not have sufficient permissions' } });
    const result = await run([...args(), '--tables', 'silver,gold,late'], { FABRIC_TOKEN: TOKEN });
    expect(result.code).toBe(1);
    // silver: 429, then 403 on the retry; gold and late go through.
    expect(result.stderr.trim()).toBe('failed  Tables/silver: HTTP 403: InsufficientPrivileges: The caller does not have sufficient permissions');
    expect([...fabric.shortcuts.keys()].sort()).toEqual(['Tables/gold', 'Tables/late']);
    expect(fabric.requests).toHaveLength(4);
  });
});

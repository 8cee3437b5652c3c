#!/usr/bin/env node
'use strict';
/**
 * Makes the lake's Delta tables appear in a Microsoft Fabric lakehouse as OneLake shortcuts, without
 * copying them: one shortcut per table under the lakehouse's Tables folder, each pointing at the
 * table's folder in the lake (ADLS Gen2, through a Fabric connection to the account). Fabric's Spark,
 * its SQL analytics endpoint and Power BI then read the tables where the pipeline writes them.
 *
 * Invariants:
 * - The tables are the folders the pipeline writes under `tables/` of the lake container: silver,
 *   quarantine, gold and late (bronze writes manifests, not a table). A replay's tables are under
 *   `tables/<name>/`: `--tables-root tables/<name> --name-prefix <name>_`.
 * - Running it again changes nothing: a shortcut that exists already (409) and points where this one
 *   would is reported as there; one pointing elsewhere is an error naming both targets, unless
 *   `--overwrite` asks Fabric to replace it (shortcutConflictPolicy=CreateOrOverwrite).
 * - `--dry-run` prints each request (method, URL, body) and sends nothing; it needs no sign-in.
 * - The token is never printed. It comes from FABRIC_TOKEN when set (e.g. `az account
 *   get-access-token --resource https://api.fabric.microsoft.com`), else from DefaultAzureCredential
 *   (@azure/identity) for the scope https://api.fabric.microsoft.com/.default.
 *
 * API: Fabric REST "OneLake Shortcuts - Create Shortcut",
 * POST {api}/v1/workspaces/{workspaceId}/items/{itemId}/shortcuts[?shortcutConflictPolicy=…] with
 * { path, name, target: { adlsGen2: { location, subpath, connectionId } } }, and "Get Shortcut",
 * GET …/shortcuts/{path}/{name}.
 */

const DEFAULT_API = 'https://api.fabric.microsoft.com';
const FABRIC_SCOPE = 'https://api.fabric.microsoft.com/.default';
/** The Delta tables under the tables root (apps/cli/src/audit.ts, apps/serving-api/src/late-rows.ts). */
const PIPELINE_TABLES = ['silver', 'quarantine', 'gold', 'late'];
const MAX_ATTEMPTS = 4;

const USAGE = `Usage: node deploy/fabric-shortcuts.js --workspace <id> --lakehouse <id> --connection <id> --account-url <url> [options]

Creates one OneLake shortcut per Delta table of the lake (${PIPELINE_TABLES.join(', ')}) in a Fabric
lakehouse's Tables folder, each pointing at <container>/<tables-root>/<table> of the storage account.

  --workspace <id>     Fabric workspace id (FABRIC_WORKSPACE_ID)
  --lakehouse <id>     the lakehouse's item id (FABRIC_LAKEHOUSE_ID)
  --connection <id>    id of the Fabric connection to the storage account, an "Azure Data Lake Storage
                       Gen2" cloud connection (FABRIC_CONNECTION_ID)
  --account-url <url>  https://<account>.dfs.core.windows.net (AZURE_STORAGE_DFS_URL; a blob
                       endpoint, AZURE_STORAGE_ACCOUNT_URL, is turned into the dfs one)
  --container <name>   the lake container (PIPELINE_LAKE_CONTAINER, default lake)
  --tables-root <dir>  folder of the tables in the container (default tables)
  --tables <list>      comma-separated tables (default ${PIPELINE_TABLES.join(',')})
  --name-prefix <p>    prefix of the shortcut names, e.g. replay1_ for a replay's tables (default none)
  --schema <name>      put the shortcuts in Tables/<name> (lakehouses with schemas)
  --overwrite          replace a shortcut of the same name that points elsewhere
  --dry-run            print the requests and send nothing
  --api <url>          Fabric API base (default ${DEFAULT_API})
  --help               show this text

Sign-in: FABRIC_TOKEN (a bearer token for ${DEFAULT_API}) when set, else DefaultAzureCredential.
Exit codes: 0 every shortcut is there, 1 a request failed, 2 wrong arguments.`;

class UsageError extends Error {}

const FLAGS = {
  '--workspace': 'workspace',
  '--lakehouse': 'lakehouse',
  '--connection': 'connection',
  '--account-url': 'accountUrl',
  '--container': 'container',
  '--tables-root': 'tablesRoot',
  '--tables': 'tables',
  '--name-prefix': 'namePrefix',
  '--schema': 'schema',
  '--api': 'api',
};
const SWITCHES = { '--overwrite': 'overwrite', '--dry-run': 'dryRun', '--help': 'help' };

/** `https://acct.blob.core.windows.net/` → `https://acct.dfs.core.windows.net`; a dfs URL stays. */
function dfsLocation(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || parsed.pathname.replace(/\/+$/, '') !== '') return undefined;
  const host = parsed.host.replace(/^([^.]+)\.blob\./, '$1.dfs.');
  return /^[^.]+\.dfs\./.test(host) ? `https://${host}` : undefined;
}

/**
 * The options from the command line, then the environment; throws a UsageError listing every
 * problem at once (each missing argument with its flag and variable).
 */
function parseArgs(argv, env) {
  const given = {};
  const problems = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in SWITCHES) given[SWITCHES[arg]] = true;
    else if (arg in FLAGS) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) problems.push(`${arg} needs a value`);
      else given[FLAGS[arg]] = value;
      i++;
    } else problems.push(`unknown argument ${arg}`);
  }
  if (given.help) return { help: true };
  const options = {
    workspace: given.workspace ?? env.FABRIC_WORKSPACE_ID,
    lakehouse: given.lakehouse ?? env.FABRIC_LAKEHOUSE_ID,
    connection: given.connection ?? env.FABRIC_CONNECTION_ID,
    accountUrl: given.accountUrl ?? env.AZURE_STORAGE_DFS_URL ?? env.AZURE_STORAGE_ACCOUNT_URL,
    container: given.container ?? env.PIPELINE_LAKE_CONTAINER ?? 'lake',
    tablesRoot: (given.tablesRoot ?? 'tables').replace(/^\/+|\/+$/g, ''),
    tables: (given.tables ?? PIPELINE_TABLES.join(','))
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    namePrefix: given.namePrefix ?? '',
    schema: given.schema,
    overwrite: given.overwrite === true,
    dryRun: given.dryRun === true,
    api: (given.api ?? DEFAULT_API).replace(/\/+$/, ''),
  };
  const required = [
    ['workspace', '--workspace', 'FABRIC_WORKSPACE_ID', 'the Fabric workspace id (in the workspace URL after /groups/)'],
    ['lakehouse', '--lakehouse', 'FABRIC_LAKEHOUSE_ID', "the lakehouse's item id (in its URL after /lakehouses/)"],
    ['connection', '--connection', 'FABRIC_CONNECTION_ID', 'the id of a Fabric ADLS Gen2 connection to the account (Settings → Manage connections and gateways)'],
    ['accountUrl', '--account-url', 'AZURE_STORAGE_DFS_URL', 'https://<account>.dfs.core.windows.net (`azd env get-value AZURE_STORAGE_DFS_URL`)'],
  ];
  for (const [key, flag, variable, what] of required) {
    if (!options[key]) problems.push(`missing ${flag} (or ${variable}): ${what}`);
  }
  if (options.accountUrl && !dfsLocation(options.accountUrl)) {
    problems.push(`--account-url ${options.accountUrl} is not a storage endpoint: give https://<account>.dfs.core.windows.net (or the .blob. one), without a path`);
  }
  const name = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
  for (const table of options.tables) if (!name.test(table)) problems.push(`--tables: "${table}" is not a folder name (letters, digits, _ and -)`);
  if (options.namePrefix && !/^[A-Za-z0-9_]*$/.test(options.namePrefix)) problems.push(`--name-prefix "${options.namePrefix}": letters, digits and _ only`);
  if (options.schema !== undefined && !name.test(options.schema)) problems.push(`--schema "${options.schema}": letters, digits, _ and - only`);
  if (!/^https?:\/\//.test(options.api)) problems.push(`--api ${options.api} is not an http(s) URL`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { ...options, accountUrl: dfsLocation(options.accountUrl) };
}

/** The Create Shortcut request of each table: method, URL and JSON body. */
function shortcutRequests(options) {
  const path = options.schema ? `Tables/${options.schema}` : 'Tables';
  const base = `${options.api}/v1/workspaces/${encodeURIComponent(options.workspace)}/items/${encodeURIComponent(options.lakehouse)}/shortcuts`;
  const url = options.overwrite ? `${base}?shortcutConflictPolicy=CreateOrOverwrite` : base;
  return options.tables.map((table) => ({
    method: 'POST',
    url,
    body: {
      path,
      name: `${options.namePrefix}${table}`,
      target: {
        adlsGen2: {
          location: options.accountUrl,
          subpath: `/${[options.container, options.tablesRoot, table].filter(Boolean).join('/')}`,
          connectionId: options.connection,
        },
      },
    },
  }));
}

/** The Get Shortcut URL of the shortcut a create request would make. */
function shortcutUrl(options, body) {
  const base = `${options.api}/v1/workspaces/${encodeURIComponent(options.workspace)}/items/${encodeURIComponent(options.lakehouse)}/shortcuts`;
  return `${base}/${body.path.split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(body.name)}`;
}

/** True when an existing shortcut's target is the ADLS folder `wanted` names (case of the host aside). */
function sameTarget(existing, wanted) {
  const a = existing && existing.target && (existing.target.adlsGen2 || existing.target.AdlsGen2);
  if (!a) return false;
  const norm = (t) => `${String(t.location).replace(/\/+$/, '').toLowerCase()}|${String(t.subpath).replace(/\/+$/, '')}`;
  return norm(a) === norm(wanted.target.adlsGen2);
}

function describeTarget(target) {
  const a = target && (target.adlsGen2 || target.AdlsGen2);
  return a ? `${String(a.location).replace(/\/+$/, '')}${a.subpath}` : JSON.stringify(target);
}

/** Fabric's error body, shortened to its code and message. */
async function errorText(response) {
  const text = await response.text();
  try {
    const json = JSON.parse(text);
    return [json.errorCode, json.message].filter(Boolean).join(': ') || text;
  } catch {
    return text.slice(0, 500);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch, retried on 429 and 5xx as Fabric's Retry-After says (at most MAX_ATTEMPTS tries). */
async function send(fetchImpl, url, init) {
  for (let attempt = 1; ; attempt++) {
    const response = await fetchImpl(url, init);
    if ((response.status !== 429 && response.status < 500) || attempt === MAX_ATTEMPTS) return response;
    const after = Number(response.headers.get('retry-after'));
    await response.text();
    await sleep(Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 2 ** attempt * 500, 30_000));
  }
}

/** Creates one shortcut; resolves to { status: 'created' | 'exists' | 'failed', detail }. */
async function createShortcut(options, request, token, fetchImpl) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const response = await send(fetchImpl, request.url, { method: 'POST', headers, body: JSON.stringify(request.body) });
  if (response.status === 200 || response.status === 201) {
    await response.text();
    return { status: 'created', detail: describeTarget(request.body.target) };
  }
  if (response.status !== 409) return { status: 'failed', detail: `HTTP ${response.status}: ${await errorText(response)}` };
  // A shortcut of that name is there: fine when it points where this one would.
  const conflict = await errorText(response);
  const existing = await send(fetchImpl, shortcutUrl(options, request.body), { method: 'GET', headers: { authorization: headers.authorization } });
  if (existing.status !== 200)
    return { status: 'failed', detail: `HTTP 409 (${conflict}), and reading the existing shortcut gave HTTP ${existing.status}: ${await errorText(existing)}` };
  const body = await existing.json();
  if (sameTarget(body, request.body)) return { status: 'exists', detail: describeTarget(body.target) };
  return {
    status: 'failed',
    detail: `a shortcut of that name points at ${describeTarget(body.target)}, not ${describeTarget(request.body.target)}: rename it in Fabric, or run again with --overwrite to replace it`,
  };
}

async function fabricToken(env) {
  if (env.FABRIC_TOKEN) return env.FABRIC_TOKEN;
  const { DefaultAzureCredential } = require('@azure/identity');
  const token = await new DefaultAzureCredential().getToken(FABRIC_SCOPE);
  if (!token) throw new Error(`no token for ${FABRIC_SCOPE}: sign in with \`az login\` (or set FABRIC_TOKEN)`);
  return token.token;
}

async function main(argv, env, out = process.stdout, err = process.stderr, fetchImpl = globalThis.fetch) {
  let options;
  try {
    options = parseArgs(argv, env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  const requests = shortcutRequests(options);
  if (options.dryRun) {
    for (const request of requests) out.write(`${request.method} ${request.url}\n${JSON.stringify(request.body, null, 2)}\n`);
    return 0;
  }
  const token = await fabricToken(env);
  let failed = 0;
  for (const request of requests) {
    const where = `${request.body.path}/${request.body.name}`;
    const result = await createShortcut(options, request, token, fetchImpl);
    if (result.status === 'failed') {
      failed++;
      err.write(`failed  ${where}: ${result.detail}\n`);
    } else out.write(`${result.status === 'created' ? 'created' : 'exists '} ${where} → ${result.detail}\n`);
  }
  return failed > 0 ? 1 : 0;
}

module.exports = { PIPELINE_TABLES, USAGE, UsageError, dfsLocation, parseArgs, shortcutRequests, sameTarget };

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}

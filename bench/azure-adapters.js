#!/usr/bin/env node
'use strict';
/**
 * `node bench/azure-adapters.js` (after `npm run build`): each stage on the embedded backends, then
 * again with the lake on the Blob API (Azurite) and the serving store on Cosmos DB
 * (@zeit/cosmosdb-server), side by side; the event hub and the bus stay embedded in both runs.
 * Invariants: both servers run in memory as their own processes on free ports, so their CPU and memory
 * are never counted in a stage's; they are stopped when the benchmark ends, also on failure or a
 * signal. Every stage is its own process, as a user runs it, and the exact commands are printed.
 * Options: --rows N (default 200,000), --keep (keep the working folder).
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const root = path.resolve(__dirname, '..');
const { rows, keep } = require('./options').benchOptions(process.argv.slice(2), 200_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bench-azure-'));
const csv = path.join(work, 'readings.csv');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const bin = path.join(root, 'bin', 'pipeline.js');
const rssReporter = path.join(__dirname, 'report-rss.js');
const azuriteBin = path.join(root, 'node_modules', '.bin', 'azurite-blob');
const cosmosModule = require.resolve('@zeit/cosmosdb-server', { paths: [root] });
// Azurite's published well-known development account and key: not secrets.
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
// The Cosmos server accepts any key; the client needs a base64 one.
const COSMOS_KEY = 'YmVuY2g=';
const COUNTS_PATH = '/__bench/requests';

/** The Cosmos server with a request counter in front (transactional batches apart), which answers COUNTS_PATH itself. */
const cosmosServerScript = `
const { createHttpServer } = require(${JSON.stringify(cosmosModule)});
const server = createHttpServer();
const [handle] = server.listeners('request');
server.removeAllListeners('request');
const counts = {};
server.on('request', (req, res) => {
  if (req.url === ${JSON.stringify(COUNTS_PATH)}) return res.end(JSON.stringify(counts));
  const kind = req.headers['x-ms-cosmos-is-batch-request'] === undefined ? req.method : req.method + ' (batch)';
  counts[kind] = (counts[kind] || 0) + 1;
  handle.call(server, req, res);
});
server.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
`;

const children = new Set();

/** Starts a server process; resolves once a line of its stdout matches `ready`, and hands later lines to `onLine`. */
function startServer(name, argv, ready, onLine) {
  const child = spawn(process.execPath, argv, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
  let stopping = false;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    let address;
    const timer = setTimeout(() => reject(new Error(`${name} did not report its address within 30 s: ${stderr}`)), 30_000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const match = address === undefined && line.match(ready);
      if (!match) return onLine(line);
      clearTimeout(timer);
      address = match[1];
      resolve({
        name,
        address,
        pid: child.pid,
        async stop() {
          stopping = true;
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(kill);
          children.delete(child);
        },
      });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (address === undefined) reject(new Error(`${name} exited (${signal ?? code}) before it listened: ${stderr}`));
      else if (!stopping) process.stderr.write(`${name} exited unexpectedly (${signal ?? code}): ${stderr}\n`);
    });
  });
}

/** Azurite's Blob service in memory; counts requests per method from its access log. */
async function startAzurite() {
  const counts = {};
  const markers = new Map();
  const server = await startServer(
    'Azurite',
    [azuriteBin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    /successfully listens on (http:\/\/\S+)/,
    (line) => {
      const request = line.match(/"([A-Z]+) (\S+) HTTP\//);
      if (!request) return;
      const marker = request[2].match(/^\/__bench_marker_(\d+)$/);
      if (marker) markers.get(marker[1])?.();
      else counts[request[1]] = (counts[request[1]] || 0) + 1;
    },
  );
  const blobEndpoint = `${server.address}/${AZURITE_ACCOUNT}`;
  let next = 0;
  return {
    ...server,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`,
    /** The requests so far; a marker request first, so every earlier line of the access log has been read. */
    async requests() {
      const id = String(next++);
      const seen = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`Azurite's access log did not show marker ${id} within 10 s`)), 10_000);
        markers.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await fetch(`${server.address}/__bench_marker_${id}`).then((r) => r.arrayBuffer());
      await seen;
      markers.delete(id);
      return { ...counts };
    },
  };
}

async function startCosmos() {
  const server = await startServer('Cosmos DB server', ['-e', cosmosServerScript], /^listening on (\d+)$/, () => undefined);
  const endpoint = `http://127.0.0.1:${server.address}`;
  return {
    ...server,
    connectionString: `AccountEndpoint=${endpoint}/;AccountKey=${COSMOS_KEY};`,
    requests: async () => (await fetch(`${endpoint}${COUNTS_PATH}`)).json(),
  };
}

const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** CPU seconds and peak RSS of a process from /proc (Linux); undefined elsewhere. */
function processUsage(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = status.match(/VmHWM:\s+(\d+) kB/);
    return { cpu: (Number(fields[11]) + Number(fields[12])) / clockTicks, peak: hwm ? Number(hwm[1]) * 1024 : undefined };
  } catch {
    return undefined;
  }
}

const quote = (a) => (/[\s'"$;&|]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a);

/** Runs one `pipeline` command to its end without blocking this process (it reads the servers' output). */
function run(label, pipelineArgs, env, { measure = true } = {}) {
  const rssFile = path.join(work, `${label}.rss`);
  const argv = [...(measure ? ['-r', `./${path.relative(root, rssReporter)}`] : []), path.relative(root, bin), ...pipelineArgs];
  const command = `node ${argv.map(quote).join(' ')}`;
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, ...env, BENCH_RSS_FILE: rssFile, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      children.delete(child);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) {
        process.stderr.write(stdout.slice(-4000));
        return reject(new Error(`${label} failed (${signal ?? `exit code ${code}`}): ${command}`));
      }
      const peak = measure && fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : undefined;
      resolve({ seconds, peak, command, stdout });
    });
  });
}

const STAGES = [
  { stage: 'producer → hub', label: 'producer', args: (home) => ['produce', '--spec', spec, '--csv', csv, '--home', home, '--no-progress', '--json'] },
  { stage: 'hub → capture', label: 'capture', args: (home) => ['capture', '--home', home, '--drain'] },
  { stage: 'capture → bronze', label: 'bronze', args: (home) => ['bronze', '--home', home, '--drain'] },
  { stage: 'bronze → silver', label: 'silver', args: (home) => ['silver', '--home', home, '--spec', spec, '--drain'] },
  { stage: 'silver → gold', label: 'gold', args: (home) => ['gold', '--home', home, '--spec', spec, '--drain'] },
];

const diff = (after, before) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] || 0)])
      .filter(([, v]) => v > 0),
  );
const total = (counts) => Object.values(counts).reduce((n, v) => n + v, 0);

/** Every stage, then the audit, on one set of backends; with `servers`, also their requests and CPU per stage. */
async function runPipeline(name, env, servers) {
  const home = path.join(work, name);
  const results = [];
  let events;
  for (const stage of STAGES) {
    process.stderr.write(`${name}: ${stage.stage} …\n`);
    const before = servers && (await usage(servers));
    const result = await run(`${name}-${stage.label}`, stage.args(home), env);
    const after = servers && (await usage(servers));
    if (stage.label === 'producer') events = JSON.parse(result.stdout.trim().split('\n').pop()).eventsSent;
    results.push({
      ...stage,
      ...result,
      events,
      ...(servers && {
        blob: diff(after.blob, before.blob),
        cosmos: diff(after.cosmos, before.cosmos),
        serverCpu: after.cpu === undefined || before.cpu === undefined ? undefined : after.cpu - before.cpu,
      }),
    });
  }
  const audited = await run(`${name}-audit`, ['audit', '--home', home, '--json'], env, { measure: false });
  const report = JSON.parse(audited.stdout.slice(audited.stdout.indexOf('{')));
  const sums = report.rows.reduce(
    (t, r) => ({
      captured: t.captured + r.captured,
      pending: t.pending + r.pending,
      silver: t.silver + r.silver,
      quarantined: t.quarantined + r.quarantined,
      duplicates: t.duplicates + r.duplicates,
    }),
    { captured: 0, pending: 0, silver: 0, quarantined: 0, duplicates: 0 },
  );
  return { results, audit: { ...sums, problems: report.problems, seconds: audited.seconds, command: audited.command } };
}

async function usage({ azurite, cosmos }) {
  const [blob, cosmosCounts] = await Promise.all([azurite.requests(), cosmos.requests()]);
  const cpu = [azurite, cosmos].map((s) => processUsage(s.pid)?.cpu);
  return { blob, cosmos: cosmosCounts, cpu: cpu.includes(undefined) ? undefined : cpu[0] + cpu[1] };
}

const n = (x) => x.toLocaleString('en-US');
const mib = (bytes) => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);
const perSecond = (count, s) => n(Math.round(count / s));
const byMethod = (counts) =>
  Object.entries(counts)
    .map(([m, c]) => `${m} ${n(c)}`)
    .join(', ') || 'none';
const auditLine = (a) =>
  `${n(a.captured)} captured, ${n(a.pending)} pending, ${n(a.silver)} silver rows, ${n(a.quarantined)} quarantined, ${n(a.duplicates)} duplicates; ` +
  (a.problems.length === 0 ? 'reconciled' : `${a.problems.length} problems: ${a.problems.join('; ')}`) +
  ` (audit ${a.seconds.toFixed(1)} s)`;

async function main() {
  process.stderr.write(`Generating ${n(rows)} rows in ${work} …\n`);
  await run('generate', ['generate', '--rows', String(rows), '--seed', '7', '--devices', '1000', '--out', csv], {}, { measure: false });
  const size = fs.statSync(csv).size;

  process.stderr.write('Starting Azurite and the Cosmos DB server …\n');
  const started = await Promise.allSettled([startAzurite(), startCosmos()]);
  const servers = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [azurite, cosmos] = servers;

    const embeddedEnv = {
      PIPELINE_BACKEND: 'local',
      PIPELINE_LAKE_BACKEND: 'local',
      PIPELINE_EVENT_HUB_BACKEND: 'local',
      PIPELINE_BUS_BACKEND: 'local',
      PIPELINE_SERVING_BACKEND: 'local',
    };
    const azureEnv = {
      ...embeddedEnv,
      PIPELINE_LAKE_BACKEND: 'azure',
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      PIPELINE_LAKE_CONTAINER: 'lake',
      PIPELINE_SERVING_BACKEND: 'azure',
      AZURE_COSMOS_CONNECTION_STRING: cosmos.connectionString,
      PIPELINE_COSMOS_CONTAINER: 'serving',
    };
    const embedded = await runPipeline('embedded', embeddedEnv);
    const azure = await runPipeline('azure', azureEnv, { azurite, cosmos });
    const serverUsage = [azurite, cosmos].map((s) => ({ name: s.name, ...processUsage(s.pid) }));

    const lines = [
      `Embedded vs Blob API (Azurite) + Cosmos DB (@zeit/cosmosdb-server): ${n(rows)} generated events (${mib(size)} of CSV), Node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
      'Both servers in memory on this machine, as separate processes; the event hub and the bus are embedded in both runs.',
      '',
      '| stage | events | embedded s | events/s | peak RSS | Blob/Cosmos s | events/s | peak RSS | Blob requests | Cosmos requests | server CPU s |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...embedded.results.map((e, i) => {
        const a = azure.results[i];
        return `| ${e.stage} | ${n(e.events)} | ${e.seconds.toFixed(1)} | ${perSecond(e.events, e.seconds)} | ${mib(e.peak)} | ${a.seconds.toFixed(1)} | ${perSecond(a.events, a.seconds)} | ${mib(a.peak)} | ${n(total(a.blob))} | ${n(total(a.cosmos))} | ${a.serverCpu === undefined ? '?' : a.serverCpu.toFixed(1)} |`;
      }),
      '',
      'Requests by method (Blob API; Cosmos DB):',
      ...azure.results.map((a) => `  ${a.stage}: ${byMethod(a.blob)}; ${byMethod(a.cosmos)}`),
      `Servers after the run: ${serverUsage.map((s) => `${s.name} peak RSS ${mib(s.peak)}, CPU ${s.cpu === undefined ? '?' : `${s.cpu.toFixed(1)} s`}`).join('; ')}.`,
      '',
      `Audit, embedded: ${auditLine(embedded.audit)}.`,
      `Audit, Blob API/Cosmos DB: ${auditLine(azure.audit)}.`,
      '',
      'Commands (run from the repository root; the generated CSV is not part of the timings):',
      `  generate: node bin/pipeline.js generate --rows ${rows} --seed 7 --devices 1000 --out ${csv}`,
      ...embedded.results.map((r) => `  embedded, ${r.stage}: ${r.command}`),
      `  embedded, audit: ${embedded.audit.command}`,
      `  Blob API/Cosmos DB, with: ${Object.entries(azureEnv)
        .filter(([k]) => embeddedEnv[k] !== azureEnv[k])
        .map(([k, v]) => `${k}=${quote(v)}`)
        .join(' ')}`,
      ...azure.results.map((r) => `  Blob API/Cosmos DB, ${r.stage}: ${r.command}`),
      `  Blob API/Cosmos DB, audit: ${azure.audit.command}`,
      `  servers: node ${path.relative(root, azuriteBin)} --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence --skipApiVersionCheck --loose --disableTelemetry; node node_modules/@zeit/cosmosdb-server/lib/cli.js --no-ssl --host 127.0.0.1 --port 0 (the benchmark starts the same server from node -e, behind a request counter)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);

    const problems = [];
    const runs = { embedded, 'Blob API/Cosmos DB': azure };
    for (const [name, r] of Object.entries(runs)) if (r.audit.problems.length > 0 || r.audit.pending > 0) problems.push(`the ${name} run did not reconcile`);
    const keys = ['captured', 'silver', 'quarantined', 'duplicates'];
    if (keys.some((k) => embedded.audit[k] !== azure.audit[k])) problems.push('the two runs audited different counts from the same CSV');
    if (problems.length > 0) throw new Error(`${problems.join('; ')} (see the audit lines above)`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** A signal stops the servers and any running stage before this process goes. */
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
    process.exit(128 + os.constants.signals[signal]);
  });
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL');
    if (keep) process.stderr.write(`Kept ${work}\n`);
    else fs.rmSync(work, { recursive: true, force: true });
  });

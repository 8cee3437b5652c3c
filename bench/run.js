#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: throughput and peak memory of each stage on generated data, then the simple
 * shape through the whole pipeline with every service at once (bench/simple-shape.js) and each
 * stage alone on the same flights.
 * Each stage runs as its own process, exactly as a user runs it; the exact commands are printed.
 * Options: --rows N (example spec, default 1,000,000), --simple-rows N (simple shape, default
 * 3,000,000, run after a third of it for peak memory side by side; 0 leaves it out), --late-rows N (`/v1/late` on a late table of N rows, bench/late-rows.js,
 * default 1,000,000; 0 leaves it out), --fresh-seconds N (freshness at 10,000 events/s for N seconds,
 * bench/freshness.js; default 30, 0 leaves it out), --scale-out-rows N (gold with 1 and 2 instances on
 * N events and a takeover after SIGKILL, bench/scale-out.js; default 200,000, 0 leaves it out),
 * --keep (keep the working folder).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { rows, keep } = require('./options').benchOptions(process.argv.slice(2), 1_000_000);
const simpleRows = countOption(process.argv.slice(2), '--simple-rows', 3_000_000, 'the simple shape');
const lateRowCount = countOption(process.argv.slice(2), '--late-rows', 1_000_000, 'the late rows query');
const freshSeconds = countOption(process.argv.slice(2), '--fresh-seconds', 30, 'the freshness run');
const scaleOutRows = countOption(process.argv.slice(2), '--scale-out-rows', 200_000, 'the gold scale-out run');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bench-'));
const home = path.join(work, 'home');
const csv = path.join(work, 'readings.csv');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const bin = path.join(root, 'bin', 'pipeline.js');
const rssReporter = path.join(__dirname, 'report-rss.js');
require('../bin/register');
const { serviceV8Flags } = require('../dist/apps/cli/src/start');

function run(label, pipelineArgs, { measure = true, service = label } = {}) {
  const rssFile = path.join(work, `${label}.rss`);
  // Each service with the V8 flags `pipeline start` and the container images give it (heap cap, the producer's young generation).
  const argv = [...(measure ? ['-r', rssReporter] : []), ...serviceV8Flags(service, {}), bin, ...pipelineArgs];
  const shown = `node ${argv.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`;
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, BENCH_RSS_FILE: rssFile, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    process.stderr.write(result.stdout.toString());
    throw new Error(`${label} failed with exit code ${result.status}: ${shown}`);
  }
  const peak = measure && fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : undefined;
  return { seconds, peak, command: shown, stdout: result.stdout.toString() };
}

const { DuckDBInstance } = require('@duckdb/node-api');
const autocannon = require('autocannon');
const { goldKernel } = require('./gold-kernel');
const { simpleShape, flightsSpec } = require('./simple-shape');
const { lateRows, lateRowsLines } = require('./late-rows');
const { freshness } = require('./freshness');
const { untilApiReady } = require('./api-ready');
const { scaleOut, scaleOutLines } = require('./scale-out');

function countOption(argv, name, fallback, what) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name} must be a whole number (0 leaves ${what} out), got ${JSON.stringify(argv[i + 1])}; e.g. ${name} ${fallback}\n`);
    process.exit(2);
  }
  return n;
}

/** The example spec's windows and aggregates over the CSV, as one DuckDB query (the oracle test's SQL). */
async function duckdbAggregation(csvFile) {
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  const started = process.hrtime.bigint();
  const result = await connection.runAndReadAll(`
    with readings as (
      select reading_id, device_id, status, temperature, epoch_ms(ts::timestamptz) as t
      from read_csv('${csvFile}', header = true, columns = {
        'reading_id': 'VARCHAR', 'device_id': 'VARCHAR', 'site': 'VARCHAR', 'ts': 'VARCHAR',
        'temperature': 'DOUBLE', 'humidity': 'DOUBLE', 'status': 'VARCHAR'})
    ),
    assigned as (
      select device_id, status, temperature, 'per_minute' as win, (t // 60000) * 60000 as start_ms from readings
      union all
      select device_id, status, temperature, 'last_5m' as win, s * 60000 as start_ms from readings, unnest(range((t // 60000) - 4, (t // 60000) + 1)) as u(s)
    )
    select count(*) as windows from (
      select win, start_ms, device_id, count(*), avg(temperature), max(temperature), count(distinct status) from assigned group by all)`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const windows = Number(result.getRows()[0][0]);
  connection.closeSync();
  return { seconds, windows };
}

/**
 * Starts the serving API on the bench's pipeline home and loads it with autocannon: a mix of a
 * key's windows and its latest window, then the point read alone (`/v1/keys/{key}/latest`).
 */
async function loadServingApi(home) {
  const { spawn } = require('node:child_process');
  const port = 18000 + Math.floor(Math.random() * 1000);
  const child = spawn(process.execPath, [bin, 'serving-api', '--home', home, '--spec', spec, '--port', String(port)], {
    env: { ...process.env, LOG_LEVEL: 'warn', SERVING_RATE_LIMIT: '0' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await untilApiReady(base);
    const connections = 50;
    const duration = 20;
    const load = async (paths) => {
      const result = await autocannon({ url: base, connections, duration, requests: paths.map((p) => ({ method: 'GET', path: p })) });
      return {
        connections,
        duration,
        paths,
        requestsPerSecond: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors,
        non2xx: result.non2xx,
      };
    };
    const mixed = await load(['/v1/windows?key=dev-0001&window=per_minute&limit=20', '/v1/keys/dev-0002/latest?window=last_5m']);
    const point = await load(['/v1/keys/dev-0002/latest?window=last_5m']);
    return { mixed, point };
  } finally {
    child.kill('SIGTERM');
  }
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const rate = (n, s) => `${Math.round(n / s).toLocaleString('en-US')} events/s`;

const SERVICE_ORDER = ['start', 'produce', 'capture', 'bronze', 'silver', 'gold', 'serving-api'];

function simpleLines(simple, third) {
  const { rows: n, size, pipeline, duckdb } = simple;
  const peaks = Object.entries(pipeline.peaks).sort(([a], [b]) => SERVICE_ORDER.indexOf(a) - SERVICE_ORDER.indexOf(b));
  const growth = third
    ? [
        `Peak RSS per service at ${third.rows.toLocaleString('en-US')} → ${n.toLocaleString('en-US')} flights (the same shape, a third of the stream, run first): ${peaks
          .map(([service, bytes]) => `${service} ${third.pipeline.peaks[service] ? mib(third.pipeline.peaks[service]) : '?'} → ${mib(bytes)}`)
          .join(', ')}.`,
      ]
    : [];
  return [
    `Simple shape, every service at once: ${n.toLocaleString('en-US')} generated flights (${mib(size)} of CSV; about 230 origins, one hourly window, four aggregates, 4 partitions, 4 gold shards) through \`pipeline start --exit-when-done\`, from launch until everything sent is through gold: ${pipeline.throughSeconds.toFixed(1)} s, ${rate(n, pipeline.throughSeconds)}; the audit then reconciled in ${pipeline.auditSeconds.toFixed(1)} s (${pipeline.seconds.toFixed(1)} s until \`start\` exited).`,
    `DuckDB, the same ${duckdb.windows.toLocaleString('en-US')} windows over the same CSV: ${duckdb.seconds.toFixed(2)} s; the pipeline took ${(pipeline.throughSeconds / duckdb.seconds).toFixed(0)}× as long.`,
    `  ${pipeline.through}`,
    `Peak RSS per service: ${peaks.map(([service, bytes]) => `${service} ${mib(bytes)}`).join(', ')}.`,
    `CPU per event by service (user + system, µs; ${(Object.values(pipeline.cpu).reduce((a, b) => a + b, 0) / n).toFixed(1)} in all): ${Object.entries(pipeline.cpu)
      .sort(([a], [b]) => SERVICE_ORDER.indexOf(a) - SERVICE_ORDER.indexOf(b))
      .map(([service, micros]) => `${service} ${(micros / n).toFixed(1)}`)
      .join(', ')}.`,
    ...growth,
  ];
}

/**
 * Each stage alone, one after the other, on `csvFile` under `specFile` in a home of its own: the
 * producer sends the whole CSV, then each stage drains what the one before wrote. The audit after
 * must reconcile. `prefix` names the runs' memory records and the progress lines.
 */
function stagesAlone({ specFile, csvFile, homeDir, prefix, what }) {
  const label = (service) => `${prefix}${service}`;
  const stage = (name, service, args) => {
    process.stderr.write(`${what}: ${name} …\n`);
    return run(label(service), args, { service });
  };
  const produce = stage('producer → hub', 'producer', ['produce', '--spec', specFile, '--csv', csvFile, '--home', homeDir, '--no-progress', '--json']);
  const events = JSON.parse(produce.stdout.trim().split('\n').pop()).eventsSent;
  const results = [{ stage: 'producer → hub', events, ...produce }];
  for (const [name, service, args] of [
    ['hub → capture', 'capture', ['capture', '--home', homeDir, '--drain']],
    ['capture → bronze', 'bronze', ['bronze', '--home', homeDir, '--drain']],
    ['bronze → silver', 'silver', ['silver', '--home', homeDir, '--spec', specFile, '--drain']],
    ['silver → gold', 'gold', ['gold', '--home', homeDir, '--spec', specFile, '--drain']],
  ])
    results.push({ stage: name, events, ...stage(name, service, args) });

  const audit = run(label('audit'), ['audit', '--home', homeDir, '--json'], { measure: false });
  const report = JSON.parse(audit.stdout);
  if (report.problems.length > 0) throw new Error(`the audit found problems after the ${what} run: ${report.problems.join('; ')}`);
  const totals = report.rows.reduce((t, r) => ({ silver: t.silver + r.silver, quarantined: t.quarantined + r.quarantined, duplicates: t.duplicates + r.duplicates }), {
    silver: 0,
    quarantined: 0,
    duplicates: 0,
  });
  return { results, totals };
}

/** A stage table: events, seconds, throughput and peak RSS per stage. */
function stageTable(results) {
  return [
    '| stage | events | seconds | throughput | peak RSS |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.stage} | ${r.events.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${rate(r.events, r.seconds)} | ${r.peak ? mib(r.peak) : '?'} |`),
  ];
}

async function main() {
  process.stderr.write(`Generating ${rows.toLocaleString('en-US')} rows in ${work} …\n`);
  run('generate', ['generate', '--rows', String(rows), '--seed', '7', '--devices', '1000', '--out', csv], { measure: false });
  const size = fs.statSync(csv).size;
  const { results, totals } = stagesAlone({ specFile: spec, csvFile: csv, homeDir: home, prefix: '', what: 'example spec' });

  process.stderr.write('DuckDB over the same CSV …\n');
  const duckdb = await duckdbAggregation(csv);
  process.stderr.write('gold kernel …\n');
  const kernel = goldKernel({ shape: 'sensors' });
  const simpleKernel = goldKernel({ shape: 'simple' });
  process.stderr.write('serving API under load …\n');
  const api = await loadServingApi(home);
  let late;
  if (lateRowCount > 0) {
    process.stderr.write(`/v1/late on ${lateRowCount.toLocaleString('en-US')} late rows …\n`);
    late = await lateRows({ work, rows: lateRowCount });
  }
  const pipelineSeconds = results.reduce((n, r) => n + r.seconds, 0);
  let simple;
  let simpleThird;
  let simpleStages;
  if (simpleRows > 0) {
    // A third of the stream first: memory that grows with the stream's length, not with its open windows, shows as a difference.
    const thirdRows = Math.round(simpleRows / 3);
    process.stderr.write(`simple shape: ${thirdRows.toLocaleString('en-US')}, then ${simpleRows.toLocaleString('en-US')} flights through every service at once …\n`);
    simpleThird = await simpleShape({ work: fs.mkdtempSync(path.join(work, 'third-')), rows: thirdRows });
    simple = await simpleShape({ work, rows: simpleRows });
    // The same flights, each stage alone: the stage rows of the example spec beside those of the simple shape.
    simpleStages = stagesAlone({ specFile: flightsSpec, csvFile: simple.csv, homeDir: path.join(work, 'simple-stages-home'), prefix: 'simple-', what: 'simple shape' });
  }
  let scaled;
  if (scaleOutRows > 0) {
    process.stderr.write(`gold scale-out: 1 and 2 instances on ${scaleOutRows.toLocaleString('en-US')} events, then a takeover …\n`);
    scaled = await scaleOut({ work, rows: scaleOutRows });
  }
  let fresh;
  if (freshSeconds > 0) {
    process.stderr.write(`freshness: ${freshSeconds} s at 10,000 events/s through every service at once …\n`);
    fresh = await freshness({ work, seconds: freshSeconds, rate: 10_000 });
  }

  const lines = [
    `Benchmark: ${rows.toLocaleString('en-US')} generated events (${mib(size)} of CSV), Node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0] ? os.cpus()[0].model : 'unknown CPU'}`,
    '',
    ...stageTable(results),
    '',
    `Audit after the run: ${totals.silver.toLocaleString('en-US')} silver rows, ${totals.quarantined} quarantined, ${totals.duplicates} duplicates; reconciled.`,
    '',
    `End to end, every stage one after the other: ${pipelineSeconds.toFixed(1)} s for ${rows.toLocaleString('en-US')} events. DuckDB, the same windows and aggregates over the same CSV in one SQL query (in-process, no durability): ${duckdb.seconds.toFixed(1)} s, ${duckdb.windows.toLocaleString('en-US')} windows.`,
    ...[kernel, simpleKernel].map(
      (k) =>
        `Gold kernel alone, ${k.shape === 'simple' ? 'simple shape' : 'example spec'} (the engine, in memory, ${k.rows.toLocaleString('en-US')} rows, ${k.keys} keys, batches of ${k.batch.toLocaleString('en-US')}): ${Math.round(k.rowsPerSecond).toLocaleString('en-US')} rows/s.`,
    ),
    ...[api.mixed, api.point].map(
      (a) =>
        `Serving API (${a.connections} concurrent clients, ${a.duration} s, ${a.paths.join(' and ')}): ${Math.round(a.requestsPerSecond).toLocaleString('en-US')} requests/s, latency p50 ${a.p50} ms, p99 ${a.p99} ms, ${a.errors} errors, ${a.non2xx} non-2xx.`,
    ),
    ...(late ? ['', ...lateRowsLines(late)] : []),
    ...(simple ? ['', ...simpleLines(simple, simpleThird)] : []),
    ...(simpleStages
      ? [
          '',
          `Each stage alone on the same ${simpleRows.toLocaleString('en-US')} flights (the simple shape), one after the other (audit: ${simpleStages.totals.silver.toLocaleString('en-US')} silver rows, ${simpleStages.totals.quarantined} quarantined, ${simpleStages.totals.duplicates} duplicates; reconciled):`,
          '',
          ...stageTable(simpleStages.results),
        ]
      : []),
    ...(scaled ? ['', ...scaleOutLines(scaled)] : []),
    ...(fresh
      ? [
          '',
          `Freshness, the producer at a steady ${fresh.rate.toLocaleString('en-US')} events/s for ${fresh.rows.toLocaleString('en-US')} events (update mode; ${fresh.measured} of ${fresh.probes} probes, from enqueued in the hub to first seen by \`/v1/keys/{key}/latest\`, polled every ${fresh.pollMs} ms): p50 ${fresh.p50} ms, p99 ${fresh.p99} ms, max ${fresh.max} ms.`,
        ]
      : []),
    '',
    'Commands (run from the repository root; the generated CSV is not part of the timings):',
    ...results.map((r) => `  ${r.stage}: ${r.command}`),
    ...(simple ? [`  simple shape, every service at once: ${simple.pipeline.command}`] : []),
    ...(simpleStages ? simpleStages.results.map((r) => `  simple shape, ${r.stage}: ${r.command}`) : []),
    ...(fresh ? [`  freshness: ${fresh.command}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main()
  .catch((error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (keep) process.stderr.write(`Kept ${work}\n`);
    else fs.rmSync(work, { recursive: true, force: true });
  });

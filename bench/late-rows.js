#!/usr/bin/env node
'use strict';
/**
 * `GET /v1/late` on a home with a million late rows (`node bench/late-rows.js`, after `npm run build`).
 * The late table is written directly with the Delta writer, shaped as gold writes it for the example
 * spec (examples/sensors.spec.yaml): 4 shards, one file per gold batch, shard and event day, late rows
 * up to 2 h behind a watermark that crosses 5 days, 1,000 devices, each file with its key filter.
 * Then the serving API runs as its own process (the heap cap `pipeline start` gives it) and answers
 * each query in turn: the first request (it replays the Delta log), then 50 sequential requests per
 * query and 20 pairs of concurrent `limit=1` requests; it prints median and p99 latency and the API's
 * RSS after the queries and at its peak.
 * Options: --rows N (default 1,000,000), --keep (keep the working folder).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
require('../bin/register');
const { parseSpec, KEY_FILTER_TAG, keyFilterOfRows } = require('@pipeline/contracts');
const { DeltaTable } = require('@pipeline/delta');
const { LocalLake } = require('@pipeline/adapters');
const { untilApiReady } = require('./api-ready');
const { lateSchema, LATE_TABLE } = require('../dist/apps/gold/src/gold.logic');

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const SHARDS = 4;
const ROWS_PER_FILE = 1_000;
const DEVICES = 1_000;
const specFile = path.join(root, 'examples', 'sensors.spec.yaml');
const bin = path.join(root, 'bin', 'pipeline.js');
const rssReporter = path.join(__dirname, 'report-rss.js');

function random(seed) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Gold's late rows for the example spec: the silver row, the windows it missed, the watermark, the batch. */
function lateRow(schema, { eventTime, device, shard, batch, watermark, i }) {
  const row = {};
  for (const column of schema.columns) {
    switch (column.name) {
      case 'device_id':
        row[column.name] = device;
        break;
      case 'event_time':
      case 'ts':
        row[column.name] = eventTime;
        break;
      case 'event_date':
        row[column.name] = new Date(eventTime).toISOString().slice(0, 10);
        break;
      case 'shard':
        row[column.name] = shard;
        break;
      case 'gold_batch':
        row[column.name] = batch;
        break;
      case 'late_threshold':
      case 'enqueued_time':
        row[column.name] = watermark;
        break;
      case 'late_windows': {
        const start = Math.floor(eventTime / 60_000) * 60_000;
        row[column.name] = JSON.stringify([{ window: 'per_minute', start: new Date(start).toISOString(), end: new Date(start + 60_000).toISOString() }]);
        break;
      }
      default:
        row[column.name] = valueOf(column, i);
    }
  }
  return row;
}

function valueOf(column, i) {
  switch (column.type) {
    case 'string':
      return `${column.name}-${i}`;
    case 'long':
    case 'integer':
      return i;
    case 'double':
      return (i % 1000) / 10;
    case 'boolean':
      return i % 2 === 0;
    case 'timestamp':
      return T0 + i;
    case 'date':
      return '2026-01-01';
    default:
      return null;
  }
}

/** Writes `rows` late rows in gold's layout; returns the number of files and commits. */
async function writeLateTable(lakeRoot, rows) {
  const spec = parseSpec(fs.readFileSync(specFile, 'utf8'), specFile);
  const schema = lateSchema(spec);
  const lake = new LocalLake(lakeRoot);
  const table = await DeltaTable.open(lake, LATE_TABLE, schema, { tableName: `${spec.name}_late` });
  const r = random(11);
  const batches = Math.ceil(rows / (ROWS_PER_FILE * SHARDS));
  let written = 0;
  let files = 0;
  for (let batch = 0; batch < batches; batch++) {
    const watermark = T0 + Math.floor((batch / batches) * 5 * DAY);
    for (let shard = 0; shard < SHARDS && written < rows; shard++) {
      const count = Math.min(ROWS_PER_FILE, rows - written);
      const batchRows = Array.from({ length: count }, (_, k) =>
        lateRow(schema, {
          eventTime: watermark - Math.floor(r() * 2 * 3_600_000),
          device: `dev-${String(shard + SHARDS * Math.floor(r() * (DEVICES / SHARDS))).padStart(4, '0')}`,
          shard,
          batch,
          watermark,
          i: written + k,
        }),
      );
      written += count;
      const prefix = `part-${String(batch).padStart(8, '0')}-shard-${String(shard).padStart(3, '0')}`;
      const adds = await table.writeFiles(batchRows, {
        filePrefix: prefix,
        commitTime: watermark,
        fileTags: (chunk) => ({ [KEY_FILTER_TAG]: keyFilterOfRows(chunk, spec.groupBy) }),
      });
      files += adds.length;
      await table.commit(adds, { txn: { appId: `gold-shard-${shard}`, version: batch }, commitTime: watermark });
    }
  }
  await lake.close();
  return { files, commits: table.version, spec };
}

async function time(url) {
  const started = process.hrtime.bigint();
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${body.slice(0, 300)}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function rssOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb * 1024;
}

async function lateRows({ work, rows }) {
  const home = path.join(work, 'late-home');
  const started = process.hrtime.bigint();
  const table = await writeLateTable(path.join(home, 'lake'), rows);
  const writeSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  const port = 19000 + Math.floor(Math.random() * 1000);
  const rssFile = path.join(work, 'serving-api.rss');
  const argv = ['-r', rssReporter, '--max-old-space-size=384', bin, 'serving-api', '--home', home, '--spec', specFile, '--port', String(port)];
  const command = `node ${argv.join(' ')}`;
  const child = spawn(process.execPath, argv, { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', BENCH_RSS_FILE: rssFile }, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const base = `http://127.0.0.1:${port}`;
  try {
    await untilApiReady(base);
    const idleRss = rssOf(child.pid);
    const first = await time(`${base}/v1/late?limit=1`);
    const mid = new Date(T0 + 2.5 * DAY).toISOString();
    const queries = ['/v1/late?limit=1', '/v1/late?key=dev-0001&limit=100', `/v1/late?from=${mid}&limit=100`, `/v1/late?from=${mid}&key=dev-0421&limit=10`, '/v1/late?limit=1000'];
    const results = [];
    for (const query of queries) {
      const ms = [];
      for (let i = 0; i < 50; i++) ms.push(await time(`${base}${query}`));
      results.push({ query, ...summary(ms) });
    }
    const pairs = [];
    for (let i = 0; i < 20; i++) {
      const startedPair = process.hrtime.bigint();
      await Promise.all([time(`${base}/v1/late?limit=1`), time(`${base}/v1/late?limit=1`)]);
      pairs.push(Number(process.hrtime.bigint() - startedPair) / 1e6);
    }
    results.push({ query: '2 × /v1/late?limit=1 at once', ...summary(pairs) });
    const afterRss = rssOf(child.pid);
    child.kill('SIGTERM');
    await exited;
    const peakRss = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : undefined;
    return { rows, files: table.files, commits: table.commits, writeSeconds, first, results, idleRss, afterRss, peakRss, command };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

const mib = (bytes) => (bytes === undefined ? '?' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);

function lateRowsLines(r) {
  return [
    `Late rows (\`/v1/late\`): ${r.rows.toLocaleString('en-US')} late rows in ${r.files.toLocaleString('en-US')} files and ${r.commits.toLocaleString('en-US')} commits (written in ${r.writeSeconds.toFixed(0)} s); first request (replays the log) ${r.first.toFixed(0)} ms.`,
    '',
    '| query | median | p99 |',
    '| --- | ---: | ---: |',
    ...r.results.map((q) => `| \`${q.query}\` | ${q.median.toFixed(1)} ms | ${q.p99.toFixed(1)} ms |`),
    '',
    `Serving API RSS: ${mib(r.idleRss)} before the first query, ${mib(r.afterRss)} after them, peak ${mib(r.peakRss)}.`,
    `  ${r.command}`,
  ];
}

module.exports = { lateRows, lateRowsLines };

if (require.main === module) {
  const { rows, keep } = require('./options').benchOptions(process.argv.slice(2), 1_000_000);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bench-late-'));
  lateRows({ work, rows })
    .then((r) => process.stdout.write(`${lateRowsLines(r).join('\n')}\n`))
    .catch((error) => {
      process.stderr.write(`${error.stack || error}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      if (keep) process.stderr.write(`Kept ${work}\n`);
      else fs.rmSync(work, { recursive: true, force: true });
    });
}

#!/usr/bin/env node
'use strict';
/**
 * `node bench/event-time.js`: event time per event hub partition at scale (after `npm run build`).
 * Generated flights (examples/flights/flights.spec.yaml: ~230 origins, 30 days, up to 20 minutes
 * out of order, watermark delay 30 minutes, hourly windows, 4 gold shards) go through every service
 * as its own process, with small capture files and one file per batch in bronze, silver and gold, so
 * the partitions are read at different points of event time. No row is late within its partition,
 * so none may be late in gold, and gold must equal DuckDB over the CSV.
 * Prints rows, late rows, the time and peak memory per stage, and whether gold equals DuckDB.
 * Options: --rows N (default 3,000,000), --max-file-size SIZE (default 1MiB), --keep.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const argv = process.argv.slice(2);
const { rows, keep } = require('./options').benchOptions(argv, 3_000_000);
const fileSizeFlag = argv.indexOf('--max-file-size');
const maxFileSize = fileSizeFlag >= 0 ? argv[fileSizeFlag + 1] : '1MiB';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bench-event-time-'));
const home = path.join(work, 'home');
const csv = path.join(work, 'flights.csv');
const spec = path.join(root, 'examples', 'flights', 'flights.spec.yaml');
const bin = path.join(root, 'bin', 'pipeline.js');
const rssReporter = path.join(__dirname, 'report-rss.js');
const SEED = 17;
const SPAN_MS = 30 * 24 * 3_600_000;
const MINUTE = 60_000;
const MAX_DISORDER_MS = 20 * MINUTE;

require('../bin/register');
const { flightCsvLines } = require('@pipeline/generator');
const { LocalLake } = require('@pipeline/adapters');
const { readDeltaRows } = require('@pipeline/delta');
const { readCaptureFile } = require('@pipeline/capture-format');
const { DuckDBInstance } = require('@duckdb/node-api');

function run(label, pipelineArgs, env = {}) {
  const rssFile = path.join(work, `${label}.rss`);
  const args = ['-r', rssReporter, bin, ...pipelineArgs];
  const shown = `${Object.entries(env)
    .map(([k, v]) => `${k}=${v} `)
    .join('')}node ${[bin, ...pipelineArgs].map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ')}`;
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: root,
    env: { ...process.env, BENCH_RSS_FILE: rssFile, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    process.stderr.write(result.stdout.toString());
    throw new Error(`${label} failed with exit code ${result.status}: ${shown}`);
  }
  const peak = fs.existsSync(rssFile) ? Number(fs.readFileSync(rssFile, 'utf8')) : undefined;
  return { label, seconds, peak, command: shown, stdout: result.stdout.toString() };
}

async function writeCsv() {
  const out = fs.createWriteStream(csv);
  for (const line of flightCsvLines({ rows, seed: SEED, spanMs: SPAN_MS, maxDisorderMs: MAX_DISORDER_MS })) {
    if (!out.write(line)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve) => out.end(resolve));
}

/** Per partition, in hub order: how far the event furthest behind the newest before it is behind (ms). */
async function hubDisorder(lake) {
  const events = new Map();
  for await (const entry of lake.list('raw/')) {
    if (!entry.path.endsWith('.avro')) continue;
    const partition = entry.path.split('/')[3];
    if (!events.has(partition)) events.set(partition, []);
    const list = events.get(partition);
    for await (const record of readCaptureFile(await lake.readStream(entry.path), entry.path)) {
      list.push([record.sequenceNumber, Date.parse(JSON.parse(record.body.toString('utf8')).dep_time)]);
    }
  }
  const behind = {};
  for (const [partition, list] of events) {
    list.sort((a, b) => a[0] - b[0]);
    let newest = -Infinity;
    let furthest = 0;
    for (const [, time] of list) {
      furthest = Math.max(furthest, newest - time);
      newest = Math.max(newest, time);
    }
    behind[partition] = furthest;
  }
  return behind;
}

async function tableRows(lake, table) {
  for await (const _entry of lake.list(`${table}/_delta_log/`, { limit: 1 })) {
    const rows = [];
    for await (const row of readDeltaRows(lake, table)) rows.push(row);
    return rows;
  }
  return [];
}

async function countRows(lake, table) {
  let n = 0;
  for await (const _entry of lake.list(`${table}/_delta_log/`, { limit: 1 })) {
    for await (const _row of readDeltaRows(lake, table)) n++;
  }
  return n;
}

/** The hourly windows per origin over the CSV, and the newest event time. */
async function duckdbWindows() {
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  const started = process.hrtime.bigint();
  const result = await connection.runAndReadAll(`
    select origin, (epoch_ms(dep_time::timestamptz) // 3600000) * 3600000 as window_start,
           count(*) as departures, avg(delay_minutes) as avg_delay_minutes,
           max(delay_minutes) as max_delay_minutes, sum(distance_km) as total_distance_km
    from read_csv('${csv}', header = true, columns = {
      'flight_id': 'VARCHAR', 'carrier': 'VARCHAR', 'flight_number': 'BIGINT', 'origin': 'VARCHAR',
      'dest': 'VARCHAR', 'dep_time': 'VARCHAR', 'delay_minutes': 'BIGINT', 'distance_km': 'DOUBLE'})
    group by all`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const latest = await connection.runAndReadAll(`select max(epoch_ms(dep_time::timestamptz)) from read_csv('${csv}', header = true, all_varchar = true)`);
  const windows = new Map();
  for (const row of result.getRowObjects()) windows.set(`${Number(row.window_start)}|${row.origin}`, row);
  connection.closeSync();
  return { windows, seconds, latest: Number(latest.getRows()[0][0]) };
}

const num = (v) => (v === null || v === undefined ? null : Number(v));
const close = (a, b) => (a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));

/** Gold against DuckDB: every gold window equal, and every DuckDB window ending by `finalBy` present. */
function compare(gold, expected, finalBy) {
  const seen = new Set();
  let mismatched = 0;
  let notInDuckDB = 0;
  const examples = [];
  for (const row of gold) {
    const key = `${Number(row.window_start)}|${row.origin}`;
    const e = expected.get(key);
    if (!e || seen.has(key)) {
      notInDuckDB++;
      continue;
    }
    seen.add(key);
    const same =
      num(row.departures) === num(e.departures) &&
      num(row.max_delay_minutes) === num(e.max_delay_minutes) &&
      close(num(row.avg_delay_minutes), num(e.avg_delay_minutes)) &&
      close(num(row.total_distance_km), num(e.total_distance_km));
    if (!same) {
      mismatched++;
      if (examples.length < 3) examples.push(`${key}: departures ${row.departures} (DuckDB ${e.departures})`);
    }
  }
  let missing = 0;
  for (const [key, e] of expected) if (Number(e.window_start) + 3_600_000 <= finalBy && !seen.has(key)) missing++;
  return { mismatched, notInDuckDB, missing, examples };
}

const mib = (bytes) => (bytes ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : '?');
const n = (x) => x.toLocaleString('en-US');

async function main() {
  process.stderr.write(`Generating ${n(rows)} flights in ${work} …\n`);
  await writeCsv();
  const goldHelp = spawnSync(process.execPath, [bin, 'gold', '--help'], { cwd: root, encoding: 'utf8' }).stdout;
  const endOfInput = goldHelp.includes('--end-of-input');

  const stages = [];
  process.stderr.write('producer → hub …\n');
  // No linger: each row is sent as read, so every partition reaches the hub in the CSV's order.
  stages.push(run('produce', ['produce', '--spec', spec, '--csv', csv, '--home', home, '--no-progress']));
  process.stderr.write('hub → capture …\n');
  stages.push(run('capture', ['capture', '--home', home, '--drain', '--max-file-size', maxFileSize]));
  process.stderr.write('capture → bronze …\n');
  stages.push(run('bronze', ['bronze', '--home', home, '--drain', '--max-batch-files', '1']));
  process.stderr.write('bronze → silver …\n');
  stages.push(run('silver', ['silver', '--home', home, '--spec', spec, '--drain', '--max-manifests', '1']));
  process.stderr.write('silver → gold …\n');
  stages.push(run('gold', ['gold', '--home', home, '--spec', spec, '--drain', '--max-manifests', '1', ...(endOfInput ? ['--end-of-input'] : [])]));

  process.stderr.write('checking …\n');
  const lake = new LocalLake(path.join(home, 'lake'));
  const disorder = await hubDisorder(lake);
  const worstBehind = Math.max(...Object.values(disorder));
  const lateRows = await countRows(lake, 'tables/late');
  const duckdb = await duckdbWindows();
  const gold = await tableRows(lake, 'tables/gold');
  // Without --end-of-input, every partition's watermark has passed windows ending 2 hours before the last event.
  const finalBy = endOfInput ? Infinity : duckdb.latest - 120 * MINUTE;
  const result = compare(gold, duckdb.windows, finalBy);
  const equal = result.mismatched === 0 && result.notInDuckDB === 0 && result.missing === 0;

  const total = stages.reduce((s, r) => s + r.seconds, 0);
  const lines = [
    `Event time per partition: ${n(rows)} flights over 30 days, ${mib(fs.statSync(csv).size)} of CSV, capture files of ${maxFileSize}, Node ${process.version}, ${os.cpus().length} CPUs`,
    '',
    '| stage | seconds | rows/s | peak RSS |',
    '| --- | ---: | ---: | ---: |',
    ...stages.map((s) => `| ${s.label} | ${s.seconds.toFixed(1)} | ${n(Math.round(rows / s.seconds))} | ${mib(s.peak)} |`),
    `| all stages | ${total.toFixed(1)} | ${n(Math.round(rows / total))} | |`,
    '',
    `Rows: ${n(rows)}. Late rows: ${n(lateRows)}.`,
    `Hub order: every partition within ${MAX_DISORDER_MS / MINUTE} minutes of its newest event: ${worstBehind <= MAX_DISORDER_MS ? 'yes' : 'NO'} (furthest behind: ${(worstBehind / MINUTE).toFixed(0)} min).`,
    `Gold ${endOfInput ? 'with --end-of-input' : `without --end-of-input (windows ending by ${new Date(finalBy).toISOString()} must be there)`}: ${n(gold.length)} windows; DuckDB: ${n(duckdb.windows.size)} windows in ${duckdb.seconds.toFixed(1)} s.`,
    `Gold equals DuckDB: ${equal ? 'yes' : 'NO'} (${n(result.mismatched)} windows differ, ${n(result.notInDuckDB)} not in DuckDB, ${n(result.missing)} missing from gold)${result.examples.length > 0 ? `; e.g. ${result.examples.join('; ')}` : ''}.`,
    '',
    'Commands (from the repository root):',
    ...stages.map((s) => `  ${s.label}: ${s.command}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (lateRows > 0 || !equal) process.exitCode = 1;
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

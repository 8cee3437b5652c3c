'use strict';
/**
 * The simple shape through the whole pipeline with every service running at once: generated
 * flights (examples/flights: 8 CSV columns, about 230 origins, one hourly tumbling window, four
 * aggregates, 4 partitions, 4 gold shards) sent by `pipeline start --exit-when-done`, which
 * returns once everything sent is through gold and the audit reconciles. Each service's peak RSS
 * and CPU time come from bench/report-rss.js, preloaded through NODE_OPTIONS. DuckDB computes the same
 * windows from the same CSV in the same run.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'flights', 'flights.spec.yaml');
const rssReporter = path.join(__dirname, 'report-rss.js');

require('../bin/register');
const { flightCsvLines } = require('@pipeline/generator');

const SEED = 17;
const SPAN_MS = 30 * 24 * 3_600_000;
const MAX_DISORDER_MS = 20 * 60_000;

async function writeFlightsCsv(file, rows) {
  const out = fs.createWriteStream(file);
  for (const line of flightCsvLines({ rows, seed: SEED, spanMs: SPAN_MS, maxDisorderMs: MAX_DISORDER_MS })) {
    if (!out.write(line)) await new Promise((resolve) => out.once('drain', resolve));
  }
  await new Promise((resolve) => out.end(resolve));
}

/** The hourly windows per origin over the CSV, as one DuckDB query; seconds and windows. */
async function duckdbFlights(csv) {
  const { DuckDBInstance } = require('@duckdb/node-api');
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  const started = process.hrtime.bigint();
  const result = await connection.runAndReadAll(`
    select count(*) from (
      select origin, (epoch_ms(dep_time::timestamptz) // 3600000) * 3600000 as window_start,
             count(*), avg(delay_minutes), max(delay_minutes), sum(distance_km)
      from read_csv('${csv}', header = true, columns = {
        'flight_id': 'VARCHAR', 'carrier': 'VARCHAR', 'flight_number': 'BIGINT', 'origin': 'VARCHAR',
        'dest': 'VARCHAR', 'dep_time': 'VARCHAR', 'delay_minutes': 'BIGINT', 'distance_km': 'DOUBLE'})
      group by all)`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const windows = Number(result.getRows()[0][0]);
  connection.closeSync();
  return { seconds, windows };
}

/** Runs `pipeline start --exit-when-done` on the CSV; wall seconds and each service's peak RSS. */
function runWholePipeline(work, csv) {
  const home = path.join(work, 'simple-home');
  const rssDir = path.join(work, 'simple-rss');
  fs.mkdirSync(rssDir, { recursive: true });
  const port = String(19000 + Math.floor(Math.random() * 1000));
  const args = [bin, 'start', '--home', home, '--spec', spec, '--csv', csv, '--port', port, '--exit-when-done'];
  const command = `node ${args.map((a) => path.relative(root, a) || a).join(' ')}`;
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} -r ${rssReporter}`.trim(), BENCH_RSS_DIR: rssDir, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) {
        reject(new Error(`${command} exited with ${code}:\n${output.slice(-4000)}`));
        return;
      }
      const peaks = {};
      const cpu = {};
      for (const name of fs.readdirSync(rssDir)) {
        const service = name.split('.')[0];
        const value = Number(fs.readFileSync(path.join(rssDir, name), 'utf8'));
        if (name.endsWith('.cpu')) cpu[service] = (cpu[service] ?? 0) + value;
        else peaks[service] = Math.max(peaks[service] ?? 0, value);
      }
      const through = output.split('\n').find((line) => line.includes('Everything sent is through')) ?? '';
      // `start` says when everything was through (the end to end) and how long its audit took after.
      const throughSeconds = Number(/\(([\d.]+) s after launch\)/.exec(through)?.[1] ?? seconds);
      const auditSeconds = Number(/The audit \(pipeline audit, ([\d.]+) s\)/.exec(output)?.[1] ?? 0);
      resolve({ seconds, throughSeconds, auditSeconds, peaks, cpu, command, through: through.replace(/^.*?Everything/, 'Everything') });
    });
  });
}

async function simpleShape({ work, rows }) {
  const csv = path.join(work, 'flights.csv');
  await writeFlightsCsv(csv, rows);
  const size = fs.statSync(csv).size;
  const pipeline = await runWholePipeline(work, csv);
  const duckdb = await duckdbFlights(csv);
  return { rows, csv, size, pipeline, duckdb };
}

module.exports = { simpleShape, writeFlightsCsv, duckdbFlights, flightsSpec: spec };

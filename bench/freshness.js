#!/usr/bin/env node
'use strict';
/**
 * Freshness: how long after it was sent an event is visible in an update-mode answer of the API,
 * with the producer at a steady rate. `pipeline start` runs every service on generated flights
 * (the simple shape, with `outputModes: [update]`) sent at --rate events/s; every --probe-every
 * rows the CSV carries a probe: a departure from an airport of its own (`PRB00001`, …) at the
 * event time of its neighbours. While the pipeline runs, this script asks the API for each probe's
 * latest window (`/v1/keys/{probe}/latest`) every few milliseconds; a probe's freshness is the time
 * its first 200 arrived minus its enqueued time in the embedded event hub (the moment the hub
 * acknowledged it). Both clocks are this machine's. The poll interval bounds the error (printed).
 *
 *   node bench/freshness.js [--seconds 30] [--rate 10000] [--probe-every 2500] [--keep]
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin', 'pipeline.js');
require('../bin/register');
const { flightCsvLines } = require('@pipeline/generator');

const POLL_MS = 10;

function options(argv) {
  const value = (name, fallback) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) {
      process.stderr.write(`--${name} must be a positive number, got ${JSON.stringify(argv[i + 1])}\n`);
      process.exit(2);
    }
    return n;
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: node bench/freshness.js [--seconds 30] [--rate 10000] [--probe-every 2500] [--keep]\n');
    process.exit(0);
  }
  return { seconds: value('seconds', 30), rate: value('rate', 10_000), probeEvery: value('probe-every', 2_500), keep: argv.includes('--keep') };
}

const probeKey = (n) => `PRB${String(n).padStart(5, '0')}`;

/** Flights at `rows` rows, with a probe after every `probeEvery` rows; the probes' keys. */
async function writeCsv(file, rows, probeEvery) {
  const out = fs.createWriteStream(file);
  const probes = [];
  let i = 0;
  for (const line of flightCsvLines({ rows, seed: 23, spanMs: 24 * 3_600_000, maxDisorderMs: 10 * 60_000 })) {
    if (!out.write(line)) await new Promise((resolve) => out.once('drain', resolve));
    if (i > 0 && i % probeEvery === 0) {
      // flight_id,carrier,flight_number,origin,dest,dep_time,delay_minutes,distance_km
      const fields = line.trimEnd().split(',');
      const key = probeKey(probes.length + 1);
      probes.push(key);
      out.write(`probe-${probes.length},PR,1,${key},${fields[4]},${fields[5]},0,1.0\n`);
    }
    i++;
  }
  await new Promise((resolve) => out.end(resolve));
  return probes;
}

function writeSpec(file) {
  const flights = fs.readFileSync(path.join(root, 'examples', 'flights', 'flights.spec.yaml'), 'utf8');
  const spec = flights.replace(/outputModes: \[append\]/, 'outputModes: [update]');
  if (spec === flights) throw new Error('examples/flights/flights.spec.yaml no longer says `outputModes: [append]`; update bench/freshness.js');
  fs.writeFileSync(file, spec);
}

/** Polls every unseen probe's latest window until each answers 200; when each first did. */
function watchProbes(api, probes, done) {
  const seenAt = new Map();
  let next = 0;
  const poll = async () => {
    while (!done() || seenAt.size < probes.length) {
      // The probes are sent in order: ask for the next few unseen ones.
      const batch = [];
      for (let i = next; i < probes.length && batch.length < 8; i++) if (!seenAt.has(probes[i])) batch.push(probes[i]);
      await Promise.all(
        batch.map(async (key) => {
          try {
            const response = await fetch(`${api}/v1/keys/${key}/latest?window=hourly`);
            await response.arrayBuffer();
            if (response.status === 200 && !seenAt.has(key)) seenAt.set(key, Date.now());
          } catch {
            // The API is not up yet.
          }
        }),
      );
      while (next < probes.length && seenAt.has(probes[next])) next++;
      if (done() && batch.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return seenAt;
  };
  return poll();
}

/** The enqueued time (epoch ms) of each probe in the embedded event hub (one time per batch row). */
function enqueuedTimes(home) {
  const Database = require('better-sqlite3');
  const db = new Database(path.join(home, 'eventhub.sqlite'), { readonly: true });
  try {
    const rows = db.prepare(`select enqueued_time as t, records from eh_batches where instr(records, 'PRB') > 0`).all();
    const times = new Map();
    for (const row of rows) {
      for (const [key] of row.records.toString('latin1').matchAll(/PRB\d{5}/g)) if (!times.has(key)) times.set(key, row.t);
    }
    return times;
  } finally {
    db.close();
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function freshness({ work, seconds = 30, rate = 10_000, probeEvery = 2_500 }) {
  const rows = Math.round(seconds * rate);
  const csv = path.join(work, 'fresh-flights.csv');
  const spec = path.join(work, 'fresh-flights.spec.yaml');
  const home = path.join(work, 'fresh-home');
  const probes = await writeCsv(csv, rows, probeEvery);
  writeSpec(spec);
  const port = String(20000 + Math.floor(Math.random() * 1000));
  const args = [bin, 'start', '--home', home, '--spec', spec, '--csv', csv, '--rate', String(rate), '--port', port, '--exit-when-done'];
  const command = `node ${args.map((a) => path.relative(root, a) || a).join(' ')}`;
  let exited = false;
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const watching = watchProbes(`http://127.0.0.1:${port}`, probes, () => exited);
  // --exit-when-done stops the API once everything is through: the probes still unseen then never were.
  const code = await exit;
  exited = true;
  const seenAt = await watching;
  if (code !== 0) throw new Error(`${command} exited with ${code}:\n${output.slice(-4000)}`);
  const sent = enqueuedTimes(home);
  const lags = [];
  for (const key of probes) if (seenAt.has(key) && sent.has(key)) lags.push(seenAt.get(key) - sent.get(key));
  lags.sort((a, b) => a - b);
  return {
    command,
    rows,
    rate,
    probes: probes.length,
    measured: lags.length,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: lags[lags.length - 1],
    pollMs: POLL_MS,
  };
}

module.exports = { freshness };

if (require.main === module) {
  const opts = options(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-fresh-'));
  freshness({ work, ...opts })
    .then((r) => {
      process.stdout.write(
        `Freshness at ${r.rate.toLocaleString('en-US')} events/s (${r.rows.toLocaleString('en-US')} events, ${r.measured} of ${r.probes} probes seen, polled every ${r.pollMs} ms):\n` +
          `  p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms\n  ${r.command}\n`,
      );
    })
    .catch((error) => {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      if (!opts.keep) fs.rmSync(work, { recursive: true, force: true });
      else process.stdout.write(`kept ${work}\n`);
    });
}

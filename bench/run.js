#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: throughput and peak memory of each stage on generated data.
 * Each stage runs as its own process, exactly as a user runs it; the exact commands are printed.
 * Options: --rows N (default 1,000,000), --keep (keep the working folder).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const rows = Number(flag('--rows', '1000000'));
const keep = args.includes('--keep');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-bench-'));
const home = path.join(work, 'home');
const csv = path.join(work, 'readings.csv');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const bin = path.join(root, 'bin', 'pipeline.js');
const rssReporter = path.join(__dirname, 'report-rss.js');

function run(label, pipelineArgs, { measure = true } = {}) {
  const rssFile = path.join(work, `${label}.rss`);
  const argv = [...(measure ? ['-r', rssReporter] : []), bin, ...pipelineArgs];
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

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
const rate = (n, s) => `${Math.round(n / s).toLocaleString('en-US')} events/s`;

try {
  process.stderr.write(`Generating ${rows.toLocaleString('en-US')} rows in ${work} …\n`);
  run('generate', ['generate', '--rows', String(rows), '--seed', '7', '--devices', '1000', '--out', csv], { measure: false });
  const size = fs.statSync(csv).size;
  const results = [];

  process.stderr.write('producer → hub …\n');
  const produce = run('producer', ['produce', '--spec', spec, '--csv', csv, '--home', home, '--no-progress', '--json']);
  const summary = JSON.parse(produce.stdout.trim().split('\n').pop());
  results.push({ stage: 'producer → hub', events: summary.eventsSent, ...produce });

  process.stderr.write('hub → capture …\n');
  const capture = run('capture', ['capture', '--home', home, '--drain']);
  results.push({ stage: 'hub → capture', events: summary.eventsSent, ...capture });

  process.stderr.write('capture → bronze …\n');
  const bronze = run('bronze', ['bronze', '--home', home, '--drain']);
  results.push({ stage: 'capture → bronze', events: summary.eventsSent, ...bronze });

  process.stderr.write('bronze → silver …\n');
  const silver = run('silver', ['silver', '--home', home, '--spec', spec, '--drain']);
  results.push({ stage: 'bronze → silver', events: summary.eventsSent, ...silver });

  const audit = run('audit', ['audit', '--home', home, '--json'], { measure: false });
  const report = JSON.parse(audit.stdout);
  if (report.problems.length > 0) throw new Error(`the audit found problems after the run: ${report.problems.join('; ')}`);
  const totals = report.rows.reduce((t, r) => ({ silver: t.silver + r.silver, quarantined: t.quarantined + r.quarantined, duplicates: t.duplicates + r.duplicates }), { silver: 0, quarantined: 0, duplicates: 0 });

  const lines = [
    `Benchmark: ${rows.toLocaleString('en-US')} generated events (${mib(size)} of CSV), Node ${process.version}, ${os.cpus().length} CPUs, ${os.cpus()[0] ? os.cpus()[0].model : 'unknown CPU'}`,
    '',
    '| stage | events | seconds | throughput | peak RSS |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.stage} | ${r.events.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${rate(r.events, r.seconds)} | ${r.peak ? mib(r.peak) : '?'} |`),
    '',
    `Audit after the run: ${totals.silver.toLocaleString('en-US')} silver rows, ${totals.quarantined} quarantined, ${totals.duplicates} duplicates; reconciled.`,
    '',
    'Commands (run from the repository root; the generated CSV is not part of the timings):',
    ...results.map((r) => `  ${r.stage}: ${r.command}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  if (keep) process.stderr.write(`Kept ${work}\n`);
  else fs.rmSync(work, { recursive: true, force: true });
}

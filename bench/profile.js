#!/usr/bin/env node
'use strict';
/**
 * `node bench/profile.js`: where each stage's CPU goes, per event. Generates the simple shape
 * (flights, as bench/simple-shape.js) or the example spec's readings (`--shape sensors`), runs each
 * stage alone with `node --cpu-prof` and the V8 flags `pipeline start` gives it (`--drain`, one
 * after the other, as `npm run bench` does; after `npm run build`), and
 * prints each stage's microseconds per event by where they go (SQLite, Avro, Parquet, JSON, …).
 * The .cpuprofile files stay in the printed folder: open one in Chrome DevTools (Performance, load
 * profile) or https://www.speedscope.app for its flame graph.
 * Options: --rows N (default 1,000,000), --shape simple|sensors.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin', 'pipeline.js');
require('../bin/register');
const { serviceV8Flags } = require('../dist/apps/cli/src/start');
const argv = process.argv.slice(2);
const { rows } = require('./options').benchOptions(argv, 1_000_000);
const shapeFlag = argv.indexOf('--shape');
const shape = shapeFlag >= 0 ? argv[shapeFlag + 1] : 'simple';
if (shape !== 'simple' && shape !== 'sensors') {
  process.stderr.write(`--shape must be simple or sensors, got ${JSON.stringify(shape)}\n`);
  process.exit(2);
}
const spec = path.join(root, 'examples', ...(shape === 'simple' ? ['flights', 'flights.spec.yaml'] : ['sensors.spec.yaml']));

/** Where CPU time goes, by the module (or V8 state) a sample's own frame belongs to; first match wins. */
const BUCKETS = [
  ['waiting on I/O (idle)', (f) => f === '(idle)'],
  ['garbage collection', (f) => f === '(garbage collector)'],
  ['SQLite (embedded hub, serving store)', (f, u) => /better-sqlite3|local\.(event-hub|serving-store|sqlite)/.test(u)],
  ['Avro capture files', (f, u) => /avsc|capture-format/.test(u)],
  ['CSV reading', (f, u) => /libs\/csv/.test(u)],
  ['Parquet writing and Delta stats', (f, u) => /hyparquet-writer|parquet-(file|encoder|values|writers)|snappy|byte-sink|thrift-compact|file-stats|delta-table/.test(u)],
  ['Parquet reading', (f, u) => /node_modules\/hyparquet\/|delta-reader/.test(u)],
  ['JSON bodies', (f, u) => /flatten|flat-json/.test(u) || (/silver-transform/.test(u) && /readJsonBody/.test(f))],
  ['de-duplication', (f, u) => /deduplicator|time-heap/.test(u)],
  ['transform (cast, event time, shard)', (f, u) => /libs\/transform|libs\/contracts/.test(u)],
  ['partition key hashing', (f, u) => /partition-key/.test(u)],
  ['event-time engine', (f, u) => /libs\/engine/.test(u)],
  ['event properties and bodies', (f, u) => /event-properties|event-mapper|ports\/src\/event-hub/.test(u)],
  ['checkpoints and manifests', (f, u) => /libs\/checkpoint|manifest/.test(u)],
];
const OTHER = 'everything else';

/** Microseconds per event by bucket; native frames count for the nearest caller in the project or a package. */
function budget(profileFile, events) {
  const profile = JSON.parse(fs.readFileSync(profileFile, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const own = (url) => /\/(dist|node_modules)\//.test(url ?? '');
  const sums = new Map([...BUCKETS.map(([name]) => [name, 0]), [OTHER, 0]]);
  let total = 0;
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    let frame = nodes.get(id).callFrame;
    for (let up = id; !own(frame.url) && frame.functionName !== '(idle)' && frame.functionName !== '(garbage collector)' && parent.has(up); ) {
      up = parent.get(up);
      const caller = nodes.get(up).callFrame;
      if (own(caller.url)) frame = caller;
    }
    const bucket = BUCKETS.find(([, test]) => test(frame.functionName, frame.url ?? ''))?.[0] ?? OTHER;
    sums.set(bucket, sums.get(bucket) + micros);
  });
  return { total: total / events, buckets: [...sums].map(([name, micros]) => [name, micros / events]) };
}

function run(label, args, work) {
  const dir = path.join(work, 'profiles', label);
  // Each stage with the V8 flags `pipeline start` and the images give it (heap cap, young and old generation sizes).
  const result = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...serviceV8Flags(label, {}), bin, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${label} failed with exit code ${result.status}`);
  return path.join(dir, fs.readdirSync(dir)[0]);
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-profile-'));
  const home = path.join(work, 'home');
  const csv = path.join(work, `${shape}.csv`);
  process.stderr.write(`Generating ${rows.toLocaleString('en-US')} rows (${shape}) in ${work} …\n`);
  if (shape === 'simple') await require('./simple-shape').writeFlightsCsv(csv, rows);
  else spawnSync(process.execPath, [bin, 'generate', '--rows', String(rows), '--seed', '7', '--devices', '1000', '--out', csv], { stdio: 'inherit' });
  const stages = [
    ['producer', ['produce', '--spec', spec, '--csv', csv, '--home', home, '--no-progress', '--json']],
    ['capture', ['capture', '--home', home, '--drain']],
    ['bronze', ['bronze', '--home', home, '--drain']],
    ['silver', ['silver', '--home', home, '--spec', spec, '--drain']],
    ['gold', ['gold', '--home', home, '--spec', spec, '--drain']],
  ];
  const budgets = [];
  for (const [label, args] of stages) {
    process.stderr.write(`${label} …\n`);
    budgets.push([label, budget(run(label, args, work), rows)]);
  }
  const names = [...BUCKETS.map(([name]) => name), OTHER];
  const cell = (value) => (value >= 0.05 ? value.toFixed(1) : '');
  const lines = [
    `CPU per event (µs), ${rows.toLocaleString('en-US')} events of the ${shape === 'simple' ? 'simple shape (flights)' : 'example spec'}, each stage alone, Node ${process.version}:`,
    '',
    `| | ${budgets.map(([label]) => label).join(' | ')} |`,
    `| --- | ${budgets.map(() => '---:').join(' | ')} |`,
    ...names
      .filter((name) => budgets.some(([, b]) => (b.buckets.find(([n]) => n === name)?.[1] ?? 0) >= 0.05))
      .map((name) => `| ${name} | ${budgets.map(([, b]) => cell(b.buckets.find(([n]) => n === name)?.[1] ?? 0)).join(' | ')} |`),
    `| **total** | ${budgets.map(([, b]) => `**${b.total.toFixed(1)}**`).join(' | ')} |`,
    '',
    `Profiles (flame graphs: Chrome DevTools or speedscope): ${path.join(work, 'profiles')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exitCode = 1;
});

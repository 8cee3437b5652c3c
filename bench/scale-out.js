#!/usr/bin/env node
'use strict';
/**
 * Gold scale-out: the same silver backlog (generated readings, the example spec with 8 gold shards,
 * drained through capture, bronze and silver once) worked by one gold instance and by two, timed
 * from launch until every shard has committed its newest silver manifest; then, with two instances
 * splitting the shards on the default ownership settings (GOLD_OWNERSHIP_INTERVAL 3 s, EXPIRY 10 s),
 * one killed with SIGKILL and the time until the survivor owns every shard.
 *
 *   node bench/scale-out.js [--rows 200000] [--keep]
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin', 'pipeline.js');
require('../bin/register');
const { LocalCheckpointStore } = require('@pipeline/adapters');
const { goldOwnershipScope } = require('@pipeline/checkpoint');

const SHARDS = 8;

function run(args) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`pipeline ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
}

function launch(name, args) {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', GOLD_INSTANCE_ID: name },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-8000)));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { name, child, exited, stderr: () => stderr };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function names(folder) {
  try {
    return fs
      .readdirSync(folder)
      .filter((n) => /^\d+(\.json)?$/.test(n))
      .sort();
  } catch {
    return [];
  }
}

/** Whether every shard committed its newest silver manifest. */
function caughtUp(home) {
  for (let shard = 0; shard < SHARDS; shard++) {
    const session = `shard-${String(shard).padStart(3, '0')}`;
    const manifests = names(path.join(home, 'lake', 'manifests', 'silver', session));
    if (manifests.length === 0) continue;
    const newest = Number(manifests[manifests.length - 1].replace('.json', ''));
    const commits = names(path.join(home, 'lake', 'checkpoints', 'gold', session, 'commits'));
    if (commits.length === 0) return false;
    const offsets = JSON.parse(fs.readFileSync(path.join(home, 'lake', 'checkpoints', 'gold', session, 'offsets', commits[commits.length - 1]), 'utf8'));
    if (offsets.silver.to < newest) return false;
  }
  return true;
}

async function owners(store) {
  const scope = goldOwnershipScope('gold', 'manifests');
  const records = await store.listOwnership(scope.fullyQualifiedNamespace, scope.eventHubName, scope.consumerGroup);
  const now = Date.now();
  return new Map(
    records.filter((r) => r.partitionId.startsWith('shard-') && r.ownerId !== '' && now - (r.lastModifiedTimeInMs ?? 0) < 10_000).map((r) => [r.partitionId, r.ownerId]),
  );
}

async function waitUntil(check, timeoutMs, what) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** `instances` gold processes on a copy of the backlog; seconds until every shard caught up. */
async function goldBacklog(work, backlog, spec, instances) {
  const home = path.join(work, `gold-${instances}`);
  fs.cpSync(backlog, home, { recursive: true });
  const started = Date.now();
  const golds = Array.from({ length: instances }, (_, i) => launch(`gold-${i + 1}`, ['gold', '--home', home, '--spec', spec, '--wake', '1s']));
  try {
    await waitUntil(() => caughtUp(home), 600_000, `${instances} gold instance(s) to catch every shard up`);
    return (Date.now() - started) / 1000;
  } finally {
    for (const g of golds) g.child.kill('SIGTERM');
    await Promise.all(golds.map((g) => g.exited));
  }
}

/** Two gold instances split the shards; one is killed; ms until the other owns them all. */
async function takeover(work, backlog, spec) {
  const home = path.join(work, 'gold-takeover');
  fs.cpSync(backlog, home, { recursive: true });
  const store = new LocalCheckpointStore(path.join(home, 'checkpoints.sqlite'));
  const golds = [launch('gold-1', ['gold', '--home', home, '--spec', spec, '--wake', '1s'])];
  try {
    await waitUntil(async () => (await owners(store)).size === SHARDS, 60_000, 'gold-1 to own every shard');
    golds.push(launch('gold-2', ['gold', '--home', home, '--spec', spec, '--wake', '1s']));
    await waitUntil(
      async () => {
        const counts = [...(await owners(store)).values()].reduce((m, o) => m.set(o, (m.get(o) ?? 0) + 1), new Map());
        return counts.get('gold-1') === SHARDS / 2 && counts.get('gold-2') === SHARDS / 2;
      },
      120_000,
      'the two instances to own four shards each',
    );
    const killedAt = Date.now();
    golds[0].child.kill('SIGKILL');
    return await waitUntil(
      async () => {
        const now = await owners(store);
        return now.size === SHARDS && [...now.values()].every((o) => o === 'gold-2') ? Date.now() - killedAt : undefined;
      },
      120_000,
      'gold-2 to own every shard',
    );
  } finally {
    for (const g of golds) if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill('SIGTERM');
    await Promise.all(golds.map((g) => g.exited));
    store.close?.();
  }
}

async function scaleOut({ work, rows = 200_000 }) {
  const spec = path.join(work, 'scale-out.spec.yaml');
  fs.writeFileSync(spec, fs.readFileSync(path.join(root, 'examples', 'sensors.spec.yaml'), 'utf8').replace(/shards: \d+/, `shards: ${SHARDS}`));
  const csv = path.join(work, 'scale-out.csv');
  const backlog = path.join(work, 'scale-out-backlog');
  run(['generate', '--rows', String(rows), '--seed', '11', '--devices', '1000', '--out', csv]);
  run(['produce', '--spec', spec, '--csv', csv, '--home', backlog, '--no-progress']);
  run(['capture', '--home', backlog, '--drain']);
  run(['bronze', '--home', backlog, '--drain']);
  run(['silver', '--home', backlog, '--spec', spec, '--drain']);
  const one = await goldBacklog(work, backlog, spec, 1);
  const two = await goldBacklog(work, backlog, spec, 2);
  const takeoverMs = await takeover(work, backlog, spec);
  return { rows, shards: SHARDS, one, two, takeoverMs };
}

function scaleOutLines(r) {
  const rate = (s) => `${Math.round(r.rows / s).toLocaleString('en-US')} events/s`;
  return [
    `Gold scale-out, ${r.rows.toLocaleString('en-US')} events of the example spec on ${r.shards} shards, silver drained first: 1 instance ${r.one.toFixed(1)} s (${rate(r.one)}), 2 instances ${r.two.toFixed(1)} s (${rate(r.two)}), from launch until every shard committed its newest manifest.`,
    `Takeover: with two instances on 4 shards each (default ownership interval 3 s, expiry 10 s), one killed with SIGKILL: the other owned all ${r.shards} shards ${(r.takeoverMs / 1000).toFixed(1)} s later.`,
  ];
}

module.exports = { scaleOut, scaleOutLines };

if (require.main === module) {
  const argv = process.argv.slice(2);
  require('./options').exitOnHelp(argv, __filename);
  const i = argv.indexOf('--rows');
  const rows = i < 0 ? 200_000 : Number(argv[i + 1]);
  if (!Number.isInteger(rows) || rows <= 0) {
    process.stderr.write(`--rows must be a positive whole number, got ${JSON.stringify(argv[i + 1])}\n`);
    process.exit(2);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-scale-out-'));
  scaleOut({ work, rows })
    .then((r) => process.stdout.write(`${scaleOutLines(r).join('\n')}\n`))
    .catch((error) => {
      process.stderr.write(`${error.stack ?? error}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      if (argv.includes('--keep')) process.stdout.write(`kept ${work}\n`);
      else fs.rmSync(work, { recursive: true, force: true });
    });
}

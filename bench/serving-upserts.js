'use strict';
/**
 * The embedded serving store's upserts alone (compiled, from dist/, after `npm run build`): gold's
 * batches of window documents, as update mode writes them, into a fresh SQLite store. Two shapes:
 * the example spec (about 1,000 devices, a one-minute tumbling and a five-minute hopping window:
 * each batch adds a minute's windows of every device and replaces the hopping windows still open)
 * and the simple shape (about 230 airports, one hourly window: each batch replaces the current
 * hour's documents and adds the next hour's for some). Prints the CPU (user + system) per document
 * and the documents written and skipped; an upsert's CPU is most of gold's on the example spec.
 * Options: --rows N documents (default 300,000), --shape sensors|simple, --batch N documents per call.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

require('../bin/register');
const { LocalServingStore } = require('@pipeline/adapters');
const { groupKeyText, windowDocumentIdPrefix } = require('@pipeline/ports');
const { benchOptions } = require('./options');

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const start = Date.UTC(2026, 0, 1);

function flag(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
}

/** The windows one batch serves for one key: [window, start, size, final]. */
const SHAPES = {
  sensors: {
    pipeline: 'sensor-readings',
    keys: 1_000,
    groupBy: 'device_id',
    keyValue: (k) => `dev-${String(k).padStart(4, '0')}`,
    windowsOf: (batch) => [
      ['per_minute', start + batch * MINUTE, MINUTE, false],
      ...[0, 1, 2, 3, 4].map((back) => ['last_5m', start + (batch - back) * MINUTE, 5 * MINUTE, back === 4]),
    ],
    aggregates: (k, batch) => ({ readings: 1 + (batch % 5), avg_temperature: 15 + ((k * 7 + batch) % 100) / 10, max_temperature: 21.85, distinct_statuses: 1 + (k % 3) }),
  },
  simple: {
    pipeline: 'flights',
    keys: 230,
    groupBy: 'origin',
    keyValue: (k) => `A${String(k).padStart(3, '0')}`,
    windowsOf: (batch) => [
      ['hourly', start + Math.floor(batch / 4) * HOUR, HOUR, false],
      ['hourly', start + Math.floor(batch / 4 - 1) * HOUR, HOUR, batch % 4 === 3],
    ],
    aggregates: (k, batch) => ({
      departures: 1 + batch,
      avg_delay_minutes: ((k * 13 + batch) % 900) / 10,
      max_delay_minutes: 90 + (k % 60),
      total_distance_km: 12_345.6 + batch * 7.3,
    }),
  },
};

/** Gold names a grouping key once per batch: one key record and pk for all its windows. */
function batchDocuments(shape, batch, watermark) {
  const keys = Array.from({ length: shape.keys }, (_, k) => {
    const key = { [shape.groupBy]: shape.keyValue(k) };
    return { key, pk: groupKeyText(key, [shape.groupBy]) };
  });
  const docs = [];
  for (const [window, windowStart, size, final] of shape.windowsOf(batch)) {
    for (let k = 0; k < shape.keys; k++) {
      const { key, pk } = keys[k];
      docs.push({
        id: windowDocumentIdPrefix(window, pk) + String(windowStart),
        pk,
        pipeline: shape.pipeline,
        window,
        windowStart,
        windowEnd: windowStart + size,
        key,
        aggregates: shape.aggregates(k, batch),
        final,
        watermark,
        shard: k % 4,
        version: batch + 1,
      });
    }
  }
  return docs;
}

async function main() {
  const argv = process.argv.slice(2);
  const { rows, keep } = benchOptions(argv, 300_000);
  const shapeName = flag(argv, '--shape', 'sensors');
  const shape = SHAPES[shapeName];
  if (shape === undefined) {
    process.stderr.write(`--shape must be sensors or simple, got ${JSON.stringify(shapeName)}\n`);
    process.exit(2);
  }
  const perCall = Number(flag(argv, '--batch', '20000'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'serving-upserts-'));
  const store = LocalServingStore.open({ file: path.join(dir, 'serving.sqlite') });
  let documents = 0;
  let written = 0;
  let skipped = 0;
  let cpu = 0;
  try {
    let pending = [];
    for (let batch = 0; documents < rows; batch++) {
      pending.push(...batchDocuments(shape, batch, start + (batch - 1) * MINUTE));
      if (pending.length < perCall) continue;
      const calls = pending.slice(0, rows - documents);
      pending = [];
      const before = process.cpuUsage();
      const result = await store.upsert(calls);
      const used = process.cpuUsage(before);
      cpu += used.user + used.system;
      documents += calls.length;
      written += result.written;
      skipped += result.skipped;
    }
  } finally {
    await store.close();
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `${shapeName}: ${documents.toLocaleString('en-US')} documents (${written.toLocaleString('en-US')} written, ${skipped.toLocaleString('en-US')} skipped) in calls of ~${perCall.toLocaleString('en-US')}: ${(cpu / documents).toFixed(2)} µs of CPU per document, Node ${process.version}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exitCode = 1;
});

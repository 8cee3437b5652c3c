'use strict';
/**
 * The gold kernel alone: the event-time engine (compiled, from dist/) over in-memory rows shaped
 * like the example spec's silver rows, with the example spec's windows and aggregates.
 * Prints rows/s for append+update outputs, as gold runs them.
 */
const fs = require('node:fs');
const path = require('node:path');

require('../bin/register');
const { WindowedAggregation } = require('@pipeline/engine');
const { parseSpec, aggregationConfigOf } = require('@pipeline/contracts');

function goldKernel({ rows = 1_000_000, keys = 1_000, batch = 100_000 } = {}) {
  const spec = parseSpec(fs.readFileSync(path.join(__dirname, '..', 'examples', 'sensors.spec.yaml'), 'utf8'), 'sensors.spec.yaml');
  const engine = WindowedAggregation.build(aggregationConfigOf(spec));
  const start = Date.UTC(2026, 0, 1);
  const statuses = ['ok', 'warn', 'fault'];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const all = Array.from({ length: rows }, (_, i) => ({
    event_time: start + i * 10 - Math.floor(random() * 20_000),
    device_id: `dev-${String(i % keys).padStart(4, '0')}`,
    temperature: 15 + random() * 10,
    status: statuses[i % 3],
  }));
  let windows = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows; i += batch) windows += engine.processBatch(all.slice(i, i + batch)).emitted.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rows, keys, batch, seconds, rowsPerSecond: rows / seconds, windows };
}

module.exports = { goldKernel };

if (require.main === module) {
  const r = goldKernel();
  process.stdout.write(
    `gold kernel: ${r.rows.toLocaleString('en-US')} rows, ${r.keys} keys, batches of ${r.batch.toLocaleString('en-US')}: ${r.seconds.toFixed(2)} s, ${Math.round(r.rowsPerSecond).toLocaleString('en-US')} rows/s, ${r.windows.toLocaleString('en-US')} final windows\n`,
  );
}

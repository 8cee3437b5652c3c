'use strict';
/**
 * The gold kernel alone: the event-time engine (compiled, from dist/) over in-memory rows shaped
 * like a spec's silver rows, with that spec's windows and aggregates. Two shapes: the example
 * spec's sensor readings, and the simple shape (flights: one hourly window, four aggregates,
 * about 230 keys). Prints rows/s for the outputs gold runs.
 */
const fs = require('node:fs');
const path = require('node:path');

require('../bin/register');
const { WindowedAggregation } = require('@pipeline/engine');
const { parseSpec, aggregationConfigOf } = require('@pipeline/contracts');

const examples = path.join(__dirname, '..', 'examples');
const start = Date.UTC(2026, 0, 1);

function random(seed) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

const SHAPES = {
  sensors: {
    spec: path.join(examples, 'sensors.spec.yaml'),
    keys: 1_000,
    rows(n, keys) {
      const r = random(7);
      const statuses = ['ok', 'warn', 'fault'];
      return Array.from({ length: n }, (_, i) => ({
        event_time: start + i * 10 - Math.floor(r() * 20_000),
        device_id: `dev-${String(i % keys).padStart(4, '0')}`,
        temperature: 15 + r() * 10,
        status: statuses[i % 3],
      }));
    },
  },
  simple: {
    spec: path.join(examples, 'flights', 'flights.spec.yaml'),
    keys: 230,
    rows(n, keys) {
      const r = random(17);
      // 30 days of departures, each at most 20 minutes behind the newest before it.
      const step = (30 * 24 * 3_600_000) / n;
      return Array.from({ length: n }, (_, i) => ({
        event_time: Math.floor(start + i * step - r() * 1_200_000),
        origin: `A${String(i % keys).padStart(3, '0')}`,
        delay_minutes: r() < 0.02 ? null : Math.floor(r() * 120) - 10,
        distance_km: 200 + r() * 9_000,
      }));
    },
  },
};

function goldKernel({ shape = 'sensors', rows = 1_000_000, batch = 100_000 } = {}) {
  const { spec: specFile, keys, rows: makeRows } = SHAPES[shape];
  const spec = parseSpec(fs.readFileSync(specFile, 'utf8'), path.basename(specFile));
  const engine = WindowedAggregation.build(aggregationConfigOf(spec));
  const all = makeRows(rows, keys);
  let windows = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows; i += batch) windows += engine.processBatch(all.slice(i, i + batch)).emitted.length;
  windows += engine.processBatch([], { endOfInput: true }).emitted.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { shape, rows, keys, batch, seconds, rowsPerSecond: rows / seconds, windows };
}

module.exports = { goldKernel };

if (require.main === module) {
  require('./options').exitOnHelp(process.argv.slice(2), __filename);
  for (const shape of Object.keys(SHAPES)) {
    const r = goldKernel({ shape });
    process.stdout.write(
      `gold kernel (${shape}): ${r.rows.toLocaleString('en-US')} rows, ${r.keys} keys, batches of ${r.batch.toLocaleString('en-US')}: ${r.seconds.toFixed(2)} s, ${Math.round(r.rowsPerSecond).toLocaleString('en-US')} rows/s, ${r.windows.toLocaleString('en-US')} final windows\n`,
    );
  }
}

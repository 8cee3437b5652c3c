#!/usr/bin/env node
'use strict';
/**
 * The Delta tables' Parquet writers, old (1, hyparquet-writer, then `computeFileStats`) against new
 * (2, `parquet-encoder.ts`, statistics in the same pass), on silver rows of two shapes: the simple
 * shape (flights spec) and the example sensors spec. Each writer encodes the same in-memory rows
 * (from dist/, after `npm run build`) as `DeltaTable.writeDataFiles` does for one file: bytes and
 * Delta statistics. Prints rows/s and µs per row of CPU time (user + system, the best of the runs, so
 * other processes on the machine count less) and the file size.
 *
 * Run by hand: `node bench/parquet-writer.js [--rows 200000] [--repeat 3]`.
 */
const fs = require('node:fs');
const path = require('node:path');

require('../bin/register');
const { parseSpec } = require('@pipeline/contracts');
const { encodeDataFile } = require('@pipeline/delta');
const { silverSchema } = require('@pipeline/transform');

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROWS = flag('--rows', 200_000);
const REPEAT = flag('--repeat', 3);
const examples = path.join(__dirname, '..', 'examples');
const START = Date.UTC(2026, 0, 1);

function random(seed) {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** The columns silver adds, as a batch of four capture partitions gives them. */
function lineage(i, eventTime) {
  const partition = i % 4;
  return {
    event_time: eventTime,
    enqueued_time: eventTime + 2_000 + (i % 1000),
    partition_id: String(partition),
    sequence_number: Math.floor(i / 4),
    capture_file: `raw/pipeline-ns/events/${partition}/2026/01/01/00/${String(Math.floor(i / 40_000) % 60).padStart(2, '0')}/00.avro`,
    source_row: null,
    shard: i % 4,
  };
}

const SHAPES = {
  simple: {
    spec: path.join(examples, 'flights', 'flights.spec.yaml'),
    rows(n) {
      const r = random(17);
      const carriers = ['KL', 'UA', 'AF', 'LH', 'BA', 'DL', 'AA', 'IB', 'SK', 'AY'];
      const airport = (k) => `${String.fromCharCode(65 + (k % 26))}${String.fromCharCode(65 + ((k * 7) % 26))}${String.fromCharCode(65 + ((k * 13) % 26))}`;
      const step = (30 * 24 * 3_600_000) / n;
      return Array.from({ length: n }, (_, i) => {
        const eventTime = Math.floor(START + i * step - r() * 1_200_000);
        return {
          flight_id: `f-1-${i + 1}`,
          event_id: `f-1-${i + 1}`,
          dep_time: eventTime,
          carrier: carriers[i % carriers.length],
          flight_number: 1000 + Math.floor(r() * 8999),
          origin: airport(i % 230),
          dest: airport(Math.floor(r() * 230)),
          delay_minutes: r() < 0.02 ? null : Math.floor(r() * 120) - 10,
          distance_km: Math.round((200 + r() * 9_000) * 10) / 10,
          ...lineage(i, eventTime),
        };
      });
    },
  },
  sensors: {
    spec: path.join(examples, 'sensors.spec.yaml'),
    rows(n) {
      const r = random(7);
      const sites = ['Oslo, Harbour', 'São Paulo', 'Lyon', 'Kyoto', 'Nairobi'];
      const statuses = ['ok', 'ok', 'ok', 'warn', 'fault'];
      return Array.from({ length: n }, (_, i) => {
        const eventTime = START + i * 10 - Math.floor(r() * 20_000);
        return {
          reading_id: `r-42-${i + 1}`,
          event_id: `r-42-${i + 1}`,
          ts: eventTime,
          device_id: `dev-${String(i % 1000).padStart(3, '0')}`,
          site: sites[i % sites.length],
          temperature: r() < 0.01 ? null : Math.round((15 + r() * 10) * 100) / 100,
          humidity: Math.round((30 + r() * 40) * 10) / 10,
          status: statuses[i % statuses.length],
          ...lineage(i, eventTime),
        };
      });
    },
  },
};

function measure(shape, version) {
  const { spec: file, rows: makeRows } = SHAPES[shape];
  const schema = silverSchema(parseSpec(fs.readFileSync(file, 'utf8'), path.basename(file)));
  const columns = schema.columns.filter((c) => !schema.partitionBy.includes(c.name));
  const rows = makeRows(ROWS);
  let best = Infinity;
  let size = 0;
  for (let run = 0; run < REPEAT; run++) {
    const started = process.cpuUsage();
    const { bytes, stats } = encodeDataFile(columns, rows, version);
    stats();
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / 1e6);
    size = bytes.length;
  }
  return { shape, version, columns: columns.length, seconds: best, size };
}

module.exports = { measure, SHAPES };

if (require.main === module) {
  require('./options').exitOnHelp(process.argv.slice(2), __filename);
  for (const shape of Object.keys(SHAPES)) {
    for (const version of [1, 2]) {
      const r = measure(shape, version);
      process.stdout.write(
        `${shape} (${r.columns} columns), writer ${version}: ${ROWS.toLocaleString('en-US')} rows in ${r.seconds.toFixed(3)} s of CPU (best of ${REPEAT}), ` +
          `${Math.round(ROWS / r.seconds).toLocaleString('en-US')} rows/s, ${((r.seconds * 1e6) / ROWS).toFixed(2)} µs per row, ${(r.size / 1e6).toFixed(2)} MB\n`,
      );
    }
  }
}

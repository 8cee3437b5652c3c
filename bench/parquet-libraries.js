#!/usr/bin/env node
'use strict';
/**
 * Which Parquet writer should @pipeline/delta use? Run by hand: `node bench/parquet-libraries.js [--rows N]`.
 *
 * Each library writes the same silver-like table (13 columns: strings, doubles, longs, two
 * TIMESTAMP(MICROS, UTC) columns, a DATE, a nullable double, a binary column) with SNAPPY, the codec
 * all three write and both DuckDB and Spark read. Each library runs in its own child process so
 * its peak RSS is its own. The parent then checks every file with DuckDB (`read_parquet`): column
 * types (a timestamp must be a TIMESTAMP, not a BIGINT) and values (aggregates plus the first and
 * last row), and whether writing the same rows twice gave byte-identical files.
 *
 * parquet-wasm takes an Arrow table, and apache-arrow (the usual way to build one from JS rows) is
 * not installed: its input table is made by reading an uncompressed Parquet copy of the rows
 * (untimed), so its rows/s counts only Arrow → Parquet, not JS rows → Arrow.
 */
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
require('./options').exitOnHelp(args, __filename);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROWS = Number(flag('--rows', '200000'));
const LIBRARIES = ['hyparquet-writer', 'parquet-wasm', '@dsnp/parquetjs'];
const DAY_MS = 86_400_000;
const BASE_MS = Date.UTC(2026, 0, 1);
const EVENT_TYPES = ['reading', 'alarm', 'heartbeat', 'calibration'];
const STATUSES = ['ok', 'degraded', 'failed'];

/** A small deterministic PRNG (mulberry32), so every process builds the same rows. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Column-oriented rows: timestamps are epoch ms, dates 'YYYY-MM-DD', binary a Buffer. */
function makeColumns(rows) {
  const random = prng(42);
  const c = {
    event_id: [],
    device_id: [],
    event_type: [],
    status: [],
    temperature: [],
    pressure: [],
    humidity: [],
    sequence: [],
    reading_count: [],
    event_time: [],
    ingested_at: [],
    event_date: [],
    payload: [],
  };
  for (let i = 0; i < rows; i++) {
    const eventTime = BASE_MS + i * 997 + Math.floor(random() * 1000);
    c.event_id.push(`evt-${String(i).padStart(9, '0')}`);
    c.device_id.push(`device-${Math.floor(random() * 500)}`);
    c.event_type.push(EVENT_TYPES[Math.floor(random() * EVENT_TYPES.length)]);
    c.status.push(STATUSES[Math.floor(random() * STATUSES.length)]);
    c.temperature.push(Math.round((15 + random() * 20) * 1000) / 1000);
    c.pressure.push(Math.round((950 + random() * 100) * 100) / 100);
    c.humidity.push(random() < 0.1 ? null : Math.round(random() * 10000) / 100);
    c.sequence.push(1_000_000_000_000 + i);
    c.reading_count.push(Math.floor(random() * 1000));
    c.event_time.push(eventTime);
    c.ingested_at.push(eventTime + 1500 + Math.floor(random() * 5000));
    c.event_date.push(new Date(Math.floor(eventTime / DAY_MS) * DAY_MS).toISOString().slice(0, 10));
    c.payload.push(Buffer.from(`{"v":${i % 977},"fw":"1.${i % 7}"}`));
  }
  return c;
}

const daysOf = (date) => Date.parse(`${date}T00:00:00Z`) / DAY_MS;

async function writeHyparquet(c) {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const ts = { type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
  return (codec) => {
    const spec = [
      ['event_id', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, c.event_id],
      ['device_id', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, c.device_id],
      ['event_type', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, c.event_type],
      ['status', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }, c.status],
      ['temperature', { type: 'DOUBLE' }, c.temperature],
      ['pressure', { type: 'DOUBLE' }, c.pressure],
      ['humidity', { type: 'DOUBLE' }, c.humidity],
      ['sequence', { type: 'INT64' }, c.sequence.map(BigInt)],
      ['reading_count', { type: 'INT64' }, c.reading_count.map(BigInt)],
      ['event_time', ts, c.event_time.map((ms) => BigInt(ms) * 1000n)],
      ['ingested_at', ts, c.ingested_at.map((ms) => BigInt(ms) * 1000n)],
      ['event_date', { type: 'INT32', converted_type: 'DATE' }, c.event_date.map(daysOf)],
      ['payload', { type: 'BYTE_ARRAY' }, c.payload.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length))],
    ];
    return Buffer.from(
      parquetWriteBuffer({
        codec,
        rowGroupSize: 100_000,
        schema: [{ name: 'root', num_children: spec.length }, ...spec.map(([name, t]) => ({ name, repetition_type: 'OPTIONAL', ...t }))],
        columnData: spec.map(([name, , data]) => ({ name, data })),
      }),
    );
  };
}

async function libraryWriter(library, c) {
  if (library === 'hyparquet-writer') {
    const write = await writeHyparquet(c);
    return { codec: 'SNAPPY', write: () => write('SNAPPY') };
  }
  if (library === 'parquet-wasm') {
    const wasm = require('parquet-wasm');
    const source = (await writeHyparquet(c))('UNCOMPRESSED');
    return {
      codec: 'SNAPPY',
      prepare: () => wasm.readParquet(source),
      write: (table) => {
        const props = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.SNAPPY).setMaxRowGroupSize(100_000).build();
        return Buffer.from(wasm.writeParquet(table, props));
      },
    };
  }
  const parquet = require('@dsnp/parquetjs');
  const field = (type, optional = true) => ({ type, optional, compression: 'SNAPPY' });
  const schema = new parquet.ParquetSchema({
    event_id: field('UTF8'),
    device_id: field('UTF8'),
    event_type: field('UTF8'),
    status: field('UTF8'),
    temperature: field('DOUBLE'),
    pressure: field('DOUBLE'),
    humidity: field('DOUBLE'),
    sequence: field('INT64'),
    reading_count: field('INT64'),
    event_time: field('TIMESTAMP_MICROS'),
    ingested_at: field('TIMESTAMP_MICROS'),
    event_date: field('DATE'),
    payload: field('BYTE_ARRAY'),
  });
  return {
    codec: 'SNAPPY',
    write: async () => {
      const file = path.join(os.tmpdir(), `bench-parquetjs-${process.pid}-${Date.now()}.parquet`);
      const writer = await parquet.ParquetWriter.openFile(schema, file, { rowGroupSize: 100_000 });
      for (let i = 0; i < ROWS; i++) {
        const row = {};
        for (const name of Object.keys(c)) {
          const v = c[name][i];
          if (v === null) continue;
          if (name === 'event_time' || name === 'ingested_at') row[name] = BigInt(v) * 1000n;
          else if (name === 'event_date') row[name] = daysOf(v);
          else if (name === 'sequence' || name === 'reading_count') row[name] = BigInt(v);
          else row[name] = v;
        }
        await writer.appendRow(row);
      }
      await writer.close();
      const bytes = fs.readFileSync(file);
      fs.rmSync(file);
      return bytes;
    },
  };
}

/** Child: write twice with one library, report timing, size, peak RSS and the two hashes. */
async function child(library, outFile) {
  const c = makeColumns(ROWS);
  const baselineRssMb = process.resourceUsage().maxRSS / 1024;
  const { codec, write, prepare } = await libraryWriter(library, c);
  const prepareStart = process.hrtime.bigint();
  const input = prepare ? prepare() : undefined;
  const prepareMs = prepare ? Number(process.hrtime.bigint() - prepareStart) / 1e6 : 0;
  const start = process.hrtime.bigint();
  const first = await write(input);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const second = await write(prepare ? prepare() : undefined);
  fs.writeFileSync(outFile, first);
  const hash = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const result = {
    library,
    codec,
    ms,
    prepareMs,
    bytes: first.length,
    deterministic: hash(first) === hash(second),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    baselineRssMb,
  };
  process.stdout.write(JSON.stringify(result));
}

function expectedAggregates(c) {
  let sumSeq = 0n;
  let sumTime = 0n;
  let nonNullHumidity = 0;
  let payloadBytes = 0;
  let sumTemp = 0;
  for (let i = 0; i < ROWS; i++) {
    sumSeq += BigInt(c.sequence[i]);
    sumTime += BigInt(c.event_time[i]);
    if (c.humidity[i] !== null) nonNullHumidity++;
    payloadBytes += c.payload[i].length;
    sumTemp += c.temperature[i];
  }
  return { count: ROWS, sumSeq, sumTime, nonNullHumidity, payloadBytes, sumTemp };
}

async function verifyWithDuckDb(file, c) {
  const { DuckDBInstance } = require('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const problems = [];
  try {
    const quoted = `'${file.replace(/'/g, "''")}'`;
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoted})`)).getRowObjectsJS();
    const types = Object.fromEntries(described.map((r) => [r.column_name, r.column_type]));
    const want = {
      event_id: ['VARCHAR'],
      temperature: ['DOUBLE'],
      humidity: ['DOUBLE'],
      sequence: ['BIGINT'],
      event_time: ['TIMESTAMP WITH TIME ZONE', 'TIMESTAMP'],
      event_date: ['DATE'],
      payload: ['BLOB'],
    };
    for (const [name, accepted] of Object.entries(want)) {
      if (!accepted.includes(types[name])) problems.push(`${name} is ${types[name]}, expected ${accepted.join(' or ')}`);
    }
    const [agg] = (
      await connection.runAndReadAll(
        `SELECT count(*) AS count, sum(sequence) AS sum_seq, sum(epoch_ms(event_time::TIMESTAMP)) AS sum_time,
                count(humidity) AS non_null_humidity, sum(octet_length(payload)) AS payload_bytes, sum(temperature) AS sum_temp
         FROM read_parquet(${quoted})`,
      )
    ).getRowObjectsJS();
    const e = expectedAggregates(c);
    if (Number(agg.count) !== e.count) problems.push(`count ${agg.count} ≠ ${e.count}`);
    if (BigInt(agg.sum_seq) !== e.sumSeq) problems.push(`sum(sequence) ${agg.sum_seq} ≠ ${e.sumSeq}`);
    if (BigInt(agg.sum_time) !== e.sumTime) problems.push(`sum(event_time) ${agg.sum_time} ≠ ${e.sumTime}`);
    if (Number(agg.non_null_humidity) !== e.nonNullHumidity) problems.push(`count(humidity) ${agg.non_null_humidity} ≠ ${e.nonNullHumidity}`);
    if (Number(agg.payload_bytes) !== e.payloadBytes) problems.push(`payload bytes ${agg.payload_bytes} ≠ ${e.payloadBytes}`);
    if (Math.abs(Number(agg.sum_temp) - e.sumTemp) > 1e-6 * Math.abs(e.sumTemp)) problems.push(`sum(temperature) ${agg.sum_temp} ≠ ${e.sumTemp}`);
    for (const i of [0, ROWS - 1]) {
      const [row] = (
        await connection.runAndReadAll(
          `SELECT event_id, device_id, epoch_ms(event_time::TIMESTAMP) AS event_time_ms, event_date::VARCHAR AS event_date,
                  humidity, decode(payload) AS payload FROM read_parquet(${quoted}) WHERE event_id = 'evt-${String(i).padStart(9, '0')}'`,
        )
      ).getRowObjectsJS();
      const expected = {
        event_id: c.event_id[i],
        device_id: c.device_id[i],
        event_time_ms: c.event_time[i],
        event_date: c.event_date[i],
        humidity: c.humidity[i],
        payload: c.payload[i].toString(),
      };
      const actual = row && { ...row, event_time_ms: Number(row.event_time_ms) };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) problems.push(`row ${i}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
    }
    return { types: `event_time ${types.event_time}, event_date ${types.event_date}, payload ${types.payload}`, problems };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function packageSize(name) {
  const seen = new Set();
  let total = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) total += fs.statSync(full).size;
    }
  };
  // The package plus its declared runtime dependencies (one level, hoisted), as an install-weight estimate.
  const visit = (pkg) => {
    if (seen.has(pkg)) return;
    seen.add(pkg);
    const dir = path.join(__dirname, '..', 'node_modules', pkg);
    if (!fs.existsSync(dir)) return;
    walk(dir);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep);
  };
  visit(name);
  return total / 1024 / 1024;
}

async function parent() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-parquet-'));
  const c = makeColumns(ROWS);
  const results = [];
  try {
    for (const library of LIBRARIES) {
      const outFile = path.join(work, `${library.replace(/[@/]/g, '_')}.parquet`);
      const run = spawnSync(process.execPath, [__filename, '--child', library, '--out', outFile, '--rows', String(ROWS)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (run.status !== 0) {
        results.push({ library, error: (run.stderr || run.stdout).trim().split('\n').slice(0, 3).join(' | ') });
        continue;
      }
      const result = JSON.parse(run.stdout);
      const check = await verifyWithDuckDb(outFile, c);
      results.push({ ...result, ...check, installMb: packageSize(library) });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`Parquet writers, ${ROWS.toLocaleString('en')} rows × 13 columns, node ${process.version}, ${os.cpus().length} cores`);
  console.log('| library | codec | rows/s | write ms | file size | peak RSS | deterministic | DuckDB read-back | install (pkg + deps) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    if (r.error) {
      console.log(`| ${r.library} | failed: ${r.error} |`);
      continue;
    }
    const ok = r.problems.length === 0 ? `ok (${r.types})` : `WRONG: ${r.problems.join('; ')}`;
    const prep = r.prepareMs ? ` (+${r.prepareMs.toFixed(0)} ms Parquet→Arrow input, untimed)` : '';
    console.log(
      `| ${r.library} | ${r.codec} | ${Math.round(ROWS / (r.ms / 1000)).toLocaleString('en')} | ${r.ms.toFixed(0)}${prep} | ${(r.bytes / 1024 / 1024).toFixed(2)} MiB | ${r.peakRssMb.toFixed(0)} MiB (rows alone ${r.baselineRssMb.toFixed(0)}) | ${r.deterministic ? 'yes' : 'NO'} | ${ok} | ${r.installMb.toFixed(1)} MiB |`,
    );
  }
}

if (args.includes('--child')) {
  child(flag('--child'), flag('--out')).catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  parent().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { WindowedAggregation, type EngineRow } from '@pipeline/engine';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { simulate, simulateCommandHelp } from './simulate';

/** The README example: per-device readings, a 1-minute tumbling window, a 10-second watermark delay. */
const exampleSpec = `version: 1
name: simulate-example
source:
  name: sensors
  columns:
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double, nullable: true }
eventTime: { column: ts }
eventId: { derive: source-row }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
aggregates:
  - { name: readings, fn: count }
  - { name: avg_temperature, fn: avg, column: temperature }
  - { name: max_temperature, fn: max, column: temperature }
watermark: { delay: 10s }
`;

const exampleBatches = [
  // Batch 0: the max event time is 00:01:05, so the watermark becomes 00:00:55; no window has ended by then.
  '{"rows": [{"event_time": "2026-01-01T00:00:10Z", "device_id": "d1", "temperature": 20}, {"event_time": "2026-01-01T00:00:50Z", "device_id": "d2", "temperature": 22}, {"event_time": "2026-01-01T00:01:05Z", "device_id": "d1", "temperature": 21}]}',
  // Batch 1: 00:00:58 is out of order but on time (its window ends after 00:00:55); 00:02:15 moves the watermark to 00:02:05, closing two windows.
  '{"rows": [{"event_time": "2026-01-01T00:00:58Z", "device_id": "d1", "temperature": 23}, {"event_time": "2026-01-01T00:01:30Z", "device_id": "d2", "temperature": 25}, {"event_time": "2026-01-01T00:02:15Z", "device_id": "d1", "temperature": 24}]}',
  // Batch 2: 00:01:59 belongs to a window that ended before the watermark 00:02:05: it is late.
  '{"rows": [{"event_time": "2026-01-01T00:01:59Z", "device_id": "d2", "temperature": 30}, {"event_time": "2026-01-01T00:02:40Z", "device_id": "d2", "temperature": 26}, {"event_time": "2026-01-01T00:03:20Z", "device_id": "d1", "temperature": 27}]}',
];

const exampleAppendOutput = [
  '{"batch":0,"watermark":"2026-01-01T00:00:55.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0}',
  '{"batch":1,"watermark":"2026-01-01T00:02:05.000Z","emitted":[' +
    '{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d1","readings":2,"avg_temperature":21.5,"max_temperature":23},' +
    '{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d2","readings":1,"avg_temperature":22,"max_temperature":22},' +
    '{"window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","device_id":"d1","readings":1,"avg_temperature":21,"max_temperature":21},' +
    '{"window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","device_id":"d2","readings":1,"avg_temperature":25,"max_temperature":25}' +
    '],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0}',
  '{"batch":2,"watermark":"2026-01-01T00:03:10.000Z","emitted":[' +
    '{"window_start":"2026-01-01T00:02:00.000Z","window_end":"2026-01-01T00:03:00.000Z","device_id":"d1","readings":1,"avg_temperature":24,"max_temperature":24},' +
    '{"window_start":"2026-01-01T00:02:00.000Z","window_end":"2026-01-01T00:03:00.000Z","device_id":"d2","readings":1,"avg_temperature":26,"max_temperature":26}' +
    '],"late":[{"event_time":"2026-01-01T00:01:59Z","device_id":"d2","temperature":30}],"rowsDroppedByWatermark":1,"numRowsDroppedByWatermark":1}',
];

/**
 * examples/simulate/partitions.jsonl with partitions.spec.yaml (a 10s delay, a 1m idle timeout):
 * partition 0 runs ahead of partition 1, then partition 1 goes quiet and comes back late.
 */
const partitionsExampleOutput = [
  // Batch 0: partition 0 has reached 00:01:20, partition 1 only 00:00:40: partition 1 holds the watermark at 00:00:30.
  '{"batch":0,"watermark":"2026-01-01T00:00:30.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0,"partitions":{"0":{"maxEventTime":"2026-01-01T00:01:20.000Z","captureTime":"2026-01-01T00:01:22.000Z"},"1":{"maxEventTime":"2026-01-01T00:00:40.000Z","captureTime":"2026-01-01T00:00:42.000Z"}},"holdingPartition":"1","idlePartitions":[]}',
  // Batch 1: partition 1's 00:00:50 is on time (one running max would be at 00:01:10 already); its window is emitted with both rows.
  '{"batch":1,"watermark":"2026-01-01T00:01:10.000Z","emitted":[{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d1","readings":1},{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","device_id":"d2","readings":2}],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0,"partitions":{"0":{"maxEventTime":"2026-01-01T00:01:20.000Z","captureTime":"2026-01-01T00:01:22.000Z"},"1":{"maxEventTime":"2026-01-01T00:01:30.000Z","captureTime":"2026-01-01T00:01:32.000Z"}},"holdingPartition":"0","idlePartitions":[]}',
  // Batch 2: partition 1 has had no rows for 40s of capture time, under the 1m idle timeout: it still holds the watermark.
  '{"batch":2,"watermark":"2026-01-01T00:01:20.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0,"partitions":{"0":{"maxEventTime":"2026-01-01T00:02:10.000Z","captureTime":"2026-01-01T00:02:12.000Z"},"1":{"maxEventTime":"2026-01-01T00:01:30.000Z","captureTime":"2026-01-01T00:01:32.000Z"}},"holdingPartition":"1","idlePartitions":[]}',
  // Batch 3: 1m35s of capture time without rows from partition 1: it is idle, and the watermark follows partition 0.
  '{"batch":3,"watermark":"2026-01-01T00:02:55.000Z","emitted":[{"window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","device_id":"d1","readings":1},{"window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","device_id":"d2","readings":1}],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0,"partitions":{"0":{"maxEventTime":"2026-01-01T00:03:05.000Z","captureTime":"2026-01-01T00:03:07.000Z"},"1":{"maxEventTime":"2026-01-01T00:01:30.000Z","captureTime":"2026-01-01T00:01:32.000Z"}},"holdingPartition":"0","idlePartitions":["1"]}',
  // Batch 4: partition 1 is back with rows for a window already emitted: late, 2 rows for 1 (window, key); the watermark stays.
  '{"batch":4,"watermark":"2026-01-01T00:02:55.000Z","emitted":[],"late":[{"partition":"1","capture_time":"2026-01-01T00:03:10Z","event_time":"2026-01-01T00:01:40Z","device_id":"d2"},{"partition":"1","capture_time":"2026-01-01T00:03:11Z","event_time":"2026-01-01T00:01:45Z","device_id":"d2"}],"rowsDroppedByWatermark":2,"numRowsDroppedByWatermark":1,"partitions":{"0":{"maxEventTime":"2026-01-01T00:03:05.000Z","captureTime":"2026-01-01T00:03:07.000Z"},"1":{"maxEventTime":"2026-01-01T00:01:45.000Z","captureTime":"2026-01-01T00:03:11.000Z"}},"holdingPartition":"1","idlePartitions":[]}',
];

const root = path.resolve(__dirname, '..', '..', '..');
const examplesDir = path.join(root, 'examples', 'simulate');

async function exampleLines(file: string): Promise<string[]> {
  return (await readFile(path.join(examplesDir, file), 'utf8')).trimEnd().split('\n');
}

async function run(dir: TempDir, files: { spec?: string; input: string[] }, mode: 'append' | 'update' = 'append', extraSpec = '') {
  const specFile = path.join(dir.path, 'spec.yaml');
  const inputFile = path.join(dir.path, 'batches.jsonl');
  await writeFile(specFile, (files.spec ?? exampleSpec) + extraSpec);
  await writeFile(inputFile, files.input.map((l) => `${l}\n`).join(''));
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await simulate({ specFile, inputFile, mode }, out, err);
  return { code, lines: stdout.split('\n').filter((l) => l !== ''), stderr, inputFile };
}

describe('simulate', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('pipeline-simulate-');
  });
  afterEach(async () => {
    await dir.dispose();
  });

  it('runs the README example: windows are emitted when the watermark passes their end, and the late row is listed', async () => {
    const result = await run(dir, { input: exampleBatches });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.lines).toEqual(exampleAppendOutput);
  });

  it('prints in update mode every window each batch changed', async () => {
    const result = await run(dir, { input: exampleBatches }, 'update');
    expect(result.code).toBe(0);
    const emitted = result.lines.map((l) =>
      (JSON.parse(l) as { emitted: Array<Record<string, unknown>> }).emitted.map(
        (w) => `${String(w['window_start']).slice(11, 16)} ${String(w['device_id'])} ${String(w['readings'])}`,
      ),
    );
    expect(emitted).toEqual([
      ['00:00 d1 1', '00:00 d2 1', '00:01 d1 1'],
      ['00:00 d1 2', '00:01 d2 1', '00:02 d1 1'],
      ['00:02 d2 1', '00:03 d1 1'],
    ]);
  });

  it('prints what its --help example says, on the example files it names', async () => {
    const help = simulateCommandHelp.split('\n').map((l) => l.replace(/^ {2}/, ''));
    const input = help.slice(
      help.indexOf('$ cat examples/simulate/batches.jsonl') + 1,
      help.findIndex((l) => l.startsWith('$ pipeline simulate')),
    );
    const expected = help.slice(help.findIndex((l) => l.startsWith('$ pipeline simulate')) + 1).filter((l) => l !== '');
    expect(await exampleLines('batches.jsonl')).toEqual(input);
    expect(await readFile(path.join(examplesDir, 'spec.yaml'), 'utf8')).toBe(exampleSpec);
    const result = await run(dir, { spec: exampleSpec, input });
    expect(result.lines).toEqual(expected);
  });

  it("runs the partitions example: one partition running ahead makes none of the other's in-order rows late, and an idle one stops holding the watermark", async () => {
    const result = await run(dir, { spec: await readFile(path.join(examplesDir, 'partitions.spec.yaml'), 'utf8'), input: await exampleLines('partitions.jsonl') });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.lines).toEqual(partitionsExampleOutput);
  });

  it("makes the behind partition's in-order row late when the same rows name no partition, as one running max would", async () => {
    const input = (await exampleLines('partitions.jsonl')).map((l) => l.replace(/"partition": "\d+", /g, ''));
    const result = await run(dir, { spec: await readFile(path.join(examplesDir, 'partitions.spec.yaml'), 'utf8'), input });
    expect(result.code).toBe(0);
    const late = result.lines.map((l) => (JSON.parse(l) as { late: Array<{ event_time: string }> }).late.map((row) => row.event_time));
    expect(late[1]).toEqual(['2026-01-01T00:00:50Z']);
  });

  it('prints what the README shows for each simulate example, on the files it names', async () => {
    const readme = await readFile(path.join(root, 'README.md'), 'utf8');
    const sessions = [...readme.matchAll(/```console\n([\s\S]*?)```/g)]
      .map((block) => block[1].split('\n').filter((l) => l !== ''))
      .filter((lines) => lines.some((l) => l.startsWith('$ npx pipeline simulate ')));
    expect(sessions).toHaveLength(4);
    for (const lines of sessions) {
      const command = lines.findIndex((l) => l.startsWith('$ npx pipeline simulate '));
      const files = /^\$ npx pipeline simulate --spec (\S+) --input (\S+)$/.exec(lines[command]);
      if (files === null) throw new Error(`Unexpected README command: ${lines[command]}`);
      const [, specFile, inputFile] = files;
      expect(lines[0]).toBe(`$ cat ${inputFile}`);
      const input = (await readFile(path.join(root, inputFile), 'utf8')).trimEnd().split('\n');
      expect(input).toEqual(lines.slice(1, command));
      const result = await run(dir, { spec: await readFile(path.join(root, specFile), 'utf8'), input });
      expect(result.lines).toEqual(lines.slice(command + 1));
    }
  });

  it('names each window when the spec has more than one, and reads epoch-millisecond event times', async () => {
    const spec = exampleSpec.replace(
      '  - { name: per_minute, type: tumbling, size: 1m }\n',
      '  - { name: per_minute, type: tumbling, size: 1m }\n  - { name: two_minutes, type: hopping, size: 2m, slide: 1m }\n',
    );
    const t = Date.parse('2026-01-01T00:00:10Z');
    const result = await run(dir, {
      spec,
      input: [`{"rows": [{"event_time": ${t}, "device_id": "d1", "temperature": 20}]}`, `{"rows": [{"event_time": ${t + 300_000}, "device_id": "d1"}]}`],
    });
    expect(result.code).toBe(0);
    const emitted = (JSON.parse(result.lines[1]) as { emitted: Array<Record<string, unknown>> }).emitted;
    expect(emitted.map((w) => [w['window'], w['window_start']])).toEqual([
      ['two_minutes', '2025-12-31T23:59:00.000Z'],
      ['per_minute', '2026-01-01T00:00:00.000Z'],
      ['two_minutes', '2026-01-01T00:00:00.000Z'],
    ]);
  });

  it('treats {"rows": []} as a no-data batch and skips blank lines', async () => {
    const result = await run(dir, { input: [exampleBatches[0], '', '{"rows": []}'] });
    expect(result.code).toBe(0);
    expect(result.lines).toEqual([
      exampleAppendOutput[0],
      '{"batch":1,"watermark":"2026-01-01T00:00:55.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0}',
    ]);
  });

  it("adds each partition's progress, the partition holding the watermark back and the idle ones once rows name their partition", async () => {
    const t = Date.parse('2026-01-01T00:01:00Z');
    const result = await run(dir, {
      input: [
        `{"rows": [{"partition": 0, "capture_time": ${t + 2000}, "event_time": ${t}, "device_id": "d1"}, {"partition": 1, "capture_time": "2026-01-01T00:00:32Z", "event_time": "2026-01-01T00:00:30Z", "device_id": "d2"}]}`,
      ],
    });
    expect(result.stderr).toBe('');
    expect(result.lines).toEqual([
      '{"batch":0,"watermark":"2026-01-01T00:00:20.000Z","emitted":[],"late":[],"rowsDroppedByWatermark":0,"numRowsDroppedByWatermark":0,' +
        '"partitions":{"0":{"maxEventTime":"2026-01-01T00:01:00.000Z","captureTime":"2026-01-01T00:01:02.000Z"},"1":{"maxEventTime":"2026-01-01T00:00:30.000Z","captureTime":"2026-01-01T00:00:32.000Z"}},' +
        '"holdingPartition":"1","idlePartitions":[]}',
    ]);
  });

  it('gives the engine capture times as epoch milliseconds, and prints no partitions when rows name none', async () => {
    const processBatch = jest.spyOn(WindowedAggregation.prototype, 'processBatch');
    try {
      const result = await run(dir, {
        input: [
          '{"rows": [{"capture_time": "2026-01-01T00:00:12Z", "event_time": "2026-01-01T00:00:10Z", "device_id": "d1"}]}',
          '{"rows": [{"capture_time": 1767225622000, "event_time": "2026-01-01T00:00:20Z", "device_id": "d1"}]}',
        ],
      });
      expect(result.code).toBe(0);
      const captureTimes = processBatch.mock.calls.flatMap(([rows]) => (rows as readonly EngineRow[]).map((row) => row['capture_time']));
      expect(captureTimes).toEqual([Date.parse('2026-01-01T00:00:12Z'), 1767225622000]);
      expect(result.lines.map((l) => Object.keys(JSON.parse(l) as object))).toEqual(
        Array(2).fill(['batch', 'watermark', 'emitted', 'late', 'rowsDroppedByWatermark', 'numRowsDroppedByWatermark']),
      );
    } finally {
      processBatch.mockRestore();
    }
  });

  it('counts late rows and, apart, the aggregates they would have updated', async () => {
    const late = '{"event_time": "2026-01-01T00:00:20Z", "device_id": "d1", "temperature": 1}';
    const result = await run(dir, { input: [exampleBatches[0], exampleBatches[1], `{"rows": [${late}, ${late}, ${late.replace('d1', 'd2')}]}`] });
    expect(result.lines[2]).toMatch(/"rowsDroppedByWatermark":3,"numRowsDroppedByWatermark":2}$/);
  });

  it('stops with exit code 1 at a row without a partition after rows that name theirs', async () => {
    const named = '{"rows": [{"partition": "0", "event_time": "2026-01-01T00:00:10Z", "device_id": "d1"}]}';
    const result = await run(dir, { input: [named, '{"rows": [{"partition": "1", "event_time": 0}, {"event_time": 0}]}'] });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `${result.inputFile}:2: rows[1] has no partition, but the rows from line 1 on have one; give every row a partition, or none. Nothing from line 2 on was processed; fix the line and run again.\n`,
    );
    expect(result.lines).toHaveLength(1);
  });

  it.each([
    ['invalid JSON', '{"rows": [', /batches\.jsonl:2: is not valid JSON \(.+\)\. Write each batch on one line, e\.g\. \{"rows": \[/],
    ['a line that is not an object', '[{"event_time": 0}]', /batches\.jsonl:2: must be an object with a "rows" list, e\.g\. /],
    ['a row that is not an object', '{"rows": [42]}', /batches\.jsonl:2: rows\[0\] must be an object of column values/],
    ['a missing event_time', '{"rows": [{"device_id": "d1"}]}', /batches\.jsonl:2: rows\[0\]\.event_time is missing; every row needs an event_time, e\.g\. "2026-01-01T00:00:10Z"/],
    [
      'an unparseable event_time',
      '{"rows": [{"event_time": "yesterday"}]}',
      /batches\.jsonl:2: rows\[0\]\.event_time: the event time "yesterday" is not an ISO 8601 time like "2026-01-01T00:00:10Z".*, nor epoch milliseconds such as 1767225610000\./,
    ],
    [
      'a temperature that is not a number, which silver would quarantine',
      '{"rows": [{"event_time": 0, "device_id": "d1", "temperature": "hot"}]}',
      /batches\.jsonl:2: rows\[0\] would be quarantined by silver as cast_error: column "temperature": "hot" is not a double \(a decimal number like 21\.5 or 1e3; NaN and Infinity are not accepted\)\./,
    ],
    [
      'a row without a value for a column that is not nullable, which silver would quarantine',
      '{"rows": [{"event_time": 0, "temperature": 20}]}',
      /batches\.jsonl:2: rows\[0\] would be quarantined by silver as missing_value: column "device_id" is absent from the body but is not nullable\./,
    ],
    [
      'an epoch-millisecond event_time beyond what a date can hold',
      '{"rows": [{"event_time": 8640000000000001}]}',
      /batches\.jsonl:2: rows\[0\]\.event_time 8640000000000001 is out of range: epoch milliseconds go from -8640000000000000 to 8640000000000000/,
    ],
    [
      'an epoch-millisecond capture_time beyond what a date can hold',
      '{"rows": [{"event_time": 0, "capture_time": -9e15}]}',
      /batches\.jsonl:2: rows\[0\]\.capture_time -9000000000000000 is out of range/,
    ],
    [
      'a partition that is neither a string nor a number',
      '{"rows": [{"event_time": 0, "partition": true}]}',
      /batches\.jsonl:2: rows\[0\]\.partition is true; name the source partition with a string or a number, e\.g\. "0" or 0\./,
    ],
    [
      'a partition after rows without one',
      '{"rows": [{"event_time": 0, "partition": "1"}]}',
      /batches\.jsonl:2: rows\[0\]\.partition is "1", but the rows from line 1 on have none, which makes them one partition; give every row a partition, or none\./,
    ],
    [
      'a capture_time that is not a time',
      '{"rows": [{"event_time": 0, "capture_time": true}]}',
      /batches\.jsonl:2: rows\[0\]\.capture_time is true; give the time the row was captured like an event_time, e\.g\. "2026-01-01T00:00:12Z" or epoch milliseconds\./,
    ],
    [
      'an unparseable capture_time',
      '{"rows": [{"event_time": 0, "capture_time": "soon"}]}',
      /batches\.jsonl:2: rows\[0\]\.capture_time: the capture time "soon" is not an ISO 8601 time like "2026-01-01T00:00:10Z".*, nor epoch milliseconds such as 1767225610000\./,
    ],
    [
      'a capture_time after rows without one',
      '{"rows": [{"event_time": 0, "capture_time": 5}]}',
      /batches\.jsonl:2: rows\[0\]\.capture_time is 5, but the rows from line 1 on have none; give every row a capture_time, or none\./,
    ],
  ])('stops with exit code 1 at %s, naming the line and the fix', async (_what, badLine, message) => {
    const result = await run(dir, { input: [exampleBatches[0], badLine, exampleBatches[1]] });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/Nothing from line 2 on was processed; fix the line and run again\.\n$/);
    expect(result.lines).toEqual([exampleAppendOutput[0]]);
  });

  describe("types rows by the spec's columns, as silver does", () => {
    /** Counts readings per device and minute, with the distinct values of a string and a long column. */
    const typedSpec = `version: 1
name: simulate-typed
source:
  name: sensors
  columns:
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: status, type: string, nullable: true }
    - { name: level, type: long, nullable: true }
    - { name: seen_at, type: timestamp, nullable: true }
eventTime: { column: ts }
eventId: { derive: source-row }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
aggregates:
  - { name: readings, fn: count }
  - { name: statuses, fn: count_distinct, column: status }
  - { name: levels, fn: count_distinct, column: level }
  - { name: latest_seen, fn: max, column: seen_at }
watermark: { delay: 0s }
`;
    const row = (fields: string) => `{"event_time": "2026-01-01T00:00:10Z", ${fields}}`;
    const close = '{"rows": [{"event_time": "2026-01-01T00:05:00Z", "device_id": "other"}]}';

    it('puts the key 1 and the key "1" of a string column in one group, as they are one value in the silver table', async () => {
      const result = await run(dir, { spec: typedSpec, input: [`{"rows": [${row('"device_id": 1')}, ${row('"device_id": "1"')}]}`, close] });
      expect(result.code).toBe(0);
      const emitted = (JSON.parse(result.lines[1]) as { emitted: Array<Record<string, unknown>> }).emitted;
      expect(emitted).toEqual([expect.objectContaining({ device_id: '1', readings: 2 })]);
    });

    it('counts 3 distinct values among 1, "1", true and "x" in a string column (not 4), and reads "7" and 7 in a long column as one', async () => {
      const rows = [
        row('"device_id": "d1", "status": 1, "level": "7"'),
        row('"device_id": "d1", "status": "1", "level": 7'),
        row('"device_id": "d1", "status": true, "level": " 7 "'),
        row('"device_id": "d1", "status": "x", "seen_at": "2026-01-01T00:00:09.000500Z"'),
      ];
      const result = await run(dir, { spec: typedSpec, input: [`{"rows": [${rows.join(', ')}]}`, close] });
      expect(result.code).toBe(0);
      const emitted = (JSON.parse(result.lines[1]) as { emitted: Array<Record<string, unknown>> }).emitted;
      // A timestamp with microseconds is aggregated at its millisecond, as gold reads silver's timestamps.
      expect(emitted).toEqual([expect.objectContaining({ device_id: 'd1', readings: 4, statuses: 3, levels: 1, latest_seen: Date.parse('2026-01-01T00:00:09.000Z') })]);
    });

    it('refuses a value silver would quarantine, naming the line, the row, the reason and every failing column', async () => {
      const bad = `{"rows": [${row('"device_id": "d1"')}, ${row('"device_id": "d1", "level": true, "seen_at": "noon"')}]}`;
      const result = await run(dir, { spec: typedSpec, input: [close, bad] });
      expect(result.code).toBe(1);
      expect(result.lines).toHaveLength(1);
      expect(result.stderr).toBe(
        `${result.inputFile}:2: rows[1] would be quarantined by silver as cast_error: column "level": true is not a long (a whole number like 42 or -7, within ±9007199254740991); ` +
          'column "seen_at": "noon" is not a timestamp (ISO 8601 like "2026-01-01T00:00:10Z" or "2026-01-01T00:00:10.123456Z", kept to the microsecond, or epoch milliseconds like 1767225610000, within the years 0001 to 9999). ' +
          'Nothing from line 2 on was processed; fix the line and run again.\n',
      );
    });
  });

  it('reports a spec problem with exit code 1', async () => {
    const result = await run(dir, { spec: exampleSpec.replace('watermark: { delay: 10s }\n', ''), input: exampleBatches });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/watermark/);
    expect(result.lines).toEqual([]);
  });

  it('reports a missing input file with exit code 1', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stderr = '';
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    const specFile = path.join(dir.path, 'spec.yaml');
    await writeFile(specFile, exampleSpec);
    const code = await simulate({ specFile, inputFile: path.join(dir.path, 'nope.jsonl'), mode: 'append' }, out, err);
    expect(code).toBe(1);
    expect(stderr).toMatch(/nope\.jsonl does not exist\. Pass --input with a JSONL file of batches, one per line/);
  });
});

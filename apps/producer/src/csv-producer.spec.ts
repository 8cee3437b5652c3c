import { appendFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import pino from 'pino';
import { LocalEventHub } from '@pipeline/adapters';
import { deriveEventId, parseSpec, type PipelineSpec } from '@pipeline/contracts';
import { partitionIndexForKey, TestClock } from '@pipeline/engine';
import type { EventHubProducer, PartitionBatch, ReceivedEvent } from '@pipeline/ports';
import { startTelemetry, type Telemetry } from '@pipeline/telemetry';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { CsvProducer, ProduceError, type AcknowledgedPosition } from './csv-producer';
import { HeaderMismatchError } from './event-mapper';
import { carryUnterminated, ProducerPositions, resumePoint, type ProducerPosition, type ResumePoint } from './producer-position';

const SPEC = `
version: 1
name: sensor-readings
source:
  name: sensors
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double }
eventTime: { column: ts, format: iso8601, timeZone: UTC }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
aggregates:
  - { name: readings, fn: count }
watermark: { delay: 30s }
gold: { shards: 2, outputModes: [append] }
`;

const silent = pino({ level: 'silent' });

describe('CSV producer', () => {
  let dir: TempDir;
  let hub: LocalEventHub;
  let spec: PipelineSpec;
  const clock = new TestClock(Date.UTC(2026, 0, 1));
  let telemetry: Telemetry;
  let scrapeUrl: string;
  beforeAll(async () => {
    telemetry = startTelemetry({ serviceName: 'producer-spec', env: {}, metricsPort: 0, metricsHost: '127.0.0.1' });
    scrapeUrl = (await telemetry.metrics) as string;
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });

  beforeEach(async () => {
    dir = await makeTempDir('producer-spec-');
    hub = LocalEventHub.open({ file: path.join(dir.path, 'hub.sqlite'), hubName: 'events', partitionCount: 4, clock });
    spec = parseSpec(SPEC, 'spec.yaml');
  });
  afterEach(async () => {
    await hub.close();
    await dir.dispose();
  });

  async function allEvents(): Promise<ReceivedEvent[]> {
    const events: ReceivedEvent[] = [];
    for (const id of await hub.getPartitionIds()) events.push(...(await hub.receive(id, -1, { maxCount: 10_000, maxWaitMs: 0 })));
    return events.sort((a, b) => Number(a.properties['row']) - Number(b.properties['row']));
  }

  const producer = () => new CsvProducer(spec, hub, clock, async (ms) => clock.advance(ms), silent);
  const run = (csvFile: string, over: Partial<Parameters<CsvProducer['produce']>[0]> = {}) =>
    producer().produce({ csvFile, fromRow: 1, pacing: { kind: 'unlimited' }, maxBatchEvents: 3, maxBatchDelayMs: 1_000, ...over });

  it('sends one event per row with a JSON body of raw values, the id, source, row and a traceparent', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, 'reading_id,device_id,ts,temperature\nr1,d1,2026-01-01T00:00:01Z,21.5\nr2,d2,2026-01-01T00:00:02Z,"1,5"\n');
    const summary = await run(csv);
    expect(summary).toMatchObject({ rowsRead: 2, eventsSent: 2, malformed: {}, stoppedEarly: false });
    const events = await allEvents();
    expect(events.map((e) => JSON.parse(e.body.toString('utf8')))).toEqual([
      { reading_id: 'r1', device_id: 'd1', ts: '2026-01-01T00:00:01Z', temperature: '21.5' },
      { reading_id: 'r2', device_id: 'd2', ts: '2026-01-01T00:00:02Z', temperature: '1,5' },
    ]);
    expect(events[0]?.properties).toMatchObject({
      event_id: 'r1',
      source: 'sensors',
      row: 1,
      content_type: 'json',
      traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    });
    // Sent to the key's partition by id, as Event Hubs would place the key.
    expect(events[0]?.partitionId).toBe(String(partitionIndexForKey('d1', 4)));
  });

  it('sends each partition’s events in the order of the file, whatever the keys, so event time stays as ordered as the source', async () => {
    const csv = path.join(dir.path, 'many-keys.csv');
    const lines = ['reading_id,device_id,ts,temperature'];
    for (let row = 1; row <= 300; row++)
      lines.push(`r${row},d${(row * 7) % 23},2026-01-01T00:${String(Math.floor(row / 60)).padStart(2, '0')}:${String(row % 60).padStart(2, '0')}Z,20`);
    await writeFile(csv, `${lines.join('\n')}\n`);
    await run(csv, { maxBatchEvents: 4 });
    for (const id of await hub.getPartitionIds()) {
      const rows = (await hub.receive(id, -1, { maxCount: 10_000, maxWaitMs: 0 })).map((e) => Number(e.properties['row']));
      expect(rows.length).toBeGreaterThan(0);
      expect(rows).toEqual([...rows].sort((a, b) => a - b));
    }
  });

  it('sends records that are not valid CSV as raw bytes marked with the reason, dropping nothing', async () => {
    const csv = path.join(dir.path, 'bad.csv');
    const badUtf8 = Buffer.from([0x72, 0x35, 0x2c, 0x64, 0x31, 0x2c, 0xff, 0xfe, 0x2c, 0x31]);
    await writeFile(
      csv,
      Buffer.concat([
        Buffer.from('reading_id,device_id,ts,temperature\nr1,d1,2026-01-01T00:00:01Z,20\nr2,d1,only-three\nr3,"d1,2026-01-01T00:00:03Z,20\n'),
        badUtf8,
        Buffer.from('\nr6,d2,2026-01-01T00:00:06Z,22\n'),
      ]),
    );
    const summary = await run(csv);
    expect(summary.rowsRead).toBe(5);
    expect(summary.eventsSent).toBe(5);
    expect(summary.malformed).toEqual({ csv_column_count: 1, csv_quote: 1, csv_utf8: 1 });
    const events = await allEvents();
    const marked = events.filter((e) => e.properties['malformed'] !== undefined);
    expect(marked.map((e) => [e.properties['row'], e.properties['malformed'], e.properties['content_type']])).toEqual([
      [2, 'csv_column_count', 'raw'],
      [3, 'csv_quote', 'raw'],
      [4, 'csv_utf8', 'raw'],
    ]);
    expect(marked[0]?.body.toString('utf8')).toBe('r2,d1,only-three');
    expect(marked[2]?.body.equals(badUtf8)).toBe(true);
    // Malformed rows still carry a stable id, so a re-send is recognised downstream.
    expect(marked[0]?.properties['event_id']).toBe(deriveEventId('sensors', 2));
  });

  it('resumes from a row, sending only that row and the ones after it', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(
      csv,
      ['reading_id,device_id,ts,temperature', ...Array.from({ length: 10 }, (_, i) => `r${i + 1},d${i % 3},2026-01-01T00:00:${String(i).padStart(2, '0')}Z,20`)].join('\n'),
    );
    const summary = await run(csv, { fromRow: 8 });
    expect(summary).toMatchObject({ rowsRead: 3, firstRow: 8, lastRow: 10 });
    expect((await allEvents()).map((e) => e.properties['event_id'])).toEqual(['r8', 'r9', 'r10']);
  });

  it('stops when asked, sends what it read, and says which row to resume from', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: 50 }, (_, i) => `r${i + 1},d${i % 3},2026-01-01T00:00:00Z,20`)].join('\n'));
    const stop = new AbortController();
    let sent = 0;
    const counting = new CsvProducer(
      spec,
      {
        hubName: hub.hubName,
        maxBatchBytes: hub.maxBatchBytes,
        getPartitionIds: () => hub.getPartitionIds(),
        close: async () => undefined,
        send: async (events, options) => {
          await hub.send(events, options);
          sent += events.length;
          if (sent >= 9) stop.abort();
        },
      },
      clock,
      async () => undefined,
      silent,
    );
    const summary = await counting.produce({ csvFile: csv, fromRow: 1, pacing: { kind: 'unlimited' }, maxBatchEvents: 3, maxBatchDelayMs: 1_000, signal: stop.signal });
    expect(summary.stoppedEarly).toBe(true);
    const events = await allEvents();
    const rows = events.map((e) => Number(e.properties['row']));
    // Every row before the resume point was sent, and nothing from it on.
    expect(rows).toEqual(Array.from({ length: (summary.resumeFromRow as number) - 1 }, (_, i) => i + 1));
  });

  it('reports the first row not yet acknowledged, so the next run resumes there and sends nothing twice', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: 20 }, (_, i) => `r${i + 1},d${i % 3},2026-01-01T00:00:00Z,20`)].join('\n'));
    const positions: number[] = [];
    await run(csv, { onPosition: async (position) => void positions.push(position.nextRow), positionIntervalMs: 0 });
    expect(positions[positions.length - 1]).toBe(21);
    // Positions only move forward, and never past a row that was not sent.
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    const again = await run(csv, { fromRow: positions[positions.length - 1] as number });
    expect(again.eventsSent).toBe(0);
    expect(await allEvents()).toHaveLength(20);
  });

  it('resumes from a kill without sending again what any partition had acknowledged, though other partitions were behind', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: 200 }, (_, i) => `r${i + 1},d${i % 7},2026-01-01T00:00:00Z,20`)].join('\n'));
    // The hub fails from the 13th send on, as if the process died there: what the run last wrote down is where the next one starts.
    let last: AcknowledgedPosition | undefined;
    let sends = 0;
    const dying: EventHubProducer = {
      hubName: hub.hubName,
      maxBatchBytes: hub.maxBatchBytes,
      getPartitionIds: () => hub.getPartitionIds(),
      send: async (events, options) => {
        if (++sends > 12) throw new Error('the process died');
        await hub.send(events, options);
      },
      close: async () => undefined,
    };
    await expect(
      new CsvProducer(spec, dying, clock, async (ms) => clock.advance(ms), silent).produce({
        csvFile: csv,
        fromRow: 1,
        pacing: { kind: 'unlimited' },
        maxBatchEvents: 5,
        maxBatchDelayMs: 1_000,
        onPosition: async (position) => void (last = position),
      }),
    ).rejects.toThrow(/the process died/);
    const recorded = last as AcknowledgedPosition;
    expect(Object.values(recorded.partitions).some((row) => row >= recorded.nextRow)).toBe(true);
    const again = await run(csv, { fromRow: recorded.nextRow, acknowledged: recorded.partitions, maxBatchEvents: 5 });
    expect(again.rowsSkipped).toBeGreaterThan(0);
    const rows = (await allEvents()).map((e) => Number(e.properties['row']));
    expect(rows).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  /** The hub, with each call seen by `onCall` first (which may throw instead of sending); `send` is a call of one batch. */
  const watchedHub = (onCall: (batches: readonly PartitionBatch[]) => void): EventHubProducer => ({
    hubName: hub.hubName,
    maxBatchBytes: hub.maxBatchBytes,
    getPartitionIds: () => hub.getPartitionIds(),
    close: async () => undefined,
    send: async (events, options) => {
      onCall([{ partitionId: options?.partitionId ?? '', events }]);
      await hub.send(events, options);
    },
    sendBatches: async (batches) => {
      onCall(batches);
      await hub.sendBatches(batches);
    },
  });
  const manyDevices = async (rows: number) => {
    const csv = path.join(dir.path, 'devices.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: rows }, (_, i) => `r${i + 1},d${i % 7},2026-01-01T00:00:00Z,20`)].join('\n'));
    return csv;
  };

  it('sends the batches of partitions that fill together in one call, and writes down only rows the hub holds', async () => {
    const csv = await manyDevices(200);
    const calls: string[][] = [];
    const checks: Promise<void>[] = [];
    const watching = watchedHub((batches) => calls.push(batches.map((b) => b.partitionId)));
    const summary = await new CsvProducer(spec, watching, clock, async () => undefined, silent).produce({
      csvFile: csv,
      fromRow: 1,
      pacing: { kind: 'unlimited' },
      maxBatchEvents: 10,
      maxBatchDelayMs: 1_000,
      positionIntervalMs: 0,
      onPosition: async (position) => {
        // Read when the position is written: every row it counts as acknowledged is in the hub already.
        const held = new Set((await allEvents()).map((e) => Number(e.properties['row'])));
        checks.push(
          (async () => {
            for (let row = 1; row < position.nextRow; row++) expect(held.has(row)).toBe(true);
            for (const row of Object.values(position.partitions)) expect(held.has(row)).toBe(true);
          })(),
        );
      },
    });
    await Promise.all(checks);
    expect(checks.length).toBeGreaterThan(3);
    expect(summary).toMatchObject({ eventsSent: 200, rowsRead: 200 });
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(new Set(call).size).toBe(call.length);
    // Fewer hub calls than batches: partitions that filled together went together.
    expect(calls.reduce((sum, call) => sum + call.length, 0)).toBe(summary.batchesSent);
    expect(calls.length).toBeLessThan(summary.batchesSent);
    const events = await allEvents();
    expect(events.map((e) => Number(e.properties['row']))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // Each call is one span: its events share a valid traceparent, and each call has its own.
    const traceparents = new Set(events.map((e) => e.properties['traceparent']));
    for (const traceparent of traceparents) expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceparents.size).toBe(calls.length);
  });

  it.each(['the row the error names', 'the last position written'] as const)(
    'after a failed call of several batches, none of which the embedded hub took, a resume from %s sends every row once',
    async (from) => {
      const csv = await manyDevices(200);
      let calls = 0;
      let failed: readonly PartitionBatch[] = [];
      let last: AcknowledgedPosition | undefined;
      const failing = watchedHub((batches) => {
        if (batches.length > 1 && ++calls === 3) {
          failed = batches;
          throw new Error('the hub is unreachable');
        }
      });
      const error: unknown = await new CsvProducer(spec, failing, clock, async () => undefined, silent)
        .produce({ csvFile: csv, fromRow: 1, pacing: { kind: 'unlimited' }, maxBatchEvents: 10, maxBatchDelayMs: 1_000, onPosition: async (position) => void (last = position) })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProduceError);
      expect(failed.length).toBeGreaterThan(1);
      const recorded = last as AcknowledgedPosition;
      // Neither says to resume past a row of the failed call.
      const oldest = Math.min(...failed.map((batch) => Number(batch.events[0]?.properties?.['row'])));
      const fromRow = from === 'the row the error names' ? ((error as ProduceError).summary.resumeFromRow as number) : recorded.nextRow;
      expect(fromRow).toBeLessThanOrEqual(oldest);
      const again = await run(csv, { fromRow, acknowledged: recorded.partitions, maxBatchEvents: 10 });
      expect(again.rowsSkipped).toBeGreaterThan(0);
      expect((await allEvents()).map((e) => Number(e.properties['row']))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    },
  );

  it('counts in its metrics the batches a hub took before a failed send as sent, and the rest as failed', async () => {
    /** The sum of the producer's send samples of a Prometheus family whose labels include every one given. */
    const sends = async (family: string, ...labels: string[]): Promise<number> => {
      let sum = 0;
      for (const line of (await (await fetch(scrapeUrl)).text()).split('\n')) {
        if (line.startsWith(`${family}{`) && [...labels, 'messaging_operation_name="send"'].every((label) => line.includes(label)))
          sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return sum;
    };
    // Few rows and large batches: nothing fills, so the end of the file hands out one batch per partition together.
    const csv = path.join(dir.path, 'few.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: 40 }, (_, i) => `r${i + 1},d${i % 8},2026-01-01T00:00:00Z,20`)].join('\n'));
    let calls = 0;
    const taken: number[] = [];
    const refused: number[] = [];
    // A hub that takes one batch per call (no sendBatches), refusing the second.
    const oneByOne: EventHubProducer = {
      hubName: hub.hubName,
      maxBatchBytes: hub.maxBatchBytes,
      getPartitionIds: () => hub.getPartitionIds(),
      close: async () => undefined,
      send: async (events, options) => {
        if (++calls === 2) {
          refused.push(events.length);
          throw new Error('the hub is unreachable');
        }
        await hub.send(events, options);
        taken.push(events.length);
      },
    };
    const before = {
      sent: await sends('messaging_client_sent_messages_total'),
      timed: await sends('messaging_client_operation_duration_count'),
      failed: await sends('messaging_client_operation_duration_count', 'error_type="Error"'),
    };
    const error = await new CsvProducer(spec, oneByOne, clock, async () => undefined, silent)
      .produce({ csvFile: csv, fromRow: 1, pacing: { kind: 'unlimited' }, maxBatchEvents: 1_000, maxBatchDelayMs: 60_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProduceError);
    expect(taken).toHaveLength(1);
    expect(refused).toHaveLength(1);
    // Only what the hub took counts as sent messages.
    expect((await sends('messaging_client_sent_messages_total')) - before.sent).toBe(taken[0]);
    // Each batch of the call has one timed send: the one taken without an error type, the others with it.
    const failed = (await sends('messaging_client_operation_duration_count', 'error_type="Error"')) - before.failed;
    expect(failed).toBeGreaterThanOrEqual(1);
    expect((await sends('messaging_client_operation_duration_count')) - before.timed - failed).toBe(1);
  });

  it('sends a record larger than the hub takes as a bounded record_too_large marker, and goes on with the next rows', async () => {
    const csv = path.join(dir.path, 'big.csv');
    const huge = 'x'.repeat(2 * 1024 * 1024);
    await writeFile(csv, `reading_id,device_id,ts,temperature\nr1,d1,2026-01-01T00:00:01Z,20\nr2,d1,2026-01-01T00:00:02Z,${huge}\nr3,d1,2026-01-01T00:00:03Z,22\n`);
    const summary = await run(csv, { maxRecordBytes: 4 * 1024 * 1024 });
    expect(summary).toMatchObject({ rowsRead: 3, eventsSent: 3, malformed: { record_too_large: 1 } });
    const events = await allEvents();
    expect(events.map((e) => e.properties['row'])).toEqual([1, 2, 3]);
    const marker = events[1] as ReceivedEvent;
    expect(marker.properties).toMatchObject({ event_id: 'r2', row: 2, content_type: 'raw', malformed: 'record_too_large' });
    expect(marker.properties['record_bytes']).toBeGreaterThan(2 * 1024 * 1024);
    expect(marker.body.length).toBe(1024);
    expect(marker.body.toString('utf8')).toMatch(/^\{"reading_id":"r2"/);
  });

  it('applies a record size limit below the hub’s when one is set', async () => {
    const csv = path.join(dir.path, 'limit.csv');
    await writeFile(csv, `reading_id,device_id,ts,temperature\nr1,d1,2026-01-01T00:00:01Z,${'9'.repeat(3000)}\n`);
    const summary = await run(csv, { maxRecordBytes: 2048 });
    expect(summary.malformed).toEqual({ record_too_large: 1 });
    expect((await allEvents())[0]?.properties['malformed']).toBe('record_too_large');
  });

  it('refuses a CSV whose header lacks a column of the spec, naming it', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, 'reading_id,device,ts,temperature\nr1,d1,2026-01-01T00:00:01Z,20\n');
    await expect(run(csv)).rejects.toThrow(HeaderMismatchError);
    await expect(run(csv)).rejects.toThrow(/lacks column "device_id"/);
  });

  it('paces a replay by event time through the injected clock', async () => {
    const csv = path.join(dir.path, 'in.csv');
    await writeFile(csv, 'reading_id,device_id,ts,temperature\nr1,d1,2026-01-01T00:00:00Z,20\nr2,d1,2026-01-01T00:01:00Z,20\nr3,d1,2026-01-01T00:02:00Z,20\n');
    const before = clock.now();
    await run(csv, { pacing: { kind: 'replay', speed: 60 } });
    // Two minutes of event time at speed 60: two seconds.
    expect(clock.now() - before).toBe(2_000);
    expect(await allEvents()).toHaveLength(3);
  });

  describe('a file still being written', () => {
    const HEADER = 'reading_id,device_id,ts,temperature\n';
    const line = (n: number) => `r${n},d${n % 3},2026-01-01T00:00:${String(n).padStart(2, '0')}Z,20`;
    const rowsOf = (events: ReceivedEvent[]) => events.map((e) => Number(e.properties['row']));

    /** A producer whose settle wait is when the writer goes on: `write` is appended during it. */
    const writerDuringSettle = (csv: string, write: string | undefined) =>
      new CsvProducer(
        spec,
        hub,
        clock,
        async (ms) => {
          clock.advance(ms);
          if (write !== undefined) await appendFile(csv, write);
        },
        silent,
      );

    it('sends the last line without a line break as a record when the file stays unchanged, and writes down where it ended', async () => {
      const csv = path.join(dir.path, 'in.csv');
      await writeFile(csv, `${HEADER}${line(1)}\n${line(2)}`);
      let last: AcknowledgedPosition | undefined;
      const summary = await writerDuringSettle(csv, undefined).produce({
        csvFile: csv,
        fromRow: 1,
        pacing: { kind: 'unlimited' },
        maxBatchEvents: 3,
        maxBatchDelayMs: 1_000,
        onPosition: async (position) => void (last = position),
      });
      expect(summary).toMatchObject({ rowsRead: 2, eventsSent: 2, malformed: {}, heldBackRow: undefined });
      expect((await allEvents()).map((e) => JSON.parse(e.body.toString('utf8')).reading_id)).toEqual(['r1', 'r2']);
      expect(last).toMatchObject({ nextRow: 3, size: (await stat(csv)).size, unterminated: { row: 2, end: (await stat(csv)).size } });
    });

    it('holds back a last line cut short while the file is written, counts it as not sent, and the next run sends it whole', async () => {
      const csv = path.join(dir.path, 'growing.csv');
      await writeFile(csv, `${HEADER}${line(1)}\n${line(2)}\nr3,d0,2026-01-01T00:0`);
      let last: AcknowledgedPosition | undefined;
      const first = await writerDuringSettle(csv, '0:03Z,20\n').produce({
        csvFile: csv,
        fromRow: 1,
        pacing: { kind: 'unlimited' },
        maxBatchEvents: 3,
        maxBatchDelayMs: 1_000,
        onPosition: async (position) => void (last = position),
      });
      expect(first).toMatchObject({ rowsRead: 2, eventsSent: 2, lastRow: 2, heldBackRow: 3, malformed: {} });
      expect(last).toMatchObject({ nextRow: 3 });
      expect(last?.unterminated).toBeUndefined();
      await appendFile(csv, `${line(4)}\n`);
      const second = await run(csv, { fromRow: (last as AcknowledgedPosition).nextRow, acknowledged: (last as AcknowledgedPosition).partitions });
      expect(second).toMatchObject({ rowsRead: 2, eventsSent: 2, firstRow: 3, lastRow: 4, malformed: {} });
      const events = await allEvents();
      expect(rowsOf(events)).toEqual([1, 2, 3, 4]);
      expect(JSON.parse((events[2] as ReceivedEvent).body.toString('utf8'))).toEqual({ reading_id: 'r3', device_id: 'd0', ts: '2026-01-01T00:00:03Z', temperature: '20' });
    });

    it('reads only the bytes the file had when the run started; rows appended meanwhile go with the next run', async () => {
      const csv = path.join(dir.path, 'appended.csv');
      // Larger than what the file stream reads ahead, so the run is still reading when the writer appends.
      const rows = 30_000;
      const at = (n: number, second: number) => `r${n},d${n % 3},2026-01-01T00:00:0${second}Z,20\n`;
      await writeFile(csv, HEADER + at(1, 0) + Array.from({ length: rows - 1 }, (_, i) => at(i + 2, 1)).join(''));
      let last: AcknowledgedPosition | undefined;
      // Replayed at event time, the run waits once, at row 2: the writer appends a row then.
      const appending = new CsvProducer(
        spec,
        hub,
        clock,
        async (ms) => {
          clock.advance(ms);
          await appendFile(csv, at(rows + 1, 2));
        },
        silent,
      );
      const first = await appending.produce({
        csvFile: csv,
        fromRow: 1,
        pacing: { kind: 'replay', speed: 1 },
        maxBatchEvents: 500,
        maxBatchDelayMs: 1_000,
        onPosition: async (position) => void (last = position),
      });
      expect(first).toMatchObject({ rowsRead: rows, lastRow: rows, heldBackRow: undefined, malformed: {} });
      const second = await run(csv, { fromRow: (last as AcknowledgedPosition).nextRow, acknowledged: (last as AcknowledgedPosition).partitions });
      expect(second).toMatchObject({ rowsRead: 1, firstRow: rows + 1, lastRow: rows + 1, malformed: {} });
    });

    it('sends a row again, whole, when its line goes on after it was sent without a line break', async () => {
      const csv = path.join(dir.path, 'paused.csv');
      const positions = new ProducerPositions(path.join(dir.path, 'positions'));
      const write = (position: AcknowledgedPosition, earlier?: ResumePoint) =>
        positions.write('events', csv, carryUnterminated(position, earlier?.kind === 'resume' ? earlier.unterminated : undefined));
      const resume = async () => resumePoint((await positions.read('events', csv)) as ProducerPosition, csv, (await stat(csv)).size);
      // The writer paused longer than the settle time in the middle of row 3: it was sent cut short.
      await writeFile(csv, `${HEADER}${line(1)}\n${line(2)}\nr3,d0,2026-01-01T00:0`);
      await run(csv, { onPosition: (position) => write(position) });
      expect((await allEvents()).map((e) => e.properties['malformed'])).toEqual([undefined, undefined, 'csv_column_count']);
      // A run before the line goes on sends nothing and keeps watching row 3.
      const unchanged = await resume();
      expect(unchanged).toMatchObject({ kind: 'resume', fromRow: 4, unterminated: { row: 3 } });
      if (unchanged.kind !== 'resume') throw new Error('expected a resume');
      expect(await run(csv, { fromRow: unchanged.fromRow, acknowledged: unchanged.acknowledged, onPosition: (position) => write(position, unchanged) })).toMatchObject({
        eventsSent: 0,
      });
      // The writer completes row 3 and adds row 4: row 3 is sent again as it is now, then row 4.
      await appendFile(csv, `0:03Z,20\n${line(4)}\n`);
      const extended = await resume();
      expect(extended).toMatchObject({ kind: 'resume', fromRow: 3, resentRow: 3 });
      if (extended.kind !== 'resume') throw new Error('expected a resume');
      expect(Object.values(extended.acknowledged).every((row) => row <= 2)).toBe(true);
      await run(csv, { fromRow: extended.fromRow, acknowledged: extended.acknowledged, onPosition: (position) => write(position, extended) });
      const events = await allEvents();
      expect(events.map((e) => [e.properties['row'], e.properties['malformed'] ?? 'ok'])).toEqual([
        [1, 'ok'],
        [2, 'ok'],
        [3, 'csv_column_count'],
        [3, 'ok'],
        [4, 'ok'],
      ]);
      // Row 3 now ends with a line break: the next resume is an ordinary one.
      expect(await resume()).toEqual({ kind: 'resume', fromRow: 5, acknowledged: expect.any(Object) });
    });

    it('names a damaged position file and the ways on, instead of resuming from a guess', async () => {
      const csv = path.join(dir.path, 'kept.csv');
      const folder = path.join(dir.path, 'positions');
      const positions = new ProducerPositions(folder);
      await writeFile(csv, `${HEADER}${[1, 2].map(line).join('\n')}\n`);
      await run(csv, { onPosition: (position) => positions.write('events', csv, position) });
      const [name] = await readdir(folder);
      const file = path.join(folder, name as string);
      for (const [text, what] of [
        ['{"csvFile": "kept.csv", "nextR', 'not a position it wrote'],
        ['', 'empty'],
        ['{"csvFile": "kept.csv"}', 'not a position it wrote'],
      ] as const) {
        await writeFile(file, text);
        await expect(positions.read('events', csv)).rejects.toThrow(
          `The producer's position in ${csv}, ${file}, is damaged (${what}), so the producer cannot tell which rows the hub already has. Say where to start with --from-row N, or delete that file`,
        );
      }
      await rm(file);
      expect(await positions.read('events', csv)).toBeUndefined();
    });

    it('does not resume by itself on a file shorter than what was read before', async () => {
      const csv = path.join(dir.path, 'replaced.csv');
      const positions = new ProducerPositions(path.join(dir.path, 'positions'));
      await writeFile(csv, `${HEADER}${[1, 2, 3].map(line).join('\n')}\n`);
      await run(csv, { onPosition: (position) => positions.write('events', csv, position) });
      await writeFile(csv, `${HEADER}${line(7)}\n`);
      expect(await resumePoint((await positions.read('events', csv)) as ProducerPosition, csv, (await stat(csv)).size)).toEqual({ kind: 'shrunk', size: (await stat(csv)).size });
    });
  });
});

import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { partitionIndexForKey, TestClock } from '@pipeline/engine';
import { EventHubError, EventTooLargeError, type EventToSend, type PropertyValue, type ReceivedEvent } from '@pipeline/ports';
import { describeEventHubContract, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import * as fc from 'fast-check';
import { CaptureFileWriter, captureRecordFromEvent, capturesExactly, deriveSyncMarker } from '@pipeline/capture-format';
import { packRecords } from './local.batch-records';
import { HUB_PAGE_BYTES, LocalEventHub } from './local.event-hub';
import { decodeProperties, encodeProperties } from './local.event-properties';

const repoRoot = path.resolve(__dirname, '../../..');
const adapterModule = path.join(__dirname, 'local.event-hub.ts');

describeEventHubContract('local', async () => {
  const dir = await makeTempDir('local-hub-');
  const hub = LocalEventHub.open({ file: path.join(dir.path, 'hub.db'), hubName: 'contract', partitionCount: 4 });
  return { producer: hub, consumer: hub, dispose: () => dir.dispose() };
});

/** A child Node process running `script` with the TypeScript sources compiled on the fly. */
function runNode(script: string, onStdout?: (line: string) => void): { exited: Promise<void>; stdout: string[] } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, SWC_NODE_PROJECT: path.join(repoRoot, 'tsconfig.base.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let stderr = '';
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      stdout.push(line);
      onStdout?.(line);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`child process exited with ${code}: ${stderr}`))));
  });
  return { exited, stdout };
}

/** The events of a partition as a consumer sees them: every field of the port, properties decoded. */
async function readPartition(hub: LocalEventHub, partitionId: string): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for (;;) {
    const batch = await hub.receive(partitionId, events.at(-1)?.sequenceNumber ?? -1, { maxCount: 1000, maxWaitMs: 0 });
    if (batch.length === 0) return events;
    for (const { partitionId, sequenceNumber, offset, enqueuedTime, partitionKey, properties, body } of batch) {
      events.push({ partitionId, sequenceNumber, offset, enqueuedTime, partitionKey, properties, body });
    }
  }
}

describe('LocalEventHub', () => {
  let dir: TempDir;
  let file: string;
  const open = (options: Partial<Parameters<typeof LocalEventHub.open>[0]> = {}) => LocalEventHub.open({ file, hubName: 'telemetry', partitionCount: 4, ...options });

  beforeEach(async () => {
    dir = await makeTempDir('local-hub-');
    file = path.join(dir.path, 'hubs', 'events.db');
  });

  afterEach(async () => {
    await dir.dispose();
  });

  it('starts every partition at sequence number 0 and offset "0", and reports an empty partition as -1', async () => {
    const hub = open();
    await expect(hub.getPartitionProperties('2')).resolves.toEqual({ partitionId: '2', lastSequenceNumber: -1, lastOffset: '-1', lastEnqueuedTime: 0 });
    await hub.send([{ body: Buffer.from('abc') }, { body: Buffer.from('de') }], { partitionId: '2' });
    const events = await readPartition(hub, '2');
    expect(events.map((e) => [e.sequenceNumber, e.offset])).toEqual([
      [0, '0'],
      [1, '4'], // 3 payload bytes + 1 separator
    ]);
    await hub.close();
  });

  it('stamps enqueuedTime from the injected clock', async () => {
    const clock = new TestClock(1_767_225_600_000);
    const hub = open({ clock });
    await hub.send([{ body: Buffer.from('a') }], { partitionId: '0' });
    clock.advance(5_000);
    await hub.send([{ body: Buffer.from('b') }], { partitionId: '0' });
    expect((await readPartition(hub, '0')).map((e) => e.enqueuedTime)).toEqual([1_767_225_600_000, 1_767_225_605_000]);
    await expect(hub.getPartitionProperties('0')).resolves.toMatchObject({ lastEnqueuedTime: 1_767_225_605_000 });
    await hub.close();
  });

  it('keeps integers and non-integers apart, and non-finite doubles, through storage', async () => {
    const hub = open();
    await hub.send([{ body: Buffer.alloc(0), properties: { whole: 3, fraction: 3.5, huge: 2 ** 60, nan: Number.NaN, inf: -Infinity } }], { partitionId: '1' });
    const [event] = await readPartition(hub, '1');
    expect(event.properties.whole).toBe(3);
    expect(event.properties.fraction).toBe(3.5);
    expect(event.properties.huge).toBe(2 ** 60);
    expect(event.properties.nan).toBeNaN();
    expect(event.properties.inf).toBe(-Infinity);
    expect(event.body).toEqual(Buffer.alloc(0));
    await hub.close();
  });

  it('returns every body byte for byte, empty ones, NUL bytes and invalid UTF-8 included', async () => {
    const hub = open();
    const bodies = [Buffer.from('{"a":1}'), Buffer.alloc(0), Buffer.from([0, 0, 1, 0]), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.alloc(0), Buffer.from('é\u0000z')];
    await hub.send(
      bodies.slice(0, 2).map((body) => ({ body })),
      { partitionId: '3' },
    );
    await hub.send(
      bodies.slice(2).map((body) => ({ body })),
      { partitionId: '3' },
    );
    await hub.send([{ body: Buffer.alloc(0) }, { body: Buffer.alloc(0) }], { partitionId: '1' });
    const read = await hub.receive('3', -1, { maxCount: 10, maxWaitMs: 0 });
    expect(read.map((event) => event.body)).toEqual(bodies);
    expect((await hub.receive('3', 2, { maxCount: 2, maxWaitMs: 0 })).map((event) => event.body)).toEqual(bodies.slice(3, 5));
    expect((await hub.receive('1', -1, { maxCount: 10, maxWaitMs: 0 })).map((event) => event.body)).toEqual([Buffer.alloc(0), Buffer.alloc(0)]);
    await hub.close();
  });

  it('returns bodies byte for byte from a file whose text encoding is UTF-16', async () => {
    await mkdir(path.dirname(file), { recursive: true });
    const utf16 = new Database(file);
    utf16.pragma("encoding = 'UTF-16le'");
    utf16.exec('CREATE TABLE made_utf16 (x)');
    utf16.close();
    const hub = open();
    const bodies = [Buffer.from([0xff, 0x00, 0xd8]), Buffer.from('plain'), Buffer.alloc(0)];
    await hub.send(
      bodies.map((body) => ({ body })),
      { partitionId: '0' },
    );
    expect((await hub.receive('0', -1, { maxCount: 10, maxWaitMs: 0 })).map((event) => event.body)).toEqual(bodies);
    await hub.close();
  });

  it('stores a property named __proto__ as an ordinary key', async () => {
    const hub = open();
    const properties = JSON.parse('{"__proto__": "own key", "other": 1}') as Record<string, string | number>;
    await hub.send([{ body: Buffer.from('x'), properties }], { partitionId: '0' });
    const [event] = await readPartition(hub, '0');
    expect(Object.keys(event.properties)).toEqual(['__proto__', 'other']);
    expect(Object.getPrototypeOf(event.properties)).toBe(Object.prototype);
    await hub.close();
  });

  it('rejects a property value that Event Hubs cannot carry, naming the property', async () => {
    const hub = open();
    const bad = { body: Buffer.from('x'), properties: { nested: { a: 1 } } } as unknown as Parameters<LocalEventHub['send']>[0][number];
    await expect(hub.send([bad])).rejects.toThrow(/"nested" has a object value/);
    await hub.close();
  });

  it('names the batch size and the limit when a batch is too large', async () => {
    const hub = open({ maxBatchBytes: 100 });
    const sending = hub.send([{ body: Buffer.alloc(60) }, { body: Buffer.alloc(30), properties: { key: 'value12345' } }]);
    await expect(sending).rejects.toThrow(EventTooLargeError);
    await expect(hub.send([{ body: Buffer.alloc(101) }])).rejects.toThrow('is 101 bytes (bodies + properties), over the 100-byte limit of event hub "telemetry"');
    await hub.close();
  });

  it('appends none of the batches of a sendBatches call that fails part way: the hub is as if the call never happened', async () => {
    const text = (body: string): EventToSend => ({ body: Buffer.from(body), properties: { n: 1 } });
    const first = [
      { partitionId: '0', events: [text('a0')] },
      { partitionId: '1', events: [text('a1'), text('b1')] },
    ];
    const after = [
      { partitionId: '1', events: [text('c1')] },
      { partitionId: '2', events: [text('a2')] },
    ];
    const hub = open();
    await hub.sendBatches(first);
    const before = await Promise.all(['0', '1', '2'].map((id) => hub.getPartitionProperties(id)));
    // The third batch fails while it is packed, inside the transaction, after the first two were inserted.
    const bad = { body: Buffer.from('x'), properties: { nested: { a: 1 } } } as unknown as EventToSend;
    const failing = hub.sendBatches([
      { partitionId: '0', events: [text('lost0')] },
      { partitionId: '1', events: [text('lost1')] },
      { partitionId: '2', events: [text('lost2'), bad] },
    ]);
    await expect(failing).rejects.toThrow(/"nested" has a object value/);
    await expect(Promise.all(['0', '1', '2'].map((id) => hub.getPartitionProperties(id)))).resolves.toEqual(before);
    // Another connection to the file sees none of them either.
    const other = open();
    expect((await readPartition(other, '1')).map((e) => e.body.toString())).toEqual(['a1', 'b1']);
    await other.close();
    await hub.sendBatches(after);

    // The same calls without the failed one, in a file of their own: every event the same, at the same place.
    const clean = LocalEventHub.open({ file: path.join(dir.path, 'clean.db'), hubName: 'telemetry', partitionCount: 4 });
    await clean.sendBatches(first);
    await clean.sendBatches(after);
    const placed = async (h: LocalEventHub) =>
      (await Promise.all(['0', '1', '2', '3'].map((id) => readPartition(h, id)))).flat().map((e) => [e.partitionId, e.sequenceNumber, e.offset, e.body.toString()]);
    const expected = await placed(clean);
    expect(expected.map(([, , , body]) => body)).toEqual(['a0', 'a1', 'b1', 'c1', 'a2']);
    await expect(placed(hub)).resolves.toEqual(expected);
    await clean.close();
    await hub.close();
  });

  it('refuses sendBatches arguments of the wrong shape, naming what is wrong, and appends nothing', async () => {
    const hub = open();
    const call = (batches: unknown) => hub.sendBatches(batches as Parameters<LocalEventHub['sendBatches']>[0]);
    await expect(call('0')).rejects.toThrow('sendBatches expects an array of batches, got string.');
    await expect(call([{ events: [] }])).rejects.toThrow('Batch 0 of sendBatches needs a partitionId string, got undefined.');
    await expect(call([{ partitionId: '0', events: [{ body: Buffer.from('x') }] }, { partitionId: '1' }])).rejects.toThrow(
      'Batch 1 of sendBatches (partition "1") needs an array of events, got undefined.',
    );
    await expect(call([{ partitionId: '0', events: [{ body: 'text' }] }])).rejects.toThrow(EventHubError);
    for (const id of ['0', '1']) await expect(hub.getPartitionProperties(id)).resolves.toMatchObject({ lastSequenceNumber: -1 });
    await hub.close();
  });

  it('stores a keyed batch in the partition partitionIndexForKey names', async () => {
    const hub = open({ partitionCount: 7 });
    await hub.send([{ body: Buffer.from('k') }], { partitionKey: 'sensor-42' });
    const expected = String(partitionIndexForKey('sensor-42', 7));
    const [event] = await readPartition(hub, expected);
    expect(event).toMatchObject({ partitionId: expected, partitionKey: 'sensor-42' });
    await hub.close();
  });

  it('keeps several hubs in one file apart, each with its own partition count', async () => {
    const orders = open({ hubName: 'orders', partitionCount: 2 });
    const clicks = open({ hubName: 'clicks', partitionCount: 8 });
    await orders.send([{ body: Buffer.from('order') }], { partitionId: '0' });
    await expect(clicks.getPartitionIds()).resolves.toHaveLength(8);
    await expect(clicks.getPartitionProperties('0')).resolves.toMatchObject({ lastSequenceNumber: -1 });
    await expect(orders.getPartitionProperties('0')).resolves.toMatchObject({ lastSequenceNumber: 0 });
    await orders.close();
    await clicks.close();
  });

  it('refuses to reopen a hub with a different partition count, saying what it has', async () => {
    const first = open({ partitionCount: 4 });
    await first.close();
    expect(() => open({ partitionCount: 8 })).toThrow(EventHubError);
    expect(() => open({ partitionCount: 8 })).toThrow(/has 4 partitions, but it was opened with partitionCount 8/);
    const again = open({ partitionCount: 4 });
    await expect(again.getPartitionIds()).resolves.toEqual(['0', '1', '2', '3']);
    await again.close();
  });

  it('keeps its events across close and reopen', async () => {
    const writer = open();
    await writer.send([{ body: Buffer.from('durable'), properties: { n: 1 } }], { partitionId: '3' });
    await writer.close();
    const reader = open();
    const [event] = await readPartition(reader, '3');
    expect(event.body.toString()).toBe('durable');
    expect(event.properties).toEqual({ n: 1 });
    await reader.close();
  });

  it('reads from the middle of a batch and across batches, each event once, in sequence order', async () => {
    const hub = open();
    const sends = [5, 1, 7, 3];
    let n = 0;
    for (const count of sends)
      await hub.send(
        Array.from({ length: count }, () => ({ body: Buffer.from(`e${n++}`), properties: { n } })),
        { partitionId: '2' },
      );
    const all = await readPartition(hub, '2');
    expect(all.map((event) => event.body.toString())).toEqual(Array.from({ length: n }, (_, i) => `e${i}`));
    // Every start and length lands on the same events as the whole read, whichever batch rows hold them.
    for (let after = -1; after < n; after++) {
      for (const maxCount of [1, 2, 4, 9, 20]) {
        const part = await hub.receive('2', after, { maxCount, maxWaitMs: 0 });
        expect(part.map((event) => [event.sequenceNumber, event.offset, event.body.toString()])).toEqual(
          all.slice(after + 1, after + 1 + maxCount).map((event) => [event.sequenceNumber, event.offset, event.body.toString()]),
        );
      }
    }
    await hub.close();
  });

  it('moves a file written one row per event to batch rows on open, every event unchanged', async () => {
    const clock = new TestClock(Date.UTC(2026, 0, 1));
    const sends: Array<{
      events: Array<{ body: Buffer; properties?: Record<string, string | number | boolean | Buffer> }>;
      options: { partitionId?: string; partitionKey?: string };
    }> = [
      { events: [{ body: Buffer.from('a'), properties: { s: 'x', n: 1 } }, { body: Buffer.alloc(0) }], options: { partitionId: '0' } },
      { events: [{ body: Buffer.from([0xff, 0]), properties: { b: true, x: Buffer.from([1, 2]) } }], options: { partitionKey: 'device-7' } },
      { events: [{ body: Buffer.from('é') }, { body: Buffer.from('z'), properties: { d: 1.5 } }], options: { partitionId: '0' } },
    ];
    // The expected events: the same sends through a hub of today's layout.
    const expectedFile = path.join(dir.path, 'expected.db');
    const reference = LocalEventHub.open({ file: expectedFile, hubName: 'telemetry', partitionCount: 4, clock });
    for (const send of sends) {
      await reference.send(send.events, send.options);
      clock.advance(1000);
    }
    const expected = await Promise.all(['0', '1', '2', '3'].map((id) => readPartition(reference, id)));
    await reference.close();

    // The same events written as the one-row-per-event layout stored them.
    await mkdir(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`
      CREATE TABLE eh_hubs (hub TEXT PRIMARY KEY, partition_count INTEGER NOT NULL, next_round_robin INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE eh_partitions (hub TEXT NOT NULL, partition_id INTEGER NOT NULL, next_sequence INTEGER NOT NULL DEFAULT 0, next_offset INTEGER NOT NULL DEFAULT 0,
        last_offset INTEGER NOT NULL DEFAULT -1, last_enqueued_time INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (hub, partition_id));
      CREATE TABLE eh_events (hub TEXT NOT NULL, partition_id INTEGER NOT NULL, sequence_number INTEGER NOT NULL, byte_offset INTEGER NOT NULL, enqueued_time INTEGER NOT NULL,
        partition_key TEXT, properties TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (hub, partition_id, sequence_number));
      INSERT INTO eh_hubs (hub, partition_count) VALUES ('telemetry', 4);`);
    old.exec(`ATTACH DATABASE '${expectedFile.replace(/'/g, "''")}' AS source; INSERT INTO eh_partitions SELECT * FROM source.eh_partitions; DETACH DATABASE source;`);
    const insert = old.prepare('INSERT INTO eh_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const storedProperties = (event: ReceivedEvent) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(event.properties).map(([key, value]) => [
            key,
            typeof value === 'string'
              ? ['s', value]
              : typeof value === 'boolean'
                ? ['b', value]
                : typeof value === 'number'
                  ? [Number.isSafeInteger(value) ? 'l' : 'd', value]
                  : ['x', Buffer.from(value).toString('base64')],
          ]),
        ),
      );
    expected.forEach((events, partition) => {
      for (const event of events)
        insert.run('telemetry', partition, event.sequenceNumber, Number(event.offset), event.enqueuedTime, event.partitionKey, storedProperties(event), event.body);
    });
    old.close();

    const hub = open();
    expect(await Promise.all(['0', '1', '2', '3'].map((id) => readPartition(hub, id)))).toEqual(expected);
    const lastOfPartition0 = expected[0]?.at(-1);
    expect(await hub.getPartitionProperties('0')).toEqual({
      partitionId: '0',
      lastSequenceNumber: 3,
      lastOffset: lastOfPartition0?.offset,
      lastEnqueuedTime: lastOfPartition0?.enqueuedTime,
    });
    // New sends follow on from the moved events.
    await hub.send([{ body: Buffer.from('next') }], { partitionId: '0' });
    const after = await hub.receive('0', 3, { maxCount: 10, maxWaitMs: 0 });
    expect(after.map((event) => [event.sequenceNumber, event.body.toString()])).toEqual([[4, 'next']]);
    expect(Number(after[0]?.offset)).toBeGreaterThan(Number(expected[0]?.at(-1)?.offset));
    await hub.close();
    const check = new Database(file, { readonly: true });
    expect(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'eh_events'").get()).toEqual({ n: 0 });
    check.close();
  });

  it('creates its file with 16 KiB pages, and goes on in a file made before with 4 KiB pages, which keeps them', async () => {
    const pageSize = (db: string) => {
      const sqlite = new Database(db, { readonly: true });
      try {
        return sqlite.pragma('page_size', { simple: true });
      } finally {
        sqlite.close();
      }
    };
    const body = Buffer.alloc(300_000, 'x');
    const created = open();
    await created.send([{ body }, { body: Buffer.from('y') }], { partitionId: '1' });
    await created.close();
    expect(pageSize(file)).toBe(HUB_PAGE_BYTES);
    expect(HUB_PAGE_BYTES).toBe(16 * 1024);

    const older = path.join(dir.path, 'hubs', 'older.db');
    const before = new Database(older);
    before.pragma('journal_mode = WAL');
    before.exec('CREATE TABLE made_before (x INTEGER)');
    before.close();
    const hub = LocalEventHub.open({ file: older, hubName: 'telemetry', partitionCount: 4 });
    await hub.send([{ body }, { body: Buffer.from('y') }], { partitionId: '1' });
    const events = await hub.receive('1', -1, { maxCount: 10, maxWaitMs: 0 });
    await hub.close();
    expect(pageSize(older)).toBe(4096);
    expect(events.map((e) => Buffer.from(e.body as Uint8Array))).toEqual([body, Buffer.from('y')]);
  });

  it("opens a file written before properties were stored as Capture's map: its rows read as before, new sends follow on", async () => {
    const clock = new TestClock(Date.UTC(2026, 0, 1));
    const sends: Array<{ events: Array<{ body: Buffer; properties?: Record<string, PropertyValue> }>; partitionId: string }> = [
      { events: [{ body: Buffer.from('a'), properties: { s: 'x', n: 1, d: 1.5 } }, { body: Buffer.alloc(0) }], partitionId: '0' },
      { events: [{ body: Buffer.from([0xff, 0]), properties: { b: true, x: Buffer.from([1, 2]), nan: Number.NaN } }], partitionId: '2' },
    ];
    const expectedFile = path.join(dir.path, 'expected.db');
    const reference = LocalEventHub.open({ file: expectedFile, hubName: 'telemetry', partitionCount: 4, clock });
    for (const send of sends) await reference.send(send.events, { partitionId: send.partitionId });
    const expected = await Promise.all(['0', '1', '2', '3'].map((id) => readPartition(reference, id)));
    await reference.close();

    // The same events as the batch layout stored them before: no properties_encoding column, typed JSON.
    await mkdir(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`
      CREATE TABLE eh_hubs (hub TEXT PRIMARY KEY, partition_count INTEGER NOT NULL, next_round_robin INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE eh_partitions (hub TEXT NOT NULL, partition_id INTEGER NOT NULL, next_sequence INTEGER NOT NULL DEFAULT 0, next_offset INTEGER NOT NULL DEFAULT 0,
        last_offset INTEGER NOT NULL DEFAULT -1, last_enqueued_time INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (hub, partition_id));
      CREATE TABLE eh_batches (hub TEXT NOT NULL, partition_id INTEGER NOT NULL, first_sequence INTEGER NOT NULL, last_sequence INTEGER NOT NULL,
        first_offset INTEGER NOT NULL, enqueued_time INTEGER NOT NULL, partition_key TEXT, records BLOB NOT NULL);
      CREATE UNIQUE INDEX eh_batches_by_last_sequence ON eh_batches (hub, partition_id, last_sequence);
      INSERT INTO eh_hubs (hub, partition_count) VALUES ('telemetry', 4);`);
    old.exec(`ATTACH DATABASE '${expectedFile.replace(/'/g, "''")}' AS source; INSERT INTO eh_partitions SELECT * FROM source.eh_partitions; DETACH DATABASE source;`);
    const insert = old.prepare('INSERT INTO eh_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    expected.forEach((events, partition) => {
      for (const event of events) {
        const stored = encodeProperties(event.properties);
        const blob = packRecords([{ propertiesJson: stored.json, body: event.body, size: event.body.byteLength + stored.size }]);
        insert.run('telemetry', partition, event.sequenceNumber, event.sequenceNumber, Number(event.offset), event.enqueuedTime, event.partitionKey, blob);
      }
    });
    old.close();

    const hub = open({ clock });
    expect(await Promise.all(['0', '1', '2', '3'].map((id) => readPartition(hub, id)))).toEqual(expected);
    const moved = await hub.receive('2', -1, { maxCount: 10, maxWaitMs: 0 });
    expect(moved[0]?.captureProperties).toBeUndefined();
    expect(moved[0]?.properties['b']).toBe(true);
    await hub.send([{ body: Buffer.from('next'), properties: { s: 'y' } }], { partitionId: '0' });
    const after = await hub.receive('0', 1, { maxCount: 10, maxWaitMs: 0 });
    expect(after.map((event) => [event.sequenceNumber, event.body.toString(), event.properties])).toEqual([[2, 'next', { s: 'y' }]]);
    expect(after[0]?.captureProperties).toBeInstanceOf(Buffer);
    expect(Number(after[0]?.offset)).toBeGreaterThan(Number(expected[0]?.at(-1)?.offset));
    await hub.close();
  });

  it('gives back any properties as before, and capture writes the same bytes whether it copies them or encodes them', async () => {
    const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
    const text = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.string({ unit: codeUnit, maxLength: 8 }),
      fc.string({ minLength: 60, maxLength: 90 }),
    );
    const value: fc.Arbitrary<PropertyValue> = fc.oneof(
      text,
      fc.integer(),
      fc.integer({ min: -(2 ** 53 - 1), max: 2 ** 53 - 1 }),
      fc.double(),
      fc.constantFrom(2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 - 2, 2 ** 52, -(2 ** 52) - 1, 2 ** 31, -0, Number.NaN, Number.POSITIVE_INFINITY, 0.1),
      fc.boolean(),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
    );
    const key = fc.oneof(text, fc.constantFrom('__proto__', 'traceparent', '7'));
    const properties = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries) => {
      const map: Record<string, PropertyValue> = {};
      for (const [k, v] of entries) Object.defineProperty(map, k, { value: v, enumerable: true, writable: true, configurable: true });
      return map;
    });
    const hub = open();
    let after = -1;
    await fc.assert(
      fc.asyncProperty(fc.array(properties, { minLength: 1, maxLength: 3 }), fc.option(fc.string({ maxLength: 8 })), async (maps, partitionKey) => {
        await hub.send(
          maps.map((map, i) => ({ body: Buffer.from([i]), properties: map })),
          partitionKey === null ? { partitionId: '0' } : { partitionKey },
        );
        const partition = partitionKey === null ? '0' : String(partitionIndexForKey(partitionKey, 4));
        const last = (await hub.getPartitionProperties(partition)).lastSequenceNumber;
        const received = await hub.receive(partition, last - maps.length, { maxCount: maps.length, maxWaitMs: 0 });
        if (partition === '0') after = last;
        const exact = maps.every((map) => Object.keys(map).every((k) => capturesExactly(k, map[k] as PropertyValue)));
        received.forEach((event, i) => {
          const map = maps[i] as Record<string, PropertyValue>;
          // What the typed JSON gives back: the hub's answer before the Capture map.
          const before = decodeProperties(encodeProperties(map).json);
          expect(Object.keys(event.properties)).toEqual(Object.keys(before));
          expect(event.properties).toEqual(before);
          expect(event.captureProperties !== undefined).toBe(exact);
          const copied = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker('x') });
          const encoded = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker('x') });
          const plain: ReceivedEvent = { ...event, properties: before };
          const copiedBytes = attempt(() => (copied.appendEvent(event), copied.finish()));
          const encodedBytes = attempt(() => (encoded.append(captureRecordFromEvent(plain)), encoded.finish()));
          expect(copiedBytes).toEqual(encodedBytes);
        });
      }),
      { numRuns: 150 },
    );
    expect(after).toBeGreaterThan(0);
    await hub.close();
  });

  it('reads a property getter once per send: the event holds what it answered, counted at that size', async () => {
    const hub = open();
    let calls = 0;
    const properties = Object.defineProperty({}, 'note', { enumerable: true, get: () => (++calls === 1 ? 'a' : 'a'.repeat(5000)) }) as Record<string, PropertyValue>;
    await hub.send([{ body: Buffer.from('x'), properties }], { partitionId: '0' });
    expect(calls).toBe(1);
    const [event] = await hub.receive('0', -1, { maxCount: 10, maxWaitMs: 0 });
    expect(event?.properties).toEqual({ note: 'a' });
    // "note" (4 bytes) + "a" (1) + the body (1), then the separator.
    expect((await hub.getPartitionProperties('0')).lastOffset).toBe('0');
    await hub.send([{ body: Buffer.from('y') }], { partitionId: '0' });
    expect((await hub.getPartitionProperties('0')).lastOffset).toBe('7');
    await hub.close();
  });

  it('refuses a damaged batch row, saying which batch and how to recover', async () => {
    const hub = open();
    await hub.send([{ body: Buffer.from('one') }, { body: Buffer.from('two') }], { partitionId: '1' });
    await hub.close();
    const db = new Database(file);
    db.prepare('UPDATE eh_batches SET records = substr(records, 1, length(records) - 2)').run();
    db.close();
    const reopened = open();
    await expect(reopened.receive('1', -1, { maxCount: 10, maxWaitMs: 0 })).rejects.toThrow(/batch starting at sequence number 0 is damaged.*restore it from a copy/);
    await reopened.close();
  });

  it('rejects invalid options with messages that name the value', () => {
    expect(() => open({ partitionCount: 0 })).toThrow(/partitionCount of event hub "telemetry" must be an integer from 1/);
    expect(() => open({ hubName: '' })).toThrow(/needs a hubName/);
    expect(() => open({ maxBatchBytes: -1 })).toThrow(/maxBatchBytes/);
  });

  it('refuses to work once closed, and ends a waiting receive when closed', async () => {
    const hub = open();
    const waiting = hub.receive('0', -1, { maxCount: 1, maxWaitMs: 30_000 });
    await hub.close();
    await expect(waiting).resolves.toEqual([]);
    await expect(hub.send([{ body: Buffer.from('x') }])).rejects.toThrow(/closed/);
  });

  it('takes batches from several processes at once, each event exactly once with contiguous sequence numbers', async () => {
    const setup = open({ partitionCount: 3 });
    const producers = 3;
    const sendsPerProducer = 40;
    const keys = ['alpha', 'beta', 'gamma', 'delta'];
    const script = (producer: number) => `
      const { LocalEventHub } = require(${JSON.stringify(adapterModule)});
      (async () => {
        const hub = LocalEventHub.open({ file: ${JSON.stringify(file)}, hubName: 'telemetry', partitionCount: 3 });
        const keys = ${JSON.stringify(keys)};
        for (let i = 0; i < ${sendsPerProducer}; i++) {
          // Every third send is a two-event batch, which must stay contiguous.
          const count = i % 3 === 0 ? 2 : 1;
          const events = Array.from({ length: count }, (_, j) => ({ body: Buffer.from('p${producer}-' + i + '-' + j), properties: { producer: ${producer}, i, j } }));
          await hub.send(events, { partitionKey: keys[i % keys.length] });
        }
        await hub.close();
      })().catch((error) => { console.error(error); process.exit(1); });`;
    await Promise.all(Array.from({ length: producers }, (_, p) => runNode(script(p)).exited));

    const all: ReceivedEvent[] = [];
    for (const partitionId of await setup.getPartitionIds()) {
      const events = await readPartition(setup, partitionId);
      expect(events.map((e) => e.sequenceNumber)).toEqual(events.map((_, i) => i));
      for (const e of events) expect(e.partitionId).toBe(String(partitionIndexForKey(e.partitionKey ?? '', 3)));
      // The two events of a batch sit next to each other.
      events.forEach((e, i) => {
        if (e.properties.j === 1) expect(events[i - 1].properties).toMatchObject({ producer: e.properties.producer, i: e.properties.i, j: 0 });
      });
      all.push(...events);
    }
    const bodies = all.map((e) => e.body.toString());
    const perProducer = Array.from({ length: sendsPerProducer }, (_, i) => (i % 3 === 0 ? 2 : 1)).reduce((a, b) => a + b, 0);
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(bodies).toHaveLength(producers * perProducer);
    await setup.close();
  });

  it('wakes a consumer in another process with an event produced after it found the partition empty', async () => {
    const producer = open();
    let ready = false;
    const consumerScript = `
      const { LocalEventHub } = require(${JSON.stringify(adapterModule)});
      (async () => {
        const hub = LocalEventHub.open({ file: ${JSON.stringify(file)}, hubName: 'telemetry', partitionCount: 4 });
        const empty = await hub.receive('1', -1, { maxCount: 10, maxWaitMs: 0 });
        console.log(empty.length === 0 ? 'ready' : 'not-empty');
        const events = await hub.receive('1', -1, { maxCount: 10, maxWaitMs: 20000 });
        console.log(JSON.stringify(events.map((e) => ({ seq: e.sequenceNumber, body: e.body.toString(), props: e.properties }))));
        await hub.close();
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const consumer = runNode(consumerScript, (line) => (ready ||= line === 'ready'));
    await waitFor(() => (ready ? true : undefined), { timeoutMs: 20_000, intervalMs: 20, description: 'the consumer process to find partition 1 empty' });
    await producer.send([{ body: Buffer.from('hello from the parent'), properties: { n: 7 } }], { partitionId: '1' });
    await consumer.exited;
    expect(JSON.parse(consumer.stdout[1])).toEqual([{ seq: 0, body: 'hello from the parent', props: { n: 7 } }]);
    await producer.close();
  });
});

/** The bytes `make` returns, or the message of what it throws. */
function attempt(make: () => Buffer): Buffer | string {
  try {
    return make();
  } catch (error) {
    return (error as Error).message;
  }
}

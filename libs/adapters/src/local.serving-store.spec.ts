import { spawn } from 'node:child_process';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { groupKeyText, InvalidContinuationTokenError, ServingStoreError, windowDocumentId, type WindowDocument } from '@pipeline/ports';
import { describeServingStoreContract, makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import { LocalServingStore } from './local.serving-store';

const repoRoot = path.resolve(__dirname, '../../..');
const adapterModule = path.join(__dirname, 'local.serving-store.ts');
const T0 = 1_767_225_600_000;
const MINUTE = 60_000;

describeServingStoreContract('local', async () => {
  const dir = await makeTempDir('local-serving-');
  const store = LocalServingStore.open({ file: path.join(dir.path, 'serving.db') });
  return { store, dispose: () => dir.dispose() };
});

/** A child Node process running `script` with the TypeScript sources compiled on the fly; its stdin stays open. */
function runNode(script: string, onStdout: (line: string) => void) {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', '-e', script], {
    cwd: repoRoot,
    env: { ...process.env, SWC_NODE_PROJECT: path.join(repoRoot, 'tsconfig.base.json') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let pending = '';
  let done = false;
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(onStdout);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      done = true;
      if (code === 0) resolve();
      else reject(new Error(`child process exited with ${code}: ${stderr}`));
    });
  });
  return { exited, stdin: child.stdin, hasExited: () => done };
}

function windowDoc(device: string, windowStart: number, version = 1, window = 'per_minute'): WindowDocument {
  const key = { device };
  const pk = groupKeyText(key, ['device']);
  return {
    id: windowDocumentId(window, pk, windowStart),
    pk,
    pipeline: 'demo',
    window,
    windowStart,
    windowEnd: windowStart + MINUTE,
    key,
    aggregates: { events: version },
    final: false,
    watermark: T0,
    shard: 0,
    version,
  };
}

describe('LocalServingStore', () => {
  let dir: TempDir;
  let file: string;

  beforeEach(async () => {
    dir = await makeTempDir('local-serving-');
    file = path.join(dir.path, 'state', 'serving.db');
  });

  afterEach(async () => {
    await dir.dispose();
  });

  it('names its file in location', async () => {
    const store = LocalServingStore.open({ file });
    expect(store.location).toBe(`local serving store ${file}`);
    await store.close();
  });

  it('keeps documents and shard status across close and reopen', async () => {
    const writer = LocalServingStore.open({ file });
    const docs = [windowDoc('a', T0, 3), { ...windowDoc('b', T0 + MINUTE, 4), final: true, watermark: -Infinity }];
    await writer.upsert(docs);
    await writer.putShardStatus({ pipeline: 'demo', shard: 1, batch: 4, watermark: T0, maxEventTime: T0 + MINUTE, rows: 10, lateRows: 1, windowsEmitted: 2, updatedAt: T0 + 5 });
    await writer.close();

    const reader = LocalServingStore.open({ file });
    await expect(reader.get(docs[0].pk, docs[0].id)).resolves.toEqual(docs[0]);
    await expect(reader.latest(docs[1].pk)).resolves.toEqual(docs[1]);
    await expect(reader.listShardStatus('demo')).resolves.toEqual([
      { pipeline: 'demo', shard: 1, batch: 4, watermark: T0, maxEventTime: T0 + MINUTE, rows: 10, lateRows: 1, windowsEmitted: 2, updatedAt: T0 + 5 },
    ]);
    // The version survives too: an equal one is still skipped after reopening.
    await expect(reader.upsert([windowDoc('a', T0, 3)])).resolves.toEqual({ written: 0, skipped: 1 });
    await reader.close();
  });

  it('lets a reading process see only whole batches while another process writes', async () => {
    const devices = ['a', 'b', 'c', 'd'];
    const template = devices.flatMap((device) => [0, 1, 2, 3, 4].map((i) => windowDoc(device, T0 + i * MINUTE)));
    const half = 20;
    const batches = 40;
    const writerScript = `
      const { LocalServingStore } = require(${JSON.stringify(adapterModule)});
      const template = ${JSON.stringify(template)};
      const store = LocalServingStore.open({ file: ${JSON.stringify(file)} });
      const write = async (from, to) => {
        for (let version = from; version <= to; version++) {
          await store.upsert(template.map((d) => ({ ...d, version, aggregates: { events: version } })));
        }
      };
      (async () => {
        await write(1, ${half});
        console.log('half');
        // The parent says when to go on, so its reads overlap the second half.
        await new Promise((resolve) => process.stdin.once('data', resolve));
        await write(${half + 1}, ${batches});
        await store.close();
        process.exit(0);
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    let halfWritten = false;
    const writer = runNode(writerScript, (line) => (halfWritten ||= line === 'half'));
    await waitFor(() => (halfWritten ? true : undefined), { timeoutMs: 30_000, intervalMs: 20, description: 'the writer process to write half of its batches' });

    const reader = LocalServingStore.open({ file });
    const versionsOf = async (pk: string) => (await reader.queryWindows({ pk, limit: 100 })).items.map((d) => [d.version, d.aggregates['events']]);
    for (const device of devices) {
      expect(await versionsOf(groupKeyText({ device }, ['device']))).toEqual(Array.from({ length: 5 }, () => [half, half]));
    }

    writer.stdin.end('go\n');
    const seen = new Map<string, number>(devices.map((d) => [d, half]));
    let reads = 0;
    for (;;) {
      const finished = writer.hasExited();
      for (const device of devices) {
        const versions = await versionsOf(groupKeyText({ device }, ['device']));
        // One batch is one transaction: a read never mixes two of them, nor goes back in time.
        expect(versions).toHaveLength(5);
        const version = versions[0][0] ?? Number.NaN;
        expect(versions).toEqual(Array.from({ length: 5 }, () => [version, version]));
        expect(version).toBeGreaterThanOrEqual(seen.get(device) ?? 0);
        seen.set(device, version);
      }
      const top = await reader.top({ window: 'per_minute', windowStart: T0, by: 'events', limit: 10 });
      expect(top).toHaveLength(devices.length);
      expect(new Set(top.map((d) => d.version)).size).toBe(1);
      reads += 1;
      if (finished) break;
      // Yield so the child's exit can be noticed; no waiting beyond that.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.exited;
    expect(reads).toBeGreaterThan(0);
    expect([...seen.values()]).toEqual(devices.map(() => batches));
    await reader.close();
  });

  it('sees writes of another store on the same file at once', async () => {
    const one = LocalServingStore.open({ file });
    const two = LocalServingStore.open({ file });
    const doc = windowDoc('a', T0, 2);
    await one.upsert([doc]);
    await expect(two.get(doc.pk, doc.id)).resolves.toEqual(doc);
    await expect(two.upsert([windowDoc('a', T0, 1)])).resolves.toEqual({ written: 0, skipped: 1 });
    await one.close();
    await two.close();
  });

  it('writes nothing of a call when one of its documents is invalid', async () => {
    const store = LocalServingStore.open({ file });
    const good = windowDoc('a', T0);
    const bad = { ...windowDoc('b', T0), aggregates: { events: Number.NaN } };
    await expect(store.upsert([good, bad])).rejects.toThrow(/document \[1\] .*aggregates\.events must be a finite number or null, got NaN/);
    await expect(store.get(good.pk, good.id)).resolves.toBeUndefined();
    await store.close();
  });

  it('rejects a document whose id is not the deterministic one, naming the expected id', async () => {
    const store = LocalServingStore.open({ file });
    const doc = { ...windowDoc('a', T0), id: 'my-own-id' };
    await expect(store.upsert([doc])).rejects.toThrow(`build it with windowDocumentId(): "per_minute|device=a|${T0}"`);
    await store.close();
  });

  it('rejects documents with unusable fields, naming the field', async () => {
    const store = LocalServingStore.open({ file });
    const base = windowDoc('a', T0);
    const cases: Array<[Partial<WindowDocument>, RegExp]> = [
      [{ windowEnd: T0 }, /windowEnd .* not after windowStart/],
      [{ version: 1.5 }, /integer version, got 1.5/],
      [{ final: 'yes' as unknown as boolean }, /boolean final/],
      [{ watermark: Number.POSITIVE_INFINITY }, /integer watermark \(or -Infinity/],
      [{ key: { device: { nested: true } as unknown as string } }, /key\.device must be a string, a finite number, a boolean or null/],
      [{ pipeline: '' }, /non-empty string pipeline/],
    ];
    for (const [change, message] of cases) {
      await expect(store.upsert([{ ...base, ...change }])).rejects.toThrow(message);
    }
    const long = windowDoc('x'.repeat(1_100), T0);
    await expect(store.upsert([long])).rejects.toThrow(/over the 1023-byte limit of Cosmos DB ids/);
    await store.close();
  });

  it('explains what is wrong with a continuation token', async () => {
    const store = LocalServingStore.open({ file });
    const pk = windowDoc('a', T0).pk;
    const token = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases: Array<[string, RegExp]> = [
      ['a+b/c=', /is not base64url text/],
      [Buffer.from('{oops').toString('base64url'), /does not decode to JSON/],
      [token([T0, 'per_minute', 'x']), /does not decode to an object/],
      [token({ window: 'per_minute', id: 'x' }), /has no integer windowStart/],
      [token({ windowStart: T0, id: 'x' }), /has no window name/],
      [token({ windowStart: T0, window: 'per_minute' }), /has no document id/],
    ];
    for (const [continuationToken, message] of cases) {
      const attempt = store.queryWindows({ pk, limit: 1, continuationToken });
      await expect(attempt).rejects.toBeInstanceOf(InvalidContinuationTokenError);
      await expect(store.queryWindows({ pk, limit: 1, continuationToken })).rejects.toThrow(message);
    }
    await store.close();
  });

  it('orders top by the stored JSON value without running the aggregate name as SQL', async () => {
    const store = LocalServingStore.open({ file });
    await store.upsert([windowDoc('a', T0, 1), windowDoc('b', T0, 2)]);
    await expect(store.top({ window: 'per_minute', windowStart: T0, by: "events' OR 1=1 --", limit: 5 })).rejects.toThrow(/"by" must be an aggregate name/);
    // A name that no document has ranks everything as null, then by pk.
    expect((await store.top({ window: 'per_minute', windowStart: T0, by: 'absent', limit: 5 })).map((d) => d.pk)).toEqual(['device=a', 'device=b']);
    await store.close();
  });

  it('refuses calls after close, and closing twice is harmless', async () => {
    const store = LocalServingStore.open({ file });
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toThrow(ServingStoreError);
    await expect(store.get('device=a', 'x')).rejects.toThrow(/is closed; open a new one/);
  });

  it('fails to open with a message naming the missing file path', () => {
    expect(() => LocalServingStore.open({ file: '' })).toThrow(/needs a SQLite file path, got ""/);
  });
});

describe('LocalServingStore opened on a store written before shard statuses had event time', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('local-serving-old-');
  });
  afterEach(() => dir.dispose());

  it('adds the new status columns, keeps the old statuses, and stores event time from then on', async () => {
    const file = path.join(dir.path, 'serving.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE serving_shard_status (pipeline TEXT NOT NULL, shard INTEGER NOT NULL, batch INTEGER NOT NULL, watermark INTEGER, max_event_time INTEGER,
      rows INTEGER NOT NULL, late_rows INTEGER NOT NULL, windows_emitted INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (pipeline, shard))`);
    old.prepare('INSERT INTO serving_shard_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run('p', 0, 3, T0, T0, 10, 1, 2, T0);
    old.close();
    const store = LocalServingStore.open({ file });
    try {
      expect(await store.listShardStatus('p')).toEqual([
        { pipeline: 'p', shard: 0, batch: 3, watermark: T0, maxEventTime: T0, rows: 10, lateRows: 1, windowsEmitted: 2, updatedAt: T0 },
      ]);
      const eventTime = { holdingPartition: '0', idlePartitions: [], partitions: { '0': { maxEventTime: T0, captureTime: T0 } } };
      await store.putShardStatus({ pipeline: 'p', shard: 1, batch: 0, watermark: null, maxEventTime: null, rows: 0, lateRows: 0, windowsEmitted: 0, updatedAt: T0, eventTime });
      expect((await store.listShardStatus('p'))[1]?.eventTime).toEqual(eventTime);
    } finally {
      await store.close();
    }
  });
});

describe('LocalServingStore document rows', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('local-serving-rows-');
  });
  afterEach(() => dir.dispose());

  it('keeps only the key and aggregates as JSON, the rest of a document being in its columns', async () => {
    const file = path.join(dir.path, 'serving.db');
    const store = LocalServingStore.open({ file });
    try {
      const doc = { ...windowDoc('a', T0, 2), watermark: -Infinity, final: true };
      await store.upsert([doc]);
      const raw = new Database(file, { readonly: true });
      try {
        expect(raw.prepare('SELECT document, final, watermark FROM serving_window_documents').all()).toEqual([
          { document: '{"key":{"device":"a"},"aggregates":{"events":2}}', final: 1, watermark: null },
        ]);
      } finally {
        raw.close();
      }
      expect(await store.get(doc.pk, doc.id)).toEqual(doc);
      expect(Object.keys((await store.latest(doc.pk)) ?? {})).toEqual(Object.keys(doc));
    } finally {
      await store.close();
    }
  });

  it('writes the key and aggregates exactly as JSON.stringify does, for documents sharing one key record and for awkward keys', async () => {
    const file = path.join(dir.path, 'serving.db');
    const store = LocalServingStore.open({ file });
    try {
      const shared = windowDoc('a', T0);
      const key = { device: 'quote " back\\ slash / é \u2028', n: -0, on: true, none: null };
      const pk = groupKeyText(key, ['device', 'n', 'on', 'none']);
      const awkward = { ...windowDoc('b', T0), key, pk, id: windowDocumentId('per_minute', pk, T0), aggregates: { '0': 1.5e-7, 'x"y': null, big: 2 ** 53 - 1 } };
      const docs = [shared, { ...windowDoc('a', T0 + MINUTE), key: shared.key }, awkward, { ...windowDoc('a', T0 + 2 * MINUTE), key: shared.key }];
      await store.upsert(docs);
      const raw = new Database(file, { readonly: true });
      try {
        const stored = raw.prepare('SELECT id, document FROM serving_window_documents').all() as Array<{ id: string; document: string }>;
        expect(new Map(stored.map((r) => [r.id, r.document]))).toEqual(new Map(docs.map((d) => [d.id, JSON.stringify({ key: d.key, aggregates: d.aggregates })])));
      } finally {
        raw.close();
      }
      for (const d of docs) expect(await store.get(d.pk, d.id)).toEqual({ ...d, key: JSON.parse(JSON.stringify(d.key)) });
    } finally {
      await store.close();
    }
  });

  it('drops the (pk, window, start) index an earlier version kept, and still serves the windows of one definition in order', async () => {
    const file = path.join(dir.path, 'serving.db');
    await LocalServingStore.open({ file }).close();
    const old = new Database(file);
    old.exec('CREATE INDEX serving_window_documents_by_key_window ON serving_window_documents (pk, window_name, window_start)');
    old.close();
    const store = LocalServingStore.open({ file });
    try {
      const indexes = new Database(file, { readonly: true });
      try {
        expect(indexes.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'serving_window_documents_by%'").all()).toEqual([
          { name: 'serving_window_documents_by_window' },
        ]);
      } finally {
        indexes.close();
      }
      const minutes = [0, 1, 2, 3].map((i) => windowDoc('a', T0 + i * MINUTE));
      const hours = [0, 2].map((i) => ({ ...windowDoc('a', T0 + i * MINUTE, 1, 'hourly'), windowEnd: T0 + i * MINUTE + 60 * MINUTE }));
      await store.upsert([...hours, ...minutes, windowDoc('b', T0 + 9 * MINUTE, 1, 'hourly')]);
      const pk = minutes[0].pk;
      expect((await store.queryWindows({ pk, window: 'hourly', limit: 1 })).items).toEqual([hours[0]]);
      const second = await store.queryWindows({
        pk,
        window: 'per_minute',
        limit: 2,
        continuationToken: (await store.queryWindows({ pk, window: 'per_minute', limit: 2 })).continuationToken,
      });
      expect(second).toEqual({ items: [minutes[2], minutes[3]] });
      expect(await store.latest(pk, 'hourly')).toEqual(hours[1]);
      expect(await store.latest(pk)).toEqual(minutes[3]);
    } finally {
      await store.close();
    }
  });

  it('reads documents an earlier version stored whole, and ranks them by their aggregates', async () => {
    const file = path.join(dir.path, 'serving.db');
    await LocalServingStore.open({ file }).close();
    const stored = [windowDoc('a', T0, 2), { ...windowDoc('b', T0, 5), watermark: -Infinity }];
    const old = new Database(file);
    const insert = old.prepare(
      'INSERT INTO serving_window_documents (pk, window_start, window_name, id, pipeline, window_end, final, version, shard, watermark, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const d of stored) {
      const watermark = Number.isFinite(d.watermark) ? d.watermark : null;
      insert.run(d.pk, d.windowStart, d.window, d.id, d.pipeline, d.windowEnd, d.final ? 1 : 0, d.version, d.shard, watermark, JSON.stringify({ ...d, watermark }));
    }
    old.close();
    const store = LocalServingStore.open({ file });
    try {
      for (const d of stored) expect(await store.get(d.pk, d.id)).toEqual(d);
      expect(await store.top({ window: 'per_minute', windowStart: T0, by: 'events', limit: 2 })).toEqual([stored[1], stored[0]]);
      // A newer version replaces a whole stored document with the new form.
      expect(await store.upsert([windowDoc('a', T0, 3)])).toEqual({ written: 1, skipped: 0 });
      expect(await store.queryWindows({ pk: stored[0].pk, limit: 10 })).toEqual({ items: [windowDoc('a', T0, 3)] });
    } finally {
      await store.close();
    }
  });
});

describe('LocalServingStore opened on a store of the first release (documents keyed by pk and id)', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir('local-serving-first-');
  });
  afterEach(() => dir.dispose());

  it('moves the documents into the keyed table once, and serves and replaces them as before', async () => {
    const file = path.join(dir.path, 'serving.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE serving_windows (pk TEXT NOT NULL, id TEXT NOT NULL, pipeline TEXT NOT NULL, window_name TEXT NOT NULL, window_start INTEGER NOT NULL,
      window_end INTEGER NOT NULL, final INTEGER NOT NULL, version INTEGER NOT NULL, shard INTEGER NOT NULL, watermark INTEGER, document TEXT NOT NULL, PRIMARY KEY (pk, id))`);
    const stored = [windowDoc('a', T0, 2), windowDoc('a', T0 + MINUTE, 2), windowDoc('b', T0, 1, 'hourly')];
    const insert = old.prepare('INSERT INTO serving_windows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    for (const d of stored) insert.run(d.pk, d.id, d.pipeline, d.window, d.windowStart, d.windowEnd, d.final ? 1 : 0, d.version, d.shard, d.watermark, JSON.stringify(d));
    old.close();

    const store = LocalServingStore.open({ file });
    const again = LocalServingStore.open({ file });
    try {
      for (const d of stored) expect(await store.get(d.pk, d.id)).toEqual(d);
      expect((await again.queryWindows({ pk: stored[0].pk, limit: 10 })).items).toEqual([stored[0], stored[1]]);
      expect(await store.upsert([windowDoc('a', T0, 1), windowDoc('a', T0 + MINUTE, 3)])).toEqual({ written: 1, skipped: 1 });
      expect(await again.latest(stored[0].pk)).toEqual(windowDoc('a', T0 + MINUTE, 3));
      const tables = new Database(file, { readonly: true });
      try {
        expect(tables.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'serving_window%'").all()).toEqual([{ name: 'serving_window_documents' }]);
      } finally {
        tables.close();
      }
    } finally {
      await store.close();
      await again.close();
    }
  });

  it('answers get with nothing for an id that names no window', async () => {
    const store = LocalServingStore.open({ file: path.join(dir.path, 'serving.db') });
    try {
      await store.upsert([windowDoc('a', T0)]);
      for (const id of ['no-separator', 'per_minute|device=a|not-a-number', '|device=a|1']) expect(await store.get(windowDoc('a', T0).pk, id)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

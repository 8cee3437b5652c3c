/**
 * The `ServingStore` contract (libs/ports/src/serving-store.ts), written once and run against every
 * adapter: the embedded SQLite store, and Cosmos DB (or a Cosmos-compatible server) when configured.
 *
 * It must also hold on a live, shared store: every test writes under keys and window names of its
 * own (a run id in each) and never assumes more than what it wrote. Only what the port promises is
 * used, so a server without patch, GROUP BY or OFFSET/LIMIT can pass it.
 */
import { randomUUID } from 'node:crypto';
import {
  groupKeyText,
  InvalidContinuationTokenError,
  MAX_TOP_LIMIT,
  ServingStoreError,
  windowDocumentId,
  type AggregateValue,
  type KeyValue,
  type ServingStore,
  type ShardStatus,
  type WindowDocument,
  type WindowQuery,
} from '@pipeline/ports';

export interface ServingStoreUnderTest {
  store: ServingStore;
  dispose(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 2026-01-01T00:00:00Z: a realistic epoch-ms origin for window starts. */
const T0 = 1_767_225_600_000;

export function describeServingStoreContract(adapterName: string, makeStore: () => Promise<ServingStoreUnderTest>): void {
  describe(`Serving store contract (${adapterName})`, () => {
    let subject: ServingStoreUnderTest;
    let store: ServingStore;
    let run: string;
    let pipeline: string;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
      run = randomUUID().slice(0, 8);
      pipeline = `contract-${run}`;
    });

    afterEach(async () => {
      await store.close();
      await subject.dispose();
    });

    /** A grouping key of this test only: `{ device: '<run>-<name>' }`. */
    const keyOf = (name: string): Record<string, KeyValue> => ({ device: `${run}-${name}` });
    /** A window definition name of this test only (window names are identifiers). */
    const windowName = (name: string) => `${name}_${run}`;

    interface DocOptions {
      key?: Record<string, KeyValue>;
      groupBy?: readonly string[];
      window?: string;
      start?: number;
      sizeMs?: number;
      version?: number;
      aggregates?: Record<string, AggregateValue>;
      final?: boolean;
      watermark?: number;
      shard?: number;
    }

    function doc(options: DocOptions = {}): WindowDocument {
      const key = options.key ?? keyOf('a');
      const pk = groupKeyText(key, options.groupBy ?? Object.keys(key));
      const window = options.window ?? 'per_minute';
      const windowStart = options.start ?? T0;
      return {
        id: windowDocumentId(window, pk, windowStart),
        pk,
        pipeline,
        window,
        windowStart,
        windowEnd: windowStart + (options.sizeMs ?? MINUTE),
        key,
        aggregates: options.aggregates ?? { events: 1, total: 2.5 },
        final: options.final ?? false,
        watermark: options.watermark ?? T0,
        shard: options.shard ?? 0,
        version: options.version ?? 1,
      };
    }

    /** Every page of `query`, checking each page's size and token on the way. */
    async function allPages(query: Omit<WindowQuery, 'continuationToken'>): Promise<{ items: WindowDocument[]; pages: number }> {
      const items: WindowDocument[] = [];
      let continuationToken: string | undefined;
      let pages = 0;
      do {
        const page = await store.queryWindows({ ...query, continuationToken });
        pages += 1;
        expect(page.items.length).toBeLessThanOrEqual(query.limit);
        if (page.continuationToken !== undefined) {
          expect(page.items).toHaveLength(query.limit);
          expect(page.continuationToken).toMatch(/^[A-Za-z0-9_-]+$/);
        }
        items.push(...page.items);
        continuationToken = page.continuationToken;
        if (pages > 1_000) throw new Error('queryWindows kept returning continuation tokens after 1000 pages.');
      } while (continuationToken !== undefined);
      return { items, pages };
    }

    const ids = (docs: readonly WindowDocument[]) => docs.map((d) => d.id);
    /** The port's order: windowStart, then window name. */
    const inQueryOrder = (docs: readonly WindowDocument[]) => [...docs].sort((a, b) => a.windowStart - b.windowStart || (a.window < b.window ? -1 : a.window > b.window ? 1 : 0));

    describe('conditional upsert', () => {
      it('writes new documents and reads them back exactly', async () => {
        const one = doc({
          key: { device: `${run}-x`, floor: 3, indoor: true, zone: null },
          aggregates: { events: 7, avg: -0.125, max: 9_007_199_254_740_991, missing: null },
          final: true,
        });
        const two = doc({ start: T0 + MINUTE, aggregates: { events: 0, avg: null } });
        await expect(store.upsert([one, two])).resolves.toEqual({ written: 2, skipped: 0 });
        await expect(store.get(one.pk, one.id)).resolves.toEqual(one);
        await expect(store.get(two.pk, two.id)).resolves.toEqual(two);
      });

      it('replaces a document with a newer version', async () => {
        await store.upsert([doc({ version: 1, aggregates: { events: 1 } })]);
        const newer = doc({ version: 2, aggregates: { events: 5 }, final: true, watermark: T0 + 2 * MINUTE, shard: 0 });
        await expect(store.upsert([newer])).resolves.toEqual({ written: 1, skipped: 0 });
        await expect(store.get(newer.pk, newer.id)).resolves.toEqual(newer);
      });

      it('skips and counts a document whose version is the same or older than the stored one', async () => {
        const stored = doc({ version: 5, aggregates: { events: 50 } });
        await store.upsert([stored]);
        await expect(store.upsert([doc({ version: 5, aggregates: { events: 99 } })])).resolves.toEqual({ written: 0, skipped: 1 });
        await expect(store.upsert([doc({ version: 4, aggregates: { events: 40 } })])).resolves.toEqual({ written: 0, skipped: 1 });
        await expect(store.get(stored.pk, stored.id)).resolves.toEqual(stored);
      });

      it('decides each document of a call on its own', async () => {
        const a = doc({ key: keyOf('a'), version: 3 });
        const b = doc({ key: keyOf('b'), version: 3 });
        await store.upsert([a, b]);
        const newerA = doc({ key: keyOf('a'), version: 4, aggregates: { events: 4 } });
        const olderB = doc({ key: keyOf('b'), version: 2, aggregates: { events: 2 } });
        const freshC = doc({ key: keyOf('c'), version: 1 });
        await expect(store.upsert([newerA, olderB, freshC])).resolves.toEqual({ written: 2, skipped: 1 });
        await expect(Promise.all([store.get(a.pk, a.id), store.get(b.pk, b.id), store.get(freshC.pk, freshC.id)])).resolves.toEqual([newerA, b, freshC]);
      });

      it('changes nothing when a batch is upserted again', async () => {
        const batch = [0, 1, 2].flatMap((i) => [doc({ key: keyOf('a'), start: T0 + i * MINUTE, version: 7 }), doc({ key: keyOf('b'), start: T0 + i * MINUTE, version: 7 })]);
        await expect(store.upsert(batch)).resolves.toEqual({ written: 6, skipped: 0 });
        const before = await allPages({ pk: batch[0].pk, limit: 10 });
        await expect(store.upsert(batch)).resolves.toEqual({ written: 0, skipped: 6 });
        await expect(allPages({ pk: batch[0].pk, limit: 10 })).resolves.toEqual(before);
        await expect(store.get(batch[1].pk, batch[1].id)).resolves.toEqual(batch[1]);
      });

      it('accepts an empty call', async () => {
        await expect(store.upsert([])).resolves.toEqual({ written: 0, skipped: 0 });
      });

      it('keeps a watermark of -Infinity written before the first watermark', async () => {
        const early = doc({ watermark: -Infinity });
        await store.upsert([early]);
        await expect(store.get(early.pk, early.id)).resolves.toEqual(early);
      });
    });

    describe('retiring superseded session documents', () => {
      // Sessions are named by their start; a merge moves it. The batch that merges retires the old starts.
      const session = (start: number, end: number, version: number, events: number) =>
        ({ ...doc({ window: 'visits', start, version, aggregates: { events } }), windowEnd: end }) as WindowDocument;
      const retire = (d: WindowDocument, version: number) => ({ pk: d.pk, id: d.id, version });

      it('writes the merged session and removes the sessions it absorbed in the same call', async () => {
        const first = session(T0, T0 + 5 * MINUTE, 1, 1);
        const second = session(T0 + 10 * MINUTE, T0 + 15 * MINUTE, 1, 1);
        await store.upsert([first, second]);
        // A row at T0 + 4m bridges both: one session from T0 to T0 + 15m, under the first one's start.
        const merged = session(T0, T0 + 15 * MINUTE, 2, 3);
        await expect(store.upsert([merged], [retire(second, 2)])).resolves.toEqual({ written: 1, skipped: 0, removed: 1 });
        await expect(allPages({ pk: first.pk, window: 'visits', limit: 10 })).resolves.toEqual({ items: [merged], pages: 1 });
        await expect(store.latest(first.pk, 'visits')).resolves.toEqual(merged);
      });

      it('replaces a session whose start moved earlier: the new start written, the old one removed', async () => {
        const old = session(T0 + 10 * MINUTE, T0 + 15 * MINUTE, 3, 1);
        await store.upsert([old]);
        const moved = session(T0 + 7 * MINUTE, T0 + 15 * MINUTE, 4, 2);
        await expect(store.upsert([moved], [retire(old, 4)])).resolves.toEqual({ written: 1, skipped: 0, removed: 1 });
        await expect(store.get(old.pk, old.id)).resolves.toBeUndefined();
        await expect(allPages({ pk: old.pk, limit: 10 })).resolves.toEqual({ items: [moved], pages: 1 });
      });

      it('removes nothing when the same batch is written again, and keeps a document as new as the retiring batch or newer', async () => {
        const old = session(T0, T0 + 5 * MINUTE, 1, 1);
        const moved = session(T0 - MINUTE, T0 + 5 * MINUTE, 2, 2);
        await store.upsert([old]);
        await store.upsert([moved], [retire(old, 2)]);
        await expect(store.upsert([moved], [retire(old, 2)])).resolves.toEqual({ written: 0, skipped: 1, removed: 0 });
        const newer = session(T0 + 20 * MINUTE, T0 + 25 * MINUTE, 6, 1);
        await store.upsert([newer]);
        await expect(store.upsert([], [retire(newer, 6), retire(newer, 5)])).resolves.toEqual({ written: 0, skipped: 0, removed: 0 });
        await expect(store.get(newer.pk, newer.id)).resolves.toEqual(newer);
      });

      it('refuses a retired entry without a pk, an id or a version, before writing anything', async () => {
        const d = session(T0, T0 + MINUTE, 1, 1);
        await expect(store.upsert([d], [{ pk: d.pk, id: '', version: 1 }])).rejects.toThrow(ServingStoreError);
        await expect(store.upsert([d], [{ pk: d.pk, id: d.id, version: -1 }])).rejects.toThrow(/retired \[0\] must be \{ pk, id, version \}/);
        await expect(store.get(d.pk, d.id)).resolves.toBeUndefined();
      });
    });

    describe('get', () => {
      it('returns undefined for an id that was never written', async () => {
        const absent = doc();
        await expect(store.get(absent.pk, absent.id)).resolves.toBeUndefined();
      });

      it('finds a document only under its own pk', async () => {
        const a = doc({ key: keyOf('a') });
        await store.upsert([a]);
        await expect(store.get(groupKeyText(keyOf('b'), ['device']), a.id)).resolves.toBeUndefined();
      });
    });

    describe('queryWindows', () => {
      /** Key `a`: per_minute windows every minute for 7 minutes and per_hour windows at T0 and T0+1h; key `b`: one window. */
      async function seed(): Promise<{ a: WindowDocument[]; b: WindowDocument[] }> {
        const perMinute = Array.from({ length: 7 }, (_, i) => doc({ key: keyOf('a'), window: 'per_minute', start: T0 + i * MINUTE }));
        const perHour = [0, 1].map((h) => doc({ key: keyOf('a'), window: 'per_hour', start: T0 + h * HOUR, sizeMs: HOUR }));
        const b = [doc({ key: keyOf('b'), window: 'per_minute', start: T0 + MINUTE })];
        // Written out of order, in two calls, so the order comes from the store.
        await store.upsert([...perMinute.slice(4), perHour[1], ...b]);
        await store.upsert([perHour[0], ...perMinute.slice(0, 4).reverse()]);
        return { a: [...perMinute, ...perHour], b };
      }

      it("returns a key's windows ordered by windowStart, then window name", async () => {
        const { a } = await seed();
        const page = await store.queryWindows({ pk: a[0].pk, limit: 100 });
        expect(ids(page.items)).toEqual(ids(inQueryOrder(a)));
        // per_hour sorts before per_minute at the same start.
        expect(page.items.slice(0, 2).map((d) => d.window)).toEqual(['per_hour', 'per_minute']);
        expect(page.continuationToken).toBeUndefined();
      });

      it('walks every page with small limits, without duplicates or gaps', async () => {
        const { a } = await seed();
        for (const limit of [1, 2, 3, 4, 9]) {
          const { items, pages } = await allPages({ pk: a[0].pk, limit });
          expect(ids(items)).toEqual(ids(inQueryOrder(a)));
          expect(pages).toBe(Math.ceil(a.length / limit));
        }
      });

      it('filters by window definition and by the [from, to) range of windowStart, across pages', async () => {
        const { a } = await seed();
        const pk = a[0].pk;
        const only = (predicate: (d: WindowDocument) => boolean) => ids(inQueryOrder(a.filter(predicate)));
        expect(ids((await allPages({ pk, window: 'per_hour', limit: 1 })).items)).toEqual(only((d) => d.window === 'per_hour'));
        expect(ids((await allPages({ pk, from: T0 + 2 * MINUTE, limit: 2 })).items)).toEqual(only((d) => d.windowStart >= T0 + 2 * MINUTE));
        expect(ids((await allPages({ pk, to: T0 + 2 * MINUTE, limit: 2 })).items)).toEqual(only((d) => d.windowStart < T0 + 2 * MINUTE));
        expect(ids((await allPages({ pk, window: 'per_minute', from: T0 + MINUTE, to: T0 + 5 * MINUTE, limit: 3 })).items)).toEqual(
          only((d) => d.window === 'per_minute' && d.windowStart >= T0 + MINUTE && d.windowStart < T0 + 5 * MINUTE),
        );
        await expect(store.queryWindows({ pk, window: 'per_day', limit: 5 })).resolves.toEqual({ items: [] });
        await expect(store.queryWindows({ pk, from: T0 + 2 * HOUR, limit: 5 })).resolves.toEqual({ items: [] });
      });

      it("returns only the queried key's windows", async () => {
        const { b } = await seed();
        expect(ids((await allPages({ pk: b[0].pk, limit: 1 })).items)).toEqual(ids(b));
        await expect(store.queryWindows({ pk: groupKeyText(keyOf('nobody'), ['device']), limit: 5 })).resolves.toEqual({ items: [] });
      });

      it('ends a page walk without gaps or duplicates when documents are replaced between pages', async () => {
        const { a } = await seed();
        const pk = a[0].pk;
        const first = await store.queryWindows({ pk, limit: 3 });
        // Newer versions of every document, including those already read.
        await store.upsert(a.map((d) => ({ ...d, version: d.version + 1, aggregates: { events: 100 } })));
        const rest = await allPagesFrom(pk, first.continuationToken);
        expect(ids([...first.items, ...rest])).toEqual(ids(inQueryOrder(a)));
        expect(rest.every((d) => d.version === 2)).toBe(true);
      });

      async function allPagesFrom(pk: string, token: string | undefined): Promise<WindowDocument[]> {
        const items: WindowDocument[] = [];
        let continuationToken = token;
        while (continuationToken !== undefined) {
          const page = await store.queryWindows({ pk, limit: 2, continuationToken });
          items.push(...page.items);
          continuationToken = page.continuationToken;
        }
        return items;
      }

      it('rejects a malformed continuation token with InvalidContinuationTokenError', async () => {
        const { a } = await seed();
        const pk = a[0].pk;
        const { continuationToken } = await store.queryWindows({ pk, limit: 2 });
        expect(continuationToken).toBeDefined();
        for (const bad of ['not a token!', (continuationToken ?? '').slice(0, -4)]) {
          await expect(store.queryWindows({ pk, limit: 2, continuationToken: bad })).rejects.toBeInstanceOf(InvalidContinuationTokenError);
        }
      });

      it('rejects a limit that is not a positive integer', async () => {
        const pk = doc().pk;
        for (const limit of [0, -1, 1.5]) await expect(store.queryWindows({ pk, limit })).rejects.toBeInstanceOf(ServingStoreError);
      });
    });

    describe('latest', () => {
      it('returns the window with the latest start, of one window definition when given', async () => {
        const key = keyOf('a');
        const minutes = [0, 1, 2].map((i) => doc({ key, window: 'per_minute', start: T0 + HOUR + i * MINUTE }));
        const hours = [0, 1].map((h) => doc({ key, window: 'per_hour', start: T0 + h * HOUR, sizeMs: HOUR }));
        const other = doc({ key: keyOf('b'), window: 'per_minute', start: T0 + 5 * HOUR });
        await store.upsert([minutes[2], hours[0], other, minutes[0], hours[1], minutes[1]]);
        await expect(store.latest(minutes[0].pk)).resolves.toEqual(minutes[2]);
        await expect(store.latest(minutes[0].pk, 'per_minute')).resolves.toEqual(minutes[2]);
        await expect(store.latest(minutes[0].pk, 'per_hour')).resolves.toEqual(hours[1]);
        await expect(store.latest(minutes[0].pk, 'per_day')).resolves.toBeUndefined();
        await expect(store.latest(groupKeyText(keyOf('nobody'), ['device']))).resolves.toBeUndefined();
      });

      it('returns the newest version of the latest window', async () => {
        const key = keyOf('a');
        await store.upsert([doc({ key, start: T0, version: 1 }), doc({ key, start: T0 + MINUTE, version: 1 })]);
        const updated = doc({ key, start: T0 + MINUTE, version: 2, aggregates: { events: 42 }, final: true });
        await store.upsert([updated]);
        await expect(store.latest(updated.pk, 'per_minute')).resolves.toEqual(updated);
      });
    });

    describe('top', () => {
      it('orders the windows of one start by an aggregate, descending, nulls last, ties by pk, up to the limit', async () => {
        const window = windowName('per_minute');
        const at = (name: string, events: AggregateValue, start = T0) => doc({ key: keyOf(name), window, start, aggregates: { events, total: 1 } });
        const docs = [at('a', 5), at('b', null), at('c', 12), at('d', 5), at('e', -3), at('f', 0.5), at('g', null)];
        const elsewhere = [at('h', 1_000, T0 + MINUTE), doc({ key: keyOf('i'), window: windowName('per_hour'), start: T0, sizeMs: HOUR, aggregates: { events: 1_000 } })];
        await store.upsert([...docs, ...elsewhere]);
        const names = (list: WindowDocument[]) => list.map((d) => String(d.key['device']).slice(run.length + 1));
        expect(names(await store.top({ window, windowStart: T0, by: 'events', limit: 10 }))).toEqual(['c', 'a', 'd', 'f', 'e', 'b', 'g']);
        expect(names(await store.top({ window, windowStart: T0, by: 'events', limit: 3 }))).toEqual(['c', 'a', 'd']);
        // A limit that ends among equal values, or among the nulls, keeps their pk order.
        expect(names(await store.top({ window, windowStart: T0, by: 'events', limit: 2 }))).toEqual(['c', 'a']);
        expect(names(await store.top({ window, windowStart: T0, by: 'events', limit: 6 }))).toEqual(['c', 'a', 'd', 'f', 'e', 'b']);
        await expect(store.top({ window, windowStart: T0, by: 'events', limit: 1 })).resolves.toEqual([docs[2]]);
        await expect(store.top({ window, windowStart: T0 + 2 * MINUTE, by: 'events', limit: 5 })).resolves.toEqual([]);
      });

      it('orders by the newest version of each document', async () => {
        const window = windowName('per_minute');
        await store.upsert([doc({ key: keyOf('a'), window, aggregates: { events: 1 } }), doc({ key: keyOf('b'), window, aggregates: { events: 2 } })]);
        await store.upsert([doc({ key: keyOf('a'), window, version: 2, aggregates: { events: 3 } })]);
        const top = await store.top({ window, windowStart: T0, by: 'events', limit: 2 });
        expect(top.map((d) => [d.key['device'], d.aggregates['events']])).toEqual([
          [`${run}-a`, 3],
          [`${run}-b`, 2],
        ]);
      });

      it('rejects a limit above MAX_TOP_LIMIT, naming the bound', async () => {
        const window = windowName('per_minute');
        await expect(store.top({ window, windowStart: T0, by: 'events', limit: MAX_TOP_LIMIT + 1 })).rejects.toThrow(`at most ${MAX_TOP_LIMIT}`);
        await expect(store.top({ window, windowStart: T0, by: 'events', limit: MAX_TOP_LIMIT })).resolves.toEqual([]);
      });

      it('rejects an aggregate name that is not a plain identifier', async () => {
        for (const by of ['events desc', "events') --", 'a.b', '', '1events']) {
          await expect(store.top({ window: windowName('per_minute'), windowStart: T0, by, limit: 3 })).rejects.toBeInstanceOf(ServingStoreError);
        }
      });
    });

    describe('shard status', () => {
      const status = (shard: number, overrides: Partial<ShardStatus> = {}): ShardStatus => ({
        pipeline,
        shard,
        batch: 3,
        watermark: T0,
        maxEventTime: T0 + MINUTE,
        rows: 120,
        lateRows: 2,
        windowsEmitted: 9,
        updatedAt: T0 + 2 * MINUTE,
        ...overrides,
      });

      it('round-trips the status of each shard, ordered by shard, and replaces it on the next put', async () => {
        await store.putShardStatus(status(2));
        await store.putShardStatus(status(0, { watermark: null, maxEventTime: null, rows: 0, lateRows: 0, windowsEmitted: 0 }));
        await store.putShardStatus(status(1));
        await store.putShardStatus(status(1, { batch: 4, rows: 150, updatedAt: T0 + 3 * MINUTE }));
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([
          status(0, { watermark: null, maxEventTime: null, rows: 0, lateRows: 0, windowsEmitted: 0 }),
          status(1, { batch: 4, rows: 150, updatedAt: T0 + 3 * MINUTE }),
          status(2),
        ]);
      });

      it('round-trips the event-time progress of the source partitions and Spark’s dropped-row count', async () => {
        const eventTime = {
          holdingPartition: '1',
          idlePartitions: ['2'],
          partitions: { '0': { maxEventTime: T0 + MINUTE, captureTime: T0 }, '1': { maxEventTime: T0, captureTime: T0 }, '2': { maxEventTime: null, captureTime: null } },
        };
        await store.putShardStatus(status(0, { numRowsDroppedByWatermark: 4, eventTime }));
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([status(0, { numRowsDroppedByWatermark: 4, eventTime })]);
      });

      it('round-trips the owner that wrote the status, and leaves it out when none was given', async () => {
        await store.putShardStatus(status(0, { owner: 'gold-7f3a' }));
        await store.putShardStatus(status(1));
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([status(0, { owner: 'gold-7f3a' }), status(1)]);
        // A later status without an owner (an older gold) does not keep the previous one.
        await store.putShardStatus(status(0, { batch: 9 }));
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([status(0, { batch: 9 }), status(1)]);
      });

      it('stores a watermark of -Infinity as null', async () => {
        await store.putShardStatus(status(0, { watermark: -Infinity }));
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([status(0, { watermark: null })]);
      });

      it("lists only the given pipeline's shards", async () => {
        await store.putShardStatus(status(0));
        await store.putShardStatus({ ...status(1), pipeline: `${pipeline}-other` });
        await expect(store.listShardStatus(pipeline)).resolves.toEqual([status(0)]);
        await expect(store.listShardStatus(`${pipeline}-never`)).resolves.toEqual([]);
      });
    });

    describe('keys with special characters', () => {
      const groupBy = ['device', 'site/area', 'ok'];
      const specialKeys: Array<Record<string, KeyValue>> = [
        { device: 'a/b', 'site/area': 'x?y', ok: true },
        { device: 'c#d', 'site/area': 'déjà vu ☕', ok: false },
        { device: '日本語/𝄞?#', 'site/area': '100%', ok: null },
        { device: 'back\\slash', 'site/area': 'a&b=c', ok: 42 },
        { device: ' spaced ', 'site/area': '', ok: 'true' },
      ];

      it('stores, gets, queries and ranks documents whose key values hold / ? # and unicode', async () => {
        const window = windowName('per_minute');
        const docs = specialKeys.map((key, i) => doc({ key: { ...key, device: `${run}${String(key['device'])}` }, groupBy, window, aggregates: { events: i } }));
        expect(new Set(docs.map((d) => d.pk)).size).toBe(docs.length);
        for (const d of docs) expect(d.id).not.toMatch(/[/\\?#]/);
        await expect(store.upsert(docs)).resolves.toEqual({ written: docs.length, skipped: 0 });
        for (const d of docs) {
          await expect(store.get(d.pk, d.id)).resolves.toEqual(d);
          await expect(store.queryWindows({ pk: d.pk, limit: 1 })).resolves.toEqual({ items: [d] });
          await expect(store.latest(d.pk, window)).resolves.toEqual(d);
        }
        await expect(store.top({ window, windowStart: T0, by: 'events', limit: docs.length })).resolves.toEqual([...docs].reverse());
      });

      it('accepts a pk that holds / ? # itself, with the id made safe by windowDocumentId', async () => {
        const pk = `${run}/raw?key#1`;
        const raw: WindowDocument = { ...doc(), pk, id: windowDocumentId('per_minute', pk, T0) };
        expect(raw.id).toBe(`per_minute|${run}%2Fraw%3Fkey%231|${T0}`);
        await store.upsert([raw]);
        await expect(store.get(pk, raw.id)).resolves.toEqual(raw);
        await expect(store.queryWindows({ pk, limit: 5 })).resolves.toEqual({ items: [raw] });
      });
    });

    describe('availability', () => {
      it('answers ping while open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        expect(typeof store.location).toBe('string');
        expect(store.location).not.toBe('');
      });
    });
  });
}

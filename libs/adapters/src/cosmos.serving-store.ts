/**
 * The serving store on Azure Cosmos DB (SQL API), sharing the document model of the embedded store.
 *
 * - One container partitioned by `/pk` (the grouping key): a key's windows are one logical
 *   partition, so the key endpoints are single-partition queries. Shard statuses live in the same
 *   container under the partition `_status|<pipeline>`; a `type` field tells the two apart.
 * - Conditional upsert without `patch` or transactional batches, one request per document in the
 *   steady state: the store remembers the ETag and version it last wrote or read of each document
 *   (a bounded cache, only a hint). A document it knows is replaced with `If-Match` on that ETag
 *   when ours is newer; one it does not know is created (most are new). A 409 or a 412 means the
 *   stored document is not what we thought: read it, then skip or replace. An equal or older
 *   version is skipped, so a re-run or a late older batch never overwrites newer results.
 *   Documents of one call are written `UPSERT_CONCURRENCY` at a time (they are distinct).
 * - Retired documents (superseded sessions) are deleted after the call's documents are written,
 *   each with `If-Match` on the ETag of a stored version older than the retiring batch; a newer
 *   document under the same id stays. Without transactional batches a reader may see a retired
 *   session beside its successor for a moment, never neither.
 * - Pages use the same keyset continuation tokens as the embedded store (not Cosmos's own): stable
 *   while documents are replaced between pages, and URL-safe.
 * - Top-N across keys is the cheap way: one query for the windows of one definition and start (one
 *   document per key at most), ordered in memory. A server-side ORDER BY on a dynamic aggregate path
 *   would need a composite index per aggregate and a cross-partition ORDER BY; the result set is
 *   already bounded by the number of keys.
 * The request charge of each call is put on the active span (`db.cosmosdb.request_charge`), and each
 * request's on the `azure.cosmosdb.client.operation.request_charge` histogram (docs/metrics.md).
 */
import { trace, type Span } from '@opentelemetry/api';
import { recordRequestCharge } from '@pipeline/telemetry';
import { CosmosClient, ErrorResponse, type Container, type CosmosClientOptions, type FeedOptions, type Item, type SqlQuerySpec } from '@azure/cosmos';
import {
  FatalBackendError,
  ServingStoreError,
  type RetiredWindow,
  type ServingStore,
  type ShardStatus,
  type TopQuery,
  type UpsertResult,
  type WindowDocument,
  type WindowPage,
  type WindowQuery,
} from '@pipeline/ports';
import {
  assertDocument,
  assertRetired,
  assertShardStatus,
  assertText,
  checkTopQuery,
  checkWindowQuery,
  decodeDocument,
  encodeContinuationToken,
  finiteOrNull,
  storedDocument,
} from './serving-documents';

type StoredWindow = ReturnType<typeof storedDocument> & { type: 'window' };
type StoredStatus = Omit<ShardStatus, 'watermark' | 'maxEventTime'> & { id: string; pk: string; type: 'status'; watermark: number | null; maxEventTime: number | null };

const statusPk = (pipeline: string) => `_status|${pipeline}`;

const chargesBySpan = new WeakMap<Span, number>();

/** The ORDER BYs of the key queries need composite indexes (as Cosmos DB requires for several fields). */
const INDEXING_POLICY = {
  compositeIndexes: [
    [
      { path: '/windowStart', order: 'ascending' as const },
      { path: '/window', order: 'ascending' as const },
      { path: '/id', order: 'ascending' as const },
    ],
    [
      { path: '/windowStart', order: 'descending' as const },
      { path: '/window', order: 'descending' as const },
    ],
  ],
};

export interface CosmosServingStoreOptions {
  container: Container;
}

/** Documents written at once by one `upsert` call. */
export const UPSERT_CONCURRENCY = 16;
/** ETags and versions remembered: about 100 bytes each. */
const KNOWN_DOCUMENTS = 100_000;

interface KnownDocument {
  etag: string;
  version: number;
}

export class CosmosServingStore implements ServingStore {
  readonly location: string;
  private readonly container: Container;
  private readonly known = new Map<string, KnownDocument>();
  private closed = false;

  constructor(
    options: CosmosServingStoreOptions,
    private readonly client?: CosmosClient,
  ) {
    this.container = options.container;
    this.location = `Cosmos DB container ${this.container.database.id}/${this.container.id}`;
  }

  /**
   * Opens the container with client options — a key for emulators and tests, `aadCredentials`
   * (Microsoft Entra ID) in production. With `create` (the default) the database and the container
   * (partitioned by `/pk`) are created when absent; without it they must exist, as on Azure, where
   * Entra ID data roles cannot create them: a missing one or refused credentials are fatal.
   */
  static async open(clientOptions: CosmosClientOptions, database: string, container: string, options: { create?: boolean } = {}): Promise<CosmosServingStore> {
    const client = new CosmosClient(clientOptions);
    if (options.create ?? true) {
      const { database: db } = await client.databases.createIfNotExists({ id: database });
      const { container: c } = await db.containers.createIfNotExists({ id: container, partitionKey: { paths: ['/pk'] }, indexingPolicy: INDEXING_POLICY });
      return new CosmosServingStore({ container: c }, client);
    }
    const c = client.database(database).container(container);
    try {
      await c.read();
    } catch (error) {
      client.dispose();
      const resource = `Cosmos DB container ${database}/${container}`;
      const status = (error as { code?: number }).code;
      if (status === 404)
        throw new FatalBackendError(
          `The ${resource} does not exist: create it with partition key /pk (infra/ does) or fix PIPELINE_COSMOS_DATABASE / PIPELINE_COSMOS_CONTAINER.`,
          resource,
          { cause: error },
        );
      if (status === 401 || status === 403) {
        throw new FatalBackendError(
          `The ${resource} refused the credentials (HTTP ${status}): assign this identity a Cosmos DB built-in data role (Data Reader to serve, Data Contributor to write).`,
          resource,
          { cause: error },
        );
      }
      throw error;
    }
    return new CosmosServingStore({ container: c }, client);
  }

  async upsert(documents: readonly WindowDocument[], retired: readonly RetiredWindow[] = []): Promise<UpsertResult> {
    this.assertOpen();
    if (!Array.isArray(documents)) throw new ServingStoreError(`upsert expects an array of window documents, got ${typeof documents}.`);
    documents.forEach(assertDocument);
    assertRetired(retired);
    let written = 0;
    let next = 0;
    const worker = async () => {
      while (next < documents.length) {
        const doc = documents[next++] as WindowDocument;
        if (await this.upsertOne(doc)) written++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPSERT_CONCURRENCY, documents.length) }, worker));
    if (retired.length === 0) return { written, skipped: documents.length - written };
    // After the new documents: a reader may briefly see a retired session beside its successor, never neither.
    let removed = 0;
    for (const r of retired) if (await this.retireOne(r)) removed++;
    return { written, skipped: documents.length - written, removed };
  }

  /** Deletes a retired document while its stored version is older than the retiring batch's. */
  private async retireOne(retired: RetiredWindow): Promise<boolean> {
    const item = this.container.item(retired.id, retired.pk);
    const key = `${retired.pk}\n${retired.id}`;
    for (let attempt = 0; attempt < 10; attempt++) {
      const stored = await this.readStored(item, key);
      if (stored === undefined || stored.version >= retired.version) return false;
      try {
        const deleted = await item.delete({ accessCondition: { type: 'IfMatch', condition: stored.etag } });
        this.charge(deleted.requestCharge, 'delete_item');
        this.known.delete(key);
        return true;
      } catch (error) {
        // 412: changed since it was read; 404: deleted meanwhile. Either way, look again.
        if (status(error) !== 412 && status(error) !== 404) throw this.wrap(error, 'upsert');
        this.charge(requestChargeOf(error), 'delete_item');
      }
    }
    throw new ServingStoreError(`removing the retired ${retired.id} kept conflicting with other writers; is more than one gold instance writing this shard?`);
  }

  private async upsertOne(doc: WindowDocument): Promise<boolean> {
    const body: StoredWindow = { ...storedDocument(doc), type: 'window' };
    const item = this.container.item(doc.id, doc.pk);
    const key = `${doc.pk}\n${doc.id}`;
    let stored = this.known.get(key);
    for (let attempt = 0; attempt < 10; attempt++) {
      if (stored === undefined) {
        try {
          const created = await this.container.items.create(body);
          this.charge(created.requestCharge, 'create_item');
          this.remember(key, created.etag, doc.version);
          return true;
        } catch (error) {
          if (status(error) !== 409) throw this.wrap(error, 'upsert');
          this.charge(requestChargeOf(error), 'create_item');
          stored = await this.readStored(item, key);
          continue;
        }
      }
      if (stored.version >= doc.version) return false;
      try {
        const replaced = await item.replace(body, { accessCondition: { type: 'IfMatch', condition: stored.etag } });
        this.charge(replaced.requestCharge, 'replace_item');
        this.remember(key, replaced.etag, doc.version);
        return true;
      } catch (error) {
        // 412: changed since we saw it; 404: deleted meanwhile. Either way, look again.
        if (status(error) !== 412 && status(error) !== 404) throw this.wrap(error, 'upsert');
        this.charge(requestChargeOf(error), 'replace_item');
        stored = await this.readStored(item, key);
      }
    }
    throw new ServingStoreError(`upsert of ${doc.id} kept conflicting with other writers; is more than one gold instance writing this shard?`);
  }

  /** The stored ETag and version of a document (remembered), or `undefined` when it does not exist. */
  private async readStored(item: Item, key: string): Promise<KnownDocument | undefined> {
    const current = await item.read<StoredWindow>();
    this.charge(current.requestCharge, 'read_item');
    if (current.statusCode === 404 || !current.resource) {
      this.known.delete(key);
      return undefined;
    }
    return this.remember(key, current.etag, current.resource.version);
  }

  private remember(key: string, etag: string | undefined, version: number): KnownDocument | undefined {
    if (etag === undefined) return undefined;
    const known = { etag, version };
    // Re-inserted at the end: the Map's order is the eviction order (least recently written first).
    this.known.delete(key);
    this.known.set(key, known);
    if (this.known.size > KNOWN_DOCUMENTS) this.known.delete(this.known.keys().next().value as string);
    return known;
  }

  async get(pk: string, id: string): Promise<WindowDocument | undefined> {
    this.assertOpen();
    assertText(pk, 'get: pk');
    assertText(id, 'get: id');
    const response = await this.container.item(id, pk).read<StoredWindow>();
    this.charge(response.requestCharge, 'read_item');
    return response.resource && response.resource.type === 'window' ? decodeDocument(response.resource) : undefined;
  }

  async queryWindows(query: WindowQuery): Promise<WindowPage> {
    this.assertOpen();
    const { pk, window, limit, lower, upper, after } = checkWindowQuery(query);
    const filters = ['c.pk = @pk', "c.type = 'window'"];
    const parameters: SqlQuerySpec['parameters'] = [{ name: '@pk', value: pk }];
    if (window !== undefined) {
      filters.push('c.window = @window');
      parameters.push({ name: '@window', value: window });
    }
    if (Number.isFinite(lower)) {
      filters.push('c.windowStart >= @from');
      parameters.push({ name: '@from', value: lower });
    }
    if (Number.isFinite(upper)) {
      filters.push('c.windowStart < @to');
      parameters.push({ name: '@to', value: upper });
    }
    if (Number.isFinite(after.windowStart)) {
      filters.push('(c.windowStart > @s OR (c.windowStart = @s AND (c.window > @w OR (c.window = @w AND c.id > @id))))');
      parameters.push({ name: '@s', value: after.windowStart }, { name: '@w', value: after.window }, { name: '@id', value: after.id });
    }
    // One more than asked tells whether another page exists.
    const rows = await this.query<StoredWindow>(
      { query: `SELECT TOP ${limit + 1} * FROM c WHERE ${filters.join(' AND ')} ORDER BY c.windowStart, c.window, c.id`, parameters },
      { partitionKey: pk },
    );
    const items = rows.slice(0, limit).map(decodeDocument);
    const last = items.at(-1);
    return rows.length > limit && last ? { items, continuationToken: encodeContinuationToken(last) } : { items };
  }

  async latest(pk: string, window?: string): Promise<WindowDocument | undefined> {
    this.assertOpen();
    assertText(pk, 'latest: pk');
    if (window !== undefined) assertText(window, 'latest: window');
    const rows = await this.query<StoredWindow>(
      {
        query: `SELECT TOP 1 * FROM c WHERE c.pk = @pk AND c.type = 'window'${window === undefined ? '' : ' AND c.window = @window'} ORDER BY c.windowStart DESC, c.window DESC`,
        parameters: [{ name: '@pk', value: pk }, ...(window === undefined ? [] : [{ name: '@window', value: window }])],
      },
      { partitionKey: pk },
    );
    return rows[0] && decodeDocument(rows[0]);
  }

  async top(query: TopQuery): Promise<WindowDocument[]> {
    this.assertOpen();
    const { window, windowStart, by, limit } = checkTopQuery(query);
    const rows = await this.query<StoredWindow>({
      query: "SELECT * FROM c WHERE c.type = 'window' AND c.window = @window AND c.windowStart = @start",
      parameters: [
        { name: '@window', value: window },
        { name: '@start', value: windowStart },
      ],
    });
    const value = (doc: StoredWindow) => doc.aggregates[by] ?? null;
    return rows
      .sort((a, b) => {
        const x = value(a);
        const y = value(b);
        if (x === null || y === null) return x === y ? compareText(a.pk, b.pk) : x === null ? 1 : -1;
        return y - x || compareText(a.pk, b.pk);
      })
      .slice(0, limit)
      .map(decodeDocument);
  }

  async putShardStatus(status: ShardStatus): Promise<void> {
    this.assertOpen();
    assertShardStatus(status);
    const body: StoredStatus = {
      ...status,
      id: `shard-${status.shard}`,
      pk: statusPk(status.pipeline),
      type: 'status',
      watermark: finiteOrNull(status.watermark),
      maxEventTime: finiteOrNull(status.maxEventTime),
    };
    try {
      this.charge((await this.container.items.upsert(body)).requestCharge, 'upsert_item');
    } catch (error) {
      throw this.wrap(error, 'putShardStatus');
    }
  }

  async listShardStatus(pipeline: string): Promise<ShardStatus[]> {
    this.assertOpen();
    assertText(pipeline, 'listShardStatus: pipeline');
    const pk = statusPk(pipeline);
    const rows = await this.query<StoredStatus>(
      { query: "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'status'", parameters: [{ name: '@pk', value: pk }] },
      { partitionKey: pk },
    );
    return rows
      .map(({ pipeline: p, shard, batch, watermark, maxEventTime, rows: r, lateRows, windowsEmitted, updatedAt, numRowsDroppedByWatermark, eventTime, owner }) => ({
        pipeline: p,
        shard,
        batch,
        watermark,
        maxEventTime,
        rows: r,
        lateRows,
        windowsEmitted,
        updatedAt,
        ...(numRowsDroppedByWatermark === undefined ? {} : { numRowsDroppedByWatermark }),
        ...(eventTime === undefined ? {} : { eventTime }),
        ...(owner === undefined ? {} : { owner }),
      }))
      .sort((a, b) => a.shard - b.shard);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await this.container.read();
    } catch (error) {
      throw this.wrap(error, 'ping');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client?.dispose();
  }

  private async query<T>(spec: SqlQuerySpec, options: FeedOptions = {}): Promise<T[]> {
    try {
      const response = await this.container.items.query<T>(spec, options).fetchAll();
      this.charge(response.requestCharge, 'query_items');
      return response.resources;
    } catch (error) {
      throw this.wrap(error, 'query');
    }
  }

  /** Puts a request's charge on the active span and on `azure.cosmosdb.client.operation.request_charge`. */
  private charge(requestCharge: number | undefined, operation: string): void {
    if (requestCharge === undefined) return;
    recordRequestCharge(requestCharge, operation, this.container.id);
    const span = trace.getActiveSpan();
    if (!span) return;
    // Several requests can serve one call (read, then create or replace): the span gets their sum.
    const total = (chargesBySpan.get(span) ?? 0) + requestCharge;
    chargesBySpan.set(span, total);
    span.setAttribute('db.cosmosdb.request_charge', total);
  }

  private assertOpen(): void {
    if (this.closed) throw new ServingStoreError(`The ${this.location} is closed; open a new one to use it again.`);
  }

  private wrap(error: unknown, operation: string): Error {
    if (error instanceof ServingStoreError) return error;
    return new ServingStoreError(`${operation} failed on the ${this.location}${status(error) ? ` (HTTP ${status(error)})` : ''}: ${(error as Error).message}`, { cause: error });
  }
}

/** The request charge a failed request still cost (Cosmos DB bills conflicts and failed preconditions). */
function requestChargeOf(error: unknown): number | undefined {
  const charge = (error as { headers?: Record<string, unknown> } | undefined)?.headers?.['x-ms-request-charge'];
  return charge === undefined ? undefined : Number(charge) || undefined;
}

function status(error: unknown): number | undefined {
  return error instanceof ErrorResponse || (error && typeof error === 'object' && 'code' in error) ? Number((error as { code?: unknown }).code) || undefined : undefined;
}

/** Ordinal comparison, as SQLite's default collation orders text. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

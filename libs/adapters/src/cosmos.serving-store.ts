/**
 * The serving store on Azure Cosmos DB (SQL API), sharing the document model of the embedded store.
 *
 * - One container partitioned by `/pk` (the grouping key): a key's windows are one logical
 *   partition, so the key endpoints are single-partition queries. Shard statuses live in the same
 *   container under the partition `_status|<pipeline>`; a `type` field tells the two apart.
 * - Conditional upserts in transactional batches: the documents of one call are grouped per
 *   partition key, up to `BATCH_OPERATIONS` a request. The store remembers the ETag and version it
 *   last wrote or read of each document (a bounded cache, only a hint): a document it knows is
 *   replaced with `If-Match` on that ETag when ours is newer; one it does not know is created (most
 *   are new). A batch is atomic, so one 409 or 412 (the stored document is not what we thought)
 *   fails it: the stored versions of its documents are read in one query, and it goes again without
 *   those that are not older. An equal or older version is skipped, so a re-run or a late older
 *   batch never overwrites newer results.
 * - A server without the batch endpoint (an older emulator) is detected on the first upsert and
 *   written one conditional request per document from then on, `UPSERT_CONCURRENCY` at a time.
 * - Throttling (429): the client waits what the service asks (`x-ms-retry-after-ms`) and retries, at
 *   most `THROTTLE_RETRIES` times and `THROTTLE_WAIT_S` per call (explicit, not the SDK's defaults);
 *   each throttled request is logged and its charge recorded under status 429. Past the bounds the
 *   call fails with a `ServingStoreError` naming the fix.
 * - Retired documents (superseded sessions) are deleted after the call's documents are written,
 *   each with `If-Match` on the ETag of a stored version older than the retiring batch; a newer
 *   document under the same id stays. A reader may see a retired session beside its successor for
 *   a moment, never neither.
 * - Pages use the same keyset continuation tokens as the embedded store (not Cosmos's own): stable
 *   while documents are replaced between pages, and URL-safe.
 * - Top-N across keys is bounded: `SELECT TOP limit … ORDER BY the aggregate DESC` (a cross-partition
 *   ORDER BY on a single path, served by the default range index), then the ties at the last value
 *   and the nulls ordered by pk, each `TOP limit` too; `limit` is at most `MAX_TOP_LIMIT`.
 * The request charge of each call is put on the active span (`db.cosmosdb.request_charge`), and each
 * operation's on the `azure.cosmosdb.client.operation.request_charge` histogram (docs/metrics.md).
 */
import { trace, type Span } from '@opentelemetry/api';
import { createLogger, recordRequestCharge } from '@pipeline/telemetry';
import {
  BulkOperationType,
  CosmosClient,
  ErrorResponse,
  type Container,
  type CosmosClientOptions,
  type FeedOptions,
  type Item,
  type OperationInput,
  type OperationResponse,
  type Plugin,
  type PluginConfig,
  type Response,
  type SqlQuerySpec,
} from '@azure/cosmos';
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

/** Where the store reports throttling and the fallback from bulk writes (a pino logger fits). */
export interface ServingStoreLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface CosmosServingStoreOptions {
  container: Container;
  log?: ServingStoreLog;
}

/** Requests (batches, or documents without the batch endpoint) one `upsert` call has in flight. */
export const UPSERT_CONCURRENCY = 16;
/** Operations in one transactional batch: the service's limit. */
export const BATCH_OPERATIONS = 100;
/** Retries after throttling (429) one request gets, and the most one call waits for them. */
export const THROTTLE_RETRIES = 9;
export const THROTTLE_WAIT_S = 30;
/** Rounds of conflicts (another writer between our read and write) one upsert accepts. */
const CONFLICT_ROUNDS = 10;
/** ETags and versions remembered: about 100 bytes each. */
const KNOWN_DOCUMENTS = 100_000;
/** What a server without the batch endpoint answers a batch request with. */
const NO_BATCH_ENDPOINT = new Set([400, 404, 405, 501]);

interface KnownDocument {
  etag: string;
  version: number;
}

export class CosmosServingStore implements ServingStore {
  readonly location: string;
  private readonly container: Container;
  private readonly log: ServingStoreLog;
  private readonly known = new Map<string, KnownDocument>();
  /** Whether the server has the batch endpoint: learnt on the first upsert. */
  private batchEndpoint: 'unknown' | 'present' | 'absent' = 'unknown';
  /** The status of a batch request the server refused (seen by `observe`). */
  private refusedBatch: number | undefined;
  private closed = false;

  constructor(
    options: CosmosServingStoreOptions,
    private readonly client?: CosmosClient,
  ) {
    this.container = options.container;
    this.log = options.log ?? createLogger({ service: 'serving-store' });
    this.location = `Cosmos DB container ${this.container.database.id}/${this.container.id}`;
  }

  /**
   * Opens the container with client options — a key for emulators and tests, `aadCredentials`
   * (Microsoft Entra ID) in production. With `create` (the default) the database and the container
   * (partitioned by `/pk`) are created when absent; without it they must exist, as on Azure, where
   * Entra ID data roles cannot create them: a missing one or refused credentials are fatal.
   * The client retries throttled requests itself, within the explicit bounds of the module doc.
   */
  static async open(
    clientOptions: CosmosClientOptions,
    database: string,
    container: string,
    options: { create?: boolean; log?: ServingStoreLog; throttleRetries?: number } = {},
  ): Promise<CosmosServingStore> {
    // The plugin needs the store, and the store the client's container: the plugin looks it up when called.
    let store: CosmosServingStore | undefined;
    // `plugins` is the client's request hook: read by the client, left out of its typings.
    const withPlugins: CosmosClientOptions & { plugins?: PluginConfig[] } = {
      ...clientOptions,
      connectionPolicy: {
        ...clientOptions.connectionPolicy,
        retryOptions: { maxRetryAttemptCount: options.throttleRetries ?? THROTTLE_RETRIES, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: THROTTLE_WAIT_S },
      },
      plugins: [
        ...((clientOptions as { plugins?: PluginConfig[] }).plugins ?? []),
        { on: 'request', plugin: ((context, diagnostics, next) => (store ? store.observe(context, diagnostics, next) : next(context))) satisfies Plugin<unknown> },
      ],
    };
    const client = new CosmosClient(withPlugins);
    const log = options.log === undefined ? {} : { log: options.log };
    if (options.create ?? true) {
      const { database: db } = await client.databases.createIfNotExists({ id: database });
      const { container: c } = await db.containers.createIfNotExists({ id: container, partitionKey: { paths: ['/pk'] }, indexingPolicy: INDEXING_POLICY });
      store = new CosmosServingStore({ container: c, ...log }, client);
      return store;
    }
    const c = client.database(database).container(container);
    store = new CosmosServingStore({ container: c, ...log }, client);
    try {
      await c.read();
    } catch (error) {
      client.dispose();
      const resource = `Cosmos DB container ${database}/${container}`;
      const code = status(error);
      if (code === 404)
        throw new FatalBackendError(
          `The ${resource} does not exist: create it with partition key /pk (infra/ does) or fix PIPELINE_COSMOS_DATABASE / PIPELINE_COSMOS_CONTAINER.`,
          resource,
          { cause: error },
        );
      if (code === 401 || code === 403) {
        throw new FatalBackendError(
          `The ${resource} refused the credentials (HTTP ${code}): assign this identity a Cosmos DB built-in data role (Data Reader to serve, Data Contributor to write).`,
          resource,
          { cause: error },
        );
      }
      throw error;
    }
    return store;
  }

  /** Whether upserts go through the batch endpoint: `unknown` before the first upsert. */
  get writesInBatches(): 'unknown' | 'yes' | 'no' {
    return this.batchEndpoint === 'unknown' ? 'unknown' : this.batchEndpoint === 'present' ? 'yes' : 'no';
  }

  async upsert(documents: readonly WindowDocument[], retired: readonly RetiredWindow[] = []): Promise<UpsertResult> {
    this.assertOpen();
    if (!Array.isArray(documents)) throw new ServingStoreError(`upsert expects an array of window documents, got ${typeof documents}.`);
    documents.forEach(assertDocument);
    assertRetired(retired);
    let result: UpsertResult = { written: 0, skipped: 0 };
    if (documents.length > 0) result = (this.batchEndpoint !== 'absent' ? await this.upsertInBatches(documents) : undefined) ?? (await this.upsertOneByOne(documents));
    if (retired.length === 0) return result;
    // After the new documents: a reader may briefly see a retired session beside its successor, never neither.
    let removed = 0;
    for (const r of retired) if (await this.retireOne(r)) removed++;
    return { ...result, removed };
  }

  /**
   * The documents in transactional batches, one partition key (≤ `BATCH_OPERATIONS` documents) each:
   * `undefined` when the server turned out to have no batch endpoint (nothing was written then).
   * The first batch of a store goes alone, so that is learnt before others are sent.
   */
  private async upsertInBatches(documents: readonly WindowDocument[]): Promise<UpsertResult | undefined> {
    const batches = partitionBatches(documents);
    let written = 0;
    let next = 0;
    if (this.batchEndpoint === 'unknown') {
      const first = await this.writeBatch(batches[next++] as WindowDocument[]);
      if (first === undefined) return undefined;
      written += first;
    }
    const worker = async () => {
      while (next < batches.length) {
        const count = (await this.writeBatch(batches[next++] as WindowDocument[])) ?? 0;
        written += count;
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPSERT_CONCURRENCY, batches.length - next) }, worker));
    return { written, skipped: documents.length - written };
  }

  /**
   * One partition key's documents: create the unknown, replace the known older ones with If-Match.
   * The batch is atomic, so one conflict (409, 412, 404) fails it all (the others answer 424): the
   * stored versions of the batch's documents are then read in one query, and the batch goes again
   * without those that are not older. Returns how many were written.
   */
  private async writeBatch(docs: readonly WindowDocument[]): Promise<number | undefined> {
    const pk = (docs[0] as WindowDocument).pk;
    let written = 0;
    for (let round = 0; ; round++) {
      const writes = docs.filter((doc) => (this.known.get(documentKey(doc))?.version ?? -1) < doc.version);
      if (writes.length === 0) return written;
      if (round === CONFLICT_ROUNDS)
        throw new ServingStoreError(`upsert of ${writes[0]?.id} kept conflicting with other writers; is more than one gold instance writing this shard?`);
      let response: Response<OperationResponse[]>;
      try {
        response = await this.container.items.batch(
          writes.map((doc) => this.writeOperation(doc)),
          pk,
        );
      } catch (error) {
        if (this.batchEndpoint === 'unknown' && this.refusedBatch !== undefined) return this.noBatchEndpoint(this.refusedBatch);
        throw this.wrap(error, 'upsert');
      }
      this.batchEndpoint = 'present';
      let conflicts = 0;
      writes.forEach((doc, i) => {
        const result = response.result?.[i];
        const code = result?.statusCode ?? 500;
        this.charge(result?.requestCharge, this.known.has(documentKey(doc)) ? 'replace_item' : 'create_item', code);
        if (code < 300) {
          written++;
          this.remember(documentKey(doc), result?.eTag, doc.version);
        } else if (code === 409 || code === 412 || code === 404) {
          // 409: it exists; 412: changed since we saw it; 404: deleted meanwhile.
          conflicts++;
        } else if (code !== 424) {
          throw new ServingStoreError(`upsert of ${doc.id} failed on the ${this.location} (HTTP ${code} in a transactional batch).`);
        }
      });
      if (conflicts === 0 && response.code !== 207) return written;
      await this.readStoredVersions(pk, writes);
    }
  }

  private writeOperation(doc: WindowDocument): OperationInput {
    const resourceBody: StoredWindow = { ...storedDocument(doc), type: 'window' };
    const known = this.known.get(documentKey(doc));
    // Each operation names its partition too (the batch's): compatible servers need it for Replace.
    return known
      ? { operationType: BulkOperationType.Replace, id: doc.id, partitionKey: doc.pk, resourceBody, ifMatch: known.etag }
      : { operationType: BulkOperationType.Create, partitionKey: doc.pk, resourceBody };
  }

  /** Learns the stored ETag and version of each document of one partition in one query, and forgets the absent ones. */
  private async readStoredVersions(pk: string, docs: readonly WindowDocument[]): Promise<void> {
    const rows = await this.query<{ id: string; _etag: string; version: number }>(
      {
        query: 'SELECT c.id, c._etag, c.version FROM c WHERE c.pk = @pk AND ARRAY_CONTAINS(@ids, c.id)',
        parameters: [
          { name: '@pk', value: pk },
          { name: '@ids', value: docs.map((doc) => doc.id) },
        ],
      },
      { partitionKey: pk },
    );
    const stored = new Map(rows.map((row) => [row.id, row]));
    for (const doc of docs) {
      const row = stored.get(doc.id);
      if (row) this.remember(documentKey(doc), row._etag, row.version);
      else this.known.delete(documentKey(doc));
    }
  }

  private noBatchEndpoint(code: number): undefined {
    this.batchEndpoint = 'absent';
    this.log.info(
      { store: this.location, status: code },
      'The Cosmos DB server has no batch endpoint: upserts go one conditional request per document (an emulator or a compatible server; Azure Cosmos DB has it).',
    );
    return undefined;
  }

  /**
   * Sees every HTTP request of this store's client (a client plugin): logs each throttled one with
   * the wait the service asked for (the client waits that long, then retries, within its bounds),
   * and notes a batch request the server refused, which the client reports without its status.
   */
  private observe: Plugin<unknown> = async (context, _diagnostics, next) => {
    try {
      return await next(context);
    } catch (error) {
      const code = status(error);
      if (code === 429) {
        this.charge(requestChargeOf(error), `${String(context.operationType)}_${String(context.resourceType)}`, 429);
        this.log.warn(
          { store: this.location, operation: context.operationType, resource: context.resourceType, retryAfterMs: retryAfterOf(error) },
          `Cosmos DB throttled a request (HTTP 429): the client retries after ${retryAfterOf(error) ?? 'its default'} ms, at most ${THROTTLE_RETRIES} times and ${THROTTLE_WAIT_S} s per call.`,
        );
      } else if (code !== undefined && NO_BATCH_ENDPOINT.has(code) && context.operationType === 'batch') {
        this.refusedBatch = code;
      }
      throw error;
    }
  };

  private async upsertOneByOne(documents: readonly WindowDocument[]): Promise<UpsertResult> {
    let written = 0;
    let next = 0;
    const worker = async () => {
      while (next < documents.length) {
        const doc = documents[next++] as WindowDocument;
        if (await this.upsertOne(doc)) written++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPSERT_CONCURRENCY, documents.length) }, worker));
    return { written, skipped: documents.length - written };
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
    const key = documentKey(doc);
    let stored = this.known.get(key);
    for (let attempt = 0; attempt < CONFLICT_ROUNDS; attempt++) {
      if (stored === undefined) {
        try {
          const created = await this.container.items.create(body);
          this.charge(created.requestCharge, 'create_item');
          this.remember(key, created.etag, doc.version);
          return true;
        } catch (error) {
          if (status(error) !== 409) throw this.wrap(error, 'upsert');
          this.charge(requestChargeOf(error), 'create_item', 409);
          stored = await this.readStored(item, key);
          continue;
        }
      }
      if (stored.version >= doc.version) return false;
      try {
        const etag = stored.etag;
        const replaced = await item.replace(body, { accessCondition: { type: 'IfMatch', condition: etag } });
        this.charge(replaced.requestCharge, 'replace_item');
        this.remember(key, replaced.etag, doc.version);
        return true;
      } catch (error) {
        // 412: changed since we saw it; 404: deleted meanwhile. Either way, look again.
        const code = status(error);
        if (code !== 412 && code !== 404) throw this.wrap(error, 'upsert');
        this.charge(requestChargeOf(error), 'replace_item', code);
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
    // `by` is an identifier (checked above), so it can name the path; the values stay parameters.
    const value = `c.aggregates.${by}`;
    const where = `c.type = 'window' AND c.window = @window AND c.windowStart = @start`;
    const parameters = [
      { name: '@window', value: window },
      { name: '@start', value: windowStart },
    ];
    const numbers = await this.query<StoredWindow>({ query: `SELECT TOP ${limit} * FROM c WHERE ${where} AND IS_NUMBER(${value}) ORDER BY ${value} DESC`, parameters });
    let ranked: StoredWindow[];
    if (numbers.length === limit) {
      // The last value may be shared by documents that did not fit: they are ordered by pk.
      const last = (numbers.at(-1) as StoredWindow).aggregates[by] as number;
      const ties = await this.query<StoredWindow>({
        query: `SELECT TOP ${limit} * FROM c WHERE ${where} AND ${value} = @last ORDER BY c.pk`,
        parameters: [...parameters, { name: '@last', value: last }],
      });
      ranked = [...numbers.filter((doc) => (doc.aggregates[by] as number) > last).sort(byValueThenPk(by)), ...ties];
    } else {
      const nulls = await this.query<StoredWindow>({
        query: `SELECT TOP ${limit - numbers.length} * FROM c WHERE ${where} AND NOT IS_NUMBER(${value}) ORDER BY c.pk`,
        parameters,
      });
      ranked = [...numbers.sort(byValueThenPk(by)), ...nulls];
    }
    return ranked.slice(0, limit).map(decodeDocument);
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
  private charge(requestCharge: number | undefined, operation: string, statusCode?: number): void {
    if (requestCharge === undefined) return;
    recordRequestCharge(requestCharge, operation, this.container.id, statusCode);
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
    const message = (error as Error).message;
    // A batch request's error comes without its status: its message still names the throttling.
    const throttled = status(error) === 429 || /\b429\b|TooManyRequests|Request rate is large/i.test(message);
    const fix = throttled
      ? ` Cosmos DB kept throttling past ${THROTTLE_RETRIES} retries or ${THROTTLE_WAIT_S} s: raise the container's throughput (RU/s, or its autoscale maximum).`
      : '';
    return new ServingStoreError(`${operation} failed on the ${this.location}${status(error) ? ` (HTTP ${status(error)})` : ''}: ${message}${fix}`, { cause: error });
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

/** A document's place in the cache: its partition and id. */
function documentKey(doc: WindowDocument): string {
  return `${doc.pk}\n${doc.id}`;
}

/** How long the service asked to wait, from a 429's `x-ms-retry-after-ms`. */
function retryAfterOf(error: unknown): number | undefined {
  const parsed = (error as { retryAfterInMs?: unknown } | undefined)?.retryAfterInMs;
  if (typeof parsed === 'number' && Number.isFinite(parsed)) return parsed;
  const header = Number((error as { headers?: Record<string, unknown> } | undefined)?.headers?.['x-ms-retry-after-ms']);
  return Number.isFinite(header) && header >= 0 ? header : undefined;
}

/** Descending by the aggregate, then ascending by pk: the port's order among numbers. */
function byValueThenPk(by: string) {
  return (a: StoredWindow, b: StoredWindow) => (b.aggregates[by] as number) - (a.aggregates[by] as number) || compareText(a.pk, b.pk);
}

/** The documents of one call in batches of one partition key each, the newest version of a document given twice. */
function partitionBatches(documents: readonly WindowDocument[]): WindowDocument[][] {
  const byPk = new Map<string, Map<string, WindowDocument>>();
  for (const doc of documents) {
    const docs = byPk.get(doc.pk) ?? new Map<string, WindowDocument>();
    byPk.set(doc.pk, docs);
    const seen = docs.get(doc.id);
    if (!seen || doc.version > seen.version) docs.set(doc.id, doc);
  }
  const batches: WindowDocument[][] = [];
  for (const docs of byPk.values()) {
    const list = [...docs.values()];
    for (let i = 0; i < list.length; i += BATCH_OPERATIONS) batches.push(list.slice(i, i + BATCH_OPERATIONS));
  }
  return batches;
}

/**
 * A Cosmos DB SQL API compatible server (@zeit/cosmosdb-server, plain HTTP, in memory) started
 * inside the test process, for the Cosmos adapter's contract tests. It lacks `patch`, GROUP BY,
 * OFFSET…LIMIT and the change feed; it serves the batch endpoint, but does not roll back a failed
 * atomic batch, so the front below answers atomic batches as Azure Cosmos DB does.
 *
 * In front of it, what the adapter must survive and what a test checks on the wire:
 * - every batch request is checked against the shape of the REST API's transactional batch
 *   (`x-ms-cosmos-is-batch-request`, `x-ms-cosmos-batch-atomic`, one partition key header, a JSON
 *   array of at most 100 operations, each with its `operationType` and the fields it needs); a bad
 *   one is answered 400 naming the problem, and recorded;
 * - `throttle(n, retryAfterMs)` answers the next n requests of a kind with 429 and
 *   `x-ms-retry-after-ms`, as Cosmos DB does when a partition runs out of request units;
 * - an atomic batch whose Create, Replace (If-Match) or Read would fail is answered 207 before
 *   anything is written: the failing operation with its status (409, 412, 404), every other one 424;
 * - `refuseBatches` answers every batch request 400, as a server without the endpoint does.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CosmosServerOptions {
  /** Answer batch requests 400, like a server without the batch endpoint. */
  refuseBatches?: boolean;
}

/** One batch request as the server received it. */
export interface BatchRequest {
  partitionKey: string;
  operations: Array<{ operationType: string; id?: string; ifMatch?: string }>;
  /** Why the request does not have the transactional batch's shape; absent when it does. */
  problem?: string;
  /** The status the front answered itself (429, 400, or 207 for an atomic batch that failed); absent when the server behind did. */
  answered?: number;
}

export interface CosmosServer {
  readonly endpoint: string;
  /** Any key is accepted; the client needs one. */
  readonly key: string;
  /** HTTP requests served so far: what an adapter's operations cost in round trips. */
  requests(): number;
  /** Batch requests received so far (throttled ones included), in order. */
  batches(): BatchRequest[];
  /** The next `count` requests of `kind` are answered 429 with `x-ms-retry-after-ms: retryAfterMs`. */
  throttle(count: number, retryAfterMs: number, kind?: 'batch' | 'any'): void;
  stop(): Promise<void>;
}

const MAX_BATCH_OPERATIONS = 100;
const OPERATION_TYPES = new Set(['Create', 'Upsert', 'Read', 'Delete', 'Replace', 'Patch']);

export async function startCosmosServer(options: CosmosServerOptions = {}): Promise<CosmosServer> {
  const { createHttpServer } = require('@zeit/cosmosdb-server') as { createHttpServer: () => Server };
  const server = createHttpServer();
  const [serve] = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  let requests = 0;
  const batches: BatchRequest[] = [];
  let throttling = { count: 0, retryAfterMs: 0, kind: 'batch' as 'batch' | 'any' };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const isBatch = req.method === 'POST' && String(req.headers['x-ms-cosmos-is-batch-request']).toLowerCase() === 'true';
    if (throttling.count > 0 && (throttling.kind === 'any' || isBatch)) {
      throttling.count--;
      if (isBatch) batches.push({ partitionKey: String(req.headers['x-ms-documentdb-partitionkey']), operations: [], answered: 429 });
      req.resume();
      return answer(
        res,
        429,
        { code: 'TooManyRequests', message: 'Request rate is large. More Request Units may be needed, so no changes were made.' },
        {
          'x-ms-retry-after-ms': String(throttling.retryAfterMs),
          'x-ms-substatus': '3200',
        },
      );
    }
    if (!isBatch) return serve?.call(server, req, res);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const batch = checkBatch(req, body);
      batches.push(batch);
      if (options.refuseBatches || batch.problem) batch.answered = 400;
      if (options.refuseBatches) return answer(res, 400, { code: 'BadRequest', message: 'Batch requests are not supported.' });
      if (batch.problem) return answer(res, 400, { code: 'BadRequest', message: batch.problem });
      const atomic = String(req.headers['x-ms-cosmos-batch-atomic']).toLowerCase() === 'true';
      void (atomic ? firstFailure(req, JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>) : Promise.resolve(undefined)).then(
        (failure) => {
          if (failure) {
            batch.answered = 207;
            const results = batch.operations.map((_, i) => (i === failure.index ? { statusCode: failure.status, requestCharge: 1 } : { statusCode: 424, requestCharge: 0 }));
            return answer(res, 207, results, { 'x-ms-request-charge': '1' });
          }
          // The checked request again, for the server behind.
          const { Readable } = require('node:stream') as typeof import('node:stream');
          const replay = Object.assign(Readable.from([body]), { method: req.method, url: req.url, headers: req.headers }) as unknown as IncomingMessage;
          serve?.call(server, replay, res);
        },
        (error: unknown) => answer(res, 500, { code: 'InternalServerError', message: String(error) }),
      );
    });
  });

  /** The first operation of an atomic batch that would fail, judged on the stored documents. */
  async function firstFailure(req: IncomingMessage, operations: Array<Record<string, unknown>>): Promise<{ index: number; status: number } | undefined> {
    for (const [index, op] of operations.entries()) {
      const id = String(op['id'] ?? (op['resourceBody'] as Record<string, unknown> | undefined)?.['id']);
      const stored = await readDocument(String(req.url).split('?')[0] as string, id, String(req.headers['x-ms-documentdb-partitionkey']));
      const type = String(op['operationType']);
      if (type === 'Create' && stored) return { index, status: 409 };
      if ((type === 'Replace' || type === 'Read' || type === 'Delete') && !stored) return { index, status: 404 };
      if ((type === 'Replace' || type === 'Delete') && typeof op['ifMatch'] === 'string' && stored?.['_etag'] !== op['ifMatch']) return { index, status: 412 };
    }
    return undefined;
  }

  /** A document as the server behind stores it (it does not check the signature). */
  async function readDocument(docsPath: string, id: string, partitionKey: string): Promise<Record<string, unknown> | undefined> {
    const { port: own } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${own}${docsPath}/${encodeURIComponent(id)}`, {
      // The cross-partition header takes the server's plain read (its other path fails on an absent id).
      headers: {
        'x-ms-documentdb-partitionkey': partitionKey,
        'x-ms-documentdb-query-enablecrosspartition': 'true',
        authorization: 'type%3Dmaster%26ver%3D1.0%26sig%3Dx',
        'x-ms-date': new Date().toUTCString(),
        'x-ms-version': '2018-12-31',
      },
    });
    requests--; // the front's own look-up is not the client's request
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`Reading ${id} behind the batch front answered HTTP ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    key: 'dGVzdA==',
    requests: () => requests,
    batches: () => [...batches],
    throttle: (count, retryAfterMs, kind = 'batch') => {
      throttling = { count, retryAfterMs, kind };
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The request against the transactional batch's documented shape. */
function checkBatch(req: IncomingMessage, body: Buffer): BatchRequest {
  const partitionKey = String(req.headers['x-ms-documentdb-partitionkey'] ?? '');
  const problem = (text: string, operations: BatchRequest['operations'] = []): BatchRequest => ({ partitionKey, operations, problem: text });
  if (!/^\[.*\]$/.test(partitionKey)) return problem('A batch needs the x-ms-documentdb-partitionkey header (a JSON array).');
  if (req.headers['x-ms-cosmos-batch-atomic'] === undefined) return problem('A transactional batch needs x-ms-cosmos-batch-atomic.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return problem('The body of a batch must be JSON.');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return problem('The body of a batch must be a non-empty array of operations.');
  const operations = parsed.map((op: Record<string, unknown>) => ({
    operationType: String(op?.['operationType']),
    ...(typeof op?.['id'] === 'string' ? { id: op['id'] } : {}),
    ...(typeof op?.['ifMatch'] === 'string' ? { ifMatch: op['ifMatch'] } : {}),
  }));
  if (parsed.length > MAX_BATCH_OPERATIONS) return problem(`A batch holds at most ${MAX_BATCH_OPERATIONS} operations, got ${parsed.length}.`, operations);
  for (const [i, op] of (parsed as Array<Record<string, unknown>>).entries()) {
    const type = String(op?.['operationType']);
    if (!OPERATION_TYPES.has(type)) return problem(`Operation ${i} has an unknown operationType ${JSON.stringify(type)}.`, operations);
    const resource = op['resourceBody'] as Record<string, unknown> | undefined;
    if ((type === 'Create' || type === 'Upsert' || type === 'Replace') && (typeof resource !== 'object' || typeof resource?.['id'] !== 'string')) {
      return problem(`Operation ${i} (${type}) needs a resourceBody with an id.`, operations);
    }
    if ((type === 'Read' || type === 'Delete' || type === 'Replace' || type === 'Patch') && typeof op['id'] !== 'string')
      return problem(`Operation ${i} (${type}) needs an id.`, operations);
    // Every document of a batch is in the batch's partition.
    if (resource && JSON.stringify([resource['pk']]) !== partitionKey)
      return problem(`Operation ${i} writes pk ${JSON.stringify(resource['pk'])} outside the batch's partition ${partitionKey}.`, operations);
  }
  return { partitionKey, operations };
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-charge': '0', 'x-ms-activity-id': '00000000-0000-0000-0000-000000000000', ...headers });
  res.end(JSON.stringify(body));
}

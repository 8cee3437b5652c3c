/** Shared by this app's specs only: a serving API over a temporary lake and SQLite store. */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { LocalLake, LocalServingStore, openServingStore } from '@pipeline/adapters';
import { parseSpec, type PipelineSpec } from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import { groupKeyText, windowDocumentId, type AggregateValue, type ServingStore, type WindowDocument } from '@pipeline/ports';
import { createLogger, PinoNestLogger } from '@pipeline/telemetry';
import { makeTempDir, startCosmosServer } from '@pipeline/testing';
import * as path from 'node:path';
import { createServingApi, type ServingApiOptions } from './serving-api.app';

export const SPEC_YAML = `
version: 1
name: sensor-readings
source:
  name: sensors
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
    - { name: temperature, type: double, nullable: true }
eventTime: { column: ts }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
  - { name: last_5m, type: hopping, size: 5m, slide: 1m }
aggregates:
  - { name: readings, fn: count }
  - { name: avg_temperature, fn: avg, column: temperature }
watermark: { delay: 30s }
gold: { shards: 2 }
`;

export const spec: PipelineSpec = parseSpec(SPEC_YAML, 'serving-api.spec.yaml');

export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
export const MINUTE = 60_000;

export function windowDoc(
  device: string,
  windowStart: number,
  aggregates: Record<string, AggregateValue>,
  options: { window?: string; version?: number; shard?: number; final?: boolean } = {},
): WindowDocument {
  const window = options.window ?? 'per_minute';
  const size = window === 'per_minute' ? MINUTE : 5 * MINUTE;
  const pk = groupKeyText({ device_id: device }, spec.groupBy);
  return {
    id: windowDocumentId(window, pk, windowStart),
    pk,
    pipeline: spec.name,
    window,
    windowStart,
    windowEnd: windowStart + size,
    key: { device_id: device },
    aggregates,
    final: options.final ?? true,
    watermark: windowStart + size,
    shard: options.shard ?? 0,
    version: options.version ?? 1,
  };
}

/** A JSON answer, loosely typed: the specs assert on its fields. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = Record<string, any>;

export interface ApiHarness {
  app: NestFastifyApplication;
  store: ServingStore;
  lake: LocalLake;
  clock: TestClock;
  get(url: string, headers?: Record<string, string>): Promise<Answer>;
  request(method: string, url: string, headers?: Record<string, string>): Promise<Answer>;
  /** Every log line written so far (JSON), the access log's included. */
  logged(): string[];
  dispose(): Promise<void>;
}

export interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json<T = Body>(): T;
}

/** What a spec may set on the API beyond the ports: edge settings, a verifier, a bus for the dead letters. */
export type ApiOptions = Pick<ServingApiOptions, 'edge' | 'verifier' | 'bus'> & { spec?: PipelineSpec };

/** The stores the API runs on in these specs: the embedded one, and Cosmos DB's adapter on a compatible server. */
export type StoreKind = 'local' | 'cosmos';

export async function startApi(kind: StoreKind = 'local', options: ApiOptions = {}): Promise<ApiHarness> {
  const dir = await makeTempDir('serving-api-');
  const cosmos = kind === 'cosmos' ? await startCosmosServer() : undefined;
  const store: ServingStore = cosmos
    ? await openServingStore({
        kind: 'azure',
        access: { kind: 'connection-string', connectionString: `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};` },
        database: 'pipeline',
        container: 'serving',
      })
    : LocalServingStore.open({ file: path.join(dir.path, 'serving.sqlite') });
  const lake = new LocalLake(path.join(dir.path, 'lake'));
  const clock = new TestClock(T0);
  const lines: string[] = [];
  const logger = createLogger({ service: 'serving-api', level: 'debug', format: 'json', destination: { write: (line: string) => void lines.push(line) } });
  const app = await createServingApi({
    spec,
    store,
    lake,
    clock,
    layers: { rawPrefix: 'raw', bronzeCheckpoint: 'bronze', silverCheckpoint: 'silver' },
    logger: new PinoNestLogger(logger),
    accessLog: logger,
    ...options,
  });
  const request = async (method: string, url: string, headers: Record<string, string> = {}): Promise<Answer> => {
    const response = await app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: method as 'GET', url, headers });
    return { statusCode: response.statusCode, headers: response.headers, body: response.body, json: () => response.json() };
  };
  return {
    app,
    store,
    lake,
    clock,
    get: (url, headers) => request('GET', url, headers),
    request,
    logged: () => [...lines],
    async dispose() {
      await app.close();
      await store.close();
      await cosmos?.stop();
      await lake.close();
      await dir.dispose();
    },
  };
}

/**
 * The pipeline's metrics, named in one place (docs/metrics.md lists each one, and a test holds the
 * two together). OpenTelemetry semantic conventions where they exist (`messaging.*`,
 * `http.server.request.duration`, `azure.cosmosdb.*`), `pipeline.*` for the rest.
 *
 * - Cost: everything is recorded per batch, per bus message or per request, never per row.
 * - Cardinality: attributes are the stage, the gold shard, the source (event hub) partition, the
 *   queue, the HTTP method and status: all bounded by configuration. Never a key, a path or an id.
 * - Stage counts come from the batch's commit record (libs/contracts stage-records.ts), the records
 *   `/v1/status` and the audit read, through the one stage runtime's commit (libs/checkpoint
 *   micro-batch.ts), so the three agree.
 * - Gauges report the last value this process saw: a gold shard that moved to another instance
 *   keeps reporting its last value here (series differ by `service.instance.id` / scrape target;
 *   take the newest, or the max of the watermark).
 * Instruments come from the global meter provider: create these objects after `startTelemetry`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { metrics, ValueType, type Attributes, type Counter, type Histogram, type Meter, type ObservableResult } from '@opentelemetry/api';

export const METER_NAME = 'pipeline';

/** Attribute names. */
export const STAGE = 'pipeline.stage';
export const SHARD = 'pipeline.shard';
export const SOURCE_PARTITION = 'pipeline.source.partition';

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const RECORD_BUCKETS = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/** A batch's records by outcome, for one source partition. */
export interface RecordCounts {
  in?: number;
  out?: number;
  quarantined?: number;
  duplicates?: number;
  late?: number;
}

export interface PartitionProgress {
  /** Largest event time seen in the partition (epoch ms), `null` before its first row. */
  maxEventTime: number | null;
  /** Whether it is idle and no longer holds the watermark back; `undefined` where the stage does not tell. */
  idle?: boolean;
}

/** What one committed batch reports, taken from its commit record and the live state after it. */
export interface BatchMeasure {
  /** Records by outcome per source partition; the key `''` when the stage does not count per partition. */
  records: Record<string, RecordCounts>;
  /** Records the batch took. */
  size: number;
  /** Event time after the batch. */
  eventTime?: { watermark: number; maxEventTime: number | null; partitions: Record<string, PartitionProgress> };
  /** What the stage holds between batches. */
  state?: { rows: number; windows?: number };
  windowsEmitted?: number;
}

/** The instruments of one meter provider; recreated when a new provider is installed (tests). */
class Instruments {
  readonly recordsIn: Counter;
  readonly recordsOut: Counter;
  readonly recordsQuarantined: Counter;
  readonly recordsDuplicates: Counter;
  readonly recordsLate: Counter;
  readonly windowsEmitted: Counter;
  readonly batchDuration: Histogram;
  readonly batchSize: Histogram;
  /** Last values, by attribute set, that the observable gauges report. */
  readonly gauges = {
    watermark: new Map<string, GaugeValue>(),
    watermarkLag: new Map<string, GaugeValue>(),
    partitionEventTime: new Map<string, GaugeValue>(),
    partitionLag: new Map<string, GaugeValue>(),
    partitionIdle: new Map<string, GaugeValue>(),
    stateRows: new Map<string, GaugeValue>(),
    openWindows: new Map<string, GaugeValue>(),
    owned: new Map<string, GaugeValue>(),
    instances: new Map<string, GaugeValue>(),
  };

  constructor(readonly meter: Meter) {
    const counter = (name: string, description: string, unit = '{record}') => meter.createCounter(name, { description, unit, valueType: ValueType.INT });
    this.recordsIn = counter('pipeline.records.in', 'Records a stage took in, per committed batch');
    this.recordsOut = counter('pipeline.records.out', 'Records a stage wrote on (silver: rows in the silver table)');
    this.recordsQuarantined = counter('pipeline.records.quarantined', 'Records silver set aside in the quarantine table');
    this.recordsDuplicates = counter('pipeline.records.duplicates', 'Records silver dropped as duplicates of an event id it saw');
    this.recordsLate = counter('pipeline.records.late', 'Rows gold found late for their windows (written to the late table)');
    this.windowsEmitted = counter('pipeline.windows.emitted', 'Window results gold emitted', '{window}');
    this.batchDuration = meter.createHistogram('pipeline.batch.duration', {
      description: 'Time from the start of a batch to its checkpoint commit',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    this.batchSize = meter.createHistogram('pipeline.batch.size', {
      description: 'Records per committed batch',
      unit: '{record}',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: RECORD_BUCKETS },
    });
    const g = this.gauges;
    const gauge = (name: string, values: Map<string, GaugeValue>, description: string, unit: string) =>
      meter.createObservableGauge(name, { description, unit }).addCallback((result: ObservableResult) => {
        for (const v of values.values()) result.observe(v.value, v.attributes);
      });
    gauge('pipeline.watermark', g.watermark, 'Event-time watermark after the last committed batch (Unix time)', 's');
    gauge('pipeline.watermark.lag', g.watermarkLag, 'Largest event time seen minus the watermark', 's');
    gauge('pipeline.partition.event_time', g.partitionEventTime, 'Largest event time seen in a source partition (Unix time)', 's');
    gauge('pipeline.partition.lag', g.partitionLag, "How far a source partition's event time is behind the most advanced partition of its shard", 's');
    gauge('pipeline.partition.idle', g.partitionIdle, 'Whether a source partition is idle and no longer holds the watermark back (1) or not (0)', '1');
    gauge('pipeline.state.rows', g.stateRows, 'Rows a stage holds in its state between batches (silver: event ids remembered; gold: window aggregates)', '{row}');
    gauge('pipeline.state.windows', g.openWindows, 'Windows gold holds open', '{window}');
    gauge('pipeline.ownership.owned', g.owned, 'Partitions (capture) or shards (gold) this instance owns', '{item}');
    gauge('pipeline.ownership.instances', g.instances, 'Live instances of the stage this instance sees in the ownership records, itself included', '{instance}');
  }
}

interface GaugeValue {
  value: number;
  attributes: Attributes;
}

let current: { provider: unknown; instruments: Instruments } | undefined;

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (current?.provider !== provider) current = { provider, instruments: new Instruments(provider.getMeter(METER_NAME)) };
  return current.instruments;
}

const seconds = (ms: number) => ms / 1000;
const keyOf = (attributes: Attributes) => JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));

/** What a partitioned stage's instance owns, recorded at each balance of its ownership. */
export class OwnershipMetrics {
  private readonly attributes: Attributes;

  constructor(stage: string) {
    this.attributes = { [STAGE]: stage };
  }

  balanced(owned: number, instances: number): void {
    const g = instruments().gauges;
    const key = keyOf(this.attributes);
    g.owned.set(key, { value: owned, attributes: this.attributes });
    g.instances.set(key, { value: instances, attributes: this.attributes });
  }
}

/** The metrics of one stage (or one gold shard), recorded once per committed batch. */
export class StageMetrics {
  private readonly base: Attributes;

  constructor(stage: string, shard?: number) {
    this.base = shard === undefined ? { [STAGE]: stage } : { [STAGE]: stage, [SHARD]: shard };
  }

  /** Records a committed batch: its counts, its duration and size, and the stage's event time and state after it. */
  batchCommitted(durationMs: number, measure: BatchMeasure): void {
    const m = instruments();
    for (const [partition, counts] of Object.entries(measure.records)) {
      const attributes = partition === '' ? this.base : { ...this.base, [SOURCE_PARTITION]: partition };
      add(m.recordsIn, counts.in, attributes);
      add(m.recordsOut, counts.out, attributes);
      add(m.recordsQuarantined, counts.quarantined, attributes);
      add(m.recordsDuplicates, counts.duplicates, attributes);
      add(m.recordsLate, counts.late, attributes);
    }
    add(m.windowsEmitted, measure.windowsEmitted, this.base);
    m.batchDuration.record(seconds(durationMs), this.base);
    m.batchSize.record(measure.size, this.base);
    if (measure.eventTime) this.eventTime(m, measure.eventTime);
    if (measure.state) {
      this.set(m.gauges.stateRows, measure.state.rows, this.base);
      if (measure.state.windows !== undefined) this.set(m.gauges.openWindows, measure.state.windows, this.base);
    }
  }

  private eventTime(m: Instruments, eventTime: NonNullable<BatchMeasure['eventTime']>): void {
    // Before any row (watermark −∞ or 0) there is no event time to report.
    if (Number.isFinite(eventTime.watermark) && eventTime.watermark > 0) {
      this.set(m.gauges.watermark, seconds(eventTime.watermark), this.base);
      if (eventTime.maxEventTime !== null) this.set(m.gauges.watermarkLag, seconds(Math.max(0, eventTime.maxEventTime - eventTime.watermark)), this.base);
    }
    const seen = Object.values(eventTime.partitions).flatMap((p) => (p.maxEventTime === null ? [] : [p.maxEventTime]));
    const newest = seen.length === 0 ? null : Math.max(...seen);
    for (const [partition, progress] of Object.entries(eventTime.partitions)) {
      const attributes = { ...this.base, [SOURCE_PARTITION]: partition };
      if (progress.idle !== undefined) this.set(m.gauges.partitionIdle, progress.idle ? 1 : 0, attributes);
      if (progress.maxEventTime === null || newest === null) continue;
      this.set(m.gauges.partitionEventTime, seconds(progress.maxEventTime), attributes);
      this.set(m.gauges.partitionLag, seconds(newest - progress.maxEventTime), attributes);
    }
  }

  private set(values: Map<string, GaugeValue>, value: number, attributes: Attributes): void {
    values.set(keyOf(attributes), { value, attributes });
  }
}

/** Adds a count the stage reports, zero included: a series exists from the first batch, so `rate()` and alerts see 0, not nothing. */
function add(counter: Counter, value: number | undefined, attributes: Attributes): void {
  if (value !== undefined) counter.add(value, attributes);
}

// Messaging (the bus and the event hub), after the OpenTelemetry messaging semantic conventions.

export interface MessagingTarget {
  /** `servicebus`, `eventhubs`, or `pipeline.bus` for the embedded bus. */
  system: string;
  destination: string;
}

/** `messaging.*` instruments of one destination; plus the dead letters the Bus port can list. */
export class MessagingMetrics {
  private readonly consumed: Counter;
  private readonly sent: Counter;
  private readonly processDuration: Histogram;
  private readonly operationDuration: Histogram;
  private readonly deadLettered: Counter;

  constructor(meter: Meter = metrics.getMeter(METER_NAME)) {
    this.consumed = meter.createCounter('messaging.client.consumed.messages', { description: 'Messages a consumer received', unit: '{message}', valueType: ValueType.INT });
    this.sent = meter.createCounter('messaging.client.sent.messages', { description: 'Messages a producer sent', unit: '{message}', valueType: ValueType.INT });
    this.processDuration = meter.createHistogram('messaging.process.duration', {
      description: 'Time a handler took to process a message',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    this.operationDuration = meter.createHistogram('messaging.client.operation.duration', {
      description: 'Time a send to the event hub took',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    this.deadLettered = meter.createCounter('pipeline.bus.dead_lettered', {
      description: 'Messages this consumer moved to the dead-letter queue',
      unit: '{message}',
      valueType: ValueType.INT,
    });
  }

  /** A message handled: how long it took, and the error type when it failed (it is retried). */
  processed(target: MessagingTarget, durationMs: number, errorType?: string): void {
    const attributes = messagingAttributes(target, 'process', errorType);
    this.consumed.add(1, attributes);
    this.processDuration.record(seconds(durationMs), attributes);
  }

  deadLetteredOne(target: MessagingTarget): void {
    this.deadLettered.add(1, messagingAttributes(target, 'settle'));
  }

  /** A batch of `count` messages sent (to a partition, when it was chosen). */
  sentBatch(target: MessagingTarget, count: number, durationMs: number, partitionId: string | null, errorType?: string): void {
    const attributes = { ...messagingAttributes(target, 'send', errorType), ...(partitionId === null ? {} : { 'messaging.destination.partition.id': partitionId }) };
    if (errorType === undefined) this.sent.add(count, attributes);
    this.operationDuration.record(seconds(durationMs), attributes);
  }
}

function messagingAttributes(target: MessagingTarget, operation: string, errorType?: string): Attributes {
  return {
    'messaging.system': target.system,
    'messaging.destination.name': target.destination,
    'messaging.operation.name': operation,
    ...(errorType === undefined ? {} : { 'error.type': errorType }),
  };
}

/** The most dead letters counted per queue: the Bus port lists them, it does not count them. */
export const DEAD_LETTER_COUNT_LIMIT = 100;

/**
 * `pipeline.bus.dead_letters`: the dead letters of each queue, up to DEAD_LETTER_COUNT_LIMIT, listed
 * through the Bus port on each collection (a scrape, an OTLP export). Returns the unregister function.
 */
export function observeDeadLetters(
  queues: readonly string[],
  system: string,
  list: (queue: string, limit: number) => Promise<number>,
  meter: Meter = metrics.getMeter(METER_NAME),
): () => void {
  const gauge = meter.createObservableGauge('pipeline.bus.dead_letters', {
    description: `Messages in the dead-letter queue (counted up to ${DEAD_LETTER_COUNT_LIMIT})`,
    unit: '{message}',
    valueType: ValueType.INT,
  });
  const callback = async (result: ObservableResult) => {
    const counts = await Promise.all(queues.map((queue) => list(queue, DEAD_LETTER_COUNT_LIMIT).catch(() => undefined)));
    counts.forEach((count, i) => {
      // A queue the bus could not list is left out rather than reported as empty.
      if (count !== undefined) result.observe(count, { 'messaging.system': system, 'messaging.destination.name': queues[i] as string });
    });
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

// HTTP server, after the HTTP semantic conventions.

/**
 * `http.server.request.duration` for every response of `server`, by method and status code only
 * (no route or path: those would be per key). Listens on the Node server, so the app's routes,
 * guards and interceptors stay as they are.
 */
export function recordHttpServerMetrics(server: Server, meter: Meter = metrics.getMeter(METER_NAME)): void {
  const histogram = meter.createHistogram('http.server.request.duration', {
    description: 'Duration of HTTP server requests',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const started = performance.now();
    response.once('close', () => {
      const status = response.statusCode;
      histogram.record(seconds(performance.now() - started), {
        'http.request.method': KNOWN_METHODS.has(request.method ?? '') ? (request.method as string) : '_OTHER',
        'http.response.status_code': status,
        'url.scheme': 'http',
        ...(status >= 500 ? { 'error.type': String(status) } : !response.writableFinished ? { 'error.type': 'aborted' } : {}),
      });
    });
  });
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

// Serving store: Cosmos DB request units, after the Azure Cosmos DB semantic conventions.

let requestCharge: { provider: unknown; histogram: Histogram } | undefined;

/**
 * `azure.cosmosdb.client.operation.request_charge`: the request units one Cosmos DB operation cost
 * (each operation of a bulk request on its own). A status code other than success is recorded as
 * `db.response.status_code`, so conflicts and throttling (429) show apart.
 */
export function recordRequestCharge(charge: number, operation: string, container: string, statusCode?: number): void {
  const provider = metrics.getMeterProvider();
  if (requestCharge?.provider !== provider) {
    requestCharge = {
      provider,
      histogram: provider.getMeter(METER_NAME).createHistogram('azure.cosmosdb.client.operation.request_charge', {
        description: 'Request units a Cosmos DB request consumed',
        unit: '{request_unit}',
        advice: { explicitBucketBoundaries: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000] },
      }),
    };
  }
  requestCharge.histogram.record(charge, {
    'db.system.name': 'azure.cosmosdb',
    'db.operation.name': operation,
    'db.collection.name': container,
    ...(statusCode === undefined || statusCode < 300 ? {} : { 'db.response.status_code': String(statusCode) }),
  });
}

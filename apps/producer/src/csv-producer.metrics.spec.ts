import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import pino from 'pino';
import { LocalEventHub } from '@pipeline/adapters';
import { parseSpec } from '@pipeline/contracts';
import { TestClock } from '@pipeline/engine';
import type { EventHubProducer } from '@pipeline/ports';
import { startTelemetry, type Telemetry } from '@pipeline/telemetry';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { CsvProducer, ProduceError } from './csv-producer';

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
`;

/** The sum of a Prometheus counter's samples whose labels include every `label="value"` given. */
function counter(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) || !labels.every((label) => line.includes(label))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('CSV producer metrics', () => {
  let dir: TempDir;
  let hub: LocalEventHub;
  let telemetry: Telemetry;
  let scrapeUrl: string;
  beforeAll(async () => {
    telemetry = startTelemetry({ serviceName: 'producer-metrics-spec', env: {}, metricsPort: 0, metricsHost: '127.0.0.1' });
    scrapeUrl = (await telemetry.metrics) as string;
  });
  afterAll(async () => {
    await telemetry.shutdown();
  });
  beforeEach(async () => {
    dir = await makeTempDir('producer-metrics-spec-');
    hub = LocalEventHub.open({ file: path.join(dir.path, 'hub.sqlite'), hubName: 'events', partitionCount: 4, clock: new TestClock(Date.UTC(2026, 0, 1)) });
  });
  afterEach(async () => {
    await hub.close();
    await dir.dispose();
  });

  it('counts the batches a hub took before a failed send as sent, and the rest as failed', async () => {
    // Few rows and large batches: nothing fills, so the end of the file hands out one batch per partition together.
    const csv = path.join(dir.path, 'devices.csv');
    await writeFile(csv, ['reading_id,device_id,ts,temperature', ...Array.from({ length: 40 }, (_, i) => `r${i + 1},d${i % 8},2026-01-01T00:00:00Z,20`)].join('\n'));
    let sends = 0;
    const taken: number[] = [];
    const refused: number[] = [];
    // A hub that takes one batch per call (no sendBatches), refusing the second.
    const oneByOne: EventHubProducer = {
      hubName: hub.hubName,
      maxBatchBytes: hub.maxBatchBytes,
      getPartitionIds: () => hub.getPartitionIds(),
      close: async () => undefined,
      send: async (events, options) => {
        if (++sends === 2) {
          refused.push(events.length);
          throw new Error('the hub is unreachable');
        }
        await hub.send(events, options);
        taken.push(events.length);
      },
    };
    const error = await new CsvProducer(parseSpec(SPEC, 'spec.yaml'), oneByOne, new TestClock(Date.UTC(2026, 0, 1)), async () => undefined, pino({ level: 'silent' }))
      .produce({ csvFile: csv, fromRow: 1, pacing: { kind: 'unlimited' }, maxBatchEvents: 1_000, maxBatchDelayMs: 60_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProduceError);
    expect(taken).toHaveLength(1);
    expect(refused).toHaveLength(1);

    const text = await (await fetch(scrapeUrl)).text();
    // Only what the hub took counts as sent messages.
    expect(counter(text, 'messaging_client_sent_messages_total', 'messaging_operation_name="send"')).toBe(taken[0]);
    // Each batch of the call has one timed operation: the one taken without an error type, the others with it.
    const timed = (...labels: string[]) => counter(text, 'messaging_client_operation_duration_count', 'messaging_operation_name="send"', ...labels);
    const failed = timed('error_type="Error"');
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(timed() - failed).toBe(1);
  });
});

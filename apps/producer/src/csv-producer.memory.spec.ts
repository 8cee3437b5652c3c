import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { loadSpecFile } from '@pipeline/config';
import { systemClock } from '@pipeline/engine';
import { csvLines } from '@pipeline/generator';
import type { EventHubProducer } from '@pipeline/ports';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { CsvProducer } from './csv-producer';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe('CSV producer memory', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await makeTempDir('producer-memory-');
  });
  afterAll(async () => {
    await dir.dispose();
  });

  it('streams a CSV far larger than its memory use, whatever the number of keys', async () => {
    const csv = path.join(dir.path, 'large.csv');
    const out = createWriteStream(csv);
    for (const line of csvLines({ rows: 1_200_000, seed: 3, devices: 5_000 })) if (!out.write(line)) await once(out, 'drain');
    out.end();
    await once(out, 'finish');
    const fileSize = (await stat(csv)).size;
    const spec = await loadSpecFile(path.resolve(__dirname, '..', '..', '..', 'examples', 'sensors.spec.yaml'));

    gc();
    const baseline = used();
    let peak = 0;
    let sent = 0;
    // A hub that only counts, so what is measured is the producer's own memory.
    const hub: EventHubProducer = {
      hubName: 'memory',
      maxBatchBytes: 1 << 20,
      getPartitionIds: async () => ['0'],
      close: async () => undefined,
      send: async (events) => {
        sent += events.length;
        if (sent % 50_000 < events.length) {
          gc();
          peak = Math.max(peak, used() - baseline);
        }
      },
    };
    const summary = await new CsvProducer(spec, hub, systemClock, async () => undefined, pino({ level: 'silent' })).produce({
      csvFile: csv,
      fromRow: 1,
      pacing: { kind: 'unlimited' },
      maxBatchEvents: 500,
      maxBatchDelayMs: 100,
    });
    expect(summary.eventsSent).toBe(1_200_000);
    expect(sent).toBe(1_200_000);
    expect(fileSize).toBeGreaterThan(80 * 1024 * 1024);
    expect(peak).toBeLessThan(40 * 1024 * 1024);
  }, 120_000);
});

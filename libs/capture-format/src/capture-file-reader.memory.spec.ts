import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { CaptureFileWriter } from './capture-file-writer';
import { readCaptureFile } from './capture-file-reader';
import { sampleRecord } from './spec-helpers';
import { deriveSyncMarker } from './sync-marker';

const RECORDS = 200_000;

/** A forced full GC, so heap samples measure what is retained rather than garbage not yet collected. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function retained(gc: () => void): { heap: number; buffers: number } {
  // A second pass lets V8 release ArrayBuffer backing stores the first one only queued.
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, buffers: usage.arrayBuffers };
}

describe('reading a large Capture file', () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-format-memory-'));
    file = path.join(dir, '00.avro');
    const writer = new CaptureFileWriter({ codec: 'null', syncMarker: deriveSyncMarker(file) });
    // Bodies of 128-191 bytes make a file of about 50 MB.
    for (let i = 0; i < RECORDS; i++) writer.append({ ...sampleRecord(i), body: Buffer.alloc(128 + (i % 64), i % 256) });
    fs.writeFileSync(file, writer.finish());
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('streams 200k records with memory growth far below the file size', async () => {
    const gc = exposeGc();
    const fileSize = fs.statSync(file).size;
    const baseline = retained(gc);
    let peakHeap = 0;
    let peakBuffers = 0;
    let count = 0;
    let lastSequenceNumber = -1;

    for await (const record of readCaptureFile(fs.createReadStream(file), '00.avro')) {
      expect(record.sequenceNumber).toBe(lastSequenceNumber === -1 ? 1000 : lastSequenceNumber + 1);
      lastSequenceNumber = record.sequenceNumber;
      count++;
      if (count % 20_000 === 0) {
        const now = retained(gc);
        peakHeap = Math.max(peakHeap, now.heap - baseline.heap);
        peakBuffers = Math.max(peakBuffers, now.buffers - baseline.buffers);
      }
    }

    expect(count).toBe(RECORDS);
    expect(fileSize).toBeGreaterThan(40 * 1024 * 1024);
    // One block (64 KiB) and one stream chunk are live at a time; the rest is slack for V8 itself.
    expect(peakHeap).toBeLessThan(fileSize / 10);
    expect(peakBuffers).toBeLessThan(fileSize / 10);
  });
});

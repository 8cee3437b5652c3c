import * as path from 'node:path';
import { LocalLake } from '@pipeline/adapters';
import { makeTempDir, type TempDir } from '@pipeline/testing';
import { CheckpointIndex } from './audit-checkpoints';
import { goldWindowsPerRow, readManifestOrReport } from './audit-gold';

// Each test has a lake of its own.
let dir: TempDir;
let lake: LocalLake;
beforeEach(async () => {
  dir = await makeTempDir('pipeline-audit-gold-');
  lake = new LocalLake(path.join(dir.path, 'lake'));
});
afterEach(async () => {
  await dir.dispose();
});

describe("goldWindowsPerRow, from gold's checkpoint metadata", () => {
  async function windowsPerRow(windows: unknown[]) {
    await lake.write('checkpoints/gold/shard-000/offsets/00000000000000000000', '{}');
    await lake.write('checkpoints/gold/shard-000/metadata', JSON.stringify({ logic: { aggregation: { windows } } }));
    return goldWindowsPerRow(lake, await CheckpointIndex.read(lake), 'gold');
  }

  it('is a number when every slide divides its size', async () => {
    expect(
      await windowsPerRow([
        { name: 'per_minute', sizeMs: 60_000, slideMs: 60_000 },
        { name: 'last_5m', sizeMs: 300_000, slideMs: 60_000, offsetMs: 15_000 },
      ]),
    ).toBe(6);
  });

  it("counts a row's windows at its event time when a slide does not divide its size, offsets included", async () => {
    const at = await windowsPerRow([
      { name: 'sliding', sizeMs: 10_000, slideMs: 3_000 },
      { name: 'shifted', sizeMs: 10_000, slideMs: 10_000, offsetMs: 5_000 },
    ]);
    if (typeof at !== 'function') throw new Error(`expected a count by event time, got ${String(at)}`);
    // 27 s: 4 sliding windows (starting at 18, 21, 24, 27 s) and 1 shifted; 34 s: 3 and 1.
    expect([at(27_000), at(34_000)]).toEqual([5, 4]);
  });

  it('is unknown when a recorded window definition is not valid', async () => {
    expect(await windowsPerRow([{ name: 'broken', sizeMs: 10_000, slideMs: 20_000 }])).toBeUndefined();
    expect(await windowsPerRow([{ name: 'broken', sizeMs: 10_000, slideMs: 5_000, offsetMs: 5_000 }])).toBeUndefined();
  });
});

describe('readManifestOrReport', () => {
  it('reports a manifest that is not JSON, or that cannot be read, with its path and the fix, and reads none', async () => {
    const damaged = 'manifests/silver/shard-000/00000000000000000000.json';
    const missing = 'manifests/silver/shard-001/00000000000000000000.json';
    await lake.write(damaged, '{"version": 1,');
    const problems: string[] = [];
    expect(await readManifestOrReport(lake, damaged, 'silver', problems)).toBeUndefined();
    expect(await readManifestOrReport(lake, missing, 'silver', problems)).toBeUndefined();
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`^silver manifest ${damaged} cannot be read: is not JSON \\(14 bytes: .+\\)\\. Silver writes each manifest once and never changes it`));
    // A read that fails is reported with the lake's own message, not as JSON it never saw.
    expect(problems[1]).toMatch(new RegExp(`^silver manifest ${missing} cannot be read: (?!is not JSON|not valid JSON).+[^.]\\. Silver writes each manifest once`));
  });
});

import * as path from 'node:path';
import pino from 'pino';
import { LocalCheckpointStore, LocalLake, LocalServingStore } from '@pipeline/adapters';
import { goldOwnershipScope, ManifestLog } from '@pipeline/checkpoint';
import { parseSpec, type PipelineSpec } from '@pipeline/contracts';
import { DeltaTable } from '@pipeline/delta';
import { systemClock } from '@pipeline/engine';
import type { CheckpointStore, Lake, ServingStore } from '@pipeline/ports';
import { makeTempDir, waitFor, type TempDir } from '@pipeline/testing';
import { silverSchema } from '@pipeline/transform';
import { aggregationConfig, goldSchema, goldTables, lateSchema } from './gold.logic';
import { GoldService } from './gold.service';
import { ShardOwnership } from './shard-ownership';

const silent = pino({ level: 'silent' });

const SPEC = `
version: 1
name: sensor-readings
source:
  name: sensors
  columns:
    - { name: reading_id, type: string }
    - { name: device_id, type: string }
    - { name: ts, type: timestamp }
eventTime: { column: ts, format: iso8601, timeZone: UTC }
eventId: { column: reading_id }
partitionKey: device_id
groupBy: [device_id]
windows:
  - { name: per_minute, type: tumbling, size: 1m }
aggregates:
  - { name: readings, fn: count }
watermark: { delay: 30s }
gold: { shards: 8, outputModes: [append] }
`;

/** A checkpoint store that stops answering once `kill()` is called, as a process that died. */
class KillableStore implements CheckpointStore {
  private dead = false;
  constructor(private readonly store: CheckpointStore) {}
  kill(): void {
    this.dead = true;
  }
  private check(): void {
    if (this.dead) throw new Error('the instance is gone');
  }
  listOwnership: CheckpointStore['listOwnership'] = async (...args) => (this.check(), this.store.listOwnership(...args));
  claimOwnership: CheckpointStore['claimOwnership'] = async (...args) => (this.check(), this.store.claimOwnership(...args));
  deleteOwnership: CheckpointStore['deleteOwnership'] = async (...args) => (this.check(), this.store.deleteOwnership(...args));
  listCheckpoints: CheckpointStore['listCheckpoints'] = async (...args) => (this.check(), this.store.listCheckpoints(...args));
  updateCheckpoint: CheckpointStore['updateCheckpoint'] = async (...args) => (this.check(), this.store.updateCheckpoint(...args));
}

describe('gold shard ownership', () => {
  let dir: TempDir;
  let lake: Lake;
  let serving: ServingStore;
  let store: LocalCheckpointStore;
  let spec: PipelineSpec;
  const running: ShardOwnership[] = [];

  beforeEach(async () => {
    dir = await makeTempDir('gold-ownership-');
    lake = new LocalLake(path.join(dir.path, 'lake'));
    serving = LocalServingStore.open({ file: path.join(dir.path, 'serving.sqlite') });
    store = new LocalCheckpointStore(path.join(dir.path, 'checkpoints.sqlite'));
    spec = parseSpec(SPEC, 'spec.yaml');
  });

  afterEach(async () => {
    for (const ownership of running.splice(0)) await ownership.stop().catch(() => undefined);
    await store.close();
    await serving.close();
    await dir.dispose();
  });

  async function instance(ownerId: string, checkpointName = 'gold', checkpoints: CheckpointStore = store): Promise<ShardOwnership> {
    const tables = goldTables();
    const gold = new GoldService(
      {
        lake,
        spec,
        config: aggregationConfig(spec),
        silverSchema: silverSchema(spec),
        goldTable: await DeltaTable.open(lake, tables.gold, goldSchema(spec)),
        lateTable: await DeltaTable.open(lake, tables.late, lateSchema(spec)),
        store: serving,
        manifests: new ManifestLog(lake),
      },
      systemClock,
      silent,
      { checkpointName, maxManifestsPerBatch: 10, maxBatchRows: 50_000 },
    );
    const ownership = new ShardOwnership(checkpoints, systemClock, gold, silent, {
      ownerId,
      checkpointName,
      manifestsRoot: 'manifests',
      intervalMs: 100,
      expiryMs: 400,
      wakeIntervalMs: 1_000,
      sessionLockMs: 30_000,
      onFatal: (error) => {
        throw error;
      },
      isFatal: () => false,
    });
    running.push(ownership);
    await ownership.start();
    return ownership;
  }

  const counts = (...instances: ShardOwnership[]) => instances.map((i) => i.sessions().length);
  const settled = (expected: number[], ...instances: ShardOwnership[]) =>
    waitFor(() => (JSON.stringify(counts(...instances)) === JSON.stringify(expected) ? true : undefined), {
      timeoutMs: 15_000,
      description: `shard counts ${JSON.stringify(expected)}, now ${JSON.stringify(counts(...instances))}`,
    });

  it('splits the shards evenly as instances come, and never lets two own one shard', async () => {
    const a = await instance('a');
    expect(a.sessions()).toHaveLength(8);
    const b = await instance('b');
    await settled([4, 4], a, b);
    const c = await instance('c');
    await settled([3, 3, 2], a, b, c);
    const owners = [...a.sessions(), ...b.sessions(), ...c.sessions()];
    expect(new Set(owners).size).toBe(8);
  });

  it("re-owns a dead instance's shards while the survivor keeps its own, and gives all back on stop", async () => {
    const doomed = new KillableStore(store);
    const a = await instance('a');
    const b = await instance('b', 'gold', doomed);
    await settled([4, 4], a, b);
    doomed.kill();
    await settled([8], a);
    await a.stop();
    const records = await store.listOwnership(goldOwnershipScope('gold', 'manifests').fullyQualifiedNamespace, 'manifests', 'gold');
    expect(records.filter((r) => r.ownerId === 'a')).toEqual([]);
  });

  it('keeps the instances of two checkpoints apart: each checkpoint has all its shards owned', async () => {
    const a = await instance('a', 'gold');
    const x = await instance('x', 'gold-replay');
    await settled([8, 8], a, x);
  });
});

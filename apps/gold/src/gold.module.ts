import { Module, type DynamicModule } from '@nestjs/common';
import { closeOnShutdown } from '@pipeline/config';
import { openBus, openLake, openServingStore } from '@pipeline/adapters';
import { assertTablesHoldLastCommit, ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { manifestQueue, shardSession, type GoldCommit, type PipelineSpec } from '@pipeline/contracts';
import { DeltaTable } from '@pipeline/delta';
import { systemClock } from '@pipeline/engine';
import type { Bus, Lake, ServingStore } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { silverSchema } from '@pipeline/transform';
import type { GoldConfig } from './gold.config';
import { GoldController } from './gold.controller';
import { aggregationConfig, goldLogic, goldSchema, goldTables, lateSchema } from './gold.logic';
import { GoldService } from './gold.service';

export const LAKE = Symbol('Lake');
export const BUS = Symbol('Bus');
export const STORE = Symbol('ServingStore');

export const QUEUE_OPTIONS = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 10 };

/** The bus with the queue gold reads. */
export async function openGoldBus(config: GoldConfig): Promise<Bus> {
  const bus = await openBus(config.bus, systemClock);
  await bus.ensureQueue(manifestQueue('silver', config.manifestsRoot), QUEUE_OPTIONS);
  return bus;
}

@Module({})
export class GoldModule {
  static register(config: GoldConfig, spec: PipelineSpec, logger: Logger, bus: Bus): DynamicModule {
    return {
      module: GoldModule,
      controllers: [GoldController],
      providers: [
        { provide: LAKE, useFactory: (): Promise<Lake> => openLake(config.lake) },
        { provide: BUS, useValue: bus },
        { provide: STORE, useFactory: (): Promise<ServingStore> => openServingStore(config.serving) },
        closeOnShutdown(STORE, BUS, LAKE),
        {
          provide: GoldService,
          inject: [LAKE, STORE],
          useFactory: async (lake: Lake, store: ServingStore) => {
            // Every shard checkpoint is bound to this logic first: one written by other logic refuses
            // (exit 2, saying what changed) before the tables, whose columns may have changed with it, are opened.
            const logic = goldLogic(spec, { tablesRoot: config.tablesRoot, manifestsRoot: config.manifestsRoot });
            const checkpoints = Array.from(
              { length: spec.gold.shards },
              (_, shard) => new StageCheckpoint<unknown, GoldCommit, unknown>(lake, `checkpoints/${config.checkpointName}/${shardSession(shard)}`),
            );
            for (const checkpoint of checkpoints) await checkpoint.bind('gold', logic);
            const tables = goldTables(config.tablesRoot);
            const goldTable = await DeltaTable.open(lake, tables.gold, goldSchema(spec), { tableName: `${spec.name}_gold` });
            const lateTable = await DeltaTable.open(lake, tables.late, lateSchema(spec), { tableName: `${spec.name}_late` });
            // The shards share the tables: a version one shard lost would go to another's next batch.
            for (const checkpoint of checkpoints)
              await assertTablesHoldLastCommit(checkpoint, [
                { table: goldTable, version: (commit) => commit.goldVersion },
                { table: lateTable, version: (commit) => commit.lateVersion },
              ]);
            return new GoldService(
              {
                lake,
                spec,
                config: aggregationConfig(spec),
                silverSchema: silverSchema(spec),
                goldTable,
                lateTable,
                store,
                manifests: new ManifestLog(lake, undefined, undefined, config.manifestsRoot),
                instanceId: config.instanceId,
              },
              systemClock,
              logger,
              {
                checkpointName: config.checkpointName,
                maxManifestsPerBatch: config.maxManifestsPerBatch,
                maxBatchRows: config.maxBatchRows,
                logic: { tablesRoot: config.tablesRoot, manifestsRoot: config.manifestsRoot },
              },
            );
          },
        },
      ],
      exports: [GoldService],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { closeOnShutdown } from '@pipeline/config';
import { openBus } from '@pipeline/adapters';
import { SilverController } from './silver.controller';
import { assertTablesHoldLastCommit, ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { DeltaTable } from '@pipeline/delta';
import { systemClock } from '@pipeline/engine';
import type { Bus, Lake } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { compileSilverTransform, quarantineSchema, silverSchema } from '@pipeline/transform';
import type { SilverConfig } from './silver.config';
import { manifestQueue, type PipelineSpec } from '@pipeline/contracts';
import { BRONZE_QUEUE, silverLogic, silverTables } from './silver.logic';
import type { SilverCommit, SilverOffsets, SilverState } from './silver-offsets';
import { SilverService } from './silver.service';
import { eventTimeConfig } from './silver-batch';

export const LAKE = Symbol('Lake');
export const BUS = Symbol('Bus');

export const QUEUE_OPTIONS = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 10 };

/** The bus with the queues silver reads and writes. */
export async function openSilverBus(config: SilverConfig): Promise<Bus> {
  const bus = await openBus(config.bus, systemClock);
  await bus.ensureQueue(BRONZE_QUEUE, QUEUE_OPTIONS);
  await bus.ensureQueue(manifestQueue('silver', config.manifestsRoot), QUEUE_OPTIONS);
  return bus;
}

@Module({})
export class SilverModule {
  /** `lake` is the lake silver writes through: the one its lease fences (`holdStageLease`). */
  static register(config: SilverConfig, spec: PipelineSpec, logger: Logger, bus: Bus, lake: Lake): DynamicModule {
    return {
      module: SilverModule,
      controllers: [SilverController],
      providers: [
        { provide: LAKE, useValue: lake },
        { provide: BUS, useValue: bus },
        // The lake is main's: it releases the lease through it after the app closed.
        closeOnShutdown(BUS),
        {
          provide: SilverService,
          inject: [LAKE, BUS],
          useFactory: async (lake: Lake, bus: Bus) => {
            const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(lake, `checkpoints/${config.checkpointName}`);
            const metadata = await checkpoint.bind(
              'silver',
              silverLogic(spec, config.arrays, { captureRange: config.captureRange, tablesRoot: config.tablesRoot, manifestsRoot: config.manifestsRoot }),
            );
            const tables = silverTables(config.tablesRoot);
            const bronzeManifests = new ManifestLog(lake);
            const silverTable = await DeltaTable.open(lake, tables.silver, silverSchema(spec), { tableName: `${spec.name}_silver` });
            const quarantineTable = await DeltaTable.open(lake, tables.quarantine, quarantineSchema(), { tableName: `${spec.name}_quarantine` });
            await assertTablesHoldLastCommit(checkpoint, [
              { table: silverTable, version: (commit) => commit.silverVersion },
              { table: quarantineTable, version: (commit) => commit.quarantineVersion },
            ]);
            const deps = {
              lake,
              spec,
              transform: compileSilverTransform(spec, { arrays: config.arrays }),
              silverTable,
              quarantineTable,
              manifests: new ManifestLog(lake, bus, manifestQueue('silver', config.manifestsRoot), config.manifestsRoot),
              bronzeManifests,
              captureRange: config.captureRange,
              queryId: metadata.queryId,
              eventTime: eventTimeConfig(spec),
            };
            return new SilverService(deps, checkpoint, bronzeManifests, systemClock, logger, {
              maxManifestsPerBatch: config.maxManifestsPerBatch,
              maxBatchBytes: config.maxBatchBytes,
              pollIntervalMs: config.pollIntervalMs,
            });
          },
        },
      ],
      exports: [SilverService, BUS],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { closeOnShutdown } from '@pipeline/config';
import { openBus } from '@pipeline/adapters';
import { ManifestLog } from '@pipeline/checkpoint';
import { systemClock, type Clock } from '@pipeline/engine';
import type { Bus, Lake, QueueOptions } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import type { BronzeConfig } from './bronze.config';
import { BronzeService } from './bronze.service';
import { type CaptureLayout } from '@pipeline/contracts';
import type { NoticeScope } from './capture-notice';
import { CaptureNoticeReader, DEFAULT_NOTICE_READER_OPTIONS } from './capture-notice-reader';

export const LAKE = Symbol('Lake');
export const BUS = Symbol('Bus');
export const CLOCK = Symbol('Clock');
export const LOGGER = Symbol('Logger');

/** The queue bronze announces its manifests on: one session (`bronze`), so silver reads them in order. */
export const BRONZE_MANIFESTS_QUEUE = 'bronze-manifests';
export const BRONZE_MANIFESTS_QUEUE_OPTIONS: QueueOptions = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 10 };
/** The queue Event Grid delivers capture-file notices to (BRONZE_NOTICES_QUEUE): plain, any order. */
export const BRONZE_NOTICES_QUEUE_OPTIONS: QueueOptions = { sessions: false, lockDurationMs: 30_000, maxDeliveryCount: 10 };

/** Where capture files are in the lake's storage account, for reading notices. */
export function noticeScope(config: BronzeConfig, layout: CaptureLayout): NoticeScope {
  // A local lake has no container: notices on the local bus name any.
  return config.lake.kind === 'azure' ? { layout, container: config.lake.container, ...(config.lake.root ? { root: config.lake.root } : {}) } : { layout };
}

@Module({})
export class BronzeModule {
  /** `lake` is the lake bronze writes through: the one its lease fences (`holdStageLease`). */
  static register(config: BronzeConfig, logger: Logger, lake: Lake): DynamicModule {
    return {
      module: BronzeModule,
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: CLOCK, useValue: systemClock },
        { provide: LAKE, useValue: lake },
        {
          provide: BUS,
          inject: [CLOCK],
          useFactory: async (clock: Clock): Promise<Bus> => {
            const bus = await openBus(config.bus, clock);
            await bus.ensureQueue(BRONZE_MANIFESTS_QUEUE, BRONZE_MANIFESTS_QUEUE_OPTIONS);
            if (config.noticesQueue) await bus.ensureQueue(config.noticesQueue, BRONZE_NOTICES_QUEUE_OPTIONS);
            return bus;
          },
        },
        // The lake is main's: it releases the lease through it after the app closed.
        closeOnShutdown(BUS),
        {
          provide: BronzeService,
          inject: [LAKE, BUS, CLOCK, LOGGER],
          useFactory: (lake: Lake, bus: Bus, clock: Clock, log: Logger) => {
            const layout: CaptureLayout = { prefix: config.prefix, namespace: config.namespace, eventHub: config.hubName };
            const notices = config.noticesQueue
              ? {
                  reader: new CaptureNoticeReader(bus.receiver(config.noticesQueue), log, { ...DEFAULT_NOTICE_READER_OPTIONS, scope: noticeScope(config, layout) }),
                  listIntervalMs: config.listIntervalMs,
                }
              : undefined;
            return new BronzeService(lake, new ManifestLog(lake, bus, BRONZE_MANIFESTS_QUEUE), clock, log, {
              layout,
              partitions: config.partitions,
              pipeline: config.pipeline,
              checkpointRoot: config.checkpointRoot,
              lookbackMs: config.lookbackMs,
              maxBatchFiles: config.maxBatchFiles,
              maxBatchBytes: config.maxBatchBytes,
              maxBatchDelayMs: config.maxBatchDelayMs,
              pollMs: config.pollMs,
              ...(notices ? { notices } : { sweepIntervalMs: config.listIntervalMs }),
            });
          },
        },
      ],
      exports: [BronzeService],
    };
  }
}

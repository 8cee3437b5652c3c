import { Module, type DynamicModule } from '@nestjs/common';
import { closeOnShutdown } from '@pipeline/config';
import { openCheckpointStore, openEventHubConsumer, openLake } from '@pipeline/adapters';
import { systemClock, type Clock } from '@pipeline/engine';
import type { CheckpointStore, EventHubConsumer, Lake } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import type { CaptureConfig } from './capture.config';
import { CaptureService } from './capture.service';

export const LAKE = Symbol('Lake');
export const EVENT_HUB_CONSUMER = Symbol('EventHubConsumer');
export const CHECKPOINT_STORE = Symbol('CheckpointStore');
export const CLOCK = Symbol('Clock');
export const LOGGER = Symbol('Logger');

@Module({})
export class CaptureModule {
  static register(config: CaptureConfig, logger: Logger): DynamicModule {
    return {
      module: CaptureModule,
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: CLOCK, useValue: systemClock },
        { provide: LAKE, useFactory: (): Promise<Lake> => openLake(config.lake) },
        {
          provide: EVENT_HUB_CONSUMER,
          inject: [CLOCK],
          useFactory: (clock: Clock): Promise<EventHubConsumer> =>
            openEventHubConsumer(config.eventHub, { hubName: config.hubName, partitions: config.partitions, consumerGroup: config.consumerGroup }, clock),
        },
        { provide: CHECKPOINT_STORE, inject: [CLOCK], useFactory: (clock: Clock): Promise<CheckpointStore> => openCheckpointStore(config.checkpointStore, clock) },
        closeOnShutdown(EVENT_HUB_CONSUMER, LAKE, CHECKPOINT_STORE),
        {
          provide: CaptureService,
          inject: [EVENT_HUB_CONSUMER, LAKE, CHECKPOINT_STORE, CLOCK, LOGGER],
          useFactory: (hub: EventHubConsumer, lake: Lake, checkpoints: CheckpointStore, clock: Clock, log: Logger) =>
            new CaptureService(hub, lake, checkpoints, clock, log, {
              namespace: config.namespace,
              prefix: config.prefix,
              checkpointName: config.checkpointName,
              ownerId: config.ownerId,
              pollWaitMs: config.pollWaitMs,
              ownershipIntervalMs: config.ownershipIntervalMs,
              ownershipExpiryMs: config.ownershipExpiryMs,
              windowMs: config.windowMs,
              maxFileBytes: config.maxFileBytes,
              codec: config.codec,
              skipEmpty: config.skipEmpty,
              blockTargetBytes: 64 * 1024,
              receiveBatch: 2_000,
            }),
        },
      ],
      exports: [CaptureService],
    };
  }
}

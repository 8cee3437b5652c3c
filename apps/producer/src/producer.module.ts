import { Module, type DynamicModule } from '@nestjs/common';
import { closeOnShutdown } from '@pipeline/config';
import { openEventHubProducer } from '@pipeline/adapters';
import type { PipelineSpec } from '@pipeline/contracts';
import { systemClock, type Clock } from '@pipeline/engine';
import type { EventHubProducer } from '@pipeline/ports';
import type { Logger } from '@pipeline/telemetry';
import { CsvProducer } from './csv-producer';
import { realSleep } from './pacer';
import type { ProducerConfig } from './producer.config';

export const PRODUCER_CONFIG = Symbol('ProducerConfig');
export const PIPELINE_SPEC = Symbol('PipelineSpec');
export const EVENT_HUB_PRODUCER = Symbol('EventHubProducer');
export const CLOCK = Symbol('Clock');
export const LOGGER = Symbol('Logger');

@Module({})
export class ProducerModule {
  static register(config: ProducerConfig, spec: PipelineSpec, logger: Logger): DynamicModule {
    return {
      module: ProducerModule,
      providers: [
        { provide: PRODUCER_CONFIG, useValue: config },
        { provide: PIPELINE_SPEC, useValue: spec },
        { provide: LOGGER, useValue: logger },
        { provide: CLOCK, useValue: systemClock },
        {
          provide: EVENT_HUB_PRODUCER,
          inject: [CLOCK],
          useFactory: (clock: Clock): Promise<EventHubProducer> => openEventHubProducer(config.eventHub, { hubName: config.hubName, partitions: config.partitions }, clock),
        },
        closeOnShutdown(EVENT_HUB_PRODUCER),
        {
          provide: CsvProducer,
          inject: [PIPELINE_SPEC, EVENT_HUB_PRODUCER, CLOCK, LOGGER],
          useFactory: (s: PipelineSpec, hub: EventHubProducer, clock: Clock, log: Logger) => new CsvProducer(s, hub, clock, realSleep, log),
        },
      ],
      exports: [CsvProducer],
    };
  }
}

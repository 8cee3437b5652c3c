/**
 * The serving API's module: controllers over the `ServingStore` and `Lake` ports, given from
 * outside (main opens the embedded ones; tests pass their own), plus the spec's catalog.
 * The module closes neither port: whoever opened them closes them, after the app.
 */
import { randomBytes } from 'node:crypto';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import type { PipelineSpec } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Lake, ServingStore } from '@pipeline/ports';
import { ContinuationTokens } from './continuation-tokens';
import { HealthController } from './health.controller';
import { LateController } from './late.controller';
import { PipelineStatus } from './pipeline-status';
import { RequestSpanInterceptor } from './request-span.interceptor';
import { ServingCatalog } from './serving-catalog';
import { StatusController } from './status.controller';
import { CLOCK, LAKE, SERVING_STORE } from './tokens';
import { WindowsController } from './windows.controller';

export interface ServingApiDeps {
  spec: PipelineSpec;
  store: ServingStore;
  lake: Lake;
  clock: Clock;
  /** Where the status endpoint finds the upstream layers. */
  layers: { rawPrefix: string; bronzeCheckpoint: string; silverCheckpoint: string };
  /** HMAC key of continuation tokens (SERVING_TOKEN_KEY); a random one per process when absent. */
  tokenKey?: Buffer;
}

@Module({})
export class ServingApiModule {
  static register(deps: ServingApiDeps): DynamicModule {
    return {
      module: ServingApiModule,
      controllers: [WindowsController, LateController, StatusController, HealthController],
      providers: [
        { provide: SERVING_STORE, useValue: deps.store },
        { provide: LAKE, useValue: deps.lake },
        { provide: CLOCK, useValue: deps.clock },
        { provide: ServingCatalog, useValue: new ServingCatalog(deps.spec) },
        { provide: ContinuationTokens, useValue: new ContinuationTokens(deps.tokenKey ?? randomBytes(32)) },
        {
          provide: PipelineStatus,
          useFactory: () => new PipelineStatus({ lake: deps.lake, store: deps.store, clock: deps.clock, pipeline: deps.spec.name, ...deps.layers }),
        },
        { provide: APP_INTERCEPTOR, useClass: RequestSpanInterceptor },
      ],
    };
  }
}

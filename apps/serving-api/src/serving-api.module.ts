/**
 * The serving API's module: controllers over the `ServingStore` and `Lake` ports, given from
 * outside (main opens the embedded ones; tests pass their own), plus the spec's catalog.
 * The module closes neither port: whoever opened them closes them, after the app.
 */
import { randomBytes } from 'node:crypto';
import { Module, type DynamicModule } from '@nestjs/common';
import type { PipelineSpec } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Bus, Lake, ServingStore } from '@pipeline/ports';
import { ContinuationTokens } from './continuation-tokens';
import { HealthController } from './health.controller';
import { LateController } from './late.controller';
import { PipelineStatus } from './pipeline-status';
import { ServingCatalog } from './serving-catalog';
import { StageBatches } from './stage-batches';
import { DEFAULT_STATUS_HISTORY, StatusHistory, type StatusHistoryOptions } from './status-history';
import { StatusHistoryController } from './status-history.controller';
import { StatusController } from './status.controller';
import { loadStatusPageAssets, STATUS_PAGE_ASSETS } from './status-page/status-page.assets';
import { StatusPageController } from './status-page/status-page.controller';
import { CLOCK, LAKE, SERVING_STORE } from './tokens';
import { SessionsController } from './sessions.controller';
import { WindowsController } from './windows.controller';

export interface ServingApiDeps {
  spec: PipelineSpec;
  store: ServingStore;
  lake: Lake;
  clock: Clock;
  /** Where the status endpoint finds the upstream layers (gold's checkpoint: `gold`, capture's: `capture-events` when not given). */
  layers: { rawPrefix: string; captureCheckpoint?: string; bronzeCheckpoint: string; silverCheckpoint: string; goldCheckpoint?: string };
  /** How often the status page's history is sampled and how much is kept. */
  history?: StatusHistoryOptions;
  /** The bus the status counts dead letters on; without it they are reported as not visible. */
  bus?: Bus;
  /** HMAC key of continuation tokens (SERVING_TOKEN_KEY); a random one per process when absent. */
  tokenKey?: Buffer;
}

@Module({})
export class ServingApiModule {
  static register(deps: ServingApiDeps): DynamicModule {
    return {
      module: ServingApiModule,
      controllers: [WindowsController, SessionsController, LateController, StatusController, StatusHistoryController, HealthController, StatusPageController],
      providers: [
        { provide: SERVING_STORE, useValue: deps.store },
        { provide: LAKE, useValue: deps.lake },
        { provide: CLOCK, useValue: deps.clock },
        { provide: ServingCatalog, useValue: new ServingCatalog(deps.spec) },
        { provide: ContinuationTokens, useValue: new ContinuationTokens(deps.tokenKey ?? randomBytes(32)) },
        {
          provide: PipelineStatus,
          useFactory: () => new PipelineStatus({ lake: deps.lake, store: deps.store, clock: deps.clock, pipeline: deps.spec.name, bus: deps.bus, ...deps.layers }),
        },
        // Its own status reader: its reads do not shorten the between-calls rates of GET /v1/status.
        {
          provide: StatusHistory,
          useFactory: () =>
            new StatusHistory(
              new PipelineStatus({ lake: deps.lake, store: deps.store, clock: deps.clock, pipeline: deps.spec.name, bus: deps.bus, ...deps.layers }),
              deps.clock,
              deps.history ?? DEFAULT_STATUS_HISTORY,
            ),
        },
        { provide: StageBatches, useFactory: () => new StageBatches(deps.lake, { ...deps.layers, goldCheckpoint: deps.layers.goldCheckpoint ?? 'gold' }) },
        { provide: STATUS_PAGE_ASSETS, useFactory: () => loadStatusPageAssets() },
      ],
    };
  }
}

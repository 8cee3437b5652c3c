/**
 * `pipeline serving-api`: REST queries over the serving store (window aggregates per key, latest,
 * top-N), late rows from the lake and the pipeline's status, with an OpenAPI document at /docs.
 * Exit codes: 0 stopped cleanly, 1 failed, 2 bad usage, config or spec.
 */
import 'reflect-metadata';
import { Command } from 'commander';
import { openBus, openLake, openServingStore } from '@pipeline/adapters';
import {
  loadStartupInputs,
  METRICS_PORT_FLAG,
  METRICS_PORT_HELP,
  type MetricsPortFlags,
  parseFlags,
  readMetricsPort,
  runMain,
  shutdownSignal,
  untilAborted,
} from '@pipeline/config';
import { systemClock } from '@pipeline/engine';
import { createLogger, metricsListening, PinoNestLogger, recordHttpServerMetrics, startTelemetry } from '@pipeline/telemetry';
import { servingApiConfig, type EdgeSettings, type ServingApiFlags } from './serving-api.config';
import { createServingApi } from './serving-api.app';

export function servingApiCommand(): Command {
  return new Command('pipeline serving-api')
    .showHelpAfterError('(run pipeline serving-api --help for usage)')
    .description('Serve window aggregates, late rows and pipeline status over REST, with an OpenAPI document at /docs.')
    .option('--spec <file>', 'pipeline spec (default: $PIPELINE_SPEC)')
    .option('--home <dir>', 'embedded backends folder (default: $PIPELINE_HOME or ./.pipeline)')
    .option('--port <n>', 'port to listen on (default: $SERVING_PORT or 8080; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default: $SERVING_HOST or 127.0.0.1)')
    .option(METRICS_PORT_FLAG, METRICS_PORT_HELP)
    .addHelpText('after', '\nRuns until SIGTERM or Ctrl-C; requests in progress are answered first.\n');
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseFlags<ServingApiFlags & MetricsPortFlags>(servingApiCommand(), argv);
  if ('exitCode' in parsed) return parsed.exitCode;
  const inputs = await loadStartupInputs(() => ({ ...servingApiConfig(parsed.flags), metricsPort: readMetricsPort('serving-api', parsed.flags) }), { spec: true });
  if ('exitCode' in inputs) return inputs.exitCode;
  const { config, spec } = inputs;
  // Nothing downstream reads the API's trace flags: unexported request spans need not be recorded.
  const telemetry = startTelemetry({ serviceName: 'serving-api', metricsPort: config.metricsPort, recordUnexported: false });
  if (!(await metricsListening(telemetry))) return 2;
  const logger = createLogger({ service: 'serving-api' });
  const store = await openServingStore(config.serving);
  const lake = await openLake(config.lake);
  // Only to count dead letters for the status; the API never receives or sends.
  const bus = config.deadLetters === undefined ? undefined : await openBus(config.deadLetters);
  const stop = shutdownSignal((signal) => logger.info({ signal }, 'stopping: answering the requests in progress'));
  try {
    const app = await createServingApi({
      spec,
      store,
      lake,
      clock: systemClock,
      layers: {
        rawPrefix: config.rawPrefix,
        captureCheckpoint: config.captureCheckpoint,
        bronzeCheckpoint: config.bronzeCheckpoint,
        silverCheckpoint: config.silverCheckpoint,
        goldCheckpoint: config.goldCheckpoint,
      },
      history: config.history,
      bus,
      logger: new PinoNestLogger(logger),
      accessLog: logger,
      edge: config.edge,
    });
    recordHttpServerMetrics(app.getHttpServer());
    try {
      await app.listen({ port: config.port, host: config.host });
      const address = app.getHttpServer().address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      logger.info({ url, docs: `${url}/docs`, store: store.location, lake: lake.location, ...edgeSummary(config.edge) }, `serving-api listening on ${url}`);
      if (!config.edge.tokenKey.shared)
        logger.info('continuation tokens are signed with a key of this process only: set SERVING_TOKEN_KEY, the same on every replica, when several serve one address');
      await untilAborted(stop.signal);
    } finally {
      // Fastify's close stops accepting connections and waits for the requests in flight.
      await app.close();
    }
    logger.info('serving-api stopped');
    return 0;
  } catch (error) {
    logger.error({ err: error }, `serving-api failed: ${(error as Error).message}`);
    return 1;
  } finally {
    stop.dispose();
    await store.close();
    await lake.close();
    await bus?.close();
    await telemetry.shutdown();
  }
}

/** What the start-up line says of the edge: enough to see how the API is exposed, no secrets. */
function edgeSummary(edge: EdgeSettings): Record<string, unknown> {
  return {
    auth: edge.auth ? { tenant: edge.auth.tenantId, audiences: edge.auth.audiences, role: edge.auth.role } : 'off',
    rateLimit: edge.rateLimit ?? 'off',
    corsOrigins: edge.corsOrigins,
  };
}

runMain(module, main);

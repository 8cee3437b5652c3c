/**
 * Builds the serving API on Fastify: the module, conditional reads (ETags), the OpenAPI document
 * at /docs/json with Swagger UI at /docs. The store is wrapped once so each call is a span
 * `pipeline.serving-store.<method>`. Returns the app initialised but not listening, so tests can
 * `inject` requests and main can `listen`.
 */
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { instrumentPort } from '@pipeline/telemetry';
import { registerEtags } from './etag';
import { ServingApiModule, type ServingApiDeps } from './serving-api.module';

export interface ServingApiOptions extends ServingApiDeps {
  logger?: LoggerService | false;
}

export async function createServingApi(options: ServingApiOptions): Promise<NestFastifyApplication> {
  const { logger, ...deps } = options;
  const store = instrumentPort('serving-store', deps.store);
  const app = await NestFactory.create<NestFastifyApplication>(ServingApiModule.register({ ...deps, store }), new FastifyAdapter(), {
    logger: logger ?? false,
    abortOnError: false,
  });
  registerEtags(app.getHttpAdapter().getInstance());
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(`${deps.spec.name} serving API`)
      .setDescription(
        'Window aggregates of the pipeline (per key, latest, top-N), late rows and pipeline status. ' +
          `Windows: ${deps.spec.windows.map((w) => w.name).join(', ')}. Aggregates: ${deps.spec.aggregates.map((a) => a.name).join(', ')}. ` +
          `Grouping columns: ${deps.spec.groupBy.join(', ') || '(none: the key is _all)'}.`,
      )
      .setVersion('1')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
  await app.init();
  return app;
}

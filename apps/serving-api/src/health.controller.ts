/**
 * Liveness (the process answers) and readiness (the store answers and the lake is readable).
 * Both are public (probes carry no token), so a failing check answers only `failing`: the reason
 * (which may name files, hosts or accounts) goes to the log, not to whoever asks.
 */
import { Controller, Get, HttpCode, Inject, Logger, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Lake, ServingStore } from '@pipeline/ports';
import type { FastifyReply } from 'fastify';
import { HealthDto } from './serving.dto';
import { LAKE, SERVING_STORE } from './tokens';

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('HealthController');

  constructor(
    @Inject(SERVING_STORE) private readonly store: ServingStore,
    @Inject(LAKE) private readonly lake: Lake,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: HealthDto })
  live(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the serving store answers a ping and the lake can be listed' })
  @ApiOkResponse({ type: HealthDto })
  @ApiServiceUnavailableResponse({ description: 'A dependency fails; checks say which and why.', type: HealthDto })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthDto> {
    const [store, lake] = await Promise.all([this.check('store', () => this.store.ping()), this.check('lake', () => this.lakeReadable())]);
    const ok = store === 'ok' && lake === 'ok';
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'failing', checks: { store, lake } };
  }

  private async lakeReadable(): Promise<void> {
    for await (const _entry of this.lake.list('', { limit: 1 })) break;
  }

  private async check(name: string, probe: () => Promise<void>): Promise<'ok' | 'failing'> {
    try {
      await probe();
      return 'ok';
    } catch (error) {
      this.logger.warn(`readiness: the ${name} check fails: ${(error as Error).message || String(error)}`);
      return 'failing';
    }
  }
}

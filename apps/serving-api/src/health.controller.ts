/** Liveness (the process answers) and readiness (the store answers and the lake is readable). */
import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Lake, ServingStore } from '@pipeline/ports';
import type { FastifyReply } from 'fastify';
import { HealthDto } from './serving.dto';
import { LAKE, SERVING_STORE } from './tokens';

@ApiTags('health')
@Controller('health')
export class HealthController {
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
    const [store, lake] = await Promise.all([check(() => this.store.ping()), check(() => this.lakeReadable())]);
    const ok = store === 'ok' && lake === 'ok';
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'failing', checks: { store, lake } };
  }

  private async lakeReadable(): Promise<void> {
    for await (const _entry of this.lake.list('', { limit: 1 })) break;
  }
}

async function check(probe: () => Promise<void>): Promise<string> {
  try {
    await probe();
    return 'ok';
  } catch (error) {
    return (error as Error).message || String(error);
  }
}

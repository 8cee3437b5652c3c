/**
 * `GET /v1/status`: each layer's position, counts and rate. Its ETag stands for the pipeline's
 * state (positions, counts, shards, rejected files), not for the rates: rates between status calls
 * change with every call, so a tag over the whole body would never let a poller get a 304.
 */
import { Controller, Get, Query, Res, ServiceUnavailableException } from '@nestjs/common';
import { isFatalBackendError } from '@pipeline/ports';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { weakEtag } from './etag';
import { PipelineStatus } from './pipeline-status';
import { RequestParameters } from './request-parameters';
import { StatusDto } from './serving.dto';

@ApiTags('status')
@Controller('v1')
export class StatusController {
  constructor(private readonly status: PipelineStatus) {}

  @Get('status')
  @ApiOperation({
    summary: 'Pipeline status per layer',
    description:
      'capture (files, events), bronze (batches, files, records), silver (batches, rows, quarantined, duplicates) and gold per shard ' +
      '(watermark, lag behind the newest event, late rows, batch). Rates: bronze and silver over their last commits (by batch time); capture and gold between the previous status call and this one.',
  })
  @ApiOkResponse({ type: StatusDto })
  @ApiServiceUnavailableResponse({
    description: 'A record the status is read from cannot be read, and no retry fixes it (a damaged checkpoint record): the message names it and the fix.',
  })
  async read(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) reply: FastifyReply): Promise<StatusDto> {
    new RequestParameters(query).done();
    let status: StatusDto;
    try {
      status = await this.status.read();
    } catch (error) {
      // A record no retry fixes (a damaged checkpoint, say): its message says what to do, so it is the answer.
      if (isFatalBackendError(error)) throw new ServiceUnavailableException(`The pipeline status cannot be read: ${error.message}`);
      throw error;
    }
    void reply.header('etag', weakEtag(stateText(status)));
    return status;
  }
}

/** The status without its rates, as the text its ETag is computed from. */
export function stateText(status: StatusDto): string {
  return JSON.stringify(status, (name, value: unknown) => (name === 'rate' ? undefined : value));
}

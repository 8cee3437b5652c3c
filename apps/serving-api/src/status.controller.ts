/** `GET /v1/status`: each layer's position, counts and rate. */
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  async read(@Query() query: Record<string, unknown>): Promise<StatusDto> {
    new RequestParameters(query).done();
    return this.status.read();
  }
}

/**
 * `GET /v1/status/history`: the status samples of the last minutes (what the status page draws);
 * `GET /v1/status/batches`: the last committed batches of each stage.
 */
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequestParameters } from './request-parameters';
import { MAX_STAGE_BATCHES, StageBatches } from './stage-batches';
import { StageBatchesDto, StatusHistoryDto } from './status-history.dto';
import { StatusHistory } from './status-history';

@ApiTags('status')
@Controller('v1/status')
export class StatusHistoryController {
  constructor(
    private readonly history: StatusHistory,
    private readonly batches: StageBatches,
  ) {}

  @Get('history')
  @ApiOperation({
    summary: 'Status samples of the last minutes',
    description:
      'The API reads the status on a timer and keeps the last minutes: per sample the counts of every layer, each gold shard watermark and lag, ' +
      'and each layer rate since the previous sample. With `after`, only the samples taken after that time (to poll for new ones).',
  })
  @ApiQuery({ name: 'after', required: false, description: 'Only samples taken after this time: epoch ms or ISO-8601.' })
  @ApiOkResponse({ type: StatusHistoryDto })
  read(@Query() query: Record<string, unknown>): StatusHistoryDto {
    const parameters = new RequestParameters(query);
    const after = parameters.time('after');
    parameters.done();
    return this.history.snapshot(after);
  }

  @Get('batches')
  @ApiOperation({
    summary: 'The last batches of each stage',
    description: 'Bronze, silver and each gold shard: the newest committed batches, newest first, with their counts, batch time, commit time and duration.',
  })
  @ApiQuery({ name: 'limit', required: false, description: `Batches per stage and per gold shard, 1 to ${MAX_STAGE_BATCHES} (default 5).` })
  @ApiOkResponse({ type: StageBatchesDto })
  async lastBatches(@Query() query: Record<string, unknown>): Promise<StageBatchesDto> {
    const parameters = new RequestParameters(query);
    const limit = parameters.int('limit', { default: 5, min: 1, max: MAX_STAGE_BATCHES });
    parameters.done();
    return this.batches.read(limit);
  }
}

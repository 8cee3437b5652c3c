/** `GET /v1/late`: late rows from the late Delta table in the lake. */
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Lake } from '@pipeline/ports';
import { ApiQueries } from './api-queries';
import { readLateRows } from './late-rows';
import { MAX_PAGE, RequestParameters, TIME_EXPECTED } from './request-parameters';
import { BadRequestDto, LateRowsDto } from './serving.dto';
import { LAKE } from './tokens';

@ApiTags('late')
@Controller('v1')
export class LateController {
  constructor(@Inject(LAKE) private readonly lake: Lake) {}

  @Get('late')
  @ApiOperation({
    summary: 'Late rows',
    description: 'Rows that arrived after their window closed, from the late Delta table, ordered by event_time. Empty until gold writes the table.',
  })
  @ApiQueries(
    { name: 'from', required: false, description: `event_time at or after: ${TIME_EXPECTED}.` },
    { name: 'to', required: false, description: `event_time before: ${TIME_EXPECTED}.` },
    { name: 'limit', required: false, description: `How many rows, 1 to ${MAX_PAGE} (default 100).` },
  )
  @ApiOkResponse({ type: LateRowsDto })
  @ApiBadRequestResponse({ description: 'Bad parameters: every problem is listed.', type: BadRequestDto })
  async late(@Query() query: Record<string, unknown>): Promise<LateRowsDto> {
    const params = new RequestParameters(query);
    const from = params.time('from');
    const to = params.time('to');
    params.range(from, to);
    const limit = params.int('limit', { default: 100, min: 1, max: MAX_PAGE });
    params.done();
    const late = await readLateRows(this.lake, { from, to, limit });
    return { items: late.rows, truncated: late.truncated, tableVersion: late.tableVersion };
  }
}

/** `GET /v1/late`: late rows from the late Delta table in the lake, a page at a time. */
import { Controller, Get, Inject, Query, type OnModuleInit } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Lake } from '@pipeline/ports';
import { ApiQueries } from './api-queries';
import { LateTable, type LatePosition } from './late-rows';
import { MAX_PAGE, RequestParameters, TIME_EXPECTED } from './request-parameters';
import { ServingCatalog } from './serving-catalog';
import { BadRequestDto, LateRowsDto } from './serving.dto';
import { LAKE } from './tokens';

const CONTINUATION_EXPECTED = 'the continuationToken of a previous page';

@ApiTags('late')
@Controller('v1')
export class LateController implements OnModuleInit {
  private readonly table: LateTable;

  constructor(
    @Inject(LAKE) lake: Lake,
    private readonly catalog: ServingCatalog,
  ) {
    this.table = new LateTable(lake, catalog.groupBy);
  }

  /** The late table's log is replayed while the API starts, not on the first request. */
  onModuleInit(): void {
    void this.table.warm();
  }

  @Get('late')
  @ApiOperation({
    summary: 'Late rows',
    description:
      'Rows that arrived after their window closed, from the late Delta table, ordered by event_time (then by file and row, so the order is total). ' +
      'Empty until gold writes the table. An answer reads only the files that can hold its rows: its cost follows limit, not the table size. ' +
      'Follow continuationToken for the next page; rows committed after a page was read that sort before its end are not on later pages.',
  })
  @ApiQueries(
    { name: 'from', required: false, description: `event_time at or after: ${TIME_EXPECTED}.` },
    { name: 'to', required: false, description: `event_time before: ${TIME_EXPECTED}.` },
    {
      name: 'key',
      required: false,
      description:
        'Only the late rows of this grouping key, given as the windows endpoints take it: its canonical text (`device_id=d1`; several columns as `a=1&b=2`, URL-encoded) or, when the spec groups by one column, the bare value (`d1`).',
    },
    { name: 'limit', required: false, description: `How many rows, 1 to ${MAX_PAGE} (default 100).` },
    { name: 'continuationToken', required: false, description: 'The token of the previous page (with the same from, to and key).' },
  )
  @ApiOkResponse({ type: LateRowsDto })
  @ApiBadRequestResponse({ description: 'Bad parameters: every problem is listed.', type: BadRequestDto })
  async late(@Query() query: Record<string, unknown>): Promise<LateRowsDto> {
    const params = new RequestParameters(query);
    const from = params.time('from');
    const to = params.time('to');
    params.range(from, to);
    const keyText = params.string('key');
    let key: string | undefined;
    if (keyText !== undefined) {
      const parsed = this.catalog.parseKey(keyText);
      if ('pk' in parsed) key = parsed.pk;
      else params.problem('key', parsed.expected, JSON.stringify(keyText));
    }
    const limit = params.int('limit', { default: 100, min: 1, max: MAX_PAGE });
    const token = params.string('continuationToken');
    const after = token === undefined ? undefined : parseContinuation(token);
    if (token !== undefined && after === undefined) params.problem('continuationToken', CONTINUATION_EXPECTED, JSON.stringify(token));
    params.done();
    const late = await this.table.read({ from, to, key, after, limit });
    return { items: late.rows, truncated: late.truncated, continuationToken: late.next ? continuationOf(late.next) : null, tableVersion: late.tableVersion };
  }
}

/** A position as an opaque token: base64url of `[eventTime, file, row]`. */
export function continuationOf(position: LatePosition): string {
  return Buffer.from(JSON.stringify([position.eventTime, position.file, position.row]), 'utf8').toString('base64url');
}

/** The position of a token, or `undefined` when it is not one this API gave. */
export function parseContinuation(token: string): LatePosition | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [eventTime, file, row] = value as unknown[];
    if (!Number.isSafeInteger(eventTime) || typeof file !== 'string' || file === '' || !Number.isSafeInteger(row) || (row as number) < 0) return undefined;
    return { eventTime: eventTime as number, file, row: row as number };
  } catch {
    return undefined;
  }
}

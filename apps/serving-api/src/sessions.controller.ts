/**
 * Session queries: a key's sessions of a session window, in a time range, paginated, each with its
 * start, end, duration and aggregates. Sessions are window documents whose start gold keeps current
 * (a merge that moves a session's start retires the old document in the same write), so this reads
 * through the same `ServingStore.queryWindows` as the window endpoints, and pages the same way.
 */
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { ServingStore } from '@pipeline/ports';
import { ApiQueries } from './api-queries';
import { ContinuationTokens, type PagedQuery } from './continuation-tokens';
import { MAX_PAGE, RequestParameters, TIME_EXPECTED } from './request-parameters';
import { ServingCatalog } from './serving-catalog';
import { BadRequestDto, SessionPageDto, toSessionDto } from './serving.dto';
import { SERVING_STORE } from './tokens';
import { windowPage } from './window-pages';

@ApiTags('windows')
@ApiBadRequestResponse({ description: 'Bad parameters: every problem is listed.', type: BadRequestDto })
@Controller('v1')
export class SessionsController {
  constructor(
    @Inject(SERVING_STORE) private readonly store: ServingStore,
    private readonly catalog: ServingCatalog,
    private readonly tokens: ContinuationTokens,
  ) {}

  @Get('keys/:key/sessions')
  @ApiOperation({
    summary: "A key's sessions",
    description:
      'The sessions of one session window, ordered by start; in update mode open sessions are included and change until final. Follow continuationToken for the next page.',
  })
  @ApiParam({ name: 'key', description: 'The grouping key: its canonical text (`user_id=u1`) or, when the spec groups by one column, the bare value (`u1`).' })
  @ApiQueries(
    { name: 'window', required: false, description: 'A session window of the spec; required when it has more than one.' },
    { name: 'from', required: false, description: `Sessions starting at or after: ${TIME_EXPECTED}.` },
    { name: 'to', required: false, description: `Sessions starting before: ${TIME_EXPECTED}.` },
    { name: 'limit', required: false, description: `Page size, 1 to ${MAX_PAGE} (default 100).` },
    { name: 'continuationToken', required: false, description: 'The token of the previous page.' },
  )
  @ApiOkResponse({ type: SessionPageDto })
  async sessions(@Param('key') key: string, @Query() query: Query): Promise<SessionPageDto> {
    const params = new RequestParameters(query);
    const parsed = this.catalog.parseKey(key);
    if (!('pk' in parsed)) params.problem('key', parsed.expected, JSON.stringify(key));
    const sessionWindows = this.catalog.sessionWindows;
    const given = params.oneOf('window', sessionWindows, { required: sessionWindows.length !== 1 });
    const window = given ?? (sessionWindows.length === 1 ? sessionWindows[0] : undefined);
    const from = params.time('from');
    const to = params.time('to');
    params.range(from, to);
    const limit = params.int('limit', { default: 100, min: 1, max: MAX_PAGE });
    const token = params.string('continuationToken');
    params.done();
    const pk = (parsed as { pk: string }).pk;
    const paged: PagedQuery = { pk, window, from, to };
    return windowPage(this.store, this.tokens, paged, limit, token, toSessionDto);
  }
}

type Query = Record<string, unknown>;

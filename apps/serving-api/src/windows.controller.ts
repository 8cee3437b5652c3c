/**
 * Window queries: a key's windows in a time range (paginated), a key's latest window, and the top
 * windows across keys. Every read goes through the `ServingStore` port only, so the API runs the
 * same on the embedded store and on Cosmos DB.
 */
import { Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { MAX_TOP_LIMIT, type ServingStore } from '@pipeline/ports';
import { ApiQueries } from './api-queries';
import { ContinuationTokens, type PagedQuery } from './continuation-tokens';
import { MAX_PAGE, RequestParameters, TIME_EXPECTED } from './request-parameters';
import { ServingCatalog } from './serving-catalog';
import { BadRequestDto, NotFoundDto, TopWindowsDto, toWindowDto, WindowDto, WindowPageDto } from './serving.dto';
import { SERVING_STORE } from './tokens';
import { windowPage } from './window-pages';

const KEY_DESCRIPTION =
  'The grouping key: its canonical text (`device_id=d1`; several columns as `a=1&b=2`, URL-encoded) or, when the spec groups by one column, the bare value (`d1`).';

type Query = Record<string, unknown>;

@ApiTags('windows')
@ApiBadRequestResponse({ description: 'Bad parameters: every problem is listed.', type: BadRequestDto })
@Controller('v1')
export class WindowsController {
  constructor(
    @Inject(SERVING_STORE) private readonly store: ServingStore,
    private readonly catalog: ServingCatalog,
    private readonly tokens: ContinuationTokens,
  ) {}

  @Get('windows')
  @ApiOperation({ summary: "A key's windows in a time range", description: 'Ordered by window start, then window name; follow continuationToken for the next page.' })
  @ApiQueries(
    { name: 'key', required: true, description: KEY_DESCRIPTION },
    { name: 'window', required: false, description: 'A window name of the spec; all windows when absent.' },
    { name: 'from', required: false, description: `Windows starting at or after: ${TIME_EXPECTED}.` },
    { name: 'to', required: false, description: `Windows starting before: ${TIME_EXPECTED}.` },
    { name: 'limit', required: false, description: `Page size, 1 to ${MAX_PAGE} (default 100).` },
    { name: 'continuationToken', required: false, description: 'The token of the previous page.' },
  )
  @ApiOkResponse({ type: WindowPageDto })
  async windows(@Query() query: Query): Promise<WindowPageDto> {
    const params = new RequestParameters(query);
    const keyText = params.string('key', { required: true, expected: this.catalog.keyExpected });
    const pk = keyText === undefined ? undefined : this.partitionKey(params, 'key', keyText);
    const window = params.oneOf('window', this.catalog.windows);
    const from = params.time('from');
    const to = params.time('to');
    params.range(from, to);
    const limit = params.int('limit', { default: 100, min: 1, max: MAX_PAGE });
    const token = params.string('continuationToken');
    params.done();
    const paged: PagedQuery = { pk: pk as string, window, from, to };
    return windowPage(this.store, this.tokens, paged, limit, token, toWindowDto);
  }

  @Get('windows/top')
  @ApiOperation({ summary: 'The top windows across keys', description: 'The windows of one definition starting at `start`, ordered by an aggregate, descending (nulls last).' })
  @ApiQueries(
    { name: 'window', required: true, description: 'A window name of the spec.' },
    { name: 'start', required: true, description: `Window start: ${TIME_EXPECTED}.` },
    { name: 'by', required: true, description: 'An aggregate name of the spec.' },
    { name: 'limit', required: false, description: `How many, 1 to ${MAX_TOP_LIMIT} (default 10).` },
  )
  @ApiOkResponse({ type: TopWindowsDto })
  async top(@Query() query: Query): Promise<TopWindowsDto> {
    const params = new RequestParameters(query);
    const window = params.oneOf('window', this.catalog.windows, { required: true });
    const start = params.time('start', { required: true });
    const by = params.oneOf('by', this.catalog.aggregates, { required: true });
    const limit = params.int('limit', { default: 10, min: 1, max: MAX_TOP_LIMIT });
    params.done();
    const documents = await this.store.top({ window: window as string, windowStart: start as number, by: by as string, limit });
    return { window: window as string, windowStart: new Date(start as number).toISOString(), by: by as string, items: documents.map(toWindowDto) };
  }

  @Get('keys/:key/latest')
  @ApiOperation({ summary: "A key's latest window", description: 'The window with the latest start, of one definition when `window` is given.' })
  @ApiParam({ name: 'key', description: KEY_DESCRIPTION })
  @ApiQueries({ name: 'window', required: false, description: 'A window name of the spec; any window when absent.' })
  @ApiOkResponse({ type: WindowDto })
  @ApiNotFoundResponse({ description: 'The key has no window (of that definition).', type: NotFoundDto })
  async latest(@Param('key') key: string, @Query() query: Query): Promise<WindowDto> {
    const params = new RequestParameters(query);
    const pk = this.partitionKey(params, 'key', key);
    const window = params.oneOf('window', this.catalog.windows);
    params.done();
    const document = await this.store.latest(pk as string, window);
    if (!document)
      throw new NotFoundException(`No window for key ${JSON.stringify(key)}${window ? ` in window ${window}` : ''}: the key is unknown, or gold has not written it yet.`);
    return toWindowDto(document);
  }

  private partitionKey(params: RequestParameters, name: string, text: string): string | undefined {
    const parsed = this.catalog.parseKey(text);
    if ('pk' in parsed) return parsed.pk;
    params.problem(name, parsed.expected, JSON.stringify(text));
    return undefined;
  }
}

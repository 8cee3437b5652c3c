/**
 * The live status page at `/`: one HTML file, its script and its style sheet, shipped as files
 * beside this module (`assets/`, copied into dist by the build), read once when the app is built,
 * and `status-page.json` with what the page needs of the spec (the windows and the key format,
 * for the key links). The page itself reads the API like any client.
 * Its own Content-Security-Policy allows only same-origin scripts, styles and requests.
 */
import { Controller, Get, Header, HttpCode, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ServingCatalog } from '../serving-catalog';
import { STATUS_PAGE_ASSETS, type StatusPageAssets } from './status-page.assets';

export const STATUS_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface StatusPageConfig {
  pipeline: string;
  windows: string[];
  /** How a key is written, e.g. `device_id`'s value, or `col=value&…`. */
  keyExpected: string;
}

@ApiExcludeController()
@Controller()
export class StatusPageController {
  constructor(
    @Inject(STATUS_PAGE_ASSETS) private readonly assets: StatusPageAssets,
    private readonly catalog: ServingCatalog,
  ) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('cache-control', 'no-cache')
  @Header('content-security-policy', STATUS_PAGE_CSP)
  page(): string {
    return this.assets.html;
  }

  @Get('status-page.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  script(): string {
    return this.assets.script;
  }

  @Get('status-page.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'no-cache')
  styles(): string {
    return this.assets.styles;
  }

  /** Browsers ask for it; the page has none, and an empty answer keeps their consoles clean. */
  @Get('favicon.ico')
  @HttpCode(204)
  favicon(): void {
    return undefined;
  }

  @Get('status-page.json')
  @Header('cache-control', 'no-cache')
  config(): StatusPageConfig {
    return { pipeline: this.catalog.pipeline, windows: [...this.catalog.windows], keyExpected: this.catalog.keyExpected };
  }
}

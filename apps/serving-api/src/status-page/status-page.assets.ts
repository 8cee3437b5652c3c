/**
 * The status page's files: `assets/` beside this module, in the sources and, after `npm run build`
 * (which copies them), in dist. Read once, when the API is built: a missing file fails the start
 * with what to do, rather than a page that breaks later.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const STATUS_PAGE_ASSETS = Symbol('StatusPageAssets');

export const STATUS_PAGE_ASSETS_DIR = path.join(__dirname, 'assets');

export interface StatusPageAssets {
  html: string;
  script: string;
  styles: string;
}

export function loadStatusPageAssets(dir = STATUS_PAGE_ASSETS_DIR): StatusPageAssets {
  const read = (file: string) => {
    try {
      return readFileSync(path.join(dir, file), 'utf8');
    } catch (error) {
      throw new Error(
        `The status page file ${path.join(dir, file)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): ` +
          '`npm run build` copies the page files into dist; run it again, or restore the file under apps/serving-api/src/status-page/assets.',
      );
    }
  };
  return { html: read('index.html'), script: read('status-page.js'), styles: read('status-page.css') };
}

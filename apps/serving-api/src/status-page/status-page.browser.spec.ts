/**
 * The status page in a real browser: Debian's Chromium, headless, driven by playwright-core, on
 * the built serving API (`pipeline serving-api` from dist, so the page files must have reached dist)
 * over a pipeline home that the real stages filled from the example CSV.
 *
 * - The page opens with the minutes the API already sampled, draws every chart with several points,
 *   and shows the same totals as /v1/status; the policy `script-src 'self'; style-src 'self'`
 *   refuses nothing.
 * - More data goes through the stages while the page is open: it shows the new totals by itself and
 *   the rate charts rise above zero.
 * - A screenshot holds, inside each chart, pixels in that chart's series colours.
 * - A key typed in gives links to its windows, and they answer.
 *
 * Needs Chromium (`apt-get install chromium`; CI's .ci/run installs it). Without it the suite is
 * skipped, saying so, except in CI (CI set), where it fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { drainThroughEveryStage, freePort, makeTempDir, PIPELINE_BIN, waitFor, type TempDir } from '@pipeline/testing';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const IN_CI = (process.env['CI'] ?? '') !== '' && process.env['CI'] !== 'false';
const root = path.resolve(__dirname, '..', '..', '..', '..');
const SPEC = path.join(root, 'examples', 'sensors.spec.yaml');
const SAMPLE_CSV = path.join(root, 'examples', 'sensors.sample.csv');
const CHARTS = ['chart-bronze', 'chart-silver', 'chart-gold', 'chart-watermark', 'chart-lag', 'chart-late'];
/** The page's series colours (input blue, processing orange, then shards and outcomes): none near the white background. */
const SERIES_COLOURS = ['#1f6feb', '#f0760a', '#1a9e4b', '#c4262e', '#8250df', '#0f9cb4', '#b8860b', '#d6336c'];

/** The little of the browser's DOM the page functions below use (they run in Chromium, not here). */
interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { x: number; y: number; width: number; height: number };
}
declare const document: {
  querySelector(selector: string): PageNode | null;
  querySelectorAll(selector: string): ArrayLike<PageNode>;
  getElementById(id: string): PageNode | null;
};
declare const window: { scrollX: number; scrollY: number };

const hasChromium = existsSync(CHROMIUM);
const skipReason = `no Chromium at ${CHROMIUM} (install it: apt-get install chromium, or set CHROMIUM_PATH); skipped because CI is not set`;
if (!hasChromium && !IN_CI) process.stderr.write(`status page browser test skipped: ${skipReason}\n`);
const describeInBrowser = hasChromium || IN_CI ? describe : describe.skip;

interface Status {
  capture: { events: number; partitions: { partition: string; owner: string | null }[] };
  silver: { rows: number; quarantined: number; duplicates: number };
  gold: { rows: number; lateRows: number; shards: unknown[] };
}

describeInBrowser(`the status page in Chromium${hasChromium || IN_CI ? '' : ` (${skipReason})`}`, () => {
  let home: TempDir;
  let api: ChildProcess | undefined;
  let apiOutput = '';
  let url = '';
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];
  let secondHalf = '';

  const getJson = async <T>(pathname: string): Promise<T> => {
    const response = await fetch(`${url}${pathname}`);
    if (!response.ok) throw new Error(`${pathname} answered ${response.status}`);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`Chromium is missing at ${CHROMIUM} and CI is set: .ci/run installs it (apt-get install -y chromium) before npm test.`);
    home = await makeTempDir('status-page-');
    // The example CSV in two halves: the first before the page opens, the second while it is open.
    const lines = (await readFile(SAMPLE_CSV, 'utf8')).trimEnd().split('\n');
    const header = lines[0] as string;
    const middle = Math.floor(lines.length / 2);
    const firstHalf = path.join(home.path, 'first.csv');
    secondHalf = path.join(home.path, 'second.csv');
    writeFileSync(firstHalf, [header, ...lines.slice(1, middle)].join('\n') + '\n');
    writeFileSync(secondHalf, [header, ...lines.slice(middle)].join('\n') + '\n');
    drainThroughEveryStage(home.path, SPEC, firstHalf);

    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    api = spawn(process.execPath, [PIPELINE_BIN, 'serving-api', '--home', home.path, '--spec', SPEC, '--port', String(port)], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', SERVING_STATUS_SAMPLE_INTERVAL: '500ms' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [api.stdout, api.stderr]) stream?.on('data', (chunk: Buffer) => (apiOutput += chunk.toString()));
    // A freshly opened page shows the minutes already sampled: let the API take a few samples first.
    await waitFor(
      async () => {
        if (api?.exitCode !== null) throw new Error(`the serving API exited ${String(api?.exitCode)}:\n${apiOutput}`);
        try {
          return (await getJson<{ samples: unknown[] }>('/v1/status/history')).samples.length >= 4 ? true : undefined;
        } catch {
          return undefined; // Still starting.
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'the serving API to sample the status 4 times' },
    );

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, deviceScaleFactor: 1 });
    page.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    await page.goto(`${url}/`);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (api && api.exitCode === null) {
      const exited = new Promise((resolve) => api?.once('exit', resolve));
      api.kill('SIGTERM');
      await exited;
    }
    await home?.dispose();
  });

  /** Each chart's series: name, colour and the drawn points (SVG coordinates). */
  const chartSeries = () =>
    page.evaluate((ids) => {
      const parse = (d: string) => [...d.matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
      return ids.map((id) => ({
        id,
        series: Array.from(document.querySelectorAll(`#${id} path.series`)).map((p) => ({
          name: p.getAttribute('data-series') ?? '',
          color: p.getAttribute('stroke') ?? '',
          points: parse(p.getAttribute('d') ?? ''),
        })),
      }));
    }, CHARTS);

  const totals = () =>
    page.evaluate(() => {
      const value = (id: string) => Number((document.getElementById(id)?.textContent ?? '').replace(/,/g, ''));
      return {
        captured: value('n-captured'),
        silverRows: value('n-silver-rows'),
        quarantined: value('n-quarantined'),
        duplicates: value('n-duplicates'),
        goldRows: value('n-gold-rows'),
        late: value('n-late'),
      };
    });

  const totalsOf = (status: Status) => ({
    captured: status.capture.events,
    silverRows: status.silver.rows,
    quarantined: status.silver.quarantined,
    duplicates: status.silver.duplicates,
    goldRows: status.gold.rows,
    late: status.gold.lateRows,
  });

  /** Until every chart has a line of at least 3 points. */
  const chartsDrawn = () =>
    page.waitForFunction((ids) => ids.every((id) => Array.from(document.querySelectorAll(`#${id} path.series`)).some((p) => Number(p.getAttribute('data-points')) >= 3)), CHARTS, {
      timeout: 60_000,
    });

  it('opens with the minutes already sampled: every chart drawn with several points, and the totals of /v1/status', async () => {
    await chartsDrawn();
    for (const chart of await chartSeries()) {
      expect({ chart: chart.id, drawn: chart.series.length > 0 }).toEqual({ chart: chart.id, drawn: true });
      for (const s of chart.series) expect({ chart: chart.id, series: s.name, several: s.points.length >= 3 }).toEqual({ chart: chart.id, series: s.name, several: true });
    }
    const status = await getJson<Status>('/v1/status');
    expect(status.silver.rows).toBeGreaterThan(0);
    await waitFor(async () => ((await totals()).captured === status.capture.events ? true : undefined), { timeoutMs: 60_000, description: 'the page to show the captured events' });
    expect(await totals()).toEqual(totalsOf(status));
    // One row per gold shard, the watermark of each.
    expect(await page.locator('#shards tbody tr').count()).toBe(status.gold.shards.length);
    expect(await page.locator('#batches table').count()).toBe(2 + status.gold.shards.length);
    // One row per capture partition, with the instance that committed its last file.
    expect(status.capture.partitions.length).toBeGreaterThan(0);
    const captureRows = await page.locator('#capture-partitions tbody tr').allTextContents();
    expect(captureRows).toHaveLength(status.capture.partitions.length);
    for (const [i, p] of status.capture.partitions.entries()) {
      expect(p.owner).toMatch(/^capture-/);
      expect(captureRows[i]).toContain(`p${p.partition}`);
      expect(captureRows[i]).toContain(p.owner as string);
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('updates itself when more data goes through: new totals, and the rate charts rise above zero', async () => {
    const before = await totals();
    drainThroughEveryStage(home.path, SPEC, secondHalf);
    const status = await getJson<Status>('/v1/status');
    expect(status.capture.events).toBeGreaterThan(before.captured);
    // The example's bad rows are in its second half: the page shows them quarantined.
    expect(status.silver.quarantined).toBeGreaterThan(before.quarantined);
    await waitFor(async () => ((await totals()).goldRows === status.gold.rows && (await totals()).captured === status.capture.events ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 250,
      description: `the page to show ${status.capture.events} captured events and ${status.gold.rows} gold rows`,
    });
    expect(await totals()).toEqual(totalsOf(status));
    // Each rate chart: some point of the input line above the zero line (smaller y is higher).
    const charts = await chartSeries();
    for (const id of ['chart-bronze', 'chart-silver', 'chart-gold']) {
      const input = charts.find((c) => c.id === id)?.series[0];
      const ys = input?.points.map((p) => p.y) ?? [];
      expect({ id, risen: Math.min(...ys) < Math.max(...ys) }).toEqual({ id, risen: true });
    }
    expect(problems).toEqual([]);
  }, 240_000);

  it('draws the charts in their series colours (a screenshot, read back pixel by pixel)', async () => {
    await chartsDrawn();
    const shot = PNG.sync.read(await page.screenshot({ fullPage: true }));
    const series = await chartSeries();
    // Every chart's place in one evaluation: the page redraws its charts (a new svg each) as it
    // samples, so a box asked for chart by chart could be that of an svg just replaced.
    const boxes = await page.evaluate(
      (ids) =>
        ids.map((id) => {
          const svg = document.querySelector(`#${id} svg`);
          if (svg === null) return null;
          const rect = svg.getBoundingClientRect();
          return { x: rect.x + window.scrollX, y: rect.y + window.scrollY, width: rect.width, height: rect.height };
        }),
      CHARTS,
    );
    for (const [c, id] of CHARTS.entries()) {
      const box = boxes[c];
      if (!box || box.width === 0 || box.height === 0) throw new Error(`#${id} has no chart on the page`);
      const strokes = (series.find((c) => c.id === id)?.series ?? []).map((s) => s.color);
      expect({ id, strokes: strokes.filter((c) => !SERIES_COLOURS.includes(c)) }).toEqual({ id, strokes: [] });
      const colours = strokes.map(hexToRgb);
      let coloured = 0;
      let nonBackground = 0;
      for (let y = Math.floor(box.y); y < Math.min(shot.height, box.y + box.height); y++) {
        for (let x = Math.floor(box.x); x < Math.min(shot.width, box.x + box.width); x++) {
          const i = (y * shot.width + x) * 4;
          const [r, g, b] = [shot.data[i] as number, shot.data[i + 1] as number, shot.data[i + 2] as number];
          if (r < 250 || g < 250 || b < 250) nonBackground++;
          if (colours.some((c) => Math.abs(c.r - r) <= 12 && Math.abs(c.g - g) <= 12 && Math.abs(c.b - b) <= 12)) coloured++;
        }
      }
      expect({ id, nonBackground: nonBackground > 200, coloured: coloured >= 60 }).toEqual({ id, nonBackground: true, coloured: true });
    }
  }, 120_000);

  it("links a key to its windows, and the links answer with the key's windows", async () => {
    const key = (await readFile(SAMPLE_CSV, 'utf8')).split('\n')[1]?.split(',')[1] as string;
    await page.fill('#key-input', key);
    await page.click('#key-form button[type=submit]');
    const links = await page.locator('#key-links a').evaluateAll((anchors) => anchors.map((a) => (a as unknown as { href: string }).href));
    expect(links).toContain(`${url}/v1/keys/${encodeURIComponent(key)}/latest?window=per_minute`);
    for (const link of links.filter((l) => l.includes('/v1/keys/') || l.includes('/v1/windows'))) {
      const response = await fetch(link);
      expect({ link, status: response.status }).toEqual({ link, status: 200 });
      const body = (await response.json()) as { key?: string; items?: Array<{ keyColumns: Record<string, unknown> }> };
      if (body.items) expect(body.items[0]?.keyColumns['device_id']).toBe(key);
    }
  }, 60_000);
});

function hexToRgb(hex: string): { r: number; g: number; b: number } {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`a series colour is not #rrggbb: ${JSON.stringify(hex)}`);
  return { r: parseInt(m[1] as string, 16), g: parseInt(m[2] as string, 16), b: parseInt(m[3] as string, 16) };
}

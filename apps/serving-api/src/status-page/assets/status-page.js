/*
 * The status page's script: reads the serving API and draws what it reads, every POLL_MS.
 * - /v1/status/history: the samples of the last minutes (the figures `pipeline start` prints, taken
 *   by the API on a timer); first all of them, then only the newer ones (`after`).
 * - /v1/status: the details of now (shard partitions, rejected files).
 * - /v1/status/batches: the last batches of each stage.
 * - status-page.json: the pipeline's name, windows and grouping columns (for the key links).
 * Charts are SVG drawn by hand; colours are SVG attributes, never inline styles, so the page runs
 * under a Content-Security-Policy of script-src 'self' and style-src 'self'.
 */
'use strict';

(function statusPage() {
  const POLL_MS = 3000;
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 600;
  const HEIGHT = 190;
  const PAD = { left: 62, right: 12, top: 10, bottom: 24 };
  /** Series colours: input blue, processing orange; shards and outcomes from the same palette. */
  const PALETTE = ['#1f6feb', '#f0760a', '#1a9e4b', '#c4262e', '#8250df', '#0f9cb4', '#b8860b', '#d6336c'];
  const INPUT = PALETTE[0];
  const PROCESSING = PALETTE[1];

  const state = { samples: [], everyMs: null, keepMs: null, historyError: null, status: null, batches: null, config: null, problem: null, readAt: null };

  const byId = (id) => document.getElementById(id);

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (response.status === 401 || response.status === 403)
      throw new Error(
        `${url} answered ${response.status}: this API asks for a Microsoft Entra ID token with its read role (SERVING_AUTH=entra), which this page does not sign in for; read /v1/status with a token (README: "Calling the serving API with authentication on")`,
      );
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.json();
  }

  async function poll() {
    const problems = [];
    const last = state.samples[state.samples.length - 1];
    const reads = [
      getJson(last === undefined ? 'v1/status/history' : `v1/status/history?after=${last.at}`).then((history) => {
        state.everyMs = history.everyMs;
        state.keepMs = history.keepMs;
        state.historyError = history.error;
        const samples = state.samples.concat(history.samples.filter((s) => last === undefined || s.at > last.at));
        const newest = samples[samples.length - 1];
        // What the API no longer keeps, the page drops too.
        state.samples = newest === undefined ? samples : samples.filter((s) => s.at >= newest.at - history.keepMs);
      }),
      getJson('v1/status').then((status) => (state.status = status)),
      getJson('v1/status/batches?limit=5').then((batches) => (state.batches = batches)),
      state.config ? Promise.resolve() : getJson('status-page.json').then((config) => (state.config = config)),
    ];
    for (const result of await Promise.allSettled(reads)) if (result.status === 'rejected') problems.push(result.reason.message);
    state.problem = problems.length > 0 ? `Could not read: ${problems.join('; ')}` : null;
    state.readAt = Date.now();
    render();
    setTimeout(poll, POLL_MS);
  }

  // ---- formatting ----

  const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

  function count(n) {
    return n === null || n === undefined ? '–' : integer.format(n);
  }

  function perSecond(n) {
    return n === null || n === undefined ? '–' : `${n >= 100 ? integer.format(n) : decimal.format(n)}/s`;
  }

  function clock(ms) {
    return new Date(ms).toISOString().slice(11, 19);
  }

  function eventTime(ms) {
    return ms === null || ms === undefined ? '–' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  }

  function seconds(ms) {
    return ms === null || ms === undefined ? '–' : `${decimal.format(ms / 1000)} s`;
  }

  function compact(n) {
    const abs = Math.abs(n);
    if (abs >= 1e6) return `${decimal.format(n / 1e6)}M`;
    if (abs >= 1e4) return `${decimal.format(n / 1e3)}k`;
    return abs >= 100 || Number.isInteger(n) ? integer.format(n) : decimal.format(n);
  }

  // ---- DOM helpers ----

  function element(name, attributes, children) {
    const node = document.createElement(name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  function svgElement(name, attributes) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
    return node;
  }

  function setText(id, text) {
    const node = byId(id);
    if (node.textContent !== text) node.textContent = text;
  }

  function fillTable(table, rows) {
    const body = table.querySelector('tbody');
    body.replaceChildren(
      ...rows.map((cells) =>
        element(
          'tr',
          {},
          cells.map((cell) => element('td', {}, [cell])),
        ),
      ),
    );
  }

  // ---- charts ----

  /**
   * A line chart over wall time: each series is [{ at, value }], value null for a gap. Draws into
   * the figure `id`, replacing what was there; each series path carries data-series and data-points.
   */
  function lineChart(id, series, options) {
    const figure = byId(id);
    for (const old of figure.querySelectorAll('svg, ul')) old.remove();
    const svg = svgElement('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': figure.querySelector('figcaption').textContent });
    figure.append(svg);
    const points = series.flatMap((s) => s.points.filter((p) => p.value !== null && Number.isFinite(p.value)));
    const times = state.samples.map((s) => s.at);
    if (points.length === 0 || times.length === 0) {
      svg.append(text(WIDTH / 2, HEIGHT / 2, 'middle', state.samples.length === 0 ? 'waiting for the first sample…' : 'no data yet', 'empty'));
      figure.append(legend(series));
      return;
    }
    let x0 = Math.min(...times);
    let x1 = Math.max(...times);
    if (x1 - x0 < (state.everyMs || 1000) * 2) x0 = x1 - (state.everyMs || 1000) * 2;
    let y0 = options.zero ? Math.min(0, ...points.map((p) => p.value)) : Math.min(...points.map((p) => p.value));
    let y1 = Math.max(...points.map((p) => p.value));
    // A flat series sits in the middle of a span of at least minSpan (1 by default).
    const minSpan = options.minSpan || 1;
    if (y1 - y0 < minSpan) {
      const middle = (y0 + y1) / 2;
      y0 = options.zero && y0 >= 0 ? Math.max(0, middle - minSpan / 2) : middle - minSpan / 2;
      y1 = y0 + minSpan;
    }
    const sx = (t) => PAD.left + ((t - x0) / (x1 - x0)) * (WIDTH - PAD.left - PAD.right);
    const sy = (v) => HEIGHT - PAD.bottom - ((v - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
    for (let i = 0; i <= 3; i++) {
      const v = y0 + ((y1 - y0) * i) / 3;
      const y = sy(v);
      svg.append(svgElement('line', { class: i === 0 ? 'axis' : 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
      svg.append(text(PAD.left - 6, y + 4, 'end', options.format(v)));
    }
    svg.append(svgElement('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }));
    svg.append(text(PAD.left, HEIGHT - 6, 'start', clock(x0)));
    svg.append(text(WIDTH - PAD.right, HEIGHT - 6, 'end', clock(x1)));
    for (const s of series) {
      let d = '';
      let drawn = 0;
      let pen = false;
      for (const p of s.points) {
        if (p.value === null || !Number.isFinite(p.value)) {
          pen = false;
          continue;
        }
        d += `${pen ? 'L' : 'M'}${sx(p.at).toFixed(1)},${sy(p.value).toFixed(1)}`;
        pen = true;
        drawn++;
      }
      if (drawn === 0) continue;
      // A lone point is drawn as a short dash, so it shows.
      if (drawn === 1) d += 'h0.1';
      svg.append(svgElement('path', { class: 'series', d, stroke: s.color, 'data-series': s.name, 'data-points': drawn }));
    }
    figure.append(legend(series));
  }

  function text(x, y, anchor, content, className) {
    const node = svgElement('text', { x, y, 'text-anchor': anchor });
    if (className) node.setAttribute('class', className);
    node.textContent = content;
    return node;
  }

  function legend(series) {
    return element(
      'ul',
      { class: 'legend' },
      series.map((s) => {
        const swatch = svgElement('svg', { viewBox: '0 0 14 4', 'aria-hidden': 'true' });
        swatch.append(svgElement('rect', { width: 14, height: 4, fill: s.color }));
        const last = s.points.length > 0 ? s.points[s.points.length - 1].value : null;
        return element('li', {}, [swatch, `${s.name}${last === null || last === undefined ? '' : `: ${s.format ? s.format(last) : compact(last)}`}`]);
      }),
    );
  }

  const series = (name, color, pick, format) => ({ name, color, format, points: state.samples.map((s) => ({ at: s.at, value: pick(s) })) });

  function shardIds() {
    const ids = new Set();
    for (const s of state.samples) for (const shard of s.gold.shards) ids.add(shard.shard);
    return [...ids].sort((a, b) => a - b);
  }

  function shardValue(sample, shard, field) {
    const found = sample.gold.shards.find((s) => s.shard === shard);
    return found === undefined ? null : found[field];
  }

  function drawCharts() {
    lineChart('chart-bronze', [series('captured (input)', INPUT, (s) => s.rates.captured, perSecond), series('bronze read', PROCESSING, (s) => s.rates.bronze, perSecond)], {
      zero: true,
      format: compact,
    });
    lineChart('chart-silver', [series('bronze records (input)', INPUT, (s) => s.rates.bronze, perSecond), series('silver read', PROCESSING, (s) => s.rates.silver, perSecond)], {
      zero: true,
      format: compact,
    });
    lineChart('chart-gold', [series('silver rows (input)', INPUT, (s) => s.rates.silverRows, perSecond), series('gold processed', PROCESSING, (s) => s.rates.gold, perSecond)], {
      zero: true,
      format: compact,
    });
    const shards = shardIds();
    lineChart(
      'chart-watermark',
      shards.map((shard, i) => series(`shard ${shard}`, PALETTE[i % PALETTE.length], (s) => shardValue(s, shard, 'watermarkMs'), eventTime)),
      { zero: false, minSpan: 60000, format: (v) => new Date(v).toISOString().slice(11, 19) },
    );
    lineChart(
      'chart-lag',
      shards.map((shard, i) =>
        series(
          `shard ${shard}`,
          PALETTE[i % PALETTE.length],
          (s) => nullable(shardValue(s, shard, 'lagMs'), (ms) => ms / 1000),
          (v) => `${decimal.format(v)} s`,
        ),
      ),
      { zero: true, format: compact },
    );
    lineChart(
      'chart-late',
      [
        series('late rows', PALETTE[3], (s) => s.gold.lateRows, count),
        series('quarantined', PALETTE[4], (s) => s.silver.quarantined, count),
        series('duplicates', PALETTE[5], (s) => s.silver.duplicates, count),
        series('dead letters', PALETTE[6], (s) => s.deadLetters, count),
      ],
      { zero: true, format: compact },
    );
  }

  function nullable(value, map) {
    return value === null || value === undefined ? null : map(value);
  }

  // ---- the rest of the page ----

  function drawTotals() {
    const latest = state.samples[state.samples.length - 1];
    if (latest === undefined) return;
    setText('n-captured', count(latest.capture.events));
    setText('n-bronze', count(latest.bronze.records));
    setText('n-silver-rows', count(latest.silver.rows));
    setText('n-silver-rate', perSecond(latest.silver.rowsPerSecond));
    setText('n-quarantined', count(latest.silver.quarantined));
    setText('n-duplicates', count(latest.silver.duplicates));
    setText('n-gold-rows', count(latest.gold.rows));
    setText('n-late', count(latest.gold.lateRows));
    setText('n-rejected', count(latest.rejected.setAside));
    setText('n-restored', count(latest.rejected.restored));
    setText('n-dead-letters', latest.deadLetters === null ? 'not visible to the API' : count(latest.deadLetters));
  }

  function drawShards() {
    if (!state.status) return;
    fillTable(
      byId('shards'),
      state.status.gold.shards.map((s) => [
        String(s.shard),
        String(s.batch),
        eventTime(s.watermarkMs),
        seconds(s.lagMs),
        count(s.rows),
        count(s.lateRows),
        s.holdingPartition === null ? '–' : `p${s.holdingPartition}`,
        s.owner ?? '–',
        s.partitions.map((p) => `p${p.partition} ${p.maxEventTime === null ? '–' : p.maxEventTime.slice(11, 19)}${p.idle ? ' (idle)' : ''}`).join(', ') || '–',
      ]),
    );
  }

  function drawCapturePartitions() {
    if (!state.status) return;
    fillTable(
      byId('capture-partitions'),
      state.status.capture.partitions.map((p) => [`p${p.partition}`, String(p.batch), String(p.lastSequenceNumber), p.file, p.owner ?? '–']),
    );
  }

  function batchTable(title, batches) {
    const countNames = [...new Set(batches.flatMap((b) => Object.keys(b.counts)))];
    const watermark = batches.some((b) => b.watermarkMs !== null);
    const head = ['Batch', 'Batch time', 'Committed', 'Took', ...countNames.map(words), ...(watermark ? ['Watermark after'] : [])];
    const table = element('table', { 'data-stage': title }, [
      element('caption', {}, [title]),
      element('thead', {}, [
        element(
          'tr',
          {},
          head.map((h) => element('th', {}, [h])),
        ),
      ]),
      element('tbody'),
    ]);
    fillTable(
      table,
      batches.length === 0
        ? [['no batch committed yet']]
        : batches.map((b) => [
            String(b.batch),
            b.batchTime === null ? '–' : clock(b.batchTime),
            clock(b.committedAt),
            b.durationMs === null ? '–' : `${integer.format(b.durationMs)} ms`,
            ...countNames.map((name) => count(b.counts[name])),
            ...(watermark ? [eventTime(b.watermarkMs)] : []),
          ]),
    );
    return element('div', { class: 'scroll' }, [table]);
  }

  /** `lateRows` → `late rows`. */
  function words(name) {
    return name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  }

  function drawBatches() {
    if (!state.batches) return;
    const tables = [batchTable('Bronze', state.batches.bronze), batchTable('Silver', state.batches.silver)];
    for (const shard of state.batches.gold) tables.push(batchTable(`Gold shard ${shard.shard}`, shard.batches));
    byId('batches').replaceChildren(...tables);
  }

  function drawRejected() {
    if (!state.status) return;
    const files = state.status.rejected.files;
    byId('rejected').hidden = files.length === 0;
    byId('rejected-none').hidden = files.length > 0;
    fillTable(
      byId('rejected'),
      files.map((f) => [element('code', {}, [f.path]), f.stage, f.reason, f.state, f.problem, f.fix === null ? '–' : f.fix]),
    );
  }

  function drawHeader() {
    const name = state.config ? state.config.pipeline : state.status ? state.status.pipeline : '…';
    setText('pipeline-name', name);
    document.title = `${name}: pipeline status`;
    const latest = state.samples[state.samples.length - 1];
    const every = state.everyMs === null ? '' : ` · the API samples every ${decimal.format(state.everyMs / 1000)} s and keeps ${decimal.format(state.keepMs / 60000)} min`;
    setText(
      'freshness',
      `${latest === undefined ? 'No sample yet' : `Last sample ${clock(latest.at)} UTC`} · ${state.samples.length} samples${every} · this page reads every ${POLL_MS / 1000} s`,
    );
    const problem = state.problem || (state.historyError ? `The API could not read the status at ${clock(state.historyError.at)}: ${state.historyError.message}` : null);
    byId('problem').hidden = problem === null;
    setText('problem', problem || '');
  }

  function drawKeyColumns() {
    if (state.config) setText('key-columns', state.config.keyExpected);
  }

  function keyLinks(event) {
    event.preventDefault();
    const key = byId('key-input').value.trim();
    if (key === '' || !state.config) return;
    const encoded = encodeURIComponent(key);
    const links = [];
    for (const window of state.config.windows) {
      const name = encodeURIComponent(window);
      links.push([`${window}: latest window`, `v1/keys/${encoded}/latest?window=${name}`]);
      links.push([`${window}: windows (first 100)`, `v1/windows?key=${encoded}&window=${name}`]);
    }
    links.push(['late rows (all keys)', 'v1/late?limit=20']);
    byId('key-links').replaceChildren(...links.map(([label, href]) => element('li', {}, [element('a', { href }, [label]), ' ', element('code', {}, [`/${href}`])])));
  }

  function render() {
    drawHeader();
    drawKeyColumns();
    drawTotals();
    drawCharts();
    drawShards();
    drawCapturePartitions();
    drawBatches();
    drawRejected();
    document.body.setAttribute('data-samples', String(state.samples.length));
    document.body.setAttribute('data-rendered-at', String(state.readAt));
  }

  document.addEventListener('DOMContentLoaded', () => {
    byId('key-form').addEventListener('submit', keyLinks);
    void poll();
  });
})();

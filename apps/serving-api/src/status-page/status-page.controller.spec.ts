import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startApi, type ApiHarness } from '../spec-helpers';
import { loadStatusPageAssets } from './status-page.assets';
import { STATUS_PAGE_CSP } from './status-page.controller';

describe('the status page', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(() => api.dispose());

  it('is served at / under a policy that allows only same-origin scripts and styles', async () => {
    const response = await api.get('/');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    expect(STATUS_PAGE_CSP).toContain("script-src 'self'");
    expect(STATUS_PAGE_CSP).toContain("style-src 'self'");
    expect(response.body).toContain('<script src="status-page.js" defer></script>');
    expect(response.body).toContain('<link rel="stylesheet" href="status-page.css" />');
  });

  it('has no inline script, style element, style attribute or event handler attribute (the policy would block them)', async () => {
    const html = (await api.get('/')).body;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc=/);
      expect(body).toBe('');
    }
    expect(html).not.toMatch(/<style\b/);
    expect(html).not.toMatch(/\sstyle=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
    // The script never writes a style attribute either.
    const script = (await api.get('/status-page.js')).body;
    expect(script).not.toMatch(/setAttribute\(\s*'style'|\.style\.|innerHTML/);
  });

  it('serves its script and style sheet with their types', async () => {
    const script = await api.get('/status-page.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body).toContain('v1/status/history');
    const styles = await api.get('/status-page.css');
    expect(styles.statusCode).toBe(200);
    expect(styles.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it("tells the page the pipeline's name, windows and how a key is written", async () => {
    expect((await api.get('/status-page.json')).json()).toEqual({
      pipeline: 'sensor-readings',
      windows: ['per_minute', 'last_5m'],
      keyExpected: expect.stringContaining('device_id'),
    });
  });

  it('is not part of the OpenAPI document, and other paths still answer 404', async () => {
    const document = (await api.get('/docs/json')).json();
    expect(Object.keys(document['paths'])).not.toContain('/');
    expect(Object.keys(document['paths'])).toEqual(expect.arrayContaining(['/v1/status/history', '/v1/status/batches']));
    expect((await api.get('/status-page.txt')).statusCode).toBe(404);
  });
});

describe('loadStatusPageAssets', () => {
  it('reads the page files from the sources', () => {
    const assets = loadStatusPageAssets();
    expect(assets.html).toContain('<!doctype html>');
    expect(assets.script).toContain("'use strict'");
    expect(assets.styles).toContain('.chart');
  });

  it('fails naming the missing file and the build step that copies it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'status-page-'));
    try {
      writeFileSync(path.join(dir, 'index.html'), '<!doctype html>');
      expect(() => loadStatusPageAssets(dir)).toThrow(/status-page\.js cannot be read \(ENOENT\): `npm run build` copies the page files into dist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

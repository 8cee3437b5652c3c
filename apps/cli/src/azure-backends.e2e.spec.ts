/**
 * The services on Azure adapters where a server can run here: the lake on the Blob API (in-process
 * Azurite) and the serving store on Cosmos DB (@zeit/cosmosdb-server), chosen per port by settings
 * exactly as in a deployment, while the event hub and the bus stay embedded (Event Hubs and Service
 * Bus have no emulator without Docker). Each service runs as its own process from dist/.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { openLake, openServingStore } from '@pipeline/adapters';
import { readDeltaRows } from '@pipeline/delta';
import type { WindowDocument } from '@pipeline/ports';
import { collect, makeTempDir, startAzuriteBlob, startCosmosServer, type AzuriteBlob, type CosmosServer, type TempDir } from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const spec = path.join(root, 'examples', 'sensors.spec.yaml');
const sample = path.join(root, 'examples', 'sensors.sample.csv');

/** Runs a `pipeline` command to its end without blocking this process (the servers live in it). */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('the services on the Blob API lake and the Cosmos DB serving store', () => {
  let azurite: AzuriteBlob;
  let cosmos: CosmosServer;
  let home: TempDir;

  beforeAll(async () => {
    [azurite, cosmos] = await Promise.all([startAzuriteBlob(), startCosmosServer()]);
  });
  afterAll(async () => {
    await Promise.all([azurite.stop(), cosmos.stop()]);
  });
  beforeEach(async () => {
    home = await makeTempDir('azure-backends-');
  });
  afterEach(async () => {
    await home.dispose();
  });

  it('runs produce → capture → bronze → silver → gold with the lake and the serving store chosen by settings, and the audit reconciles', async () => {
    const container = `lake${randomBytes(6).toString('hex')}`;
    const servingContainer = `serving-${randomBytes(6).toString('hex')}`;
    const env = {
      PIPELINE_HOME: home.path,
      PIPELINE_LAKE_BACKEND: 'azure',
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      PIPELINE_LAKE_CONTAINER: container,
      PIPELINE_SERVING_BACKEND: 'azure',
      AZURE_COSMOS_CONNECTION_STRING: `AccountEndpoint=${cosmos.endpoint}/;AccountKey=${cosmos.key};`,
      PIPELINE_COSMOS_CONTAINER: servingContainer,
    };
    for (const args of [
      ['produce', '--spec', spec, '--csv', sample, '--no-progress'],
      ['capture', '--drain'],
      ['bronze', '--drain'],
      ['silver', '--spec', spec, '--drain'],
      ['gold', '--spec', spec, '--drain'],
    ]) {
      const result = await run(args, env);
      if (result.code !== 0) throw new Error(`pipeline ${args[0]} exited ${result.code}:\n${result.output.slice(-4000)}`);
      // Logs and summaries name where the lake is, never its key.
      expect(result.output).not.toContain(azurite.connectionString.match(/AccountKey=([^;]+)/)?.[1] ?? 'no key');
    }

    // Every lake file is in the Blob container: nothing went to the local lake folder.
    const blobs = await collect(BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).listBlobsFlat());
    expect(blobs.some((b) => b.name.startsWith('raw/local/events/'))).toBe(true);
    expect(blobs.some((b) => b.name.startsWith('tables/silver/_delta_log/'))).toBe(true);

    const audit = await run(['audit', '--json'], env);
    expect(audit.code).toBe(0);
    const report = JSON.parse(audit.output.slice(audit.output.indexOf('{'))) as { rows: Array<{ captured: number; silver: number; quarantined: number; duplicates: number }> };
    const totals = report.rows.reduce((t, r) => ({ captured: t.captured + r.captured, silver: t.silver + r.silver, quarantined: t.quarantined + r.quarantined }), {
      captured: 0,
      silver: 0,
      quarantined: 0,
    });
    // The sample: 2,004 data rows, four of them bad.
    expect(totals).toEqual({ captured: 2004, silver: 2000, quarantined: 4 });

    const lake = await openLake({ kind: 'azure', storage: { kind: 'connection-string', connectionString: azurite.connectionString }, container });
    expect(await collect(readDeltaRows(lake, 'tables/silver'))).toHaveLength(2000);
    const late = await collect(readDeltaRows(lake, 'tables/late'));

    // Gold served every window to Cosmos DB: the per-minute counts add up to the rows gold took in.
    const store = await openServingStore({
      kind: 'azure',
      access: { kind: 'connection-string', connectionString: env.AZURE_COSMOS_CONNECTION_STRING },
      database: 'pipeline',
      container: servingContainer,
    });
    try {
      const documents: WindowDocument[] = [];
      for (let d = 1; d <= 20; d++) documents.push(...(await store.queryWindows({ pk: `device_id=dev-${String(d).padStart(3, '0')}`, window: 'per_minute', limit: 10_000 })).items);
      const counted = documents.reduce((sum, doc) => sum + Number(doc.aggregates['readings']), 0);
      const latePerMinute = late.filter((row) => (JSON.parse(String(row['late_windows'])) as Array<{ window: string }>).some((w) => w.window === 'per_minute')).length;
      expect(documents.length).toBeGreaterThan(20);
      expect(counted + latePerMinute).toBe(2000);
    } finally {
      await store.close();
    }
  }, 240_000);

  it('stops at start-up listing every missing Azure setting when PIPELINE_BACKEND is azure', async () => {
    const result = await run(['gold', '--spec', spec], { PIPELINE_HOME: home.path, PIPELINE_BACKEND: 'azure' });
    expect(result.code).toBe(2);
    for (const name of ['AZURE_STORAGE_ACCOUNT_URL', 'AZURE_SERVICEBUS_NAMESPACE', 'AZURE_COSMOS_ENDPOINT']) expect(result.output).toContain(name);
    expect(result.output).toMatch(/gold: 3 configuration problems/);
  });
});

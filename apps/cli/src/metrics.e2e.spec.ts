/**
 * The metrics as an operator sees them: `pipeline start` runs every service as its own process (the
 * compiled tool in dist/), each serving Prometheus text on the port start prints and exporting over
 * OTLP/HTTP to a receiver in this test. What they export is held against docs/metrics.md both ways
 * (every documented metric is exported, nothing exported is undocumented), and the stage counters
 * against `/v1/status`, which reads the same commit records.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import {
  documentedMetrics,
  freePort,
  makeTempDir,
  metricPatterns,
  prometheusFamilies,
  startOtlpReceiver,
  waitFor,
  type DocumentedMetric,
  type OtlpReceiver,
  type TempDir,
} from '@pipeline/testing';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'pipeline.js');
const SERVICES = ['capture', 'bronze', 'silver', 'gold', 'serving-api', 'producer'] as const;

/** Sum of a counter's samples over all its series, from a Prometheus scrape. */
function total(text: string, family: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${family}{`) || line.startsWith(`${family} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

describe('metrics of a running pipeline', () => {
  let home: TempDir;
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    home = await makeTempDir('pipeline-metrics-');
    receiver = await startOtlpReceiver();
  });

  afterAll(async () => {
    await receiver.close();
    await home.dispose();
  });

  it('exports every documented metric over Prometheus and OTLP, nothing undocumented, and counts what /v1/status counts', async () => {
    const apiPort = await freePort();
    const child = spawn(process.execPath, [bin, 'start', '--home', home.path, '--window', '500ms', '--port', String(apiPort), '--rate', '400'], {
      cwd: root,
      env: { ...process.env, LOG_FORMAT: 'json', OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // start prints where each service serves its metrics.
      const line = await waitFor(() => /Metrics \(Prometheus text[^\n]*/.exec(output)?.[0], { timeoutMs: 30_000, description: 'start to print the metrics addresses' });
      const urls = new Map(SERVICES.map((s) => [s, new RegExp(`${s} (http://127\\.0\\.0\\.1:\\d+/metrics)`).exec(line)?.[1]]));
      expect([...urls.values()].every((u) => u !== undefined)).toBe(true);
      const scrape = async (service: (typeof SERVICES)[number]) => {
        try {
          const response = await fetch(urls.get(service) as string);
          return response.ok ? await response.text() : undefined;
        } catch {
          return undefined; // not listening yet
        }
      };

      // The producer exits once it has sent the file: scrape it while it sends.
      const producer = await waitFor(async () => ((await scrape('producer'))?.includes('messaging_client_sent_messages_total') ? scrape('producer') : undefined), {
        timeoutMs: 60_000,
        intervalMs: 100,
        description: "the producer's first send on its /metrics",
      });
      await waitFor(() => (output.includes('Everything sent is through') ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 250,
        description: 'the sample to go through the pipeline',
      });

      const status = (await (await fetch(`http://127.0.0.1:${apiPort}/v1/status`)).json()) as {
        silver: { records: number; rows: number; quarantined: number; duplicates: number };
        gold: { rows: number; lateRows: number };
      };
      const scrapes = new Map<string, string>([['producer', producer as string]]);
      for (const service of SERVICES.filter((s) => s !== 'producer')) scrapes.set(service, (await scrape(service)) as string);

      // The stage counters agree with /v1/status: both are read off the commit records.
      const silver = scrapes.get('silver') as string;
      expect(total(silver, 'pipeline_records_in_total')).toBe(status.silver.records);
      expect(total(silver, 'pipeline_records_out_total')).toBe(status.silver.rows);
      expect(total(silver, 'pipeline_records_quarantined_total')).toBe(status.silver.quarantined);
      expect(total(silver, 'pipeline_records_duplicates_total')).toBe(status.silver.duplicates);
      expect(total(scrapes.get('gold') as string, 'pipeline_records_in_total')).toBe(status.gold.rows);
      expect(total(scrapes.get('gold') as string, 'pipeline_records_late_total')).toBe(status.gold.lateRows);
      expect(total(scrapes.get('capture') as string, 'pipeline_records_out_total')).toBe(status.silver.records);

      // The OTLP export interval is far off: only the producer, which has exited, has sent yet. On SIGTERM every service flushes as it stops.
      expect([...receiver.names.keys()]).toEqual(['producer']);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const documented = documentedMetrics();
      const expected = documented.filter((m) => !m.conditional);
      const prometheus = new Map<string, string>();
      for (const text of scrapes.values()) for (const [family, type] of prometheusFamilies(text)) prometheus.set(family, type);
      const otlp = new Set([...receiver.names.values()].flatMap((names) => [...names]));
      expect([...receiver.names.keys()].sort()).toEqual([...SERVICES].sort());

      const exported = (metric: DocumentedMetric, names: Iterable<string>, kind: 'otel' | 'prometheus') => [...names].some((n) => metricPatterns(metric)[kind].test(n));
      expect(expected.filter((m) => !exported(m, prometheus.keys(), 'prometheus')).map((m) => m.name)).toEqual([]);
      expect(expected.filter((m) => !exported(m, otlp, 'otel')).map((m) => m.name)).toEqual([]);
      expect([...prometheus.keys()].filter((family) => !documented.some((m) => metricPatterns(m).prometheus.test(family)))).toEqual([]);
      expect([...otlp].filter((name) => !documented.some((m) => metricPatterns(m).otel.test(name)))).toEqual([]);
      // Each is the instrument the reference says.
      for (const [family, type] of prometheus) expect(`${family}: ${documented.find((m) => metricPatterns(m).prometheus.test(family))?.instrument}`).toBe(`${family}: ${type}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    }
  }, 240_000);
});

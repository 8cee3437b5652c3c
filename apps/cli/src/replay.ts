/**
 * `pipeline replay`: re-processes the bronze capture files of a capture-time range through silver
 * and gold under a new name, without ingesting anything again: for backfills and for rolling out a
 * logic change beside the running pipeline. It runs the services' own entry points as child
 * processes (`silver --drain`, then `gold --drain`), pointed at the replay's folders:
 *   checkpoints   checkpoints/{name}-silver, checkpoints/{name}-gold
 *   tables        tables/{name}/{silver,quarantine,gold,late}
 *   manifests     manifests/{name}/silver/…  (bronze manifests are read where bronze wrote them)
 *   serving store {home}/serving-{name}.sqlite, or Cosmos DB container {PIPELINE_COSMOS_CONTAINER}-{name}
 * so the pipeline's own tables, manifests, checkpoints and serving store are never written. The lake
 * and serving store are the live pipeline's (embedded, or Azure by the services' settings); the
 * stages' bus is always the embedded one under the home, since draining stages read the lake.
 *
 * A name already in use is refused unless `--resume`, which continues that replay (its checkpoints
 * skip what is done; a different range or spec is refused by their fingerprints).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { openLake } from '@pipeline/adapters';
import { ManifestLog, StageCheckpoint } from '@pipeline/checkpoint';
import { ConfigError, lakeLocation, loadSpecFile, readLakeBackend, readServingBackend, resolvePipelineHome, SettingsReader, SpecFileError } from '@pipeline/config';
import {
  captureTimeOfPath,
  compileEventTimeParser,
  isEventTimeError,
  shardSession,
  SpecValidationError,
  type GoldCommit,
  type PipelineSpec,
  type SilverCommit,
} from '@pipeline/contracts';
import type { Lake } from '@pipeline/ports';
import { launchedLogEnv } from './services';

export interface ReplayOptions {
  from: string;
  to: string;
  checkpoint: string;
  spec?: string;
  home?: string;
  resume: boolean;
  json: boolean;
  /** The range is the whole input: at its end gold's watermark passes every open window, so the last windows are emitted. */
  endOfInput?: boolean;
  /** The `pipeline` bin the stages run from. */
  bin: string;
}

/** A validated replay: everything derived from the name, in one place. */
export interface ReplayPlan {
  name: string;
  from: number;
  to: number;
  specFile: string;
  home: string;
  silverCheckpoint: string;
  goldCheckpoint: string;
  tablesRoot: string;
  manifestsRoot: string;
  storeFile: string;
}

export interface ReplaySummary {
  name: string;
  from: string;
  to: string;
  captureFiles: { inRange: number; outOfRange: number };
  silver: { records: number; rows: number; quarantined: number; duplicates: number };
  gold: { rows: number; windows: number; lateRows: number };
  tables: { silver: string; quarantine: string; gold: string; late: string };
  servingStore: string;
  checkpoints: { silver: string; gold: string };
}

/** Commit fields this tool reads. */
type SilverCommitCounts = Partial<Pick<SilverCommit, 'captureFiles'>> & Pick<SilverCommit, 'counts'>;
type GoldCommitCounts = Pick<GoldCommit, 'rows' | 'lateRows' | 'windowsEmitted'>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Folders of the pipeline's own tables and manifests: a replay under one of these names would nest inside them. */
const RESERVED_NAMES = ['bronze', 'silver', 'quarantine', 'gold', 'late'];
const parseTime = compileEventTimeParser({ format: 'iso8601', timeZone: 'UTC' });

export const replayCommandHelp = `
A capture file is in the range when --from ≤ the time in its path (…/YYYY/MM/DD/HH/mm/ss.avro, UTC) < --to.
Times are ISO-8601; without an offset they are UTC. Files outside the range are skipped and counted nowhere.

The replay writes only its own folders in the lake and its own serving store:
  checkpoints/<name>-silver, checkpoints/<name>-gold
  tables/<name>/{silver,quarantine,gold,late}, manifests/<name>/silver
  <home>/serving-<name>.sqlite (or, on Cosmos DB, the container <PIPELINE_COSMOS_CONTAINER>-<name>)
A name already used is refused; --resume continues that replay where it stopped.

On Azure, set the services' settings (PIPELINE_BACKEND=azure, AZURE_STORAGE_ACCOUNT_URL, AZURE_COSMOS_ENDPOINT, …)
and sign in with az login; with Microsoft Entra ID, create the replay's Cosmos DB container first (docs/runbook.md).

Example: re-process the first hour of 2026 with a changed spec, beside the live tables:
  pipeline replay --from 2026-01-01T00:00:00Z --to 2026-01-01T01:00:00Z --checkpoint jan-v2 --spec examples/sensors.spec.yaml
`;

/** Checks the request and derives the replay's folders; every problem is listed at once. */
export function planReplay(options: Omit<ReplayOptions, 'bin' | 'json' | 'resume'>, env: NodeJS.ProcessEnv = process.env): ReplayPlan | { problems: string[] } {
  const problems: string[] = [];
  const time = (flag: string, raw: string): number => {
    const ms = parseTime(raw);
    if (isEventTimeError(ms)) {
      problems.push(`${flag} ${JSON.stringify(raw)} is not an ISO-8601 time: write it like 2026-01-01T00:00:00Z (UTC when it has no offset).`);
      return NaN;
    }
    return ms;
  };
  const from = time('--from', options.from);
  const to = time('--to', options.to);
  if (from >= to) problems.push(`--from ${options.from} is not before --to ${options.to}: the range is from ≤ capture time < to, so it would hold nothing.`);
  const name = options.checkpoint;
  if (!NAME.test(name))
    problems.push(`--checkpoint ${JSON.stringify(name)} is not a replay name: use up to 100 letters, digits, . _ - starting with a letter or digit, e.g. jan-v2.`);
  else if (RESERVED_NAMES.includes(name.toLowerCase()))
    problems.push(`--checkpoint ${name} names one of the pipeline's own tables or manifest layers (${RESERVED_NAMES.join(', ')}): choose another name, e.g. ${name}-replay.`);
  const specFile = options.spec ?? env['PIPELINE_SPEC'] ?? '';
  if (specFile === '') problems.push('--spec is missing: give the pipeline spec to replay with (or set PIPELINE_SPEC).');
  else if (!existsSync(specFile)) problems.push(`--spec ${specFile} does not exist.`);
  if (problems.length > 0) return { problems };
  const home = resolvePipelineHome(options.home, env);
  return {
    name,
    from,
    to,
    specFile,
    home,
    silverCheckpoint: `${name}-silver`,
    goldCheckpoint: `${name}-gold`,
    tablesRoot: `tables/${name}`,
    manifestsRoot: `manifests/${name}`,
    storeFile: path.join(home, `serving-${name}.sqlite`),
  };
}

/** What of a replay is already in the home: lake folders with anything in them, and the store file. */
export async function replayFootprint(lake: Lake, plan: ReplayPlan, localStore = true): Promise<string[]> {
  const used: string[] = [];
  for (const folder of [`checkpoints/${plan.silverCheckpoint}`, `checkpoints/${plan.goldCheckpoint}`, plan.tablesRoot, plan.manifestsRoot]) {
    for await (const _entry of lake.list(`${folder}/`)) {
      used.push(folder);
      break;
    }
  }
  if (localStore && existsSync(plan.storeFile)) used.push(plan.storeFile);
  return used;
}

/** Capture files bronze has referenced: how many, how many in the range, and the span of their times. */
async function bronzeFiles(lake: Lake, plan: ReplayPlan): Promise<{ files: number; inRange: number; first: number | null; last: number | null }> {
  let files = 0;
  let inRange = 0;
  let first: number | null = null;
  let last: number | null = null;
  for await (const manifest of new ManifestLog(lake).after('bronze', 'bronze', -1)) {
    for (const file of manifest.files) {
      files++;
      const time = captureTimeOfPath(file.path);
      if (time === undefined) continue;
      first = first === null ? time : Math.min(first, time);
      last = last === null ? time : Math.max(last, time);
      if (time >= plan.from && time < plan.to) inRange++;
    }
  }
  return { files, inRange, first, last };
}

export async function replay(options: ReplayOptions): Promise<number> {
  const planned = planReplay(options);
  if ('problems' in planned) return refuse(planned.problems);
  const plan = planned;
  let spec: PipelineSpec;
  try {
    spec = await loadSpecFile(plan.specFile);
  } catch (error) {
    if (error instanceof SpecValidationError || error instanceof SpecFileError) return refuse([error.message]);
    throw error;
  }
  // The live pipeline's backends, from the services' settings; the replay's own bus is embedded.
  const settings = new SettingsReader('pipeline replay', process.env);
  const lakeBackend = readLakeBackend(settings, plan.home);
  const serving = readServingBackend(settings, plan.storeFile);
  try {
    settings.done();
  } catch (error) {
    if (error instanceof ConfigError) return refuse([error.message]);
    throw error;
  }
  if (lakeBackend.kind === 'local' && !existsSync(lakeBackend.root))
    return refuse([`There is no lake in ${plan.home}: replay re-processes what the pipeline captured there. Check --home (or PIPELINE_HOME).`]);
  const lakeRoot = lakeLocation(lakeBackend);
  const lake = await openLake(lakeBackend);
  // Gold's serving store for the replay: a file beside the live one, or a Cosmos DB container named after it.
  const servingStore = serving.kind === 'local' ? serving.file : `Cosmos DB container ${serving.database}/${serving.container}-${plan.name}`;
  const stageEnv: NodeJS.ProcessEnv = {
    // Draining stages read their input from the lake: the replay's manifests stay off the live bus.
    PIPELINE_BUS_BACKEND: 'local',
    ...(serving.kind === 'azure' ? { PIPELINE_COSMOS_CONTAINER: `${serving.container}-${plan.name}` } : {}),
  };
  try {
    const bronze = await bronzeFiles(lake, plan);
    if (bronze.files === 0)
      return refuse([`Bronze has referenced no capture files in ${lakeRoot} yet: nothing to replay. Run the pipeline first (pipeline start), or check --home.`]);
    if (bronze.inRange === 0) {
      const span = bronze.first === null || bronze.last === null ? 'none of them has a capture time in its path' : `they span ${iso(bronze.first)} to ${iso(bronze.last)}`;
      return refuse([`No capture file bronze referenced is in [${iso(plan.from)}, ${iso(plan.to)}): ${span}. Choose --from and --to around them.`]);
    }
    // Capture still writes files into a range that has not ended: the replay would see part of it.
    const now = Date.now();
    if (plan.to > now && options.endOfInput === true) {
      return refuse([
        `--to ${iso(plan.to)} is after now (${iso(now)}): with --end-of-input the replay would close every window of the range while capture still writes files into it, and rows captured after would be late. Pass a --to that has passed, or leave out --end-of-input (and take the rest later with --resume).`,
      ]);
    }
    if (plan.to > now)
      say(
        `--to ${iso(plan.to)} is after now: the replay takes the capture files bronze has referenced so far; run it again with --resume to take those captured since.`,
        options.json,
      );
    const used = await replayFootprint(lake, plan, serving.kind === 'local');
    if (used.length > 0 && !options.resume) {
      return refuse([
        `The replay name ${plan.name} is already used in ${plan.home}: ${used.join(', ')}. Pass --resume to continue that replay, or choose another --checkpoint name.`,
      ]);
    }
    say(
      `${used.length > 0 ? 'Resuming' : 'Starting'} replay ${plan.name} of capture times [${iso(plan.from)}, ${iso(plan.to)}): ${bronze.inRange} of ${bronze.files} capture files, pipeline home ${plan.home}.`,
      options.json,
    );

    const common = ['--home', plan.home, '--spec', plan.specFile, '--tables-root', plan.tablesRoot, '--manifests-root', plan.manifestsRoot, '--drain'];
    const stages: Array<[string, string[]]> = [
      ['silver', ['silver', ...common, '--checkpoint', plan.silverCheckpoint, '--capture-from', iso(plan.from), '--capture-to', iso(plan.to)]],
      ['gold', ['gold', ...common, '--checkpoint', plan.goldCheckpoint, '--store', plan.storeFile, ...(options.endOfInput === true ? ['--end-of-input'] : [])]],
    ];
    for (const [name, args] of stages) {
      const code = await runStage(options.bin, name, args, options.json, stageEnv);
      if (code !== 0) {
        say(`${name} exited with code ${code}; the replay stopped there (its lines above say why). Once fixed, the same command with --resume continues it.`, options.json);
        return code === 2 ? 2 : code === 130 ? 130 : 1;
      }
    }
    const summary = await summarize(lake, plan, spec, servingStore);
    process.stdout.write(options.json ? `${JSON.stringify(summary)}\n` : formatReplaySummary(summary));
    return 0;
  } finally {
    await lake.close();
  }
}

/** Runs one stage to completion, its output tagged on stdout; a SIGINT or SIGTERM is passed on. */
function runStage(bin: string, name: string, args: string[], quiet: boolean, stageEnv: NodeJS.ProcessEnv): Promise<number> {
  const env = { ...process.env, ...stageEnv, ...launchedLogEnv() };
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // With --json, stdout carries only the summary: the stages' lines go to stderr.
  const out = quiet ? process.stderr : process.stdout;
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`));
  const stop = (signal: NodeJS.Signals) => {
    say(`Stopping (${signal}): ${name} finishes its batch in progress; --resume continues from there.`, quiet);
    child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}

/** Totals over every committed batch of the replay's checkpoints (all of the replay, also when resumed). */
async function summarize(lake: Lake, plan: ReplayPlan, spec: PipelineSpec, servingStore: string): Promise<ReplaySummary> {
  const captureFiles = { inRange: 0, outOfRange: 0 };
  const silver = { records: 0, rows: 0, quarantined: 0, duplicates: 0 };
  const silverCheckpoint = new StageCheckpoint<unknown, SilverCommitCounts>(lake, `checkpoints/${plan.silverCheckpoint}`);
  for await (const batch of silverCheckpoint.committedBatches()) {
    const commit = await silverCheckpoint.readCommit(batch);
    if (!commit) continue;
    captureFiles.inRange += commit.captureFiles?.inRange ?? 0;
    captureFiles.outOfRange += commit.captureFiles?.outOfRange ?? 0;
    for (const c of Object.values(commit.counts)) {
      silver.records += c.records;
      silver.rows += c.rows;
      silver.quarantined += c.quarantined;
      silver.duplicates += c.duplicates;
    }
  }
  const gold = { rows: 0, windows: 0, lateRows: 0 };
  for (let shard = 0; shard < spec.gold.shards; shard++) {
    const checkpoint = new StageCheckpoint<unknown, GoldCommitCounts>(lake, `checkpoints/${plan.goldCheckpoint}/${shardSession(shard)}`);
    for await (const batch of checkpoint.committedBatches()) {
      const commit = await checkpoint.readCommit(batch);
      if (!commit) continue;
      gold.rows += commit.rows;
      gold.windows += commit.windowsEmitted;
      gold.lateRows += commit.lateRows;
    }
  }
  const tables = /^https?:\/\//.test(lake.location) ? `${lake.location}/${plan.tablesRoot}` : path.join(lake.location, plan.tablesRoot);
  return {
    name: plan.name,
    from: iso(plan.from),
    to: iso(plan.to),
    captureFiles,
    silver,
    gold,
    tables: { silver: `${tables}/silver`, quarantine: `${tables}/quarantine`, gold: `${tables}/gold`, late: `${tables}/late` },
    servingStore,
    checkpoints: { silver: plan.silverCheckpoint, gold: plan.goldCheckpoint },
  };
}

export function formatReplaySummary(s: ReplaySummary): string {
  return `${[
    `Replay ${s.name} of capture times [${s.from}, ${s.to}) is done:`,
    `  capture files in range: ${s.captureFiles.inRange} (${s.captureFiles.outOfRange} outside the range skipped)`,
    `  silver: ${s.silver.records} records → ${s.silver.rows} rows, ${s.silver.quarantined} quarantined, ${s.silver.duplicates} duplicates`,
    `  gold: ${s.gold.rows} rows aggregated, ${s.gold.windows} windows emitted, ${s.gold.lateRows} late rows`,
    `  tables (Delta Lake): ${path.dirname(s.tables.silver)}/{silver,quarantine,gold,late}`,
    `  serving store: ${s.servingStore}`,
    `  checkpoints: ${s.checkpoints.silver}, ${s.checkpoints.gold}`,
  ].join('\n')}\n`;
}

function refuse(problems: string[]): number {
  process.stderr.write(problems.length === 1 ? `replay: ${problems[0]}\n` : `replay: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return 2;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function say(message: string, quiet: boolean): void {
  (quiet ? process.stderr : process.stdout).write(`[pipeline] ${message}\n`);
}

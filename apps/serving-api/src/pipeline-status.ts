/**
 * Pipeline status, layer by layer, read from where each layer keeps it:
 * - capture: the capture files in the lake (`raw/…`): count, bytes, and events (each file's count
 *   cached: capture files are created once and never change). All of them are listed every
 *   CAPTURE_RELIST_MS; the calls between list only past each partition folder's newest file. The count of a file the capture
 *   service wrote comes from its log (the file's intent), read once per new entry; any other file
 *   (Azure Capture's, or one whose log entry is gone) is read once, by its block headers;
 *   and each partition's last committed file with the instance that committed it (its owner), from
 *   the capture checkpoint's per-partition logs (libs/checkpoint capture-progress.ts);
 * - bronze and silver: their stage checkpoints' latest committed state (cumulative counts);
 * - gold: the shard statuses in the serving store, with each source partition's progress and the
 *   partition holding the shard's watermark back;
 * - rejected: the capture files set aside, or restored and not yet taken back, from the
 *   rejected-file log (`rejected/{raw prefix}/…`). A capture file that cannot be read counts the
 *   events before the damage.
 * Rates: bronze and silver over their recent commits (up to RATE_BATCHES batches back, by the batch
 * times the checkpoints record), so they survive an API restart; capture and gold between the
 * previous status call and this one (by the injected clock), so the first call has none.
 * - dead letters: each manifest queue's dead-letter queue, counted up to DEAD_LETTER_LIMIT, when the
 *   API has the bus (locally always; on Azure only when given the namespace).
 * The checkpoint records are the stages' own (libs/contracts stage-records.ts).
 */
import { capturedFilesSince, captureProgressAll, StageCheckpoint, type CapturePartitionProgress } from '@pipeline/checkpoint';
import { CaptureFormatError, countCaptureRecords } from '@pipeline/capture-format';
import {
  captureTimeOfPath,
  manifestQueue,
  RejectedFileLog,
  restoreAdvice,
  type BronzeOffsets,
  type BronzeState,
  type SilverCommit,
  type SilverOffsets,
  type SilverPartitionCounts,
  type SilverState,
} from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Bus, DeadLetter, Lake, ServingStore, ShardStatus } from '@pipeline/ports';
import type {
  BronzeStatusDto,
  CapturePartitionStatusDto,
  CaptureStatusDto,
  DeadLetterQueueDto,
  DeadLettersStatusDto,
  GoldStatusDto,
  RateDto,
  RejectedFileDto,
  RejectedStatusDto,
  ShardStatusDto,
  SilverStatusDto,
  StatusDto,
} from './serving.dto';

/** How often the status lists every capture file again; in between, only past each partition's newest. */
export const CAPTURE_RELIST_MS = 60_000;

interface CaptureFileFacts {
  size: number;
  time: number;
  events: number;
}

/** How many batches back the commit-based rates look. */
export const RATE_BATCHES = 10;
/** Dead letters counted per queue at most: enough to see a problem, bounded to read. */
export const DEAD_LETTER_LIMIT = 100;
/** The queues whose dead letters the status counts: the manifest doorbells the stages consume. */
export const DEAD_LETTER_QUEUES = [manifestQueue('bronze'), manifestQueue('silver')];

export interface StatusSources {
  lake: Lake;
  store: ServingStore;
  clock: Clock;
  pipeline: string;
  rawPrefix: string;
  /** The capture checkpoint (apps/capture's CAPTURE_CHECKPOINT): `capture-events` when not given. */
  captureCheckpoint?: string;
  bronzeCheckpoint: string;
  silverCheckpoint: string;
  /** The bus to count dead letters on; without it they are not visible. */
  bus?: Bus;
}

interface Observation {
  value: number;
  at: number;
}

export class PipelineStatus {
  private readonly eventsPerFile = new Map<string, { size: number; events: number }>();
  /** Per capture partition, the last batch of its log whose file counts are in `eventsPerFile`. */
  private readonly captureLogRead = new Map<string, number>();
  /** The capture files in the lake as last listed, and each partition folder's newest one. */
  private captureFiles = new Map<string, CaptureFileFacts>();
  private readonly newestInFolder = new Map<string, string>();
  private listedAllAt: number | undefined;
  private readonly previous = new Map<string, Observation>();

  constructor(private readonly sources: StatusSources) {}

  async read(): Promise<StatusDto> {
    const [capture, bronze, silver, gold, rejected, deadLetters] = await Promise.all([
      this.capture(),
      this.bronze(),
      this.silver(),
      this.gold(),
      this.rejected(),
      this.deadLetters(),
    ]);
    return { pipeline: this.sources.pipeline, capture, bronze, silver, gold, rejected, deadLetters };
  }

  private async deadLetters(): Promise<DeadLettersStatusDto> {
    const bus = this.sources.bus;
    if (bus === undefined) return { visible: false, total: null, queues: [] };
    const queues = await Promise.all(
      DEAD_LETTER_QUEUES.map(async (queue): Promise<DeadLetterQueueDto> => {
        let letters: DeadLetter[];
        try {
          letters = await bus.listDeadLetters(queue, { limit: DEAD_LETTER_LIMIT + 1 });
        } catch (error) {
          // The rest of the status still answers; the queue says why it has no count.
          return { queue, count: null, more: false, lastReason: null, problem: (error as Error).message };
        }
        const counted = letters.slice(0, DEAD_LETTER_LIMIT);
        const newest = counted.reduce<DeadLetter | undefined>((a, b) => (a === undefined || b.deadLetteredTime >= a.deadLetteredTime ? b : a), undefined);
        return {
          queue,
          count: counted.length,
          more: letters.length > DEAD_LETTER_LIMIT,
          lastReason: newest === undefined ? null : [newest.reason, newest.description].filter((t) => t !== '').join(': '),
          problem: null,
        };
      }),
    );
    return { visible: true, total: queues.reduce((n, q) => n + (q.count ?? 0), 0), queues };
  }

  private async capture(): Promise<CaptureStatusDto> {
    const progress = await captureProgressAll(this.sources.lake, this.captureCheckpointRoot());
    await this.learnFromCaptureLogs(progress);
    await this.listCaptureFiles(progress);
    let events = 0;
    let bytes = 0;
    let newest: { time: number; path: string } | undefined;
    for (const [path, file] of this.captureFiles) {
      bytes += file.size;
      events += file.events;
      if (!newest || file.time > newest.time || (file.time === newest.time && path > newest.path)) newest = { time: file.time, path };
    }
    return {
      files: this.captureFiles.size,
      events,
      bytes,
      position: newest?.path ?? null,
      rate: this.rateSinceLastCall('capture', events),
      partitions: capturePartitions(progress),
    };
  }

  /**
   * Brings the known capture files up to date: every CAPTURE_RELIST_MS all of them are listed again
   * (files deleted by retention, or landing with an older time), and on the calls between only what
   * each partition folder holds past its newest known file (capture's paths sort in time order),
   * and all of a folder the capture service's log names for the first time.
   */
  private async listCaptureFiles(progress: readonly CapturePartitionProgress[]): Promise<void> {
    const { lake, rawPrefix, clock } = this.sources;
    const now = clock.now();
    const all = this.listedAllAt === undefined || now - this.listedAllAt >= CAPTURE_RELIST_MS;
    const fresh = new Set(progress.map((p) => partitionFolderOf(p.path)).filter((folder) => !this.newestInFolder.has(folder)));
    const listings = all
      ? [lake.list(`${rawPrefix}/`)]
      : [...[...this.newestInFolder].map(([folder, after]) => lake.list(folder, { startAfter: after })), ...[...fresh].map((folder) => lake.list(folder))];
    const files = all ? new Map<string, CaptureFileFacts>() : this.captureFiles;
    for (const listing of listings) {
      for await (const entry of listing) {
        const time = captureTimeOfPath(entry.path);
        if (time === undefined) continue;
        files.set(entry.path, { size: entry.size, time, events: await this.eventsIn(entry.path, entry.size) });
      }
    }
    if (all) {
      this.listedAllAt = now;
      // Files deleted by retention leave the counts too.
      for (const path of this.eventsPerFile.keys()) if (!files.has(path)) this.eventsPerFile.delete(path);
    }
    this.captureFiles = files;
    for (const path of files.keys()) {
      const folder = partitionFolderOf(path);
      const known = this.newestInFolder.get(folder);
      if (known === undefined || path > known) this.newestInFolder.set(folder, path);
    }
  }

  private captureCheckpointRoot(): string {
    return `checkpoints/${this.sources.captureCheckpoint ?? 'capture-events'}`;
  }

  /** The event counts of the files each partition's log committed since the last call. */
  private async learnFromCaptureLogs(progress: readonly CapturePartitionProgress[]): Promise<void> {
    for (const p of progress) {
      const after = this.captureLogRead.get(p.partitionId) ?? -1;
      if (p.batch <= after) continue;
      for (const file of await capturedFilesSince(this.sources.lake, this.captureCheckpointRoot(), p.partitionId, after, p.batch)) {
        this.eventsPerFile.set(file.path, { size: file.bytes, events: file.eventCount });
      }
      this.captureLogRead.set(p.partitionId, p.batch);
    }
  }

  private async eventsIn(path: string, size: number): Promise<number> {
    const cached = this.eventsPerFile.get(path);
    if (cached && cached.size === size) return cached.events;
    let events = 0;
    try {
      // From the block headers: status counts events, it does not read them (bronze and silver do).
      events = await countCaptureRecords(await this.sources.lake.readStream(path), path, (counted) => (events = counted));
    } catch (error) {
      // A damaged file (bronze sets it aside): the events before the damage.
      if (!(error instanceof CaptureFormatError)) throw error;
    }
    this.eventsPerFile.set(path, { size, events });
    return events;
  }

  private async rejected(): Promise<RejectedStatusDto> {
    const log = new RejectedFileLog(this.sources.lake);
    const files: RejectedFileDto[] = [];
    for (const entry of await log.list(`${this.sources.rawPrefix}/`)) {
      if (entry.state === 'taken') continue;
      const r = await log.read(entry.path, entry.bronzeBatch);
      files.push({
        path: r.path,
        partition: r.partitionId,
        stage: r.stage,
        bronzeBatch: r.bronzeBatch,
        silverBatch: r.silverBatch ?? null,
        reason: r.reason,
        problem: r.problem,
        state: entry.state,
        fix: entry.state === 'set-aside' ? restoreAdvice(r) : null,
      });
    }
    return { setAside: files.filter((f) => f.state === 'set-aside').length, restored: files.filter((f) => f.state === 'restored').length, files };
  }

  private async bronze(): Promise<BronzeStatusDto> {
    const checkpoint = new StageCheckpoint<BronzeOffsets, unknown, BronzeState>(this.sources.lake, `checkpoints/${this.sources.bronzeCheckpoint}`);
    const last = await checkpoint.lastCommitted();
    const empty = { batches: 0, files: 0, records: 0, position: null, rate: noRate('commits') };
    if (last === undefined) return empty;
    const totals = (state: BronzeState | undefined) =>
      Object.values(state?.partitions ?? {}).reduce((sum, p) => ({ files: sum.files + p.files, records: sum.records + p.records }), { files: 0, records: 0 });
    const now = totals(await checkpoint.readState(last));
    const rate = await commitRate(last, async (batch) => {
      const [offsets, state] = await Promise.all([checkpoint.readOffsets(batch), checkpoint.readState(batch)]);
      return offsets && state ? { value: totals(state).records, at: offsets.createdAt } : undefined;
    });
    return { batches: last + 1, files: now.files, records: now.records, position: last, rate };
  }

  private async silver(): Promise<SilverStatusDto> {
    const checkpoint = new StageCheckpoint<SilverOffsets, SilverCommit, SilverState>(this.sources.lake, `checkpoints/${this.sources.silverCheckpoint}`);
    const last = await checkpoint.lastCommitted();
    if (last === undefined) return { batches: 0, records: 0, rows: 0, quarantined: 0, duplicates: 0, position: null, rate: noRate('commits') };
    const sum = (byPartition: Record<string, SilverPartitionCounts> | undefined) =>
      Object.values(byPartition ?? {}).reduce(
        (total, p) => ({
          records: total.records + p.records,
          rows: total.rows + p.rows,
          quarantined: total.quarantined + p.quarantined,
          duplicates: total.duplicates + p.duplicates,
        }),
        { records: 0, rows: 0, quarantined: 0, duplicates: 0 },
      );
    // The commit record carries the running totals; the state (with silver's de-duplication, often
    // megabytes) is read only for a commit written before it did.
    const totalsAfter = async (batch: number) => {
      const commit = await checkpoint.readCommit(batch);
      if (commit?.totals !== undefined) return sum(commit.totals);
      const state = await checkpoint.readState(batch);
      return state === undefined ? undefined : sum(state.totals);
    };
    const now = (await totalsAfter(last)) ?? sum(undefined);
    const rate = await commitRate(last, async (batch) => {
      const [offsets, totals] = await Promise.all([checkpoint.readOffsets(batch), totalsAfter(batch)]);
      return offsets && totals ? { value: totals.rows, at: offsets.batchTime } : undefined;
    });
    return { batches: last + 1, ...now, position: last, rate };
  }

  private async gold(): Promise<GoldStatusDto> {
    const statuses = [...(await this.sources.store.listShardStatus(this.sources.pipeline))].sort((a, b) => a.shard - b.shard);
    const newest = statuses.reduce<number | null>((max, s) => (s.maxEventTime !== null && (max === null || s.maxEventTime > max) ? s.maxEventTime : max), null);
    const shards = statuses.map((s) => this.shard(s, newest));
    return {
      shards,
      rows: statuses.reduce((sum, s) => sum + s.rows, 0),
      lateRows: statuses.reduce((sum, s) => sum + s.lateRows, 0),
      maxEventTimeMs: newest,
    };
  }

  private shard(status: ShardStatus, newestEventTime: number | null): ShardStatusDto {
    const watermark = status.watermark !== null && Number.isFinite(status.watermark) ? status.watermark : null;
    return {
      shard: status.shard,
      batch: status.batch,
      watermarkMs: watermark,
      watermark: watermark === null ? null : new Date(watermark).toISOString(),
      maxEventTimeMs: status.maxEventTime,
      lagMs: watermark === null || newestEventTime === null ? null : newestEventTime - watermark,
      rows: status.rows,
      lateRows: status.lateRows,
      numRowsDroppedByWatermark: status.numRowsDroppedByWatermark ?? null,
      holdingPartition: status.eventTime?.holdingPartition ?? null,
      owner: status.owner ?? null,
      partitions: Object.entries(status.eventTime?.partitions ?? {}).map(([partition, p]) => ({
        partition,
        maxEventTime: isoOrNull(p.maxEventTime),
        captureTime: isoOrNull(p.captureTime),
        idle: status.eventTime?.idlePartitions.includes(partition) ?? false,
      })),
      windowsEmitted: status.windowsEmitted,
      updatedAt: new Date(status.updatedAt).toISOString(),
      rate: this.rateSinceLastCall(`gold/${status.shard}`, status.rows),
    };
  }

  private rateSinceLastCall(name: string, value: number): RateDto {
    const at = this.sources.clock.now();
    const before = this.previous.get(name);
    this.previous.set(name, { value, at });
    if (!before || at <= before.at) return noRate('status-calls');
    return { perSecond: ((value - before.value) * 1000) / (at - before.at), basis: 'status-calls', overMs: at - before.at };
  }
}

/** The partition folder of a capture path, which ends in six time segments (…/{YYYY}/{MM}/{DD}/{HH}/{mm}/{ss}.avro). */
function partitionFolderOf(path: string): string {
  return `${path.split('/').slice(0, -6).join('/')}/`;
}

/** Each partition's last committed capture file and its owner, partitions in numeric order. */
function capturePartitions(progress: readonly CapturePartitionProgress[]): CapturePartitionStatusDto[] {
  return progress
    .map((p) => ({ partition: p.partitionId, batch: p.batch, lastSequenceNumber: p.toSequenceNumber, file: p.path, owner: p.owner ?? null }))
    .sort((a, b) => a.partition.localeCompare(b.partition, 'en', { numeric: true }));
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function noRate(basis: RateDto['basis']): RateDto {
  return { perSecond: null, basis, overMs: null };
}

/** Rows per second between batch `last` and up to RATE_BATCHES batches before it, by batch time. */
async function commitRate(last: number, observe: (batch: number) => Promise<Observation | undefined>): Promise<RateDto> {
  if (last === 0) return noRate('commits');
  const [end, start] = await Promise.all([observe(last), observe(Math.max(0, last - RATE_BATCHES))]);
  if (!end || !start || end.at <= start.at) return noRate('commits');
  return { perSecond: ((end.value - start.value) * 1000) / (end.at - start.at), basis: 'commits', overMs: end.at - start.at };
}

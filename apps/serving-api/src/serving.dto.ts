/**
 * The shapes the API answers with, documented for the OpenAPI document. Times are given twice:
 * ISO-8601 text for people and epoch milliseconds for programs (the store's own unit).
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { formatDuration } from '@pipeline/contracts';
import type { WindowDocument } from '@pipeline/ports';

export class WindowDto {
  @ApiProperty({ description: 'Deterministic document id: window|key|windowStart.', example: 'per_minute|device_id=d1|1767225600000' })
  id!: string;
  @ApiProperty({ description: "The grouping key's canonical text (the store's partition key).", example: 'device_id=d1' })
  key!: string;
  @ApiProperty({
    description: 'The grouping key, column by column.',
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }], nullable: true },
    example: { device_id: 'd1' },
  })
  keyColumns!: Record<string, string | number | boolean | null>;
  @ApiProperty({ description: "The window definition's name in the spec.", example: 'per_minute' })
  window!: string;
  @ApiProperty({ description: 'Window start, inclusive (ISO-8601).', example: '2026-01-01T00:00:00.000Z' })
  windowStart!: string;
  @ApiProperty({ description: 'Window end, exclusive (ISO-8601).', example: '2026-01-01T00:01:00.000Z' })
  windowEnd!: string;
  @ApiProperty({ description: 'Window start in epoch milliseconds.', example: 1767225600000 })
  windowStartMs!: number;
  @ApiProperty({ description: 'Window end in epoch milliseconds.', example: 1767225660000 })
  windowEndMs!: number;
  @ApiProperty({
    description: 'Aggregate values by name (null when there was nothing to aggregate).',
    type: 'object',
    additionalProperties: { type: 'number', nullable: true },
    example: { readings: 12, avg_temperature: 21.5 },
  })
  aggregates!: Record<string, number | null>;
  @ApiProperty({ description: 'True once the watermark passed the window end: the values will not change any more.' })
  final!: boolean;
  @ApiProperty({ description: "The shard's watermark when this version was written (epoch ms); null before the first watermark.", type: 'number', nullable: true })
  watermarkMs!: number | null;
  @ApiProperty({ description: 'The gold shard that wrote the window.' })
  shard!: number;
  @ApiProperty({ description: 'The gold batch of that shard that wrote this version.' })
  version!: number;
}

export class SessionDto extends WindowDto {
  @ApiProperty({ description: 'Session length, windowEnd − windowStart: from the first event to the last event + gap (ms).', example: 900000 })
  durationMs!: number;
  @ApiProperty({ description: 'The same length as the spec writes durations.', example: '15m' })
  duration!: string;
}

export class SessionPageDto {
  @ApiProperty({ type: [SessionDto] })
  items!: SessionDto[];
  @ApiProperty({ description: 'Pass as continuationToken to get the next page; null on the last page.', type: 'string', nullable: true })
  continuationToken!: string | null;
}

export class WindowPageDto {
  @ApiProperty({ type: [WindowDto] })
  items!: WindowDto[];
  @ApiProperty({ description: 'Pass as continuationToken to get the next page; null on the last page.', type: 'string', nullable: true })
  continuationToken!: string | null;
}

export class TopWindowsDto {
  @ApiProperty({ example: 'per_minute' })
  window!: string;
  @ApiProperty({ description: 'Start of the windows ranked (ISO-8601).' })
  windowStart!: string;
  @ApiProperty({ description: 'The aggregate the windows are ordered by, descending (nulls last).', example: 'readings' })
  by!: string;
  @ApiProperty({ type: [WindowDto] })
  items!: WindowDto[];
}

export class LateRowsDto {
  @ApiProperty({
    description: 'Late rows, ordered by event_time: the columns of the late table (timestamps in epoch ms, binary as base64).',
    type: 'array',
    items: { type: 'object', additionalProperties: true },
  })
  items!: Record<string, unknown>[];
  @ApiProperty({ description: 'True when more rows match than limit allowed.' })
  truncated!: boolean;
  @ApiProperty({ description: 'Pass as continuationToken (with the same from, to and key) for the next page; null on the last page.', type: 'string', nullable: true })
  continuationToken!: string | null;
  @ApiProperty({ description: 'The late table version read; null when the table does not exist yet.', type: 'number', nullable: true })
  tableVersion!: number | null;
}

export class RateDto {
  @ApiProperty({ description: 'Rows (or events) per second; null until there are two observations.', type: 'number', nullable: true })
  perSecond!: number | null;
  @ApiProperty({
    description: 'commits: between recent commits, by their batch times; status-calls: between the previous status call and this one.',
    enum: ['commits', 'status-calls'],
  })
  basis!: 'commits' | 'status-calls';
  @ApiProperty({ description: 'The time span the rate is measured over (ms).', type: 'number', nullable: true })
  overMs!: number | null;
}

export class CapturePartitionStatusDto {
  @ApiProperty({ description: 'The event hub partition.', example: '0' })
  partition!: string;
  @ApiProperty({ description: "The number of the partition's last committed capture file in its log." })
  batch!: number;
  @ApiProperty({ description: "The last sequence number captured (the last file's last event; -1 when it was empty)." })
  lastSequenceNumber!: number;
  @ApiProperty({ description: 'The last capture file committed.', example: 'raw/local/events/0/2026/01/01/00/00/05.avro' })
  file!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'capture-5c1d',
    description: "The capture instance (CAPTURE_INSTANCE_ID) that committed the last file: the partition's owner then; null before it was recorded.",
  })
  owner!: string | null;
}

export class CaptureStatusDto {
  @ApiProperty({ description: 'Capture files in the lake.' })
  files!: number;
  @ApiProperty({ description: 'Events in those files.' })
  events!: number;
  @ApiProperty({ description: 'Bytes of those files.' })
  bytes!: number;
  @ApiProperty({ description: 'The newest capture file (by its time), or null.', type: 'string', nullable: true })
  position!: string | null;
  @ApiProperty({ type: RateDto })
  rate!: RateDto;
  @ApiProperty({
    description:
      "Each partition's last committed file and the instance that committed it, from the capture checkpoint (CAPTURE_CHECKPOINT); empty when the files come from Azure's Event Hubs Capture, which keeps no such log.",
    type: [CapturePartitionStatusDto],
  })
  partitions!: CapturePartitionStatusDto[];
}

export class BronzeStatusDto {
  @ApiProperty({ description: 'Committed bronze batches.' })
  batches!: number;
  @ApiProperty({ description: 'Capture files consumed.' })
  files!: number;
  @ApiProperty({ description: 'Records in those files.' })
  records!: number;
  @ApiProperty({ description: 'The last committed batch, or null.', type: 'number', nullable: true })
  position!: number | null;
  @ApiProperty({ type: RateDto })
  rate!: RateDto;
}

export class SilverStatusDto {
  @ApiProperty({ description: 'Committed silver batches.' })
  batches!: number;
  @ApiProperty({ description: 'Captured records silver read.' })
  records!: number;
  @ApiProperty({ description: 'Rows written to the silver table.' })
  rows!: number;
  @ApiProperty({ description: 'Rows set aside in the quarantine table.' })
  quarantined!: number;
  @ApiProperty({ description: 'Duplicate events dropped.' })
  duplicates!: number;
  @ApiProperty({ description: 'The last committed batch, or null.', type: 'number', nullable: true })
  position!: number | null;
  @ApiProperty({ type: RateDto })
  rate!: RateDto;
}

export class PartitionProgressDto {
  @ApiProperty({ description: 'Event hub partition id.' })
  partition!: string;
  @ApiProperty({ description: 'Newest event time of the partition (ISO-8601), or null before its first row.', type: 'string', nullable: true })
  maxEventTime!: string | null;
  @ApiProperty({ description: 'Latest capture (enqueued) time at which the partition had rows (ISO-8601), or null.', type: 'string', nullable: true })
  captureTime!: string | null;
  @ApiProperty({ description: 'Whether the partition had no rows for the idle timeout, so it does not hold the watermark.' })
  idle!: boolean;
}

export class ShardStatusDto {
  @ApiProperty()
  shard!: number;
  @ApiProperty({ description: 'Last committed gold batch of the shard (its position).' })
  batch!: number;
  @ApiProperty({ description: 'Watermark (epoch ms); null before the first one.', type: 'number', nullable: true })
  watermarkMs!: number | null;
  @ApiProperty({ description: 'Watermark (ISO-8601), or null.', type: 'string', nullable: true })
  watermark!: string | null;
  @ApiProperty({ description: 'Newest event time this shard has seen (epoch ms), or null.', type: 'number', nullable: true })
  maxEventTimeMs!: number | null;
  @ApiProperty({ description: 'Newest event time seen by any shard minus this shard watermark (ms); null without both.', type: 'number', nullable: true })
  lagMs!: number | null;
  @ApiProperty({ description: 'Rows aggregated.' })
  rows!: number;
  @ApiProperty({ description: 'Rows that came after their window closed (in the late table): rowsDroppedByWatermark.' })
  lateRows!: number;
  @ApiProperty({ description: "Spark's numRowsDroppedByWatermark: (window, key) aggregate rows dropped as late.", type: 'number', nullable: true })
  numRowsDroppedByWatermark!: number | null;
  @ApiProperty({ description: 'The event hub partition holding the watermark back (the active one furthest behind), or null.', type: 'string', nullable: true })
  holdingPartition!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'gold-7f3a',
    description: "The gold instance (GOLD_INSTANCE_ID) that committed the last batch: the shard's owner then; null before it was recorded.",
  })
  owner!: string | null;
  @ApiProperty({ description: 'Each source partition’s event-time progress as the shard knows it.', type: [PartitionProgressDto] })
  partitions!: PartitionProgressDto[];
  @ApiProperty()
  windowsEmitted!: number;
  @ApiProperty({ description: 'When the shard last reported (ISO-8601).' })
  updatedAt!: string;
  @ApiProperty({ type: RateDto })
  rate!: RateDto;
}

export class GoldStatusDto {
  @ApiProperty({ type: [ShardStatusDto] })
  shards!: ShardStatusDto[];
  @ApiProperty({ description: 'Rows aggregated by all shards.' })
  rows!: number;
  @ApiProperty({ description: 'Late rows of all shards.' })
  lateRows!: number;
  @ApiProperty({ description: 'Newest event time seen by any shard (epoch ms), or null.', type: 'number', nullable: true })
  maxEventTimeMs!: number | null;
}

export class RejectedFileDto {
  @ApiProperty({ description: 'The capture file (lake path).', example: 'raw/local/events/0/2026/01/01/00/00/05.avro' })
  path!: string;
  @ApiProperty({ description: 'Event hub partition.' })
  partition!: string;
  @ApiProperty({ description: 'The stage that set it aside.', enum: ['bronze', 'silver'] })
  stage!: 'bronze' | 'silver';
  @ApiProperty({ description: 'Bronze batch: the one that set it aside, or the one whose reference to it silver set aside.' })
  bronzeBatch!: number;
  @ApiProperty({ description: 'The silver batch that counted its records as rejected (silver only).', type: 'number', nullable: true })
  silverBatch!: number | null;
  @ApiProperty({
    description: 'empty (0 bytes), unreadable (truncated or corrupt), missing, or checksum (not the bytes bronze referenced).',
    enum: ['empty', 'unreadable', 'missing', 'checksum'],
  })
  reason!: 'empty' | 'unreadable' | 'missing' | 'checksum';
  @ApiProperty({ description: 'What is wrong with it, with the byte offset where it applies.' })
  problem!: string;
  @ApiProperty({ description: 'set-aside: its records are in no table until it is restored; restored: waiting for bronze to take it back.', enum: ['set-aside', 'restored'] })
  state!: 'set-aside' | 'restored';
  @ApiProperty({ description: 'How to put it back (set-aside files), naming the command.', type: 'string', nullable: true })
  fix!: string | null;
}

export class RejectedStatusDto {
  @ApiProperty({ description: 'Capture files set aside and not restored.' })
  setAside!: number;
  @ApiProperty({ description: 'Capture files restored and not yet taken back by bronze.' })
  restored!: number;
  @ApiProperty({ type: [RejectedFileDto] })
  files!: RejectedFileDto[];
}

export class DeadLetterQueueDto {
  @ApiProperty({ example: 'silver-manifests' })
  queue!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'Dead letters in the queue, counted up to the limit; null when the queue could not be read (see `problem`).' })
  count!: number | null;
  @ApiProperty({ description: 'More dead letters than counted: `count` is a lower bound.' })
  more!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Why the newest counted one was dead-lettered (the bus reason and description).' })
  lastReason!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why the queue could not be read (a queue nothing was sent to yet does not exist on the embedded bus).' })
  problem!: string | null;
}

export class DeadLettersStatusDto {
  @ApiProperty({ description: 'Whether the API can read the bus. The Azure deployment gives it no bus access: watch `pipeline.bus.dead_letters` or Service Bus metrics there.' })
  visible!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: 'Dead letters of every queue (a lower bound when any queue has more); null when not visible.' })
  total!: number | null;
  @ApiProperty({ type: [DeadLetterQueueDto] })
  queues!: DeadLetterQueueDto[];
}

export class StatusDto {
  @ApiProperty({ example: 'sensor-readings' })
  pipeline!: string;
  @ApiProperty({ type: CaptureStatusDto })
  capture!: CaptureStatusDto;
  @ApiProperty({ type: BronzeStatusDto })
  bronze!: BronzeStatusDto;
  @ApiProperty({ type: SilverStatusDto })
  silver!: SilverStatusDto;
  @ApiProperty({ type: GoldStatusDto })
  gold!: GoldStatusDto;
  @ApiProperty({ type: RejectedStatusDto, description: 'Capture files bronze or silver set aside (`pipeline rejected list`).' })
  rejected!: RejectedStatusDto;
  @ApiProperty({ type: DeadLettersStatusDto, description: 'Bus messages the stages gave up on (`pipeline dead-letters <queue>`).' })
  deadLetters!: DeadLettersStatusDto;
}

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'failing'] })
  status!: 'ok' | 'failing';
  @ApiPropertyOptional({
    description: 'Each dependency: "ok" or "failing" (the reason is in the service log, not here).',
    type: 'object',
    additionalProperties: { type: 'string', enum: ['ok', 'failing'] },
    example: { store: 'ok', lake: 'ok' },
  })
  checks?: Record<string, 'ok' | 'failing'>;
}

export class ParameterProblemDto {
  @ApiProperty({ example: 'limit' })
  parameter!: string;
  @ApiProperty({ example: 'an integer from 1 to 1000' })
  expected!: string;
  @ApiProperty({ example: '"0"' })
  found!: string;
}

export class BadRequestDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;
  @ApiProperty({ example: 'Bad Request' })
  error!: string;
  @ApiProperty({ description: 'Every problem in one line.' })
  message!: string;
  @ApiProperty({ type: [ParameterProblemDto] })
  problems!: ParameterProblemDto[];
}

export class NotFoundDto {
  @ApiProperty({ example: 404 })
  statusCode!: number;
  @ApiProperty({ example: 'Not Found' })
  error!: string;
  @ApiProperty()
  message!: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A session document as the API answers it: a window plus its duration. */
export function toSessionDto(doc: WindowDocument): SessionDto {
  const durationMs = doc.windowEnd - doc.windowStart;
  return { ...toWindowDto(doc), durationMs, duration: formatDuration(durationMs) };
}

export function toWindowDto(doc: WindowDocument): WindowDto {
  return {
    id: doc.id,
    key: doc.pk,
    keyColumns: doc.key,
    window: doc.window,
    windowStart: iso(doc.windowStart),
    windowEnd: iso(doc.windowEnd),
    windowStartMs: doc.windowStart,
    windowEndMs: doc.windowEnd,
    aggregates: doc.aggregates,
    final: doc.final,
    watermarkMs: Number.isFinite(doc.watermark) ? doc.watermark : null,
    shard: doc.shard,
    version: doc.version,
  };
}

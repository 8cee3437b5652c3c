/**
 * The shapes of the status history and the stages' last batches, for the OpenAPI document. A
 * sample is `StatusSample` from libs/contracts (what `pipeline start` prints), field for field.
 */
import { ApiProperty } from '@nestjs/swagger';
import type { LayerRates, ShardSample, StatusSample } from '@pipeline/contracts';

export class ShardSampleDto implements ShardSample {
  @ApiProperty()
  shard!: number;
  @ApiProperty({ description: 'Last committed gold batch of the shard.' })
  batch!: number;
  @ApiProperty({ description: 'Watermark (epoch ms), or null before the first one.', type: 'number', nullable: true })
  watermarkMs!: number | null;
  @ApiProperty({ description: 'Newest event time seen by any shard minus this shard watermark (ms), or null.', type: 'number', nullable: true })
  lagMs!: number | null;
  @ApiProperty()
  rows!: number;
  @ApiProperty()
  lateRows!: number;
  @ApiProperty({ description: 'The source partition holding the watermark back, or null.', type: 'string', nullable: true })
  holdingPartition!: string | null;
}

export class LayerRatesDto implements LayerRates {
  @ApiProperty({ description: 'Events captured per second (bronze input).', type: 'number', nullable: true })
  captured!: number | null;
  @ApiProperty({ description: 'Records bronze consumed per second (silver input).', type: 'number', nullable: true })
  bronze!: number | null;
  @ApiProperty({ description: 'Records silver read per second.', type: 'number', nullable: true })
  silver!: number | null;
  @ApiProperty({ description: 'Rows silver wrote per second (gold input).', type: 'number', nullable: true })
  silverRows!: number | null;
  @ApiProperty({ description: 'Rows gold aggregated or routed to the late table per second.', type: 'number', nullable: true })
  gold!: number | null;
}

export class StatusSampleDto implements StatusSample {
  @ApiProperty({ description: 'When the status was read (epoch ms).' })
  at!: number;
  @ApiProperty({ example: { files: 12, events: 2004 } })
  capture!: { files: number; events: number };
  @ApiProperty({ example: { records: 2004, batch: 7 } })
  bronze!: { records: number; batch: number | null };
  @ApiProperty({ example: { records: 2004, rows: 2000, quarantined: 4, duplicates: 0, batch: 3, rowsPerSecond: 812.5 } })
  silver!: { records: number; rows: number; quarantined: number; duplicates: number; batch: number | null; rowsPerSecond: number | null };
  @ApiProperty({ example: { rows: 2000, lateRows: 0, shards: [] } })
  gold!: { rows: number; lateRows: number; shards: ShardSampleDto[] };
  @ApiProperty({ example: { setAside: 0, restored: 0 } })
  rejected!: { setAside: number; restored: number };
  @ApiProperty({ type: 'number', nullable: true, description: 'Dead letters on the bus (a lower bound past the status limit); null when the API cannot read the bus.' })
  deadLetters!: number | null;
  @ApiProperty({ type: LayerRatesDto, description: 'Per second since the previous sample; null for the first.' })
  rates!: LayerRatesDto;
}

export class StatusHistoryErrorDto {
  @ApiProperty({ description: 'When the read failed (epoch ms).' })
  at!: number;
  @ApiProperty()
  message!: string;
}

export class StatusHistoryDto {
  @ApiProperty({ description: 'How often the API samples the status (ms).' })
  everyMs!: number;
  @ApiProperty({ description: 'How far back samples are kept (ms).' })
  keepMs!: number;
  @ApiProperty({ type: [StatusSampleDto], description: 'Oldest first.' })
  samples!: StatusSampleDto[];
  @ApiProperty({ type: StatusHistoryErrorDto, nullable: true, description: 'The last read failed: why. null when it succeeded.' })
  error!: StatusHistoryErrorDto | null;
}

export class StageBatchDto {
  @ApiProperty()
  batch!: number;
  @ApiProperty({ description: "The batch's own time (epoch ms), as its offsets record it; null when retention deleted them.", type: 'number', nullable: true })
  batchTime!: number | null;
  @ApiProperty({ description: 'When the commit was written (epoch ms, the lake modification time).' })
  committedAt!: number;
  @ApiProperty({ description: 'Offsets written to commit written (ms); null when retention deleted the offsets.', type: 'number', nullable: true })
  durationMs!: number | null;
  @ApiProperty({
    description: 'What the batch did: bronze files, records, rejectedFiles; silver records, rows, quarantined, duplicates, rejectedFiles; gold rows, lateRows, windowsEmitted.',
    type: 'object',
    additionalProperties: { type: 'number' },
  })
  counts!: Record<string, number>;
  @ApiProperty({ description: 'Gold: the watermark after the batch (epoch ms); null for other stages.', type: 'number', nullable: true })
  watermarkMs!: number | null;
}

export class GoldShardBatchesDto {
  @ApiProperty()
  shard!: number;
  @ApiProperty({ type: [StageBatchDto], description: 'Newest first.' })
  batches!: StageBatchDto[];
}

export class StageBatchesDto {
  @ApiProperty({ type: [StageBatchDto], description: 'Newest first.' })
  bronze!: StageBatchDto[];
  @ApiProperty({ type: [StageBatchDto], description: 'Newest first.' })
  silver!: StageBatchDto[];
  @ApiProperty({ type: [GoldShardBatchesDto] })
  gold!: GoldShardBatchesDto[];
}

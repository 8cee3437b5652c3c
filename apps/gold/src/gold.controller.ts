import { Controller } from '@nestjs/common';
import { Ctx, EventPattern } from '@nestjs/microservices';
import type { BusContext } from '@pipeline/transport';
import { GoldService } from './gold.service';

/**
 * A silver manifest was announced on a shard's session. The transport delivers each shard's
 * messages in order to the one instance holding that session: that instance is the shard's actor.
 * The message is only a doorbell; the actor reads what the lake holds after its position. The
 * session is held because this instance owns the shard (see `ShardOwnership`), not because of traffic.
 */
@Controller()
export class GoldController {
  constructor(private readonly gold: GoldService) {}

  @EventPattern('silver.batch')
  async onSilverBatch(@Ctx() context: BusContext): Promise<void> {
    const session = context.getSessionId() ?? '';
    const shard = Number(/^shard-(\d+)$/.exec(session)?.[1] ?? NaN);
    if (!Number.isInteger(shard)) throw new Error(`A silver.batch message arrived on session ${JSON.stringify(session)}, which names no shard.`);
    // A doorbell for a shard just handed over is dropped: its new owner catches up from the lake when it takes it.
    await this.gold.catchUpShard(shard);
  }
}

/**
 * The shard actors of this gold instance, created on first use (binding each shard's checkpoint).
 * Running services work only on the shards this instance owns (`ownedBy`): an actor stops before
 * its next batch once its shard is no longer owned, and `stopShard` waits for the batch in hand, so
 * a shard is handed over only between batches. A drain owns every shard.
 */
import { StageCheckpoint } from '@pipeline/checkpoint';
import { shardSession } from '@pipeline/contracts';
import type { Clock } from '@pipeline/engine';
import type { Logger } from '@pipeline/telemetry';
import type { GoldBatchDeps } from './gold-batch';
import { goldLogic, type GoldLogicOptions } from './gold.logic';
import type { GoldCommit, GoldOffsets, GoldState } from './gold-offsets';
import { ShardActor } from './shard-actor';

export interface GoldServiceOptions {
  checkpointName: string;
  maxManifestsPerBatch: number;
  /** Silver rows per gold batch, at most (a single larger manifest still makes one batch). */
  maxBatchRows: number;
  /** Output and input folders other than the defaults, bound into each shard's checkpoint. */
  logic?: GoldLogicOptions;
}

export class GoldService {
  private readonly actors = new Map<number, Promise<ShardActor>>();
  private owns: (shard: number) => boolean = () => true;

  constructor(
    private readonly deps: GoldBatchDeps,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: GoldServiceOptions,
  ) {}

  get shards(): number {
    return this.deps.spec.gold.shards;
  }

  actor(shard: number): Promise<ShardActor> {
    if (!Number.isInteger(shard) || shard < 0 || shard >= this.shards) throw new RangeError(`Gold has shards 0–${this.shards - 1}; there is no shard ${shard}.`);
    let actor = this.actors.get(shard);
    if (!actor) {
      actor = (async () => {
        const checkpoint = new StageCheckpoint<GoldOffsets, GoldCommit, GoldState>(this.deps.lake, `checkpoints/${this.options.checkpointName}/${shardSession(shard)}`);
        const metadata = await checkpoint.bind('gold', goldLogic(this.deps.spec, this.options.logic));
        // The actor lists silver manifests in the log its batches read them from.
        return new ShardActor(
          shard,
          this.deps,
          checkpoint,
          metadata.queryId,
          this.deps.manifests,
          this.clock,
          this.logger,
          this.options.maxManifestsPerBatch,
          this.options.maxBatchRows,
        );
      })();
      actor.catch(() => this.actors.delete(shard));
      this.actors.set(shard, actor);
    }
    return actor;
  }

  /** From now on, work only on the shards `owns` names. */
  ownedBy(owns: (shard: number) => boolean): void {
    this.owns = owns;
  }

  ownsShard(shard: number): boolean {
    return this.owns(shard);
  }

  /** Catches one shard up with the silver manifests in the lake; nothing when the shard is not owned. */
  async catchUpShard(shard: number): Promise<number> {
    if (!this.owns(shard)) return 0;
    return (await this.actor(shard)).catchUp(() => this.owns(shard));
  }

  /** Waits for the shard's batch in hand (the shard is no longer owned, so no next batch starts). */
  async stopShard(shard: number): Promise<void> {
    const actor = this.actors.get(shard);
    if (!actor) return;
    await (await actor.catch(() => undefined))?.idle();
  }

  /**
   * Every shard, one after the other (draining); with `endOfInput`, each shard then finishes its
   * input. A shard that fails does not hold the others back: they are worked too, and then the
   * failure is thrown (with several, one error naming each shard and its failure).
   */
  async catchUpAll(endOfInput = false): Promise<number> {
    let batches = 0;
    const failures: Array<{ shard: number; error: unknown }> = [];
    for (let shard = 0; shard < this.shards; shard++) {
      try {
        batches += await this.catchUpShard(shard);
        if (endOfInput && (await (await this.actor(shard)).finishInput())) batches++;
      } catch (error) {
        failures.push({ shard, error });
      }
    }
    if (failures.length === 1) throw (failures[0] as { error: unknown }).error;
    if (failures.length > 1) {
      const lines = failures.map(({ shard, error }) => `${shardSession(shard)}: ${error instanceof Error ? error.message : String(error)}`);
      throw new Error(`${failures.length} gold shards failed (the others caught up):\n${lines.join('\n')}`, { cause: failures[0]?.error });
    }
    return batches;
  }
}

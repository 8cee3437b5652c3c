/**
 * Event processor checkpoints and partition ownership in a SQLite file (the local counterpart of
 * the Azure blob checkpoint store), shared safely by several processes.
 *
 * Invariants:
 * - Ownership claims use optimistic concurrency: a claim carrying an etag succeeds only if it
 *   matches the stored etag; a claim without one succeeds only if nobody has claimed the partition
 *   yet. Each success stores a fresh etag, so of two claims made with the same etag one wins.
 * - Checkpoints are upserts: the last update for a partition wins.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { systemClock, type Clock } from '@pipeline/engine';
import { EventHubError, type Checkpoint, type CheckpointStore, type PartitionOwnership } from '@pipeline/ports';
import { openSharedSqlite } from './local.sqlite';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS eh_ownership (
    namespace TEXT NOT NULL,
    hub TEXT NOT NULL,
    consumer_group TEXT NOT NULL,
    partition_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (namespace, hub, consumer_group, partition_id)
  );
  CREATE TABLE IF NOT EXISTS eh_checkpoints (
    namespace TEXT NOT NULL,
    hub TEXT NOT NULL,
    consumer_group TEXT NOT NULL,
    partition_id TEXT NOT NULL,
    sequence_number INTEGER NOT NULL,
    byte_offset TEXT NOT NULL,
    PRIMARY KEY (namespace, hub, consumer_group, partition_id)
  );
`;

interface OwnershipRow {
  namespace: string;
  hub: string;
  consumer_group: string;
  partition_id: string;
  owner_id: string;
  last_modified: number;
  etag: string;
}

interface CheckpointRow {
  namespace: string;
  hub: string;
  consumer_group: string;
  partition_id: string;
  sequence_number: number;
  byte_offset: string;
}

/** Numeric partition ids in numeric order ("2" before "10"). */
const PARTITION_ORDER = 'ORDER BY length(partition_id), partition_id';

export class LocalCheckpointStore implements CheckpointStore {
  private readonly db: Database.Database;
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly claimAll: (ownerships: PartitionOwnership[]) => PartitionOwnership[];
  private closed = false;

  constructor(
    readonly file: string,
    private readonly clock: Clock = systemClock,
  ) {
    this.db = openSharedSqlite(file, SCHEMA, 'local checkpoint store');
    this.statements = prepareStatements(this.db);
    this.claimAll = this.db.transaction((ownerships: PartitionOwnership[]) => ownerships.flatMap((o) => this.claim(o))).immediate;
  }

  async listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    this.assertOpen();
    return this.statements.listOwnership.all(fullyQualifiedNamespace, eventHubName, consumerGroup).map(toOwnership);
  }

  async claimOwnership(ownerships: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    this.assertOpen();
    if (!Array.isArray(ownerships)) throw new EventHubError(`claimOwnership expects an array of ownerships, got ${typeof ownerships}.`);
    ownerships.forEach(assertOwnership);
    return this.claimAll(ownerships);
  }

  async deleteOwnership(ownership: PartitionOwnership): Promise<boolean> {
    this.assertOpen();
    assertKey(ownership, 'partition ownership');
    assertEtag(ownership);
    const { fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, etag } = ownership;
    return this.statements.deleteOwnership.run(fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, etag as string).changes === 1;
  }

  async listCheckpoints(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<Checkpoint[]> {
    this.assertOpen();
    return this.statements.listCheckpoints.all(fullyQualifiedNamespace, eventHubName, consumerGroup).map(toCheckpoint);
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    this.assertOpen();
    const { fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, sequenceNumber, offset } = checkpoint;
    assertKey(checkpoint, 'checkpoint');
    if (!Number.isInteger(sequenceNumber) || sequenceNumber < 0) {
      throw new EventHubError(`Checkpoint of partition ${partitionId} needs a sequenceNumber ≥ 0, got ${String(sequenceNumber)}.`);
    }
    if (typeof offset !== 'string' || offset === '') throw new EventHubError(`Checkpoint of partition ${partitionId} needs an offset string, got ${JSON.stringify(offset)}.`);
    this.statements.upsertCheckpoint.run(fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, sequenceNumber, offset);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** One claim, inside the IMMEDIATE transaction of `claimAll`: `[]` when it lost. */
  private claim(ownership: PartitionOwnership): PartitionOwnership[] {
    const now = this.clock.now();
    const etag = randomUUID();
    const { fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, ownerId } = ownership;
    const result =
      ownership.etag === undefined
        ? this.statements.insertOwnership.run(fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, ownerId, now, etag)
        : this.statements.updateOwnership.run(ownerId, now, etag, fullyQualifiedNamespace, eventHubName, consumerGroup, partitionId, ownership.etag);
    return result.changes === 1 ? [{ ...ownership, lastModifiedTimeInMs: now, etag }] : [];
  }

  private assertOpen(): void {
    if (this.closed) throw new EventHubError(`The local checkpoint store ${this.file} is closed; create a new one to use it again.`);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    listOwnership: db.prepare<[string, string, string], OwnershipRow>(`SELECT * FROM eh_ownership WHERE namespace = ? AND hub = ? AND consumer_group = ? ${PARTITION_ORDER}`),
    insertOwnership: db.prepare<[string, string, string, string, string, number, string]>(
      `INSERT INTO eh_ownership (namespace, hub, consumer_group, partition_id, owner_id, last_modified, etag)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    updateOwnership: db.prepare<[string, number, string, string, string, string, string, string]>(
      `UPDATE eh_ownership SET owner_id = ?, last_modified = ?, etag = ?
       WHERE namespace = ? AND hub = ? AND consumer_group = ? AND partition_id = ? AND etag = ?`,
    ),
    deleteOwnership: db.prepare<[string, string, string, string, string]>(
      'DELETE FROM eh_ownership WHERE namespace = ? AND hub = ? AND consumer_group = ? AND partition_id = ? AND etag = ?',
    ),
    listCheckpoints: db.prepare<[string, string, string], CheckpointRow>(`SELECT * FROM eh_checkpoints WHERE namespace = ? AND hub = ? AND consumer_group = ? ${PARTITION_ORDER}`),
    upsertCheckpoint: db.prepare<[string, string, string, string, number, string]>(
      `INSERT INTO eh_checkpoints (namespace, hub, consumer_group, partition_id, sequence_number, byte_offset)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (namespace, hub, consumer_group, partition_id)
       DO UPDATE SET sequence_number = excluded.sequence_number, byte_offset = excluded.byte_offset`,
    ),
  };
}

function toOwnership(row: OwnershipRow): PartitionOwnership {
  return {
    fullyQualifiedNamespace: row.namespace,
    eventHubName: row.hub,
    consumerGroup: row.consumer_group,
    partitionId: row.partition_id,
    ownerId: row.owner_id,
    lastModifiedTimeInMs: row.last_modified,
    etag: row.etag,
  };
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    fullyQualifiedNamespace: row.namespace,
    eventHubName: row.hub,
    consumerGroup: row.consumer_group,
    partitionId: row.partition_id,
    sequenceNumber: row.sequence_number,
    offset: row.byte_offset,
  };
}

function assertKey(value: { fullyQualifiedNamespace: string; eventHubName: string; consumerGroup: string; partitionId: string }, what: string): void {
  for (const field of ['fullyQualifiedNamespace', 'eventHubName', 'consumerGroup', 'partitionId'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '') {
      throw new EventHubError(`A ${what} needs a non-empty ${field}, got ${JSON.stringify(value[field])}.`);
    }
  }
}

function assertOwnership(ownership: PartitionOwnership): void {
  assertKey(ownership, 'partition ownership');
  // An empty ownerId is a release, as Event Hubs processors relinquish partitions on shutdown.
  if (typeof ownership.ownerId !== 'string') {
    throw new EventHubError(`The ownership claim of partition ${ownership.partitionId} needs a string ownerId (empty to release), got ${JSON.stringify(ownership.ownerId)}.`);
  }
}

/** A delete names the version it deletes: without an etag it could remove a record renewed meanwhile. */
function assertEtag(ownership: PartitionOwnership): void {
  if (typeof ownership.etag !== 'string' || ownership.etag === '') {
    throw new EventHubError(`Deleting the ownership record of partition ${ownership.partitionId} needs the etag it was listed with, got ${JSON.stringify(ownership.etag)}.`);
  }
}

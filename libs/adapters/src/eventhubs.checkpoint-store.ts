/**
 * The `CheckpointStore` port on Azure Blob Storage, through the Azure SDK's `BlobCheckpointStore`
 * and its blob layout (`<namespace>/<hub>/<consumer group>/ownership|checkpoint/<partition>`, all
 * lower case), so Azure SDK event processors and this pipeline read the same blobs.
 *
 * One difference is closed here: the SDK store grants a claim without an etag unconditionally
 * (its load balancer always passes the etag it listed), while the port refuses such a claim once
 * the partition is owned. A claim without an etag is therefore a create-if-absent of the ownership
 * blob (`If-None-Match: *`); claims with an etag go to the SDK store, whose `If-Match` refuses a
 * stale one. Claims are made one by one, so a refused or vanished claim never hides another's result.
 * A delete is conditional on the etag (`If-Match`), so a record renewed since it was listed stays.
 * Etags are handed out quoted, listed or claimed alike.
 */
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import { EventHubError, FatalBackendError, type Checkpoint, type CheckpointStore, type PartitionOwnership } from '@pipeline/ports';

/** A claim that lost a race: the blob exists already (409), its etag moved on (412), or it is gone (404, not the container). */
function isLostClaim(error: unknown): boolean {
  if (!(error instanceof RestError)) return false;
  if (error.statusCode === 409 || error.statusCode === 412) return true;
  return error.statusCode === 404 && error.code !== 'ContainerNotFound';
}

/**
 * Blob listings give etags bare and write responses give them quoted (the HTTP form `If-Match`
 * takes): the port hands out one form, so an etag from a listing equals the one from the claim.
 */
function quotedEtag(etag: string | undefined): string | undefined {
  if (etag === undefined || etag === '' || etag.startsWith('"') || etag.startsWith('W/')) return etag;
  return `"${etag}"`;
}

export class EventHubsBlobCheckpointStore implements CheckpointStore {
  private readonly store: BlobCheckpointStore;
  /** The container URL without any query string, so a SAS token never reaches a message. */
  readonly location: string;

  constructor(private readonly container: ContainerClient) {
    this.store = new BlobCheckpointStore(container);
    this.location = container.url.split('?')[0] ?? container.url;
  }

  async listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    const listed = await this.call('list the partition ownership', () => this.store.listOwnership(fullyQualifiedNamespace, eventHubName, consumerGroup));
    return listed.map((ownership) => ({ ...ownership, etag: quotedEtag(ownership.etag) }));
  }

  async claimOwnership(ownerships: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const granted: PartitionOwnership[] = [];
    for (const ownership of ownerships) {
      const claimed = await this.call(`claim partition ${ownership.partitionId}`, () => this.claim(ownership));
      if (claimed) granted.push(claimed);
    }
    return granted;
  }

  async deleteOwnership(ownership: PartitionOwnership): Promise<boolean> {
    if (typeof ownership.etag !== 'string' || ownership.etag === '') {
      throw new EventHubError(`Deleting the ownership record of partition ${ownership.partitionId} needs the etag it was listed with, got ${JSON.stringify(ownership.etag)}.`);
    }
    const etag = ownership.etag;
    return this.call(`delete the ownership record of partition ${ownership.partitionId}`, async () => {
      try {
        await this.container.getBlockBlobClient(ownershipBlobName(ownership)).delete({ conditions: { ifMatch: etag } });
        return true;
      } catch (error) {
        if (isLostClaim(error)) return false;
        throw error;
      }
    });
  }

  async listCheckpoints(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<Checkpoint[]> {
    return this.call('list the checkpoints', () => this.store.listCheckpoints(fullyQualifiedNamespace, eventHubName, consumerGroup));
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.call(`update the checkpoint of partition ${checkpoint.partitionId}`, () => this.store.updateCheckpoint({ ...checkpoint }));
  }

  private async claim(ownership: PartitionOwnership): Promise<PartitionOwnership | undefined> {
    // The SDK store writes the stamped etag and time into the object it is given: give it a copy.
    const claim: PartitionOwnership = { ...ownership };
    try {
      if (claim.etag !== undefined && claim.etag !== '') {
        const [granted] = await this.store.claimOwnership([claim]);
        return granted && { ...granted, etag: quotedEtag(granted.etag) };
      }
      const response = await this.container.getBlockBlobClient(ownershipBlobName(claim)).upload('', 0, {
        metadata: { ownerid: claim.ownerId },
        conditions: { ifNoneMatch: '*' },
      });
      return { ...claim, etag: quotedEtag(response.etag), lastModifiedTimeInMs: response.lastModified?.getTime() };
    } catch (error) {
      if (isLostClaim(error)) return undefined;
      throw error;
    }
  }

  /** Storage failures no retry fixes (missing container, refused credentials) become `FatalBackendError`. */
  private async call<T>(operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      const fix = fatalStorageFix(error);
      if (fix === undefined) throw error;
      const resource = `checkpoint store container ${this.location}`;
      throw new FatalBackendError(`Could not ${operation} in the ${resource}: ${fix}.`, resource, { cause: error });
    }
  }
}

/** The SDK's checkpoint store over `container`, fitted to the port (see the module comment). */
export function blobCheckpointStore(container: ContainerClient): EventHubsBlobCheckpointStore {
  return new EventHubsBlobCheckpointStore(container);
}

/** The blob the SDK's `BlobCheckpointStore` keeps a partition's ownership in. */
export function ownershipBlobName(ownership: Pick<PartitionOwnership, 'fullyQualifiedNamespace' | 'eventHubName' | 'consumerGroup' | 'partitionId'>): string {
  return `${ownership.fullyQualifiedNamespace.toLowerCase()}/${ownership.eventHubName.toLowerCase()}/${ownership.consumerGroup.toLowerCase()}/ownership/${ownership.partitionId}`;
}

function fatalStorageFix(error: unknown): string | undefined {
  if (!(error instanceof RestError)) return undefined;
  const code = typeof error.code === 'string' ? error.code : '';
  if (code === 'ContainerNotFound') return 'the container does not exist: create it, or fix the container name';
  if (error.statusCode === 401 || error.statusCode === 403) {
    return 'the storage account refused the credentials: grant the identity "Storage Blob Data Contributor" on the container, or fix the connection string or SAS';
  }
  return undefined;
}

/**
 * How the Event Hubs adapters reach a namespace: Microsoft Entra ID in production, a connection
 * string for the Event Hubs emulator and tests. The namespace is read once, without secrets, for
 * messages and `fullyQualifiedNamespace`; retries are exponential and bounded.
 */
import { parseEventHubConnectionString, RetryMode, type RetryOptions } from '@azure/event-hubs';
import type { NamespaceAccess } from './azure-access';
import { EventHubError } from '@pipeline/ports';
import { toEventHubsFailure } from './eventhubs.errors';

export type EventHubsAccess = NamespaceAccess;

/**
 * The SDK retries each operation up to 5 times, 0.5 s doubling to at most 15 s apart (about 30 s
 * in all), each try timing out after 30 s; what still fails is classified by the adapters.
 */
export const DEFAULT_EVENTHUBS_RETRY_OPTIONS: Readonly<RetryOptions> = {
  mode: RetryMode.Exponential,
  maxRetries: 5,
  retryDelayInMs: 500,
  maxRetryDelayInMs: 15_000,
  timeoutInMs: 30_000,
};

/** The namespace host of `access`, validated; connection string problems never echo the string. */
export function namespaceOf(access: EventHubsAccess, hubName: string): string {
  if (typeof hubName !== 'string' || hubName.trim() === '') {
    throw new EventHubError(`The Event Hubs adapters need an event hub name, got ${JSON.stringify(hubName)}.`);
  }
  if ('connectionString' in access) {
    let properties: ReturnType<typeof parseEventHubConnectionString>;
    try {
      properties = parseEventHubConnectionString(access.connectionString);
    } catch {
      throw new EventHubError(
        `The Event Hubs connection string for event hub "${hubName}" could not be parsed: it needs Endpoint=sb://<namespace>/ and SharedAccessKeyName/SharedAccessKey (or SharedAccessSignature).`,
      );
    }
    if (properties.eventHubName !== undefined && properties.eventHubName !== hubName) {
      throw new EventHubError(
        `The Event Hubs connection string names event hub "${properties.eventHubName}" (EntityPath) but the adapter was opened for "${hubName}": use the same name, or a namespace-level connection string.`,
      );
    }
    return properties.fullyQualifiedNamespace;
  }
  const namespace = access.fullyQualifiedNamespace;
  if (typeof namespace !== 'string' || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(namespace)) {
    throw new EventHubError(
      `The Event Hubs fully qualified namespace must be a host name such as "<name>.servicebus.windows.net" (no scheme or path), got ${JSON.stringify(namespace)}.`,
    );
  }
  return namespace;
}

/** A hub's partition ids, read again once on a miss: partitions can be added to a hub (premium and dedicated tiers). */
export class PartitionDirectory {
  constructor(
    private ids: readonly string[],
    private readonly read: () => Promise<string[]>,
    private readonly resource: string,
  ) {}

  list(): string[] {
    return [...this.ids];
  }

  async assert(partitionId: string): Promise<void> {
    if (this.ids.includes(partitionId)) return;
    try {
      this.ids = await this.read();
    } catch (error) {
      throw toEventHubsFailure(error, 'read the partition ids', this.resource);
    }
    if (!this.ids.includes(partitionId)) {
      throw new EventHubError(`${this.resource} has no partition ${JSON.stringify(partitionId)}; its partitions are ${this.ids.map((id) => JSON.stringify(id)).join(', ')}.`);
    }
  }
}

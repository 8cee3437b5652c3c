import type { TokenCredential } from '@azure/identity';

/**
 * How an Event Hubs or Service Bus client reaches its namespace: the namespace host with a
 * Microsoft Entra ID credential, or a connection string (emulators and tests only).
 */
export type NamespaceAccess = { fullyQualifiedNamespace: string; credential: TokenCredential } | { connectionString: string };

/**
 * Which backend each port uses, read from settings: `PIPELINE_BACKEND=local|azure` for all of
 * them, overridable per port (`PIPELINE_LAKE_BACKEND`, `PIPELINE_EVENT_HUB_BACKEND`,
 * `PIPELINE_BUS_BACKEND`, `PIPELINE_SERVING_BACKEND`).
 *
 * An Azure backend is reached by its endpoint with Microsoft Entra ID (`DefaultAzureCredential`:
 * a managed identity in Container Apps, `AZURE_CLIENT_ID` naming a user-assigned one, or the
 * developer's login), or by a connection string — meant for emulators and tests only. Exactly one
 * of the two must be set; a connection string is secret and never echoed in a problem.
 * Readers only describe the backend: opening it is the adapters' job (`@pipeline/adapters`).
 */
import { localPaths } from './home';
import type { SettingsReader } from './settings';

export type BackendKind = 'local' | 'azure';
export type BackendPort = 'lake' | 'eventHub' | 'bus' | 'serving';

/** How to reach an Azure service: an endpoint with Entra ID, or a connection string. */
/**
 * Which Microsoft Entra ID credential a service signs in with (`AZURE_CREDENTIAL`):
 * - `default`: `DefaultAzureCredential`, which tries the environment, workload identity, managed
 *   identity, then developer logins (Azure CLI, …): right on a laptop;
 * - `managed-identity`: `ManagedIdentityCredential` only, the user-assigned identity whose client id
 *   is `AZURE_CLIENT_ID` (the system-assigned one without it): deterministic, what Microsoft
 *   advises in production, and what the Azure deployment sets.
 */
export type EntraCredential = { kind: 'default' } | { kind: 'managed-identity'; clientId?: string };

export type AzureAccess = { kind: 'entra'; endpoint: string; credential: EntraCredential } | { kind: 'connection-string'; connectionString: string };

export type LakeBackend = { kind: 'local'; root: string } | { kind: 'azure'; storage: AzureAccess; container: string; root?: string };
export type EventHubBackend =
  | { kind: 'local'; file: string; namespace: string }
  /** `namespace` is the short namespace name Capture paths use ({Namespace}). */
  | { kind: 'azure'; access: AzureAccess; namespace: string };
export type CheckpointStoreBackend = { kind: 'local'; file: string } | { kind: 'azure'; storage: AzureAccess; container: string };
export type BusBackend = { kind: 'local'; file: string } | { kind: 'azure'; access: AzureAccess };
export type ServingBackend = { kind: 'local'; file: string } | { kind: 'azure'; access: AzureAccess; database: string; container: string };

const KINDS = ['local', 'azure'] as const;
const PORT_VARIABLE: Record<BackendPort, string> = {
  lake: 'PIPELINE_LAKE_BACKEND',
  eventHub: 'PIPELINE_EVENT_HUB_BACKEND',
  bus: 'PIPELINE_BUS_BACKEND',
  serving: 'PIPELINE_SERVING_BACKEND',
};
const CONTAINER_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const COSMOS_NAME = /^[^/\\#?\s]{1,255}$/;
const LAKE_FOLDER = /^[A-Za-z0-9._=-]+(\/[A-Za-z0-9._=-]+)*$/;
/** How Event Hubs and Service Bus namespaces are named: the same endpoint and connection-string forms. */
const MESSAGING_NAMESPACE = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9-]{4,48}[A-Za-z0-9]\.[A-Za-z0-9.-]+$/,
  describe: 'the fully qualified namespace, e.g. <namespace>.servicebus.windows.net',
  connectionStringKey: /(^|;)\s*Endpoint=sb:\/\//i,
  connectionStringDescribe: 'a connection string starting Endpoint=sb://<host>/;',
};

/** The backend kind of one port: its own variable, else `PIPELINE_BACKEND`, else local. */
function backendKind(settings: SettingsReader, port: BackendPort): BackendKind {
  const all = settings.oneOf('PIPELINE_BACKEND', KINDS, { default: 'local' });
  return settings.oneOf(PORT_VARIABLE[port], KINDS, { default: all });
}

/**
 * Reads `<endpointName>` or `<connectionStringName>`: exactly one is required. The endpoint must
 * match `endpoint.pattern`; a connection string must name its endpoint (`Endpoint=`, `AccountEndpoint=`
 * or `BlobEndpoint=`/`AccountName=` as the service writes them).
 */
function azureAccess(
  settings: SettingsReader,
  names: { endpoint: string; connectionString: string },
  endpoint: { pattern: RegExp; describe: string; connectionStringKey: RegExp; connectionStringDescribe: string },
): AzureAccess {
  const url = settings.optionalString(names.endpoint);
  const connectionString = settings.optionalString(names.connectionString);
  if (url !== undefined && connectionString !== undefined) {
    settings.problem(`${names.endpoint} / ${names.connectionString}`, 'one of them (the endpoint with Microsoft Entra ID, or a connection string for emulators)', 'both');
  }
  if (connectionString !== undefined) {
    if (!endpoint.connectionStringKey.test(connectionString)) settings.problem(names.connectionString, endpoint.connectionStringDescribe, 'a malformed value');
    return { kind: 'connection-string', connectionString };
  }
  const credential = entraCredential(settings);
  if (url === undefined) {
    settings.problem(names.endpoint, `${endpoint.describe} (or ${names.connectionString} for an emulator)`, 'nothing (it is required with the azure backend)');
    return { kind: 'entra', endpoint: '', credential };
  }
  if (!endpoint.pattern.test(url)) settings.problem(names.endpoint, endpoint.describe, JSON.stringify(url));
  return { kind: 'entra', endpoint: url, credential };
}

const CLIENT_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** `AZURE_CREDENTIAL` (and `AZURE_CLIENT_ID` for a user-assigned managed identity). */
export function entraCredential(settings: SettingsReader): EntraCredential {
  const kind = settings.oneOf('AZURE_CREDENTIAL', ['default', 'managed-identity'] as const, { default: 'default' });
  if (kind === 'default') return { kind };
  const clientId = settings.optionalString('AZURE_CLIENT_ID');
  if (clientId === undefined) return { kind };
  if (!CLIENT_ID.test(clientId)) settings.problem('AZURE_CLIENT_ID', 'the client id (a GUID) of the user-assigned managed identity', JSON.stringify(clientId));
  return { kind, clientId };
}

function storageAccess(settings: SettingsReader): AzureAccess {
  return azureAccess(
    settings,
    { endpoint: 'AZURE_STORAGE_ACCOUNT_URL', connectionString: 'AZURE_STORAGE_CONNECTION_STRING' },
    {
      pattern: /^https?:\/\/[^\s/?#]+\/?$/,
      describe: 'the Blob endpoint of the storage account, e.g. https://<account>.blob.core.windows.net',
      connectionStringKey: /(^|;)\s*(BlobEndpoint|AccountName|UseDevelopmentStorage)=/i,
      connectionStringDescribe: 'a storage connection string (AccountName=…;AccountKey=…;BlobEndpoint=… or UseDevelopmentStorage=true)',
    },
  );
}

export function readLakeBackend(settings: SettingsReader, home: string): LakeBackend {
  if (backendKind(settings, 'lake') === 'local') return { kind: 'local', root: localPaths(home).lakeRoot };
  const storage = storageAccess(settings);
  const container = settings.string('PIPELINE_LAKE_CONTAINER', {
    default: 'lake',
    pattern: CONTAINER_NAME,
    describe: 'a container (ADLS Gen2 filesystem) name: 3-63 lowercase letters, digits and single hyphens',
  });
  const root = settings.string('PIPELINE_LAKE_ROOT', {
    default: '',
    pattern: LAKE_FOLDER,
    describe: 'a folder inside the container, like pipelines/sensors (no leading or trailing /)',
  });
  return { kind: 'azure', storage, container, ...(root ? { root } : {}) };
}

/**
 * The short namespace name capture paths carry ({Namespace}): `PIPELINE_EVENT_HUB_NAMESPACE`, else
 * the first label of the namespace host (`AZURE_EVENTHUBS_NAMESPACE` or the connection string's
 * endpoint), else `local`. Capture and bronze read it the same way, so their paths agree.
 */
export function readEventHubNamespaceName(settings: SettingsReader): string {
  const explicit = settings.string('PIPELINE_EVENT_HUB_NAMESPACE', { default: '', pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/, describe: 'a namespace name' });
  if (explicit) return explicit;
  const host = settings.optionalString('AZURE_EVENTHUBS_NAMESPACE') ?? connectionStringValue(settings.optionalString('AZURE_EVENTHUBS_CONNECTION_STRING') ?? '', 'Endpoint');
  return host?.replace(/^[a-z]+:\/\//i, '').split(/[./]/)[0] || 'local';
}

export function readEventHubBackend(settings: SettingsReader, home: string): EventHubBackend {
  if (backendKind(settings, 'eventHub') === 'local') return { kind: 'local', file: localPaths(home).eventHubFile, namespace: readEventHubNamespaceName(settings) };
  const access = azureAccess(settings, { endpoint: 'AZURE_EVENTHUBS_NAMESPACE', connectionString: 'AZURE_EVENTHUBS_CONNECTION_STRING' }, MESSAGING_NAMESPACE);
  return { kind: 'azure', access, namespace: readEventHubNamespaceName(settings) };
}

/** Where a consumer keeps partition ownership and checkpoints: follows the event hub's backend. */
export function readCheckpointStoreBackend(settings: SettingsReader, home: string): CheckpointStoreBackend {
  if (backendKind(settings, 'eventHub') === 'local') return { kind: 'local', file: localPaths(home).checkpointStoreFile };
  const storage = storageAccess(settings);
  const container = settings.string('CAPTURE_CHECKPOINT_CONTAINER', {
    default: 'eventhub-checkpoints',
    pattern: CONTAINER_NAME,
    describe: 'a blob container name: 3-63 lowercase letters, digits and single hyphens',
  });
  return { kind: 'azure', storage, container };
}

/**
 * Where a partitioned stage that reads no event hub (gold) keeps its ownership records: the
 * embedded checkpoint store, or a blob container of the lake's storage account on Azure (same
 * access as the lake; `PIPELINE_OWNERSHIP_CONTAINER`, default `ownership`).
 */
export function readOwnershipStoreBackend(settings: SettingsReader, home: string): CheckpointStoreBackend {
  if (backendKind(settings, 'lake') === 'local') return { kind: 'local', file: localPaths(home).checkpointStoreFile };
  const storage = storageAccess(settings);
  const container = settings.string('PIPELINE_OWNERSHIP_CONTAINER', {
    default: 'ownership',
    pattern: CONTAINER_NAME,
    describe: 'a blob container name: 3-63 lowercase letters, digits and single hyphens',
  });
  return { kind: 'azure', storage, container };
}

export function readBusBackend(settings: SettingsReader, home: string): BusBackend {
  if (backendKind(settings, 'bus') === 'local') return { kind: 'local', file: localPaths(home).busFile };
  const access = azureAccess(settings, { endpoint: 'AZURE_SERVICEBUS_NAMESPACE', connectionString: 'AZURE_SERVICEBUS_CONNECTION_STRING' }, MESSAGING_NAMESPACE);
  return { kind: 'azure', access };
}

/**
 * The bus for a reader that can do without one (the serving API's dead-letter counts): the
 * embedded bus when the bus backend is local; on Azure only when the namespace (or a connection
 * string) is given, `undefined` otherwise, without a problem.
 */
export function readOptionalBusBackend(settings: SettingsReader, home: string): BusBackend | undefined {
  if (backendKind(settings, 'bus') === 'local') return { kind: 'local', file: localPaths(home).busFile };
  if (settings.optionalString('AZURE_SERVICEBUS_NAMESPACE') === undefined && settings.optionalString('AZURE_SERVICEBUS_CONNECTION_STRING') === undefined) return undefined;
  return readBusBackend(settings, home);
}

export function readServingBackend(settings: SettingsReader, localFile: string): ServingBackend {
  if (backendKind(settings, 'serving') === 'local') return { kind: 'local', file: localFile };
  const access = azureAccess(
    settings,
    { endpoint: 'AZURE_COSMOS_ENDPOINT', connectionString: 'AZURE_COSMOS_CONNECTION_STRING' },
    {
      pattern: /^https?:\/\/[^\s/?#]+\/?$/,
      describe: 'the Cosmos DB account endpoint, e.g. https://<account>.documents.azure.com:443/',
      connectionStringKey: /(^|;)\s*AccountEndpoint=/i,
      connectionStringDescribe: 'a connection string AccountEndpoint=…;AccountKey=…;',
    },
  );
  const database = settings.string('PIPELINE_COSMOS_DATABASE', { default: 'pipeline', pattern: COSMOS_NAME, describe: 'a database id (no / \\ # ? or spaces)' });
  const container = settings.string('PIPELINE_COSMOS_CONTAINER', { default: 'serving', pattern: COSMOS_NAME, describe: 'a container id (no / \\ # ? or spaces)' });
  return { kind: 'azure', access, database, container };
}

/** The value of the first of `keys` a `Key=value;…` connection string has (keys ignore case), trimmed. */
export function connectionStringValue(connectionString: string, ...keys: string[]): string | undefined {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  for (const key of keys) {
    const value = parts.get(key.toLowerCase());
    if (value) return value;
  }
  return undefined;
}

/** Where a backend is, for logs and status: never a key or connection string. */
export function describeAccess(access: AzureAccess): string {
  if (access.kind === 'entra') return access.endpoint;
  const endpoint = connectionStringValue(access.connectionString, 'Endpoint', 'AccountEndpoint', 'BlobEndpoint');
  const account = connectionStringValue(access.connectionString, 'AccountName');
  return `${endpoint ?? (account ? `account ${account}` : 'an endpoint')} (connection string)`;
}

/** Where a lake is, for logs: the folder, or the account and container (never a key). */
export function lakeLocation(backend: LakeBackend): string {
  if (backend.kind === 'local') return backend.root;
  return `${describeAccess(backend.storage)} container ${backend.container}${backend.root ? `/${backend.root}` : ''}`;
}

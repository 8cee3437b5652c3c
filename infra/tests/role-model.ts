/**
 * What each service's identity must be allowed to do, derived from code, and what main.bicep grants it.
 *
 * - Required: the Azure SDK calls in the Azure adapters (libs/adapters/src), mapped by SDK_CALLS to
 *   data actions, for each (port, access) a service uses (SERVICE_ACCESS, which the tests check
 *   against the services' sources).
 * - Azure services acting for the pipeline with their own managed identity (SYSTEM_ACCESS: Event
 *   Grid delivering Capture notices) need what their documentation names, not what adapters call.
 * - Granted: the role modules of main.bicep (modules/roles/*.bicep): whose identity, which built-in
 *   role (ROLES: its actions and data actions, wildcards as Azure writes them), on which resource,
 *   under which `if (...)` condition.
 * - `coverageProblems` lists every required action not granted, every grant that serves nothing
 *   the principal needs (least privilege), and every grant whose condition differs from the one the
 *   use has (a grant that outlives its use, or a use deployed without its grant).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { declarations, propertyValue, stringVars, varValue } from './bicep-text';

export type Port = 'lake' | 'checkpoints' | 'event-hub' | 'bus' | 'serving';
export type Access = 'read' | 'write' | 'send' | 'receive';

/** A resource a grant is scoped to, as the role modules name it. */
export type Target = { kind: 'blob-container' | 'hub' | 'queue'; name: string } | { kind: 'cosmos' } | { kind: 'registry' };

export interface PortUse {
  port: Port;
  access: Access;
  target: Target;
  /** The main.bicep condition under which the service uses it (the grant's `if (...)`); undefined: always. */
  when?: string;
}

const BLOB = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';
const COSMOS_ITEMS = 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items';

interface SdkCall {
  /** Matches the call in adapter source. */
  pattern: RegExp;
  port: Port;
  /** The access this call belongs to; calls used by both directions list both. */
  access: Access[];
  dataActions: string[];
}

/**
 * SDK method → data actions (Azure resource provider operations). Creating entities
 * (`createIfNotExists`, `createQueue`) maps to the management action, which no data role grants.
 */
export const SDK_CALLS: Record<string, SdkCall> = {
  'BlockBlobClient.uploadData': { pattern: /\.uploadData\(/, port: 'lake', access: ['write'], dataActions: [`${BLOB}/write`] },
  'BlockBlobClient.upload': { pattern: /\.upload\(/, port: 'lake', access: ['write'], dataActions: [`${BLOB}/write`] },
  'BlobClient.deleteIfExists': { pattern: /\.deleteIfExists\(/, port: 'lake', access: ['write'], dataActions: [`${BLOB}/delete`] },
  'BlobClient.downloadToBuffer': { pattern: /\.downloadToBuffer\(/, port: 'lake', access: ['read', 'write'], dataActions: [`${BLOB}/read`] },
  'BlobClient.download': { pattern: /\.download\(/, port: 'lake', access: ['read', 'write'], dataActions: [`${BLOB}/read`] },
  'BlobClient.getProperties': { pattern: /\.getProperties\(/, port: 'lake', access: ['read', 'write'], dataActions: [`${BLOB}/read`] },
  'ContainerClient.listBlobsFlat': { pattern: /\.listBlobsFlat\(/, port: 'lake', access: ['read', 'write'], dataActions: [`${BLOB}/read`] },
  'BlobCheckpointStore.claimOwnership': { pattern: /\.claimOwnership\(/, port: 'checkpoints', access: ['write'], dataActions: [`${BLOB}/write`, `${BLOB}/read`] },
  'BlobCheckpointStore.updateCheckpoint': { pattern: /\.updateCheckpoint\(/, port: 'checkpoints', access: ['write'], dataActions: [`${BLOB}/write`] },
  'BlobCheckpointStore.listOwnership': { pattern: /\.listOwnership\(/, port: 'checkpoints', access: ['write'], dataActions: [`${BLOB}/read`] },
  'BlobCheckpointStore.listCheckpoints': { pattern: /\.listCheckpoints\(/, port: 'checkpoints', access: ['write'], dataActions: [`${BLOB}/read`] },
  'EventHubProducerClient.createBatch': { pattern: /\.createBatch\(/, port: 'event-hub', access: ['send'], dataActions: ['Microsoft.EventHub/namespaces/messages/send/action'] },
  'EventHubProducerClient.sendBatch': { pattern: /\.sendBatch\(/, port: 'event-hub', access: ['send'], dataActions: ['Microsoft.EventHub/namespaces/messages/send/action'] },
  'EventHubClient.getPartitionIds': {
    pattern: /\.getPartitionIds\(/,
    port: 'event-hub',
    access: ['send', 'receive'],
    dataActions: ['Microsoft.EventHub/namespaces/eventhubs/read'],
  },
  'EventHubClient.getPartitionProperties': {
    pattern: /\.getPartitionProperties\(/,
    port: 'event-hub',
    access: ['send', 'receive'],
    dataActions: ['Microsoft.EventHub/namespaces/eventhubs/read'],
  },
  'EventHubConsumerClient.subscribe': { pattern: /\.subscribe\(/, port: 'event-hub', access: ['receive'], dataActions: ['Microsoft.EventHub/namespaces/messages/receive/action'] },
  'ServiceBusSender.sendMessages': { pattern: /\.sendMessages\(/, port: 'bus', access: ['send'], dataActions: ['Microsoft.ServiceBus/namespaces/messages/send/action'] },
  'ServiceBusSender.scheduleMessages': { pattern: /\.scheduleMessages\(/, port: 'bus', access: ['send'], dataActions: ['Microsoft.ServiceBus/namespaces/messages/send/action'] },
  'ServiceBusReceiver.receiveMessages': {
    pattern:
      /\.(receiveMessages|peekMessages|completeMessage|abandonMessage|deadLetterMessage|renewMessageLock|renewSessionLock|getSessionState|setSessionState|acceptSession|acceptNextSession)\(/,
    port: 'bus',
    access: ['receive'],
    dataActions: ['Microsoft.ServiceBus/namespaces/messages/receive/action'],
  },
  'ServiceBusAdministrationClient.getQueue': {
    pattern: /\.(getQueue|queueExists|getQueueRuntimeProperties)\(/,
    port: 'bus',
    access: ['send', 'receive'],
    dataActions: ['Microsoft.ServiceBus/namespaces/queues/read'],
  },
  'ServiceBusAdministrationClient.createQueue': {
    pattern: /\.(createQueue|updateQueue|deleteQueue)\(/,
    port: 'bus',
    access: ['send', 'receive'],
    dataActions: ['Microsoft.ServiceBus/namespaces/queues/write'],
  },
  'Item.read': {
    pattern: /\.read(<[^>]*>)?\(/,
    port: 'serving',
    access: ['read', 'write'],
    dataActions: [`${COSMOS_ITEMS}/read`, 'Microsoft.DocumentDB/databaseAccounts/readMetadata'],
  },
  'Items.query': {
    pattern: /\.query(<[^>]*>)?\(/,
    port: 'serving',
    access: ['read', 'write'],
    dataActions: ['Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery'],
  },
  'Items.create': { pattern: /\.items\.create\(/, port: 'serving', access: ['write'], dataActions: [`${COSMOS_ITEMS}/create`] },
  'Items.upsert': { pattern: /\.upsert\(/, port: 'serving', access: ['write'], dataActions: [`${COSMOS_ITEMS}/upsert`] },
  'Item.replace': { pattern: /\.replace\(\s*body/, port: 'serving', access: ['write'], dataActions: [`${COSMOS_ITEMS}/replace`] },
};

/**
 * Calls left out of the requirement when the adapter shows they are opt-in (`when` matches its
 * source), with the reason. Entity management is never done with the services' identities.
 */
export const OPT_IN_CALLS: Record<string, { when: RegExp; reason: string }> = {
  'ServiceBusAdministrationClient.getQueue': { when: /manageEntities\?: boolean/, reason: 'only with manageEntities (emulator and tests); production queues come from infra' },
  'ServiceBusAdministrationClient.createQueue': { when: /manageEntities\?: boolean/, reason: 'only with manageEntities (emulator and tests); production queues come from infra' },
};

export interface RoleDefinition {
  name: string;
  actions: string[];
}

/** Built-in roles by definition id: Azure RBAC roles, then the Cosmos DB SQL data-plane roles. */
export const ROLES: Record<string, RoleDefinition> = {
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': {
    name: 'Storage Blob Data Contributor',
    actions: [`${BLOB}/read`, `${BLOB}/write`, `${BLOB}/delete`, `${BLOB}/add/action`, `${BLOB}/move/action`],
  },
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': { name: 'Storage Blob Data Reader', actions: [`${BLOB}/read`] },
  '2b629674-e913-4c01-ae53-ef4638d8f975': { name: 'Azure Event Hubs Data Sender', actions: ['Microsoft.EventHub/*/eventhubs/read', 'Microsoft.EventHub/*/send/action'] },
  'a638d3c7-ab3a-418d-83e6-5f17a39d4fde': {
    name: 'Azure Event Hubs Data Receiver',
    actions: ['Microsoft.EventHub/*/eventhubs/read', 'Microsoft.EventHub/*/eventhubs/consumergroups/read', 'Microsoft.EventHub/*/receive/action'],
  },
  '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39': { name: 'Azure Service Bus Data Sender', actions: ['Microsoft.ServiceBus/*/queues/read', 'Microsoft.ServiceBus/*/send/action'] },
  '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0': { name: 'Azure Service Bus Data Receiver', actions: ['Microsoft.ServiceBus/*/queues/read', 'Microsoft.ServiceBus/*/receive/action'] },
  '090c5cfd-751d-490a-894a-3ce6f1109419': { name: 'Azure Service Bus Data Owner', actions: ['Microsoft.ServiceBus/*'] },
  '7f951dda-4ed3-4680-a7ca-43fe172d538d': { name: 'AcrPull', actions: ['Microsoft.ContainerRegistry/registries/pull/read'] },
  '00000000-0000-0000-0000-000000000001': {
    name: 'Cosmos DB Built-in Data Reader',
    actions: [
      'Microsoft.DocumentDB/databaseAccounts/readMetadata',
      `${COSMOS_ITEMS}/read`,
      'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery',
      'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed',
    ],
  },
  '00000000-0000-0000-0000-000000000002': {
    name: 'Cosmos DB Built-in Data Contributor',
    actions: ['Microsoft.DocumentDB/databaseAccounts/readMetadata', 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/*'],
  },
};

export const SERVICES = ['producer', 'capture', 'bronze', 'silver', 'gold', 'serving-api'] as const;
export type Service = (typeof SERVICES)[number];

const LAKE: Target = { kind: 'blob-container', name: 'lake' };
const queue = (name: string): Target => ({ kind: 'queue', name });

/** main.bicep's condition for everything of Capture notices: Capture on and notices on. */
export const CAPTURE_NOTICES = 'captureNotices';
/** The queue Event Grid delivers Capture notices to, which bronze reads (BRONZE_NOTICES_QUEUE). */
export const NOTICES_QUEUE = 'capture-notices';

/**
 * Which ports each service uses and how (the settings contract). Gold keeps its shard ownership
 * records in the checkpoint-store port, on the ownership container beside the lake. The capture
 * app runs only without Event Hubs Capture; bronze reads Capture notices only when they are on.
 */
export const SERVICE_ACCESS: Record<Service, PortUse[]> = {
  producer: [{ port: 'event-hub', access: 'send', target: { kind: 'hub', name: 'events' } }],
  capture: [
    { port: 'event-hub', access: 'receive', target: { kind: 'hub', name: 'events' }, when: '!enableEventHubsCapture' },
    { port: 'lake', access: 'write', target: LAKE, when: '!enableEventHubsCapture' },
    { port: 'checkpoints', access: 'write', target: { kind: 'blob-container', name: 'eventhub-checkpoints' }, when: '!enableEventHubsCapture' },
  ],
  bronze: [
    { port: 'lake', access: 'write', target: LAKE },
    { port: 'bus', access: 'send', target: queue('bronze-manifests') },
    { port: 'bus', access: 'receive', target: queue(NOTICES_QUEUE), when: CAPTURE_NOTICES },
  ],
  silver: [
    { port: 'lake', access: 'write', target: LAKE },
    { port: 'bus', access: 'receive', target: queue('bronze-manifests') },
    { port: 'bus', access: 'send', target: queue('silver-manifests') },
  ],
  gold: [
    { port: 'lake', access: 'write', target: LAKE },
    { port: 'bus', access: 'receive', target: queue('silver-manifests') },
    { port: 'checkpoints', access: 'write', target: { kind: 'blob-container', name: 'ownership' } },
    { port: 'serving', access: 'write', target: { kind: 'cosmos' } },
  ],
  'serving-api': [
    { port: 'lake', access: 'read', target: LAKE },
    { port: 'serving', access: 'read', target: { kind: 'cosmos' } },
  ],
};

/** The Azure adapter files each port's calls are read from. */
export const ADAPTER_FILES: Record<Port, RegExp> = {
  lake: /^adls\.lake\.ts$/,
  checkpoints: /^eventhubs\.checkpoint-store\.ts$/,
  'event-hub': /^eventhubs\.(?!checkpoint-store).*\.ts$/,
  bus: /^service-bus\..*\.ts$/,
  serving: /^cosmos\.serving-store\.ts$/,
};

export type AdapterSources = Partial<Record<Port, string>>;

/** The adapter sources per port (spec files excluded), concatenated. */
export function readAdapterSources(adaptersDir: string): AdapterSources {
  const files = readdirSync(adaptersDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
  const sources: AdapterSources = {};
  for (const [port, pattern] of Object.entries(ADAPTER_FILES) as [Port, RegExp][]) {
    const mine = files.filter((f) => pattern.test(f));
    if (mine.length > 0) sources[port] = mine.map((f) => readFileSync(join(adaptersDir, f), 'utf8')).join('\n');
  }
  return sources;
}

/** The SDK calls found in `source` for `port` and `access`, by SDK_CALLS name. */
export function callsIn(source: string, port: Port, access: Access): string[] {
  const code = stripComments(source);
  return Object.entries(SDK_CALLS)
    .filter(([name, call]) => call.port === port && call.access.includes(access) && call.pattern.test(code) && !OPT_IN_CALLS[name]?.when.test(code))
    .map(([name]) => name);
}

export interface Requirement {
  target: Target;
  action: string;
  /** The SDK call (or Azure feature) that needs it, for messages. */
  because: string;
  /** The main.bicep condition under which it is needed; undefined: always. */
  when: string | undefined;
}

export function requirements(service: Service, sources: AdapterSources): Requirement[] {
  return SERVICE_ACCESS[service].flatMap(({ port, access, target, when }) =>
    callsIn(sources[port] ?? '', port, access).flatMap((call) => (SDK_CALLS[call] as SdkCall).dataActions.map((action) => ({ target, action, because: call, when }))),
  );
}

/** An Azure service that acts for the pipeline with its own managed identity, declared in main.bicep as `symbol`. */
export interface SystemPrincipal {
  /** What it is, for messages. */
  name: string;
  needs: Requirement[];
}

/**
 * Azure services' identities by the main.bicep module whose `outputs.principalId` they are. Event
 * Grid delivering to a Service Bus queue with deliveryWithResourceIdentity needs Azure Service Bus
 * Data Sender on it (Event Grid docs, "Add managed identity to a role on Azure Event Grid destination").
 */
export const SYSTEM_ACCESS: Record<string, SystemPrincipal> = {
  captureNoticesTopic: {
    name: 'the Event Grid system topic of the Event Hubs namespace',
    needs: [
      {
        target: queue(NOTICES_QUEUE),
        action: 'Microsoft.ServiceBus/namespaces/messages/send/action',
        because: 'delivering CaptureFileCreated events to a Service Bus queue',
        when: CAPTURE_NOTICES,
      },
    ],
  },
};

export interface Grant {
  /** The module symbol in main.bicep. */
  symbol: string;
  service: Service | undefined;
  /** The identity symbol, e.g. goldIdentity. */
  identity: string;
  roleId: string;
  target: Target;
  condition: string | undefined;
}

const IDENTITY_SERVICE: Record<string, Service> = {
  producerIdentity: 'producer',
  captureIdentity: 'capture',
  bronzeIdentity: 'bronze',
  silverIdentity: 'silver',
  goldIdentity: 'gold',
  servingApiIdentity: 'serving-api',
};

/** The role grants of main.bicep's `modules/roles/*.bicep` calls. */
export function grants(mainBicep: string): Grant[] {
  const vars = stringVars(mainBicep);
  const roleVar = varValue(mainBicep, 'role') ?? '';
  const roleIds = new Map([...roleVar.matchAll(/(\w+):\s*'([0-9a-f-]{36})'/g)].map((m) => [m[1] as string, m[2] as string]));
  const resolve = (expr: string | undefined): string => {
    if (expr === undefined) return '';
    const literal = /^'([^']*)'$/.exec(expr);
    if (literal) return literal[1] as string;
    return vars.get(expr) ?? expr;
  };
  const result: Grant[] = [];
  for (const decl of declarations(mainBicep)) {
    if (decl.kind !== 'module' || !decl.target.startsWith('modules/roles/')) continue;
    const paramsBody = propertyValue(decl.body, 'params') ?? '';
    const roleExpr = propertyValue(paramsBody, 'roleDefinitionId') ?? '';
    const roleId = roleExpr.startsWith('role.') ? (roleIds.get(roleExpr.slice(5)) ?? roleExpr) : resolve(roleExpr);
    const module = decl.target.replace(/^modules\/roles\//, '').replace(/\.bicep$/, '');
    const target: Target | undefined =
      module === 'storage-container-role'
        ? { kind: 'blob-container', name: resolve(propertyValue(paramsBody, 'containerName')) }
        : module === 'event-hub-role'
          ? { kind: 'hub', name: resolve(propertyValue(paramsBody, 'hubName')) }
          : module === 'service-bus-queue-role'
            ? { kind: 'queue', name: resolve(propertyValue(paramsBody, 'queueName')) }
            : module === 'cosmos-sql-role'
              ? { kind: 'cosmos' }
              : module === 'registry-role'
                ? { kind: 'registry' }
                : undefined;
    if (!target) throw new Error(`main.bicep: module ${decl.symbol} uses ${decl.target}, which this check does not know; add it to grants().`);
    const principals = module === 'registry-role' ? [...(propertyValue(paramsBody, 'principalIds') ?? '').matchAll(/(\w+)\.outputs\.principalId/g)].map((m) => m[1] as string) : [];
    // `x!.outputs`: the output of a conditional module, read under the same condition.
    const single = /^(\w+)!?\.outputs\.principalId$/.exec(propertyValue(paramsBody, 'principalId') ?? '');
    if (single) principals.push(single[1] as string);
    for (const identity of principals) result.push({ symbol: decl.symbol, service: IDENTITY_SERVICE[identity], identity, roleId, target, condition: decl.condition });
  }
  return result;
}

export function sameTarget(a: Target, b: Target): boolean {
  return a.kind === b.kind && ('name' in a ? a.name === (b as { name: string }).name : true);
}

export function allows(roleId: string, action: string): boolean {
  const role = ROLES[roleId];
  if (!role) return false;
  return role.actions.some((granted) => new RegExp(`^${granted.split('*').map(escapeRegExp).join('.*')}$`, 'i').test(action));
}

export function describeTarget(target: Target): string {
  return 'name' in target ? `${target.kind} ${target.name}` : target.kind;
}

/** Missing and unneeded grants, one sentence each; empty when the Bicep matches the code. */
export function coverageProblems(mainBicep: string, sources: AdapterSources): string[] {
  const all = grants(mainBicep);
  const problems: string[] = [];
  for (const grant of all) if (!ROLES[grant.roleId]) problems.push(`main.bicep ${grant.symbol}: role definition ${grant.roleId} is not a known built-in role.`);
  for (const service of SERVICES) {
    const targets = SERVICE_ACCESS[service].map((use) => use.target);
    problems.push(
      ...principalProblems(
        service,
        `${service}Identity`,
        requirements(service, sources),
        targets,
        all.filter((g) => g.service === service),
      ),
    );
  }
  for (const [symbol, principal] of Object.entries(SYSTEM_ACCESS)) {
    const targets = principal.needs.map((n) => n.target);
    problems.push(
      ...principalProblems(
        `${symbol} (${principal.name})`,
        symbol,
        principal.needs,
        targets,
        all.filter((g) => g.identity === symbol),
      ),
    );
  }
  return problems;
}

/** The problems of one principal's grants against what it needs; `uses` are the targets it touches at all. */
function principalProblems(who: string, identity: string, needed: Requirement[], uses: Target[], mine: Grant[]): string[] {
  const problems: string[] = [];
  const roleName = (grant: Grant) => ROLES[grant.roleId]?.name ?? grant.roleId;
  for (const need of needed) {
    const allowing = mine.filter((g) => sameTarget(g.target, need.target) && allows(g.roleId, need.action));
    if (allowing.length === 0) {
      problems.push(
        `${who} needs ${need.action} on ${describeTarget(need.target)} (for ${need.because}) but no role in main.bicep grants it; add a modules/roles/ call for ${identity}.`,
      );
    } else if (!allowing.some((g) => sameCondition(g.condition, need.when))) {
      const grant = allowing[0] as Grant;
      problems.push(
        `${who} needs ${need.action} on ${describeTarget(need.target)} ${describeCondition(need.when)}, but ${grant.symbol} grants it ${describeCondition(grant.condition)}; give the grant the condition \`if (${need.when ?? 'true'})\`.`,
      );
    }
  }
  for (const grant of mine) {
    if (grant.target.kind === 'registry') continue;
    const onTarget = needed.filter((n) => sameTarget(n.target, grant.target));
    if (!uses.some((target) => sameTarget(target, grant.target)))
      problems.push(`${who} is granted ${roleName(grant)} on ${describeTarget(grant.target)} (${grant.symbol}) but uses no port there.`);
    else if (onTarget.length > 0) {
      const excess = (PROBE_ACTIONS[grant.target.kind] ?? []).filter((action) => allows(grant.roleId, action) && !onTarget.some((n) => n.action === action));
      if (excess.length > 0) {
        problems.push(
          `${who} is granted ${roleName(grant)} on ${describeTarget(grant.target)} (${grant.symbol}), which allows ${excess.join(', ')} that it never needs; grant a narrower role.`,
        );
      }
    }
  }
  return problems;
}

function sameCondition(a: string | undefined, b: string | undefined): boolean {
  const normal = (c: string | undefined) => (c ?? '').replace(/\s+/g, '');
  return normal(a) === normal(b);
}

function describeCondition(condition: string | undefined): string {
  return condition === undefined ? 'always' : `only if (${condition})`;
}

/** Actions that change or consume data, per target kind: a grant allowing one the service never needs is too wide. */
const PROBE_ACTIONS: Partial<Record<Target['kind'], string[]>> = {
  // Delete is not separable from write in the built-in blob roles, so it is not probed.
  'blob-container': [`${BLOB}/write`],
  hub: ['Microsoft.EventHub/namespaces/messages/send/action', 'Microsoft.EventHub/namespaces/messages/receive/action'],
  queue: ['Microsoft.ServiceBus/namespaces/messages/send/action', 'Microsoft.ServiceBus/namespaces/messages/receive/action', 'Microsoft.ServiceBus/namespaces/queues/write'],
  cosmos: [`${COSMOS_ITEMS}/create`, `${COSMOS_ITEMS}/upsert`, `${COSMOS_ITEMS}/replace`],
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

export function exists(path: string): boolean {
  return existsSync(path);
}

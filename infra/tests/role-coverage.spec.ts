import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { declarations, read, stringVars, varValue } from './bicep-text';
import {
  ADAPTER_FILES,
  allows,
  callsIn,
  CAPTURE_NOTICES,
  coverageProblems,
  grants,
  NOTICES_QUEUE,
  readAdapterSources,
  requirements,
  ROLES,
  SERVICE_ACCESS,
  SERVICES,
  SYSTEM_ACCESS,
  type Access,
  type Port,
  type Service,
} from './role-model';

const repo = resolve(__dirname, '../..');
const mainBicep = read(join(repo, 'infra/main.bicep'));
const sources = readAdapterSources(join(repo, 'libs/adapters/src'));

function appSource(service: Service): string {
  const dir = join(repo, 'apps', service, 'src');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

/** The ports and accesses a service's own code shows (port types it injects, and how it uses the bus and store). */
function accessInSource(service: Service): string[] {
  const code = appSource(service);
  const found = new Set<string>();
  if (/\bLake\b/.test(code)) found.add('lake');
  if (/\bCheckpointStore\b/.test(code)) found.add('checkpoints');
  if (/\bEventHubProducer\b/.test(code)) found.add('event-hub:send');
  if (/\bEventHubConsumer\b/.test(code)) found.add('event-hub:receive');
  if (/\bbus\.send\(|new ManifestLog\(\s*\w+\s*,\s*bus\b/.test(code)) found.add('bus:send');
  if (/new BusTransport\(|\bbus\.receiver\(/.test(code)) found.add('bus:receive');
  if (/\bServingStore\b/.test(code)) found.add(/\.(upsert|putShardStatus)\(/.test(code) ? 'serving:write' : 'serving:read');
  return [...found].sort();
}

function declaredAccess(service: Service): string[] {
  const keyed = (port: Port, access: Access) => (port === 'lake' || port === 'checkpoints' ? port : `${port}:${access}`);
  return [...new Set(SERVICE_ACCESS[service].map((use) => keyed(use.port, use.access)))].sort();
}

/** main.bicep without the module `symbol`, as if someone deleted that grant. */
function withoutModule(text: string, symbol: string): string {
  const decl = declarations(text).find((d) => d.symbol === symbol);
  if (!decl) throw new Error(`main.bicep has no module ${symbol}`);
  return text.slice(0, decl.start) + text.slice(decl.end);
}

describe('role coverage', () => {
  it.each(SERVICES)('the ports %s uses in its code are the ones the role table covers', (service) => {
    expect(accessInSource(service)).toEqual(declaredAccess(service));
  });

  it('every port the services use has Azure adapter code to derive its data actions from', () => {
    const missing = SERVICES.flatMap((service) =>
      SERVICE_ACCESS[service]
        .filter((use) => callsIn(sources[use.port] ?? '', use.port, use.access).length === 0)
        .map((use) => `${service} ${use.port}:${use.access} (no SDK call found in libs/adapters/src matching ${String(ADAPTER_FILES[use.port])})`),
    );
    expect(missing).toEqual([]);
  });

  it('derives the lake writers’ needs from the ADLS adapter’s SDK calls', () => {
    const actions = requirements('bronze', sources)
      .filter((r) => r.target.kind === 'blob-container')
      .map((r) => r.action.split('/').at(-1));
    expect(new Set(actions)).toEqual(new Set(['read', 'write', 'delete']));
    const servingApi = requirements('serving-api', sources).filter((r) => r.target.kind === 'blob-container');
    expect(servingApi.length).toBeGreaterThan(0);
    expect(servingApi.every((r) => r.action.endsWith('/blobs/read'))).toBe(true);
  });

  it('bronze reads notices from the queue main.bicep names in BRONZE_NOTICES_QUEUE, only when notices are on', () => {
    // The code: the receiver's queue is the BRONZE_NOTICES_QUEUE setting.
    expect(appSource('bronze')).toMatch(/new CaptureNoticeReader\(bus\.receiver\(config\.noticesQueue\)/);
    expect(appSource('bronze')).toMatch(/const noticesQueue = settings\.string\('BRONZE_NOTICES_QUEUE'/);
    // The Bicep: the setting names the notices queue, under the notices condition.
    const settings = /^(\w+) \? \[\{ name: 'BRONZE_NOTICES_QUEUE', value: (\w+) \}\] : \[\]$/.exec(varValue(mainBicep, 'captureNoticeSettings') ?? '');
    expect(settings?.[1]).toBe(CAPTURE_NOTICES);
    expect(stringVars(mainBicep).get(settings?.[2] ?? '')).toBe(NOTICES_QUEUE);
    // The role table: bronze receives there, under the same condition.
    expect(SERVICE_ACCESS.bronze.filter((use) => use.access === 'receive')).toEqual([
      { port: 'bus', access: 'receive', target: { kind: 'queue', name: NOTICES_QUEUE }, when: CAPTURE_NOTICES },
    ]);
  });

  it('reads every grant of main.bicep with its identity, role and scope', () => {
    const all = grants(mainBicep);
    expect(all.every((g) => ROLES[g.roleId] !== undefined)).toBe(true);
    const goldQueues = all.filter((g) => g.service === 'gold' && g.target.kind === 'queue').map((g) => ROLES[g.roleId]?.name);
    expect(goldQueues.sort()).toEqual(['Azure Service Bus Data Receiver']);
    const onQueues = (who: (g: (typeof all)[number]) => boolean) =>
      all.filter((g) => who(g) && g.target.kind === 'queue').map((g) => ({ role: ROLES[g.roleId]?.name, queue: 'name' in g.target ? g.target.name : '', condition: g.condition }));
    expect(onQueues((g) => g.service === 'bronze')).toEqual([
      { role: 'Azure Service Bus Data Sender', queue: 'bronze-manifests', condition: undefined },
      { role: 'Azure Service Bus Data Receiver', queue: NOTICES_QUEUE, condition: CAPTURE_NOTICES },
    ]);
    // The Event Grid system topic's own identity, read from `captureNoticesTopic!.outputs.principalId`.
    expect(onQueues((g) => g.identity === 'captureNoticesTopic')).toEqual([{ role: 'Azure Service Bus Data Sender', queue: NOTICES_QUEUE, condition: CAPTURE_NOTICES }]);
    expect(Object.keys(SYSTEM_ACCESS)).toEqual(['captureNoticesTopic']);
    // Every service identity pulls from the registry.
    const pullers = all.filter((g) => g.target.kind === 'registry').map((g) => g.service);
    expect(new Set(pullers)).toEqual(new Set(SERVICES));
  });

  it('grants every service exactly what its adapters do, on the resource it does it on', () => {
    expect(coverageProblems(mainBicep, sources)).toEqual([]);
  });

  it('reports a missing grant when one role assignment is removed', () => {
    const problems = coverageProblems(withoutModule(mainBicep, 'silverQueueSender'), sources);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^silver needs Microsoft\.ServiceBus\/namespaces\/messages\/send\/action on queue silver-manifests/);
  });

  it('reports a grant on the wrong queue', () => {
    const moved = mainBicep.replace(/(module silverQueueSender[\s\S]*?queueName: )silverQueue/, '$1bronzeQueue');
    expect(moved).not.toEqual(mainBicep);
    const problems = coverageProblems(moved, sources);
    expect(problems.some((p) => p.startsWith('silver needs Microsoft.ServiceBus/namespaces/messages/send/action on queue silver-manifests'))).toBe(true);
  });

  it('reports a role wider than the code needs', () => {
    const widened = mainBicep.replace(/(module servingApiLakeReader[\s\S]*?roleDefinitionId: )role\.storageBlobDataReader/, '$1role.storageBlobDataContributor');
    expect(widened).not.toEqual(mainBicep);
    expect(coverageProblems(widened, sources)).toEqual([
      expect.stringMatching(/^serving-api is granted Storage Blob Data Contributor on blob-container lake .* grant a narrower role\.$/),
    ]);
  });

  it('reports an adapter call that no data role can allow, such as creating a queue', () => {
    // An adapter that always creates its queues (no manageEntities opt-in).
    const withAdmin = { ...sources, bus: 'await sender.sendMessages(batch);\nawait admin.createQueue(name, options);' };
    const problems = coverageProblems(mainBicep, withAdmin);
    expect(problems.some((p) => /^bronze needs Microsoft\.ServiceBus\/namespaces\/queues\/write on queue bronze-manifests/.test(p))).toBe(true);
  });

  it('matches role wildcards the way Azure does', () => {
    expect(allows('69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', 'Microsoft.ServiceBus/namespaces/messages/send/action')).toBe(true);
    expect(allows('69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', 'Microsoft.ServiceBus/namespaces/messages/receive/action')).toBe(false);
    expect(allows('00000000-0000-0000-0000-000000000001', 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert')).toBe(false);
    expect(allows('00000000-0000-0000-0000-000000000002', 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert')).toBe(true);
  });

  it('gives the capture app its roles only when it runs instead of Event Hubs Capture', () => {
    const capture = grants(mainBicep).filter((g) => g.service === 'capture' && g.target.kind !== 'registry');
    expect(capture.length).toBe(3);
    expect(capture.every((g) => g.condition === '!enableEventHubsCapture')).toBe(true);
  });

  it('reports a missing notices grant for bronze and for the Event Grid topic', () => {
    expect(coverageProblems(withoutModule(mainBicep, 'bronzeNoticesReceiver'), sources)).toEqual([
      expect.stringMatching(
        /^bronze needs Microsoft\.ServiceBus\/namespaces\/messages\/receive\/action on queue capture-notices .* add a modules\/roles\/ call for bronzeIdentity\.$/,
      ),
    ]);
    expect(coverageProblems(withoutModule(mainBicep, 'captureNoticesSender'), sources)).toEqual([
      expect.stringMatching(/^captureNoticesTopic \(the Event Grid system topic .*\) needs Microsoft\.ServiceBus\/namespaces\/messages\/send\/action on queue capture-notices/),
    ]);
  });

  it('reports a notices grant that would exist with notices off', () => {
    const unconditional = mainBicep.replace(/(module bronzeNoticesReceiver '[^']+' = )if \(captureNotices\) /, '$1');
    expect(unconditional).not.toEqual(mainBicep);
    expect(coverageProblems(unconditional, sources)).toEqual([
      expect.stringMatching(
        /^bronze needs .*receive\/action on queue capture-notices only if \(captureNotices\), but bronzeNoticesReceiver grants it always; give the grant the condition `if \(captureNotices\)`\.$/,
      ),
    ]);
  });

  it('reports the Event Grid topic granted more than sending on the notices queue', () => {
    const widened = mainBicep.replace(/(module captureNoticesSender[\s\S]*?roleDefinitionId: )role\.serviceBusDataSender/, '$1role.serviceBusDataOwner');
    expect(widened).not.toEqual(mainBicep);
    expect(coverageProblems(widened, sources)).toEqual([
      expect.stringMatching(/^captureNoticesTopic .* is granted Azure Service Bus Data Owner on queue capture-notices .*receive\/action.* grant a narrower role\.$/),
    ]);
  });

  it('reports bronze receiving notices on the wrong queue', () => {
    const moved = mainBicep.replace(/(module bronzeNoticesReceiver[\s\S]*?queueName: )noticesQueue/, '$1bronzeQueue');
    expect(moved).not.toEqual(mainBicep);
    const problems = coverageProblems(moved, sources);
    expect(problems).toContainEqual(expect.stringMatching(/^bronze needs Microsoft\.ServiceBus\/namespaces\/messages\/receive\/action on queue capture-notices/));
    expect(problems).toContainEqual(
      expect.stringMatching(/^bronze is granted Azure Service Bus Data Receiver on queue bronze-manifests \(bronzeNoticesReceiver\), which allows .*receive\/action/),
    );
  });
});

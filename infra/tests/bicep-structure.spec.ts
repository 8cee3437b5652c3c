import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { bicepFiles, declarations, objectKeys, params, propertyValue, read, serviceEnvNames, structuralProblems, varValue } from './bicep-text';

const repo = resolve(__dirname, '../..');
const infra = join(repo, 'infra');
const files = bicepFiles(infra);
const mainBicep = read(join(infra, 'main.bicep'));
const rel = (path: string) => relative(repo, path);
const moduleCall = (symbol: string) => {
  const decl = declarations(mainBicep).find((d) => d.symbol === symbol);
  if (!decl) throw new Error(`main.bicep has no module ${symbol}`);
  return decl;
};
const param = (symbol: string, name: string) => propertyValue(propertyValue(moduleCall(symbol).body, 'params') ?? '', name);

interface QueueOptions {
  sessions: boolean;
  lockDurationMs: number;
  maxDeliveryCount: number;
}

/** A `QueueOptions` literal a service declares (and ensures when it may manage entities). */
function declaredQueueOptions(file: string, constant: string): QueueOptions {
  const source = readFileSync(join(repo, file), 'utf8');
  const m = new RegExp(`${constant}: QueueOptions = \\{ sessions: (true|false), lockDurationMs: ([\\d_]+), maxDeliveryCount: (\\d+) \\}`).exec(source);
  if (!m) throw new Error(`${file} declares no ${constant} as a one-line QueueOptions literal; update declaredQueueOptions() to read it.`);
  return { sessions: m[1] === 'true', lockDurationMs: Number((m[2] as string).replace(/_/g, '')), maxDeliveryCount: Number(m[3]) };
}

/** The options of the queues one `Microsoft.ServiceBus/namespaces/queues` loop of service-bus.bicep creates. */
function bicepQueueOptions(symbol: string): QueueOptions {
  const bus = read(join(infra, 'modules/service-bus.bicep'));
  const shared = varValue(bus, 'queueProperties') ?? '';
  const properties = propertyValue(declarations(bus).find((d) => d.symbol === symbol)?.body ?? '', 'properties') ?? '';
  const lock = /lockDuration: 'PT(\d+)S'/.exec(shared);
  const deliveries = /maxDeliveryCount: (\d+)/.exec(shared);
  const sessions = /requiresSession: (true|false)/.exec(properties);
  if (!lock || !deliveries || !sessions) throw new Error(`service-bus.bicep: cannot read the options of ${symbol} (queueProperties: ${shared}; properties: ${properties})`);
  return { sessions: sessions[1] === 'true', lockDurationMs: Number(lock[1]) * 1000, maxDeliveryCount: Number(deliveries[1]) };
}

/** The environment variable names a service's module call sets (its own `name:` entries and those of the vars it concatenates). */
describe('bicep structure', () => {
  it('finds the templates', () => {
    expect(files.map(rel)).toEqual(expect.arrayContaining(['infra/main.bicep', 'infra/modules/event-hubs.bicep', 'infra/modules/container-app.bicep']));
  });

  it.each(files.map(rel))('%s has balanced brackets, closed strings and closed comments', (file) => {
    expect(structuralProblems(read(join(repo, file)))).toEqual([]);
  });

  it('reports an unbalanced brace and an unterminated string with their lines', () => {
    expect(structuralProblems("param a string = 'x'\nvar b = {\n  c: 'd'\n")).toEqual(["line 2: '{' is never closed"]);
    expect(structuralProblems("var b = 'open\nvar c = 1")).toEqual(['line 1: string is not closed on its line']);
    expect(structuralProblems("var b = '}' // {\nvar c = [ ]")).toEqual([]);
  });

  it.each(files.map(rel))('every resource type in %s names an API version', (file) => {
    const bad = declarations(read(join(repo, file)))
      .filter((d) => d.kind === 'resource' && !/^[A-Za-z]+\.[A-Za-z]+\/[A-Za-z/]+@\d{4}-\d{2}-\d{2}(-preview)?$/.test(d.target))
      .map((d) => `${d.symbol}: ${d.target}`);
    expect(bad).toEqual([]);
  });

  it('every module path exists, and every call passes each parameter without a default and nothing else', () => {
    const problems: string[] = [];
    for (const file of files) {
      for (const decl of declarations(read(file)).filter((d) => d.kind === 'module')) {
        const target = join(dirname(file), decl.target);
        if (!existsSync(target)) {
          problems.push(`${rel(file)} ${decl.symbol}: ${decl.target} does not exist`);
          continue;
        }
        const declared = params(read(target));
        const passed = objectKeys(decl.body, 'params') ?? [];
        for (const p of declared) if (!p.hasDefault && !passed.includes(p.name)) problems.push(`${rel(file)} ${decl.symbol}: missing parameter ${p.name} of ${decl.target}`);
        for (const name of passed) if (!declared.some((p) => p.name === name)) problems.push(`${rel(file)} ${decl.symbol}: ${decl.target} has no parameter ${name}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('catches a module call that leaves out a required parameter', () => {
    const call = "module x 'modules/identity.bicep' = {\n  name: 'x'\n  params: { location: location, tags: tags }\n}\n";
    const decl = declarations(call)[0];
    expect(objectKeys(decl?.body ?? '', 'params')).toEqual(['location', 'tags']);
    const required = params(read(join(infra, 'modules/identity.bicep'))).filter((p) => !p.hasDefault);
    expect(required.map((p) => p.name)).toContain('identityName');
  });

  it('holds no secrets: no keys, SAS, connection strings or listKeys()', () => {
    const offending = files.flatMap((file) =>
      read(file)
        .split('\n')
        .map((line, i) => ({ line, at: `${rel(file)}:${i + 1}` }))
        .filter(({ line }) => /AccountKey=|SharedAccessKey|listKeys\(|listConnectionStrings\(|_CONNECTION_STRING|secretRef|\bsharedKey\s*:/i.test(line.replace(/\/\/.*$/, '')))
        .map(({ at, line }) => `${at}: ${line.trim()}`)
        // container-app.bicep's secretEnv: generated values by reference (the next test says which).
        .filter((at) => !/^infra\/modules\/container-app\.bicep:\d+: var secretVariables = \[for item in items\(secretEnv\)/.test(at)),
    );
    expect(offending).toEqual([]);
  });

  it("keeps one Container Apps secret, generated by the deployment and not a credential: the serving API's token-signing key", () => {
    const passing = declarations(mainBicep).filter((d) => propertyValue(propertyValue(d.body, 'params') ?? '', 'secretEnv') !== undefined);
    expect(passing.map((d) => [d.symbol, param(d.symbol, 'secretEnv')])).toEqual([['servingApi', '{ SERVING_TOKEN_KEY: servingApiTokenKey }']]);
    expect(mainBicep).toMatch(/@secure\(\)\n@description\([^\n]*\)\nparam servingApiTokenKey string = '\$\{newGuid\(\)\}\$\{newGuid\(\)\}'\n/);
    const app = read(join(infra, 'modules/container-app.bicep'));
    expect(app).toMatch(/@secure\(\)\n@description\([^\n]*\)\nparam secretEnv object = \{\}/);
    expect(app).toContain("secretRef: toLower(replace(item.key, '_', '-'))");
  });

  it('turns Entra ID authentication on for the serving API by default, for this tenant, behind TLS and one proxy hop', () => {
    expect(mainBicep).toMatch(/^param servingApiAuth bool = true$/m);
    const edge = varValue(mainBicep, 'servingEdgeSettings') ?? '';
    expect(edge).toContain("{ name: 'SERVING_AUTH', value: servingApiAuth ? 'entra' : 'off' }");
    expect(edge).toContain("{ name: 'SERVING_AUTH_TENANT_ID', value: tenant().tenantId }");
    expect(edge).toContain("{ name: 'SERVING_AUTH_AUDIENCE', value: servingApiAudience }");
    expect(edge).toContain("{ name: 'SERVING_HSTS', value: 'true' }");
    expect(edge).toContain("{ name: 'SERVING_TRUST_PROXY', value: '1' }");
    expect(read(join(infra, 'modules/container-app.bicep'))).toMatch(/allowInsecure: false/);
  });

  it('turns local (key) auth off on every data service and shared keys off on the lake', () => {
    for (const module of ['event-hubs', 'service-bus', 'cosmos']) expect(read(join(infra, `modules/${module}.bicep`))).toMatch(/disableLocalAuth: true/);
    const storage = read(join(infra, 'modules/storage.bicep'));
    expect(storage).toMatch(/isHnsEnabled: true/);
    expect(storage).toMatch(/allowSharedKeyAccess: false/);
  });

  it('configures Capture in the layout bronze reads: Avro, skip empty windows, managed identity', () => {
    const hubs = read(join(infra, 'modules/event-hubs.bicep'));
    expect(hubs).toContain("archiveNameFormat: 'raw/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}'");
    expect(hubs).toMatch(/encoding: 'Avro'/);
    expect(hubs).toMatch(/skipEmptyArchives: true/);
    expect(hubs).toMatch(/identity: \{ type: 'SystemAssigned' \}/);
    expect(hubs).toMatch(/resource hub [^\n]*\n[\s\S]*?dependsOn: \[captureWriter\]/);
    expect(mainBicep).toMatch(/captureContainerName: lakeContainer/);
  });

  it('declares the session queues and the plain notices queue with the options bronze ensures', () => {
    expect(bicepQueueOptions('sessionQueues')).toEqual(declaredQueueOptions('apps/bronze/src/bronze.module.ts', 'BRONZE_MANIFESTS_QUEUE_OPTIONS'));
    expect(bicepQueueOptions('plainQueues')).toEqual(declaredQueueOptions('apps/bronze/src/bronze.module.ts', 'BRONZE_NOTICES_QUEUE_OPTIONS'));
    expect(bicepQueueOptions('plainQueues')).toEqual({ sessions: false, lockDurationMs: 30_000, maxDeliveryCount: 10 });
    expect(varValue(read(join(infra, 'modules/service-bus.bicep')), 'queueProperties')).toMatch(/deadLetteringOnMessageExpiration: true/);
    expect(param('serviceBus', 'sessionQueueNames')).toBe('[bronzeQueue, silverQueue]');
    // The notices queue exists only when Capture and notices are both on.
    expect(param('serviceBus', 'plainQueueNames')).toBe('captureNotices ? [noticesQueue] : []');
    expect(mainBicep).toMatch(/^var bronzeQueue = 'bronze-manifests'$/m);
    expect(mainBicep).toMatch(/^var silverQueue = 'silver-manifests'$/m);
    expect(mainBicep).toMatch(/^var noticesQueue = 'capture-notices'$/m);
  });

  it('reads a queue loop with sessions off, and refuses a QueueOptions it cannot read', () => {
    expect(bicepQueueOptions('sessionQueues').sessions).toBe(true);
    expect(bicepQueueOptions('plainQueues').sessions).toBe(false);
    expect(() => declaredQueueOptions('apps/bronze/src/bronze.module.ts', 'NO_SUCH_OPTIONS')).toThrow(/declares no NO_SUCH_OPTIONS/);
  });

  describe('Capture notices', () => {
    const subscription = read(join(infra, 'modules/event-grid-queue-subscription.bicep'));
    const subscriptionBody = declarations(subscription).find((d) => d.symbol === 'subscription')?.body ?? '';

    it('exist only with Event Hubs Capture and notices both on', () => {
      expect(mainBicep).toMatch(/^param enableCaptureNotices bool = true$/m);
      expect(mainBicep).toMatch(/^var captureNotices = enableEventHubsCapture && enableCaptureNotices$/m);
      // Every declaration that touches the notices queue or the system topic is under that condition.
      const touching = declarations(mainBicep).filter((d) => d.kind === 'module' && /\b(noticesQueue|captureNoticesTopic\w*)\b/.test(d.body));
      expect(touching.map((d) => d.symbol).sort()).toEqual(
        ['bronzeNoticesReceiver', 'captureNoticesSender', 'captureNoticesSubscription', 'captureNoticesTopic', 'serviceBus'].sort(),
      );
      for (const decl of touching.filter((d) => d.symbol !== 'serviceBus'))
        expect({ symbol: decl.symbol, condition: decl.condition }).toEqual({ symbol: decl.symbol, condition: 'captureNotices' });
      expect(varValue(mainBicep, 'captureNoticeSettings')).toBe("captureNotices ? [{ name: 'BRONZE_NOTICES_QUEUE', value: noticesQueue }] : []");
    });

    it('come from a system topic of the Event Hubs namespace that has its own identity', () => {
      expect(moduleCall('captureNoticesTopic').target).toBe('modules/event-grid-system-topic.bicep');
      expect(param('captureNoticesTopic', 'topicType')).toBe("'Microsoft.EventHub.Namespaces'");
      expect(param('captureNoticesTopic', 'sourceResourceId')).toBe('eventHubs.outputs.namespaceId');
      const topic = declarations(read(join(infra, 'modules/event-grid-system-topic.bicep'))).find((d) => d.kind === 'resource');
      expect(topic?.target).toMatch(/^Microsoft\.EventGrid\/systemTopics@/);
      expect(propertyValue(topic?.body ?? '', 'identity')).toBe("{ type: 'SystemAssigned' }");
      expect(read(join(infra, 'modules/event-hubs.bicep'))).toMatch(/^output namespaceId string = namespace\.id$/m);
    });

    it('subscribe to CaptureFileCreated of the pipeline hub only, the event type bronze parses', () => {
      const bronzeEventType = /CAPTURE_FILE_CREATED = '([^']+)'/.exec(readFileSync(join(repo, 'apps/bronze/src/capture-notice.ts'), 'utf8'))?.[1];
      expect(bronzeEventType).toBe('Microsoft.EventHub.CaptureFileCreated');
      expect(param('captureNoticesSubscription', 'includedEventTypes')).toBe(`['${bronzeEventType}']`);
      expect(param('captureNoticesSubscription', 'subjects')).toBe("['eventhubs/${hubName}']");
      expect(param('captureNoticesSubscription', 'queueName')).toBe('noticesQueue');
      expect(param('captureNoticesSubscription', 'topicName')).toBe('captureNoticesTopicName');
      expect(param('captureNoticesTopic', 'topicName')).toBe('captureNoticesTopicName');
      const filter = propertyValue(subscriptionBody, 'filter') ?? '';
      expect(filter).toMatch(/includedEventTypes: includedEventTypes/);
      expect(filter).toMatch(/operatorType: 'StringIn'\s+key: 'subject'\s+values: subjects/);
    });

    it("are delivered to the queue as the topic's identity, never with a key, and only once the topic may send", () => {
      const delivery = propertyValue(subscriptionBody, 'deliveryWithResourceIdentity') ?? '';
      expect(propertyValue(delivery, 'identity')).toBe("{ type: 'SystemAssigned' }");
      expect(propertyValue(delivery, 'endpointType')).toBe("'ServiceBusQueue'");
      expect(propertyValue(delivery, 'resourceId')).toBe('queue.id');
      // No plain `destination` beside the identity-based one: that would deliver with a SAS.
      const properties = propertyValue(subscriptionBody, 'properties') ?? '';
      const keys = objectKeys(`x: ${properties}`, 'x');
      expect(keys).toContain('deliveryWithResourceIdentity');
      expect(keys).not.toContain('destination');
      expect(propertyValue(subscriptionBody, 'eventDeliverySchema')).toBe("'EventGridSchema'");
      expect(propertyValue(subscriptionBody, 'retryPolicy')).toMatch(/eventTimeToLiveInMinutes: eventTimeToLiveInMinutes/);
      expect(propertyValue(moduleCall('captureNoticesSubscription').body, 'dependsOn')).toMatch(/\bcaptureNoticesSender\b/);
      expect(param('captureNoticesSender', 'principalId')).toBe('captureNoticesTopic!.outputs.principalId');
    });
  });

  it('creates the Cosmos container with the composite indexes the adapter queries need', () => {
    const adapter = readFileSync(join(repo, 'libs/adapters/src/cosmos.serving-store.ts'), 'utf8');
    const pairs = (text: string) => [...text.matchAll(/path: '([^']+)', order: '(ascending|descending)'/g)].map((m) => `${m[1]} ${m[2]}`);
    const adapterIndexes = pairs(adapter.replace(/ as const/g, ''));
    expect(adapterIndexes.length).toBeGreaterThan(0);
    expect(pairs(read(join(infra, 'modules/cosmos.bicep')))).toEqual(adapterIndexes);
    expect(read(join(infra, 'modules/cosmos.bicep'))).toMatch(/partitionKey: \{ paths: \['\/pk'\]/);
  });

  it('gives each service the settings of the contract, and every app PIPELINE_BACKEND=azure, AZURE_CLIENT_ID and the managed identity as its only credential', () => {
    const expected: Record<string, string[]> = {
      producer: ['AZURE_EVENTHUBS_NAMESPACE', 'PIPELINE_EVENT_HUB', 'PIPELINE_SPEC', 'PIPELINE_CSV'],
      capture: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'AZURE_EVENTHUBS_NAMESPACE',
        'PIPELINE_EVENT_HUB',
        'PIPELINE_EVENT_HUB_NAMESPACE',
        'CAPTURE_CONSUMER_GROUP',
        'CAPTURE_CHECKPOINT_CONTAINER',
      ],
      // Bronze finds capture files by namespace, hub and partition: the layout Capture writes; with
      // Capture notices on it also reads their queue.
      bronze: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'AZURE_SERVICEBUS_NAMESPACE',
        'PIPELINE_EVENT_HUB_NAMESPACE',
        'PIPELINE_EVENT_HUB',
        'PIPELINE_EVENT_HUB_PARTITIONS',
        'BRONZE_NOTICES_QUEUE',
      ],
      silver: ['AZURE_STORAGE_ACCOUNT_URL', 'PIPELINE_LAKE_CONTAINER', 'AZURE_SERVICEBUS_NAMESPACE', 'PIPELINE_SPEC'],
      gold: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'AZURE_SERVICEBUS_NAMESPACE',
        'AZURE_COSMOS_ENDPOINT',
        'PIPELINE_COSMOS_DATABASE',
        'PIPELINE_COSMOS_CONTAINER',
        'PIPELINE_SPEC',
        'PIPELINE_OWNERSHIP_CONTAINER',
      ],
      servingApi: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'PIPELINE_EVENT_HUB',
        'AZURE_COSMOS_ENDPOINT',
        'PIPELINE_COSMOS_DATABASE',
        'PIPELINE_COSMOS_CONTAINER',
        'PIPELINE_SPEC',
        'SERVING_PORT',
        'SERVING_HOST',
        'SERVING_AUTH',
        'SERVING_AUTH_TENANT_ID',
        'SERVING_AUTH_AUDIENCE',
        'SERVING_AUTH_ROLE',
        'SERVING_CORS_ORIGINS',
        'SERVING_TRUST_PROXY',
        'SERVING_HSTS',
        'SERVING_TOKEN_KEY',
      ],
    };
    for (const [symbol, names] of Object.entries(expected)) expect([...serviceEnvNames(mainBicep, symbol)].sort()).toEqual([...names].sort());
    // Capture and bronze name the namespace the same way Event Hubs Capture does ({Namespace}: its name).
    expect(mainBicep).toMatch(/captureLayoutSettings = \[\s*\{ name: 'PIPELINE_EVENT_HUB_NAMESPACE', value: eventHubs\.outputs\.namespaceName \}/);
    for (const module of ['container-app', 'container-job']) {
      const text = read(join(infra, `modules/${module}.bicep`));
      expect(text).toContain("{ name: 'PIPELINE_BACKEND', value: 'azure' }");
      expect(text).toContain("{ name: 'AZURE_CLIENT_ID', value: identityClientId }");
      expect(text).toContain("{ name: 'AZURE_CREDENTIAL', value: 'managed-identity' }");
    }
  });

  it('scales silver and gold on their queues and capture on the event hub, each rule with a managed identity', () => {
    const rule = (symbol: string) => propertyValue(declarations(mainBicep).find((d) => d.symbol === symbol)?.body ?? '', 'scaleRules') ?? '';
    expect(rule('silver')).toMatch(/type: 'azure-servicebus'[\s\S]*identity: queueScalerIdentity\.outputs\.identityId[\s\S]*queueName: bronzeQueue/);
    expect(rule('gold')).toMatch(/type: 'azure-servicebus'[\s\S]*identity: queueScalerIdentity\.outputs\.identityId[\s\S]*queueName: silverQueue/);
    expect(rule('capture')).toMatch(/type: 'azure-eventhub'[\s\S]*identity: captureIdentity\.outputs\.identityId[\s\S]*blobContainer: checkpointContainer/);
    const bronze = declarations(mainBicep).find((d) => d.symbol === 'bronze')?.body ?? '';
    // Singleton stages: one runs, one stands by on the lease; more replicas would only stand by.
    expect(bronze).toMatch(/minReplicas: bronzeReplicas\s+maxReplicas: bronzeReplicas/);
    expect(mainBicep).toMatch(/@maxValue\(2\)\n@description\('Bronze replicas[^\n]*\nparam bronzeReplicas int = 2\n/);
    expect(mainBicep).toMatch(/@maxValue\(2\)\n@description\('Silver replicas at most[^\n]*\nparam silverMaxReplicas int = 2\n/);
    const api = declarations(mainBicep).find((d) => d.symbol === 'servingApi')?.body ?? '';
    expect(api).toMatch(/ingressTargetPort: 8080/);
    expect(api).toMatch(/healthProbes: true/);
    expect(api).toMatch(/minReplicas: 1\b/);
    const app = read(join(infra, 'modules/container-app.bicep'));
    expect(app).toContain("path: '/health/live'");
    expect(app).toContain("path: '/health/ready'");
  });

  it('uses the azd parameter conventions', () => {
    const parameters = JSON.parse(read(join(infra, 'main.parameters.json'))) as { parameters: Record<string, { value: unknown }> };
    expect(parameters.parameters['environmentName']?.value).toBe('${AZURE_ENV_NAME}');
    expect(parameters.parameters['location']?.value).toBe('${AZURE_LOCATION}');
    const declared = params(mainBicep).map((p) => p.name);
    expect(Object.keys(parameters.parameters).filter((name) => !declared.includes(name))).toEqual([]);
    expect(parameters.parameters['enableEventHubsCapture']?.value).toBe('${ENABLE_EVENT_HUBS_CAPTURE=true}');
    expect(parameters.parameters['enableCaptureNotices']?.value).toBe('${ENABLE_CAPTURE_NOTICES=true}');
    expect(mainBicep).toMatch(/^output AZURE_CONTAINER_REGISTRY_ENDPOINT string/m);
  });
});

describe('azure.yaml', () => {
  const azure = parse(read(join(repo, 'azure.yaml'))) as {
    infra: { path: string; module: string };
    services: Record<string, { project: string; host: string; docker: { path: string; context: string } }>;
  };
  const deployable = readdirSync(join(repo, 'apps'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'cli')
    .map((e) => e.name)
    .sort();

  it('lists exactly the deployable apps (every app but the developer CLI)', () => {
    expect(Object.keys(azure.services).sort()).toEqual(deployable);
  });

  it.each(Object.keys(azure.services))('builds %s from apps/<app>/Dockerfile with the repo root as context on Container Apps', (service) => {
    const entry = azure.services[service];
    expect(entry?.host).toBe('containerapp');
    expect(entry?.project).toBe('.');
    expect(entry?.docker).toEqual({ path: `apps/${service}/Dockerfile`, context: '.' });
    expect(existsSync(join(repo, 'apps', service, 'src', 'main.ts'))).toBe(true);
  });

  it.each(Object.keys(azure.services))('has a Dockerfile for %s', (service) => {
    expect(existsSync(join(repo, 'apps', service, 'Dockerfile'))).toBe(true);
  });

  it('points at infra/main.bicep and tags one deployment target per service', () => {
    expect(azure.infra).toMatchObject({ path: 'infra', module: 'main' });
    const tagged = [...mainBicep.matchAll(/'azd-service-name': '([\w-]+)'/g)].map((m) => m[1]).sort();
    expect(tagged).toEqual(deployable);
  });
});

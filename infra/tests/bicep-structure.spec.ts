import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { bicepFiles, declarations, objectKeys, params, propertyValue, read, structuralProblems, varValue } from './bicep-text';

const repo = resolve(__dirname, '../..');
const infra = join(repo, 'infra');
const files = bicepFiles(infra);
const mainBicep = read(join(infra, 'main.bicep'));
const rel = (path: string) => relative(repo, path);

/** The environment variable names a service's module call sets (its own `name:` entries and those of the vars it concatenates). */
function envNames(serviceSymbol: string): Set<string> {
  const decl = declarations(mainBicep).find((d) => d.symbol === serviceSymbol);
  if (!decl) throw new Error(`main.bicep has no module ${serviceSymbol}`);
  const env = propertyValue(decl.body, 'env') ?? '';
  const names = new Set([...env.matchAll(/name:\s*'(\w+)'/g)].map((m) => m[1] as string));
  for (const ref of env.matchAll(/\b(\w+Settings)\b/g)) {
    const value = varValue(mainBicep, ref[1] as string);
    if (!value) throw new Error(`main.bicep: ${serviceSymbol} uses ${ref[1]}, which is not a var`);
    for (const m of value.matchAll(/name:\s*'(\w+)'/g)) names.add(m[1] as string);
  }
  return names;
}

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
        .map(({ at, line }) => `${at}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
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

  it('declares the queues with the options the services ensure', () => {
    const bus = read(join(infra, 'modules/service-bus.bicep'));
    for (const line of ['requiresSession: true', "lockDuration: 'PT30S'", 'maxDeliveryCount: 10', 'deadLetteringOnMessageExpiration: true']) expect(bus).toContain(line);
    const queues = propertyValue(propertyValue(declarations(mainBicep).find((d) => d.symbol === 'serviceBus')?.body ?? '', 'params') ?? '', 'queueNames');
    expect(queues).toBe('[bronzeQueue, silverQueue]');
    expect(mainBicep).toMatch(/^var bronzeQueue = 'bronze-manifests'$/m);
    expect(mainBicep).toMatch(/^var silverQueue = 'silver-manifests'$/m);
  });

  it('creates the Cosmos container with the composite indexes the adapter queries need', () => {
    const adapter = readFileSync(join(repo, 'libs/adapters/src/cosmos.serving-store.ts'), 'utf8');
    const pairs = (text: string) => [...text.matchAll(/path: '([^']+)', order: '(ascending|descending)'/g)].map((m) => `${m[1]} ${m[2]}`);
    const adapterIndexes = pairs(adapter.replace(/ as const/g, ''));
    expect(adapterIndexes.length).toBeGreaterThan(0);
    expect(pairs(read(join(infra, 'modules/cosmos.bicep')))).toEqual(adapterIndexes);
    expect(read(join(infra, 'modules/cosmos.bicep'))).toMatch(/partitionKey: \{ paths: \['\/pk'\]/);
  });

  it('gives each service the settings of the contract, and every app PIPELINE_BACKEND=azure and AZURE_CLIENT_ID', () => {
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
      // Bronze finds capture files by namespace, hub and partition: the layout Capture writes.
      bronze: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'AZURE_SERVICEBUS_NAMESPACE',
        'PIPELINE_EVENT_HUB_NAMESPACE',
        'PIPELINE_EVENT_HUB',
        'PIPELINE_EVENT_HUB_PARTITIONS',
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
      ],
      servingApi: [
        'AZURE_STORAGE_ACCOUNT_URL',
        'PIPELINE_LAKE_CONTAINER',
        'AZURE_COSMOS_ENDPOINT',
        'PIPELINE_COSMOS_DATABASE',
        'PIPELINE_COSMOS_CONTAINER',
        'PIPELINE_SPEC',
        'SERVING_PORT',
        'SERVING_HOST',
      ],
    };
    for (const [symbol, names] of Object.entries(expected)) expect([...envNames(symbol)].sort()).toEqual([...names].sort());
    // Capture and bronze name the namespace the same way Event Hubs Capture does ({Namespace}: its name).
    expect(mainBicep).toMatch(/captureLayoutSettings = \[\s*\{ name: 'PIPELINE_EVENT_HUB_NAMESPACE', value: eventHubs\.outputs\.namespaceName \}/);
    for (const module of ['container-app', 'container-job']) {
      const text = read(join(infra, `modules/${module}.bicep`));
      expect(text).toContain("{ name: 'PIPELINE_BACKEND', value: 'azure' }");
      expect(text).toContain("{ name: 'AZURE_CLIENT_ID', value: identityClientId }");
    }
  });

  it('scales silver and gold on their queues and capture on the event hub, each rule with a managed identity', () => {
    const rule = (symbol: string) => propertyValue(declarations(mainBicep).find((d) => d.symbol === symbol)?.body ?? '', 'scaleRules') ?? '';
    expect(rule('silver')).toMatch(/type: 'azure-servicebus'[\s\S]*identity: queueScalerIdentity\.outputs\.identityId[\s\S]*queueName: bronzeQueue/);
    expect(rule('gold')).toMatch(/type: 'azure-servicebus'[\s\S]*identity: queueScalerIdentity\.outputs\.identityId[\s\S]*queueName: silverQueue/);
    expect(rule('capture')).toMatch(/type: 'azure-eventhub'[\s\S]*identity: captureIdentity\.outputs\.identityId[\s\S]*blobContainer: checkpointContainer/);
    const bronze = declarations(mainBicep).find((d) => d.symbol === 'bronze')?.body ?? '';
    expect(bronze).toMatch(/minReplicas: 1\s+maxReplicas: 1/);
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

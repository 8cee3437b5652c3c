/**
 * What a team needs to run the pipeline, each behind its own parameter: diagnostic settings, alerts,
 * private networking, the raw Capture lifecycle, Event Hubs auto-inflate, lake soft delete, zone
 * redundancy, and the grant Event Hubs Capture writes the lake with. Each is checked on (present,
 * with the right properties) and off (absent), by working out the deployment from the templates'
 * text for those parameter values (bicep-eval.ts).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { declarations, params, propertyValue, read } from './bicep-text';
import { deploy, evaluate, Opaque, property, type Deployment } from './bicep-eval';

const repo = resolve(__dirname, '../..');
const infra = join(repo, 'infra');
const mainBicep = read(join(infra, 'main.bicep'));
const defaults = deploy();

const resources = (d: Deployment, module: string) => [...(d.modules.get(module)?.resources ?? [])].sort();
const raw = (v: unknown) => (v instanceof Opaque ? v.text.replace(/\s+/g, ' ') : v);

describe('the evaluator the checks below rely on', () => {
  const scope = { file: 'test', text: "var on = true\nvar name = 'x'\n", values: { n: 3, empty1: '' } };

  it('evaluates switches and refuses a condition it cannot decide', () => {
    expect(evaluate("on && n > 2 ? name : 'y'", scope)).toBe('x');
    expect(evaluate('!empty(empty1) || n == 3', scope)).toBe(true);
    expect(evaluate("'${name}/raw/'", scope)).toBe('x/raw/');
    expect(evaluate('n > 2 ? { a: 1 } : {}', scope)).toEqual(new Opaque('{ a: 1 }'));
    // A module output is opaque: never empty, and no condition may hang on it.
    expect(evaluate('empty(lake.outputs.accountId)', scope)).toBe(false);
    expect(() => evaluate('lake.outputs.on ? 1 : 2', scope)).toThrow(/not a boolean/);
  });

  it('knows every parameter of main.bicep by its default', () => {
    const missing = params(mainBicep)
      .filter((p) => !(p.name in defaults.main.values))
      .map((p) => p.name);
    expect(missing).toEqual([]);
  });
});

describe('switches of main.bicep', () => {
  it.each([
    ['enableDiagnostics', 'true'],
    ['enableAlerts', 'true'],
    ['alertEmail', "''"],
    ['enablePrivateNetworking', 'false'],
    ['enableRawCaptureLifecycle', 'true'],
    ['rawCaptureCoolAfterDays', '30'],
    ['rawCaptureDeleteAfterDays', '0'],
    ['enableEventHubsAutoInflate', 'true'],
    ['eventHubsMaxThroughputUnits', '4'],
    ['enableLakeSoftDelete', 'true'],
    ['lakeSoftDeleteDays', '7'],
    ['zoneRedundant', 'false'],
  ])('%s defaults to %s and is described in infra/README.md', (name, value) => {
    expect(mainBicep).toMatch(new RegExp(`^param ${name} \\w+ = ${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(read(join(infra, 'README.md'))).toContain(`\`${name}\``);
  });
});

describe('diagnostic settings (enableDiagnostics)', () => {
  const diagnostics: Record<string, string[]> = {
    eventHubs: ['diagnostics'],
    serviceBus: ['diagnostics'],
    cosmos: ['diagnostics'],
    lake: ['accountDiagnostics', 'blobDiagnostics'],
  };

  it.each(Object.keys(diagnostics))('%s sends its logs and metrics to the Log Analytics workspace when on', (module) => {
    for (const symbol of diagnostics[module] as string[]) {
      expect(resources(defaults, module)).toContain(symbol);
      expect(raw(property(defaults, module, symbol, 'workspaceId'))).toBe('monitoring.outputs.logAnalyticsWorkspaceId');
    }
    const text = defaults.modules.get(module)?.scope.text ?? '';
    const bodies = declarations(text).filter((d) => (diagnostics[module] as string[]).includes(d.symbol));
    for (const body of bodies) expect(body.target).toBe('Microsoft.Insights/diagnosticSettings@2021-05-01-preview');
  });

  it('sends every log category of the namespaces and Cosmos DB, and the lake’s blob logs', () => {
    for (const module of ['eventHubs', 'serviceBus', 'cosmos'])
      expect(raw(property(defaults, module, 'diagnostics', 'logs'))).toBe("[{ categoryGroup: 'allLogs', enabled: true }]");
    expect(raw(property(defaults, 'lake', 'blobDiagnostics', 'logs'))).toBe("[{ categoryGroup: 'allLogs', enabled: true }]");
  });

  it('deploys none of them when off, and no alert that reads them', () => {
    const off = deploy({ enableDiagnostics: false });
    for (const [module, symbols] of Object.entries(diagnostics)) for (const symbol of symbols) expect(resources(off, module)).not.toContain(symbol);
    expect(resources(off, 'alerts')).not.toContain('captureErrors');
    expect(resources(defaults, 'alerts')).toContain('captureErrors');
  });
});

describe('alerts (enableAlerts)', () => {
  const alerts = read(join(infra, 'modules/alerts.bicep'));
  const metric = (symbol: string) => {
    const body = declarations(alerts).find((d) => d.symbol === symbol)?.body ?? '';
    return /criteria\('([^']+)', '([^']+)', '([^']+)'/.exec(body)?.slice(1, 4);
  };

  it('watches each signal on the metric Azure Monitor names it by', () => {
    expect(metric('deadLetters')).toEqual(['Microsoft.ServiceBus/namespaces', 'DeadletteredMessages', 'Maximum']);
    expect(metric('hubThrottling')).toEqual(['Microsoft.EventHub/namespaces', 'ThrottledRequests', 'Total']);
    expect(metric('captureBacklog')).toEqual(['Microsoft.EventHub/namespaces', 'CaptureBacklog', 'Total']);
    expect(metric('cosmosThrottling')).toEqual(['Microsoft.DocumentDB/databaseAccounts', 'TotalRequests', 'Count']);
    expect(propertyValue(declarations(alerts).find((d) => d.symbol === 'cosmosThrottling')?.body ?? '', 'values')).toBe("['429']");
    expect(metric('restarts')).toEqual(['Microsoft.App/containerApps', 'RestartCount', 'Maximum']);
  });

  it('sends every alert to the action group, whose e-mail is the parameter', () => {
    const rules = declarations(alerts).filter((d) => /^Microsoft\.Insights\/(metricAlerts|scheduledQueryRules)@/.test(d.target));
    expect(rules.length).toBe(7);
    for (const rule of rules) expect(propertyValue(rule.body, 'actions')).toMatch(/^(actions|\{ actionGroups: \[actionGroup\.id\] \})$/);
    expect(raw(property(defaults, 'alerts', 'actionGroup', 'emailReceivers'))).toBe('[]');
    const mailed = deploy({ alertEmail: 'ops@example.com' });
    expect(raw(property(mailed, 'alerts', 'actionGroup', 'emailReceivers'))).toBe("[{ name: 'operators', emailAddress: alertEmail, useCommonAlertSchema: true }]");
  });

  it('watches restarts of every Container App', () => {
    expect(raw(defaults.modules.get('alerts')?.scope.values['containerAppIds'])).toBe(
      '[capture.outputs.appId, bronze.outputs.appId, silver.outputs.appId, gold.outputs.appId, servingApi.outputs.appId]',
    );
  });

  it('alerts on the Capture backlog and errors only with Event Hubs Capture on', () => {
    expect(resources(defaults, 'alerts')).toEqual(
      ['actionGroup', 'captureBacklog', 'captureErrors', 'cosmosThrottling', 'deadLetters', 'hubThrottling', 'restarts', 'watermarkStalled'].sort(),
    );
    const noCapture = resources(deploy({ enableEventHubsCapture: false }), 'alerts');
    expect(noCapture).not.toContain('captureBacklog');
    expect(noCapture).not.toContain('captureErrors');
  });

  it('reads the stalled watermark from the commit line gold logs, with the fields it logs', () => {
    const gold = readFileSync(join(repo, 'apps/gold/src/shard-actor.ts'), 'utf8');
    const message = gold.indexOf("'gold batch committed'");
    expect(message).toBeGreaterThan(0);
    const call = gold.slice(gold.lastIndexOf('this.logger.info(', message), message);
    const fields = [...call.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]);
    expect(fields).toEqual(expect.arrayContaining(['shard', 'rows', 'watermark', 'held_by_partition']));
    const query = alerts.slice(alerts.indexOf("var watermarkQuery = '''"), alerts.indexOf("'''", alerts.indexOf("var watermarkQuery = '''") + 30));
    expect(query).toContain('Log has "gold batch committed"');
    for (const field of ['shard', 'rows', 'watermark', 'held_by_partition']) expect(query).toContain(`line.${field}`);
    expect(raw(defaults.modules.get('alerts')?.scope.values['goldAppName'])).toBe('gold.outputs.appName');
  });

  it('says in the runbook what each alert means and what to do', () => {
    const runbook = read(join(repo, 'docs/runbook.md'));
    const section = runbook.slice(runbook.indexOf('\n## Alerts\n'));
    expect(runbook).toContain('\n## Alerts\n');
    const names = [...alerts.matchAll(/name: '(pipeline-[\w-]+?)(-\$\{[^}]+\})?'/g)].map((m) => m[1] as string);
    expect(names.length).toBe(7);
    for (const name of names) expect(section).toContain(`\`${name}`);
  });

  it('deploys no alert and no action group when off', () => {
    expect(deploy({ enableAlerts: false }).modules.has('alerts')).toBe(false);
    expect(defaults.modules.has('alerts')).toBe(true);
  });
});

describe('private networking (enablePrivateNetworking)', () => {
  const on = deploy({ enablePrivateNetworking: true });

  it('is off by default: no network, no endpoints, public access on', () => {
    expect(defaults.modules.has('network')).toBe(false);
    expect(defaults.modules.has('privateEndpoint')).toBe(false);
    expect(property(defaults, 'eventHubs', 'namespace', 'publicNetworkAccess')).toBe('Enabled');
    expect(property(defaults, 'cosmos', 'account', 'publicNetworkAccess')).toBe('Enabled');
    expect(property(defaults, 'environment', 'environment', 'vnetConfiguration')).toBeNull();
    expect(resources(defaults, 'serviceBus')).not.toContain('networkRules');
    expect(raw(property(defaults, 'serviceBus', 'namespace', 'sku'))).toBe("{ name: 'Standard', tier: 'Standard' }");
  });

  it('puts the Container Apps environment in the VNet’s delegated subnet', () => {
    expect(on.modules.has('network')).toBe(true);
    expect(raw(on.modules.get('environment')?.scope.values['infrastructureSubnetId'])).toBe('network!.outputs.appsSubnetId');
    expect(raw(property(on, 'environment', 'environment', 'vnetConfiguration'))).toBe('{ infrastructureSubnetId: infrastructureSubnetId, internal: false }');
    expect(read(join(infra, 'modules/network.bicep'))).toMatch(/serviceName: 'Microsoft\.App\/environments'/);
  });

  it('gives the lake (blob, dfs), Event Hubs, Service Bus and Cosmos DB a private endpoint in their private DNS zone', () => {
    expect(on.modules.has('privateEndpoint')).toBe(true);
    const list = propertyValue(`x: ${mainBicep.slice(mainBicep.indexOf('var privateEndpoints = ') + 'var privateEndpoints = '.length)}`, 'x') ?? '';
    const endpoints = [...list.matchAll(/service: '(\w+)', groupId: '(\w+)', zone: '(\w+)'/g)].map((m) => m.slice(1, 4).join(' '));
    expect(endpoints).toEqual(['lake blob blob', 'lake dfs dfs', 'eventHubs namespace servicebus', 'serviceBus namespace servicebus', 'cosmos Sql cosmos']);
    const network = read(join(infra, 'modules/network.bicep'));
    for (const zone of [
      "'privatelink.blob.${environment().suffixes.storage}'",
      "'privatelink.dfs.${environment().suffixes.storage}'",
      "'privatelink.servicebus.windows.net'",
      "'privatelink.documents.azure.com'",
    ])
      expect(network).toContain(zone);
    expect(read(join(infra, 'modules/private-endpoint.bicep'))).toMatch(/privateDnsZoneConfigs: \[\{ name: groupId, properties: \{ privateDnsZoneId: privateDnsZoneId \} \}\]/);
  });

  it('turns public network access off, keeping only the trusted Azure services Capture and Event Grid need', () => {
    expect(property(on, 'eventHubs', 'namespace', 'publicNetworkAccess')).toBe('Disabled');
    expect(property(on, 'cosmos', 'account', 'publicNetworkAccess')).toBe('Disabled');
    expect(raw(property(on, 'lake', 'account', 'networkAcls'))).toBe("{ defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [], virtualNetworkRules: [] }");
    // Private endpoints on Service Bus need Premium.
    expect(raw(property(on, 'serviceBus', 'namespace', 'sku'))).toBe("{ name: 'Premium', tier: 'Premium', capacity: 1 }");
    expect(resources(on, 'serviceBus')).toContain('networkRules');
    expect(property(on, 'serviceBus', 'networkRules', 'defaultAction')).toBe('Deny');
    expect(property(on, 'serviceBus', 'networkRules', 'trustedServiceAccessEnabled')).toBe(true);
  });
});

describe('raw Capture file lifecycle (enableRawCaptureLifecycle)', () => {
  it('cools the files under lake/raw/ after 30 days and deletes none by default', () => {
    expect(resources(defaults, 'lake')).toContain('rawLifecycle');
    const lake = defaults.modules.get('lake')?.scope.values ?? {};
    expect([lake['rawPrefix'], lake['rawCoolAfterDays'], lake['rawDeleteAfterDays']]).toEqual(['lake/raw/', 30, 0]);
    const storage = read(join(infra, 'modules/storage.bicep'));
    expect(storage).toMatch(/rawCoolAfterDays > 0 \? \{ tierToCool: \{ daysAfterModificationGreaterThan: rawCoolAfterDays \} \} : \{\}/);
    expect(storage).toMatch(/rawDeleteAfterDays > 0 \? \{ delete: \{ daysAfterModificationGreaterThan: rawDeleteAfterDays \} \} : \{\}/);
    expect(storage).toMatch(/filters: \{ blobTypes: \['blockBlob'\], prefixMatch: \[rawPrefix\] \}/);
  });

  it('matches the prefix bronze reads Capture files from', () => {
    const bronzeConfig = readFileSync(join(repo, 'apps/bronze/src/bronze.config.ts'), 'utf8');
    expect(bronzeConfig).toMatch(/BRONZE_RAW_PREFIX'[^)]*default: 'raw'/);
    expect(read(join(infra, 'modules/event-hubs.bicep'))).toContain("archiveNameFormat: 'raw/{Namespace}");
  });

  it('deploys no rule when off', () => {
    expect(resources(deploy({ enableRawCaptureLifecycle: false }), 'lake')).not.toContain('rawLifecycle');
  });
});

describe('Event Hubs auto-inflate (enableEventHubsAutoInflate)', () => {
  it('inflates up to eventHubsMaxThroughputUnits when on, and stays at one unit when off', () => {
    expect(property(defaults, 'eventHubs', 'namespace', 'isAutoInflateEnabled')).toBe(true);
    expect(property(defaults, 'eventHubs', 'namespace', 'maximumThroughputUnits')).toBe(4);
    const off = deploy({ enableEventHubsAutoInflate: false });
    expect(property(off, 'eventHubs', 'namespace', 'isAutoInflateEnabled')).toBe(false);
    // Event Hubs refuses a maximum without auto-inflate: 0 when off.
    expect(property(off, 'eventHubs', 'namespace', 'maximumThroughputUnits')).toBe(0);
  });
});

describe('soft delete on the lake (enableLakeSoftDelete)', () => {
  it('keeps deleted blobs and containers lakeSoftDeleteDays when on, and neither when off', () => {
    expect(raw(property(defaults, 'lake', 'blobService', 'deleteRetentionPolicy'))).toBe('{ enabled: true, days: softDeleteDays }');
    expect(raw(property(defaults, 'lake', 'blobService', 'containerDeleteRetentionPolicy'))).toBe('{ enabled: true, days: softDeleteDays }');
    expect(defaults.modules.get('lake')?.scope.values['softDeleteDays']).toBe(7);
    const off = deploy({ enableLakeSoftDelete: false });
    expect(raw(property(off, 'lake', 'blobService', 'deleteRetentionPolicy'))).toBe('{ enabled: false }');
    expect(raw(property(off, 'lake', 'blobService', 'containerDeleteRetentionPolicy'))).toBe('{ enabled: false }');
  });
});

describe('zone redundancy (zoneRedundant)', () => {
  it('is off by default everywhere', () => {
    expect(defaults.modules.get('lake')?.scope.values['skuName']).toBe('Standard_LRS');
    expect(property(defaults, 'eventHubs', 'namespace', 'zoneRedundant')).toBe(false);
    expect(property(defaults, 'cosmos', 'account', 'isZoneRedundant')).toBe(false);
    expect(property(defaults, 'serviceBus', 'namespace', 'zoneRedundant')).toBe(false);
    expect(property(defaults, 'environment', 'environment', 'zoneRedundant')).toBe(false);
  });

  it('applies where the SKU allows it: ZRS lake and Event Hubs always, Cosmos DB provisioned, Service Bus and the environment with private networking', () => {
    const on = deploy({ zoneRedundant: true });
    expect(on.modules.get('lake')?.scope.values['skuName']).toBe('Standard_ZRS');
    expect(property(on, 'eventHubs', 'namespace', 'zoneRedundant')).toBe(true);
    expect(property(on, 'cosmos', 'account', 'isZoneRedundant')).toBe(false); // serverless
    expect(property(deploy({ zoneRedundant: true, cosmosServerless: false }), 'cosmos', 'account', 'isZoneRedundant')).toBe(true);
    expect(property(on, 'serviceBus', 'namespace', 'zoneRedundant')).toBe(false); // Standard
    expect(property(on, 'environment', 'environment', 'zoneRedundant')).toBe(false); // no VNet
    const everything = deploy({ zoneRedundant: true, enablePrivateNetworking: true });
    expect(property(everything, 'serviceBus', 'namespace', 'zoneRedundant')).toBe(true);
    expect(property(everything, 'environment', 'environment', 'zoneRedundant')).toBe(true);
  });
});

describe('the grant Event Hubs Capture writes the lake with', () => {
  const hubs = read(join(infra, 'modules/event-hubs.bicep'));
  const writer = declarations(hubs).find((d) => d.symbol === 'captureWriter');

  it('gives the identity Capture authenticates with Storage Blob Data Contributor on the lake account, before the hub turns Capture on', () => {
    expect(propertyValue(writer?.body ?? '', 'principalId')).toBe('namespace.identity.principalId');
    expect(propertyValue(writer?.body ?? '', 'scope')).toBe('captureAccount');
    expect(raw(defaults.modules.get('eventHubs')?.scope.values['storageBlobDataContributorRoleId'])).toBe('role.storageBlobDataContributor');
    expect(mainBicep).toMatch(/^\s+storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'$/m);
    expect(raw(property(defaults, 'eventHubs', 'hub', 'identity'))).toBe("{ type: 'SystemAssigned' }");
    expect(raw(property(defaults, 'eventHubs', 'namespace', 'identity'))).toBe("{ type: 'SystemAssigned' }");
    expect(propertyValue(declarations(hubs).find((d) => d.symbol === 'hub')?.body ?? '', 'dependsOn')).toBe('[captureWriter]');
    expect(resources(defaults, 'eventHubs')).toContain('captureWriter');
  });

  it('exists only with Capture on, and the deploy guide explains the linked access check', () => {
    const off = deploy({ enableEventHubsCapture: false });
    expect(resources(off, 'eventHubs')).not.toContain('captureWriter');
    expect(property(off, 'eventHubs', 'hub', 'captureDescription')).toBeNull();
    expect(read(join(repo, 'docs/deploy.md'))).toContain('Linked access check failed');
  });
});

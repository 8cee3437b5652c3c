import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { DEPLOYED_APPS, REPO_ROOT, loadCompose, readRepoFile, serviceEnvironment, type DeployedApp } from './repo-files';

const compose = loadCompose();
/** What `docker compose up` needs from the caller's shell: the licence acceptance only. */
const SHELL = { ACCEPT_EULA: 'Y' };
const env = (service: string) => serviceEnvironment(compose.services[service] ?? {}, SHELL);

/**
 * Each app's exported config function (`producerConfig(flags, env)` …), loaded by path: the deploy
 * checks read the apps' code without making the apps importable projects.
 */
function configFunction(app: DeployedApp): (flags: object, env: NodeJS.ProcessEnv) => unknown {
  const name = `${app.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Config`;
  const exported = (require(path.join(REPO_ROOT, 'apps', app, 'src', `${app}.config`)) as Record<string, unknown>)[name];
  if (typeof exported !== 'function') throw new Error(`apps/${app}/src/${app}.config.ts does not export ${name}(flags, env)`);
  return exported as (flags: object, env: NodeJS.ProcessEnv) => unknown;
}

interface EventHubsEmulatorConfig {
  UserConfig: { NamespaceConfig: { Type: string; Name: string; Entities: { Name: string; PartitionCount: string; ConsumerGroups: { Name: string }[] }[] }[] };
}
interface ServiceBusEmulatorConfig {
  UserConfig: { Namespaces: { Name: string; Queues: { Name: string; Properties: Record<string, unknown> }[] }[] };
}
const eventHubs = JSON.parse(readRepoFile('deploy/emulators/eventhubs.config.json')) as EventHubsEmulatorConfig;
const serviceBus = JSON.parse(readRepoFile('deploy/emulators/servicebus.config.json')) as ServiceBusEmulatorConfig;

/** Milliseconds of an ISO-8601 duration of days, hours, minutes and seconds (`P14D`, `PT1H`, `PT1M30S`); `undefined` otherwise. */
function isoDurationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!m || value === 'P' || value.endsWith('T')) return undefined;
  const [days, hours, minutes, seconds] = m.slice(1).map((n) => Number(n ?? 0)) as [number, number, number, number];
  return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
}

describe('docker-compose.yml against the Compose Specification', () => {
  // The schema names draft-07 by an https URL Ajv does not register; draft-07 is Ajv's default anyway.
  const { $schema: _draft, ...schema } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8')) as Record<string, unknown>;
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it('validates against the Compose JSON schema dclint ships', () => {
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would reject a misspelt service key (the schema check is not vacuous)', () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    (broken.services['gold'] as Record<string, unknown>)['depends-on'] = ['azurite'];
    expect(validate(broken)).toBe(false);
  });

  it('passes dclint without errors', () => {
    const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/dclint/bin/dclint.cjs'), 'docker-compose.yml'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect({ status: run.status, errors: run.stdout.split('\n').filter((l) => /\berror\b/.test(l) && !/0 errors/.test(l)) }).toEqual({ status: 0, errors: [] });
  });

  // `docker compose config -q` is the reference validator; it runs only where Docker is installed.
  const docker = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
  const composeCheck = docker.status === 0 ? 'is accepted by docker compose config' : 'is accepted by docker compose config — skipped: no `docker compose` plugin on this machine';
  (docker.status === 0 ? it : it.skip)(composeCheck, () => {
    const run = spawnSync('docker', ['compose', 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, ...SHELL } });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('refuses to start the emulators until their licences are accepted', () => {
    expect(() => serviceEnvironment(compose.services['servicebus-emulator'] ?? {}, {})).toThrow(/ACCEPT_EULA is required/);
    for (const emulator of ['eventhubs-emulator', 'servicebus-emulator', 'sqlserver']) expect(env(emulator)['ACCEPT_EULA']).toBe('Y');
  });
});

describe.each(DEPLOYED_APPS)('the %s service', (app) => {
  const service = compose.services[app];

  it('is built from its own Dockerfile at the repository root', () => {
    expect(service?.build).toEqual({ context: '.', dockerfile: `apps/${app}/Dockerfile` });
  });

  it('passes its config validation with the compose environment on the azure backend', () => {
    const environment = env(app);
    expect(environment['PIPELINE_BACKEND']).toBe('azure');
    const config = configFunction(app);
    expect(() => config({}, environment)).not.toThrow();
  });

  it('sends telemetry to the collector and restarts after a failure', () => {
    expect(env(app)['OTEL_EXPORTER_OTLP_ENDPOINT']).toBe('http://otel-collector:4318');
    expect(service?.restart).toBe(app === 'producer' ? 'on-failure' : 'unless-stopped');
    expect(service?.depends_on?.['otel-collector']).toBeDefined();
  });

  it('depends only on services the compose file defines, waiting for health where a check exists', () => {
    for (const [name, { condition }] of Object.entries(service?.depends_on ?? {})) {
      expect(compose.services[name]).toBeDefined();
      expect(condition).toBe(compose.services[name]?.healthcheck ? 'service_healthy' : 'service_started');
    }
  });

  it('reads spec and CSV paths that its image ships', () => {
    for (const variable of ['PIPELINE_SPEC', 'PIPELINE_CSV']) {
      const file = env(app)[variable];
      if (file !== undefined) expect(fs.existsSync(path.join(REPO_ROOT, file))).toBe(true);
    }
  });
});

describe('the emulator entities the services use', () => {
  const namespace = eventHubs.UserConfig.NamespaceConfig[0];
  const queues = new Map(serviceBus.UserConfig.Namespaces.flatMap((n) => n.Queues).map((q) => [q.Name, q.Properties]));

  it.each(['producer', 'capture', 'bronze'])('%s names the emulator namespace, hub and partition count', (app) => {
    const e = env(app);
    expect(namespace?.Name).toBe(e['PIPELINE_EVENT_HUB_NAMESPACE']);
    const hub = namespace?.Entities.find((h) => h.Name === e['PIPELINE_EVENT_HUB']);
    expect(hub?.PartitionCount).toBe(e['PIPELINE_EVENT_HUB_PARTITIONS']);
  });

  it('has the consumer group capture reads with', () => {
    const e = env('capture');
    const group = e['CAPTURE_CONSUMER_GROUP'] ?? '$Default';
    const hub = namespace?.Entities.find((h) => h.Name === e['PIPELINE_EVENT_HUB']);
    expect(group === '$Default' || hub?.ConsumerGroups.some((g) => g.Name === group)).toBe(true);
  });

  // Queue names and properties from the settings contract (bronze → silver → gold).
  it.each(['bronze-manifests', 'silver-manifests'])('has session-enabled queue %s with a 30 s lock, 10 deliveries and dead-lettering', (queue) => {
    expect(queues.get(queue)).toMatchObject({ RequiresSession: true, LockDuration: 'PT30S', MaxDeliveryCount: 10, DeadLetteringOnMessageExpiration: true });
  });

  // The emulators refuse to start on a config outside the limits their installers' Config-schema.json
  // files document (Azure/azure-service-bus-emulator-installer, Azure/azure-event-hubs-emulator-installer),
  // often with a message that does not name the value. The limits, checked here:
  it('keeps the Service Bus emulator config within the limits the emulator accepts', () => {
    const [namespace, ...others] = serviceBus.UserConfig.Namespaces;
    expect(others).toEqual([]);
    expect(namespace?.Name).toBe('sbemulatorns');
    expect(namespace?.Queues.length).toBeLessThanOrEqual(50);
    const within = (value: unknown, min: string, max: string) => {
      const ms = isoDurationMs(value);
      return ms !== undefined && ms >= (isoDurationMs(min) as number) && ms <= (isoDurationMs(max) as number);
    };
    const problems: string[] = [];
    for (const queue of namespace?.Queues ?? []) {
      const p = queue.Properties;
      if (!/^[A-Za-z0-9]$|^[A-Za-z0-9][\w\-./]*[A-Za-z0-9]$/.test(queue.Name)) problems.push(`${queue.Name}: name`);
      if ('DefaultMessageTimeToLive' in p && !within(p['DefaultMessageTimeToLive'], 'PT5M', 'PT1H'))
        problems.push(`${queue.Name}: DefaultMessageTimeToLive ${String(p['DefaultMessageTimeToLive'])} (PT5M–PT1H)`);
      if ('LockDuration' in p && !within(p['LockDuration'], 'PT5S', 'PT5M')) problems.push(`${queue.Name}: LockDuration ${String(p['LockDuration'])} (PT5S–PT5M)`);
      if ('DuplicateDetectionHistoryTimeWindow' in p && !within(p['DuplicateDetectionHistoryTimeWindow'], 'PT5S', 'PT5M'))
        problems.push(`${queue.Name}: DuplicateDetectionHistoryTimeWindow ${String(p['DuplicateDetectionHistoryTimeWindow'])} (PT5S–PT5M)`);
      const deliveries = p['MaxDeliveryCount'];
      if ('MaxDeliveryCount' in p && !(Number.isInteger(deliveries) && (deliveries as number) >= 1 && (deliveries as number) <= 10))
        problems.push(`${queue.Name}: MaxDeliveryCount (1–10)`);
    }
    expect(problems).toEqual([]);
  });

  it('keeps the Event Hubs emulator config within the limits the emulator accepts', () => {
    const config = eventHubs.UserConfig as EventHubsEmulatorConfig['UserConfig'] & { LoggingConfig?: { Type?: string } };
    expect(config.NamespaceConfig).toHaveLength(1);
    const [namespace] = config.NamespaceConfig;
    expect(namespace).toMatchObject({ Type: 'EventHub', Name: 'emulatorNs1' });
    expect(namespace?.Entities.length).toBeGreaterThanOrEqual(1);
    expect(namespace?.Entities.length).toBeLessThanOrEqual(10);
    for (const hub of namespace?.Entities ?? []) {
      // A string, in the emulator's format.
      expect(hub.PartitionCount).toMatch(/^[1-9]\d*$/);
      expect(hub.ConsumerGroups.length).toBeGreaterThanOrEqual(1);
      expect(hub.ConsumerGroups.length).toBeLessThanOrEqual(20);
      expect(hub.ConsumerGroups.map((g) => g.Name.toLowerCase())).not.toContain('$default');
    }
    expect(['File', 'Console', 'File,Console', 'Console,File']).toContain(config.LoggingConfig?.Type);
  });

  it('reads ISO-8601 durations as the emulators write them, and refuses what is not one', () => {
    expect([isoDurationMs('PT1H'), isoDurationMs('PT30S'), isoDurationMs('P14D'), isoDurationMs('PT1M30S')]).toEqual([3_600_000, 30_000, 14 * 86_400_000, 90_000]);
    expect([isoDurationMs('P'), isoDurationMs('PT'), isoDurationMs('14 days'), isoDurationMs(30)]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('mounts each emulator config file where the emulator reads it', () => {
    expect(compose.services['eventhubs-emulator']?.volumes).toContain('./deploy/emulators/eventhubs.config.json:/Eventhubs_Emulator/ConfigFiles/Config.json:ro');
    expect(compose.services['servicebus-emulator']?.volumes).toContain('./deploy/emulators/servicebus.config.json:/ServiceBus_Emulator/ConfigFiles/Config.json:ro');
    expect(compose.services['otel-collector']?.volumes).toContain('./deploy/emulators/otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro');
  });

  it('points every connection string at a service of this compose file', () => {
    const hosts = new Set<string>();
    for (const app of DEPLOYED_APPS) {
      for (const [name, value] of Object.entries(env(app))) {
        if (!name.endsWith('_CONNECTION_STRING')) continue;
        const host = /(?:Endpoint|BlobEndpoint|AccountEndpoint)=(?:sb|https?):\/\/([^/:;]+)/.exec(value)?.[1];
        hosts.add(host ?? `${name}: no endpoint`);
      }
    }
    expect([...hosts].sort()).toEqual(['azurite', 'cosmos-emulator', 'eventhubs-emulator', 'servicebus-emulator']);
    for (const host of hosts) expect(compose.services[host]).toBeDefined();
  });
});

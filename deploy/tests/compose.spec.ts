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

  it('mounts each emulator config file where the emulator reads it', () => {
    expect(compose.services['eventhubs-emulator']?.volumes).toContain('./deploy/emulators/eventhubs.config.json:/Eventhubs_Emulator/ConfigFiles/Config.json:ro');
    expect(compose.services['servicebus-emulator']?.volumes).toContain('./deploy/emulators/servicebus.config.json:/ServiceBus-Emulator/ConfigFiles/Config.json:ro');
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

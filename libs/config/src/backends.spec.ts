import * as path from 'node:path';
import {
  describeAccess,
  lakeLocation,
  readBusBackend,
  readCheckpointStoreBackend,
  readEventHubBackend,
  readEventHubNamespaceName,
  readLakeBackend,
  readServingBackend,
} from './backends';
import { ConfigError, SettingsReader } from './settings';

const home = path.resolve('/tmp/pipeline-home');
const STORAGE_KEY = 'Zm9vYmFyc2VjcmV0a2V5PT0=';

/** Runs readers over an environment and returns what they read, or the ConfigError they raised. */
function read<T>(env: Record<string, string>, reader: (settings: SettingsReader) => T): T | ConfigError {
  const settings = new SettingsReader('test', env);
  const value = reader(settings);
  try {
    settings.done();
    return value;
  } catch (error) {
    return error as ConfigError;
  }
}

function problemsOf(result: unknown): string[] {
  expect(result).toBeInstanceOf(ConfigError);
  return (result as ConfigError).problems.map((p) => p.name);
}

describe('backend settings', () => {
  it('uses the embedded backends under the pipeline home by default', () => {
    expect(
      read({}, (s) => [
        readLakeBackend(s, home),
        readEventHubBackend(s, home),
        readCheckpointStoreBackend(s, home),
        readBusBackend(s, home),
        readServingBackend(s, '/x/serving.sqlite'),
      ]),
    ).toEqual([
      { kind: 'local', root: path.join(home, 'lake') },
      { kind: 'local', file: path.join(home, 'eventhub.sqlite'), namespace: 'local' },
      { kind: 'local', file: path.join(home, 'checkpoints.sqlite') },
      { kind: 'local', file: path.join(home, 'bus.sqlite') },
      { kind: 'local', file: '/x/serving.sqlite' },
    ]);
  });

  it('reads Azure endpoints for Microsoft Entra ID when PIPELINE_BACKEND is azure', () => {
    const credential = { kind: 'default' };
    const env = {
      PIPELINE_BACKEND: 'azure',
      AZURE_STORAGE_ACCOUNT_URL: 'https://lakeacct.blob.core.windows.net',
      AZURE_EVENTHUBS_NAMESPACE: 'sensors-prod.servicebus.windows.net',
      AZURE_SERVICEBUS_NAMESPACE: 'sensors-bus.servicebus.windows.net',
      AZURE_COSMOS_ENDPOINT: 'https://sensors.documents.azure.com:443/',
      PIPELINE_LAKE_ROOT: 'pipelines/sensors',
    };
    expect(
      read(env, (s) => [readLakeBackend(s, home), readEventHubBackend(s, home), readCheckpointStoreBackend(s, home), readBusBackend(s, home), readServingBackend(s, '/x')]),
    ).toEqual([
      { kind: 'azure', storage: { kind: 'entra', endpoint: env.AZURE_STORAGE_ACCOUNT_URL, credential }, container: 'lake', root: 'pipelines/sensors' },
      { kind: 'azure', access: { kind: 'entra', endpoint: env.AZURE_EVENTHUBS_NAMESPACE, credential }, namespace: 'sensors-prod' },
      { kind: 'azure', storage: { kind: 'entra', endpoint: env.AZURE_STORAGE_ACCOUNT_URL, credential }, container: 'eventhub-checkpoints' },
      { kind: 'azure', access: { kind: 'entra', endpoint: env.AZURE_SERVICEBUS_NAMESPACE, credential } },
      { kind: 'azure', access: { kind: 'entra', endpoint: env.AZURE_COSMOS_ENDPOINT, credential }, database: 'pipeline', container: 'serving' },
    ]);
  });

  it('signs in with DefaultAzureCredential unless AZURE_CREDENTIAL names the managed identity, whose client id it then checks', () => {
    const azure = { PIPELINE_BACKEND: 'azure', AZURE_STORAGE_ACCOUNT_URL: 'https://lakeacct.blob.core.windows.net' };
    const credentialOf = (env: Record<string, string>) => {
      const lake = read(env, (s) => readLakeBackend(s, home));
      if (lake instanceof ConfigError) return lake.message;
      return lake.kind === 'azure' && lake.storage.kind === 'entra' ? lake.storage.credential : undefined;
    };
    expect(credentialOf(azure)).toEqual({ kind: 'default' });
    expect(credentialOf({ ...azure, AZURE_CREDENTIAL: 'managed-identity' })).toEqual({ kind: 'managed-identity' });
    const clientId = '0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f';
    expect(credentialOf({ ...azure, AZURE_CREDENTIAL: 'managed-identity', AZURE_CLIENT_ID: clientId })).toEqual({ kind: 'managed-identity', clientId });
    expect(credentialOf({ ...azure, AZURE_CREDENTIAL: 'managed-identity', AZURE_CLIENT_ID: 'my-identity' })).toMatch(/AZURE_CLIENT_ID: expected the client id \(a GUID\)/);
    expect(credentialOf({ ...azure, AZURE_CREDENTIAL: 'az-login' })).toMatch(/AZURE_CREDENTIAL/);
  });

  it('lets one port override the pipeline-wide backend', () => {
    const env = {
      PIPELINE_BACKEND: 'azure',
      PIPELINE_LAKE_BACKEND: 'local',
      AZURE_SERVICEBUS_CONNECTION_STRING: 'Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;',
    };
    expect(read(env, (s) => [readLakeBackend(s, home).kind, readBusBackend(s, home).kind])).toEqual(['local', 'azure']);
    expect(read({ PIPELINE_BUS_BACKEND: 'azure' }, (s) => [readLakeBackend(s, home).kind, readBusBackend(s, home).kind]).toString()).toContain('AZURE_SERVICEBUS_NAMESPACE');
  });

  it('lists every missing Azure setting at once, naming the variable and the emulator alternative', () => {
    const result = read({ PIPELINE_BACKEND: 'azure' }, (s) => [readLakeBackend(s, home), readEventHubBackend(s, home), readBusBackend(s, home), readServingBackend(s, '/x')]);
    expect(problemsOf(result)).toEqual(['AZURE_STORAGE_ACCOUNT_URL', 'AZURE_EVENTHUBS_NAMESPACE', 'AZURE_SERVICEBUS_NAMESPACE', 'AZURE_COSMOS_ENDPOINT']);
    expect((result as ConfigError).message).toContain('(or AZURE_STORAGE_CONNECTION_STRING for an emulator)');
  });

  it('reports a bad backend name once, however many ports read it', () => {
    const result = read({ PIPELINE_BACKEND: 'cloud' }, (s) => [readLakeBackend(s, home), readBusBackend(s, home), readServingBackend(s, '/x')]);
    expect(problemsOf(result)).toEqual(['PIPELINE_BACKEND']);
    expect((result as ConfigError).message).toContain('expected one of local, azure, found "cloud"');
  });

  it('refuses both an endpoint and a connection string, and malformed endpoints and names', () => {
    const result = read(
      {
        PIPELINE_BACKEND: 'azure',
        AZURE_STORAGE_ACCOUNT_URL: 'lakeacct.blob.core.windows.net/lake?sv=1',
        AZURE_EVENTHUBS_NAMESPACE: 'sensors-prod.servicebus.windows.net',
        AZURE_EVENTHUBS_CONNECTION_STRING: 'Endpoint=sb://sensors-prod.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v',
        AZURE_SERVICEBUS_NAMESPACE: 'https://',
        AZURE_COSMOS_ENDPOINT: 'https://sensors.documents.azure.com:443/',
        PIPELINE_LAKE_CONTAINER: 'Lake_Files',
        PIPELINE_COSMOS_CONTAINER: 'a/b',
      },
      (s) => [readLakeBackend(s, home), readEventHubBackend(s, home), readBusBackend(s, home), readServingBackend(s, '/x')],
    );
    expect(problemsOf(result)).toEqual([
      'AZURE_STORAGE_ACCOUNT_URL',
      'PIPELINE_LAKE_CONTAINER',
      'AZURE_EVENTHUBS_NAMESPACE / AZURE_EVENTHUBS_CONNECTION_STRING',
      'AZURE_SERVICEBUS_NAMESPACE',
      'PIPELINE_COSMOS_CONTAINER',
    ]);
  });

  it('never echoes a connection string, even a malformed one', () => {
    const secret = `AccountKey=${STORAGE_KEY}`;
    const result = read({ PIPELINE_BACKEND: 'azure', AZURE_STORAGE_CONNECTION_STRING: secret }, (s) => readLakeBackend(s, home));
    expect(problemsOf(result)).toEqual(['AZURE_STORAGE_CONNECTION_STRING']);
    expect((result as ConfigError).message).not.toContain(STORAGE_KEY);
    expect((result as ConfigError).message).toContain('found a malformed value');
  });

  it('takes the emulators\u2019 connection strings, and describes them without their keys', () => {
    const storage = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${STORAGE_KEY};BlobEndpoint=http://azurite:10000/devstoreaccount1;`;
    const cosmos = `AccountEndpoint=http://cosmos:8081/;AccountKey=${STORAGE_KEY};`;
    const lake = read({ PIPELINE_BACKEND: 'azure', AZURE_STORAGE_CONNECTION_STRING: storage }, (s) => readLakeBackend(s, home));
    const serving = read({ PIPELINE_SERVING_BACKEND: 'azure', AZURE_COSMOS_CONNECTION_STRING: cosmos }, (s) => readServingBackend(s, '/x'));
    expect(lake).toMatchObject({ kind: 'azure', storage: { kind: 'connection-string' } });
    expect(serving).toMatchObject({ kind: 'azure', access: { kind: 'connection-string', connectionString: cosmos } });
    const lakeText = lakeLocation(lake as Exclude<typeof lake, ConfigError>);
    expect(lakeText).toBe('http://azurite:10000/devstoreaccount1 (connection string) container lake');
    expect(describeAccess({ kind: 'connection-string', connectionString: cosmos })).toBe('http://cosmos:8081/ (connection string)');
    expect(describeAccess({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true' })).toBe('an endpoint (connection string)');
  });

  it('names the capture namespace from its own setting, else from the namespace host', () => {
    expect(read({ PIPELINE_EVENT_HUB_NAMESPACE: 'ns1', AZURE_EVENTHUBS_NAMESPACE: 'other.servicebus.windows.net' }, readEventHubNamespaceName)).toBe('ns1');
    expect(read({ AZURE_EVENTHUBS_NAMESPACE: 'sensors-prod.servicebus.windows.net' }, readEventHubNamespaceName)).toBe('sensors-prod');
    expect(read({ AZURE_EVENTHUBS_CONNECTION_STRING: 'Endpoint=sb://emulator-ns.servicebus.windows.net/;SharedAccessKey=x' }, readEventHubNamespaceName)).toBe('emulator-ns');
    expect(read({}, readEventHubNamespaceName)).toBe('local');
  });
});

import { DefaultAzureCredential } from '@azure/identity';
import { ServiceBusAdministrationClient } from '@azure/service-bus';
import { BusError, type Bus, type QueueOptions } from '@pipeline/ports';
import { describeBusContract } from '@pipeline/testing';
import { serviceBusNamespaceOf, ServiceBusBus, toIsoDuration, type ServiceBusAccess } from './service-bus.bus';

const KEY = 'c2VjcmV0LWtleS1mb3ItdGhlLXRlc3Q=';
/** Well-formed, pointing nowhere: nothing below connects unless a live namespace is configured. */
const OFFLINE = `Endpoint=sb://pipeline-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`;
const sessions: QueueOptions = { sessions: true, lockDurationMs: 30_000, maxDeliveryCount: 10 };
const plain: QueueOptions = { sessions: false, lockDurationMs: 30_000, maxDeliveryCount: 10 };

const liveConnectionString = process.env['PIPELINE_TEST_SERVICEBUS_CONNECTION_STRING'];
const liveNamespace = process.env['PIPELINE_TEST_SERVICEBUS_NAMESPACE'];

/** A bus on the live namespace; queues are created per test and deleted afterwards (Manage rights). */
async function liveBus() {
  const access: ServiceBusAccess = liveConnectionString
    ? { connectionString: liveConnectionString }
    : { fullyQualifiedNamespace: liveNamespace as string, credential: new DefaultAzureCredential() };
  const bus = ServiceBusBus.open(access, { manageEntities: true });
  const created = new Set<string>();
  return {
    bus: recordingQueues(bus, created),
    dispose: async () => {
      await bus.close();
      const admin =
        'connectionString' in access
          ? new ServiceBusAdministrationClient(access.connectionString)
          : new ServiceBusAdministrationClient(access.fullyQualifiedNamespace, access.credential);
      await Promise.allSettled([...created].map((queue) => admin.deleteQueue(queue)));
    },
  };
}

if (liveConnectionString || liveNamespace) {
  describeBusContract('azure service bus', liveBus, { drivableClock: false });
} else {
  // Declared, not run: Jest lists every contract test as skipped, with the reason in the suite name.
  describe.skip('Bus contract (azure service bus) — skipped: set PIPELINE_TEST_SERVICEBUS_CONNECTION_STRING (a policy with Manage rights) or PIPELINE_TEST_SERVICEBUS_NAMESPACE (DefaultAzureCredential with Azure Service Bus Data Owner) to run it against a namespace', () =>
    describeBusContract('azure service bus', liveBus, { drivableClock: false }));
}

/** The bus, noting every queue a test ensures so that it can be deleted afterwards. */
function recordingQueues(bus: ServiceBusBus, created: Set<string>): Bus {
  return {
    location: bus.location,
    ensureQueue: (queue, options) => {
      created.add(queue);
      return bus.ensureQueue(queue, options);
    },
    send: (queue, messages) => bus.send(queue, messages),
    receiver: (queue) => bus.receiver(queue),
    acceptSession: (queue, options) => bus.acceptSession(queue, options),
    listDeadLetters: (queue, options) => bus.listDeadLetters(queue, options),
    resubmitDeadLetter: (queue, messageId) => bus.resubmitDeadLetter(queue, messageId),
    close: () => bus.close(),
  };
}

describe('ServiceBusBus (no namespace needed)', () => {
  let bus: ServiceBusBus;

  beforeEach(() => {
    bus = ServiceBusBus.open({ connectionString: OFFLINE });
  });

  afterEach(async () => {
    await bus.close();
  });

  it('names the namespace host as its location, never the key', () => {
    expect(bus.location).toBe('Service Bus namespace pipeline-test.servicebus.windows.net');
    expect(bus.location).not.toContain(KEY);
    expect(bus.location).not.toContain('SharedAccessKey');
  });

  it('takes the namespace host from Entra ID access and from emulator connection strings', () => {
    const credential = new DefaultAzureCredential();
    expect(serviceBusNamespaceOf({ fullyQualifiedNamespace: 'pipeline.servicebus.windows.net', credential })).toBe('pipeline.servicebus.windows.net');
    expect(
      serviceBusNamespaceOf({
        connectionString: 'Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
      }),
    ).toBe('localhost');
  });

  it('refuses a namespace with a scheme or without a domain, saying what to give', () => {
    const credential = new DefaultAzureCredential();
    expect(() => ServiceBusBus.open({ fullyQualifiedNamespace: 'sb://pipeline.servicebus.windows.net/', credential })).toThrow(
      /fullyQualifiedNamespace must be the namespace host, such as pipeline\.servicebus\.windows\.net \(no scheme, no path\)/,
    );
    expect(() => ServiceBusBus.open({ fullyQualifiedNamespace: 'pipeline', credential })).toThrow(BusError);
    expect(() => ServiceBusBus.open({ fullyQualifiedNamespace: 'pipeline.servicebus.windows.net', credential: undefined as never })).toThrow(/needs a credential/);
  });

  it('refuses a connection string it cannot read without repeating it', () => {
    const broken = `SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${KEY}`;
    let message = '';
    try {
      ServiceBusBus.open({ connectionString: broken });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/needs Endpoint=sb:\/\/<namespace>\.servicebus\.windows\.net\//);
    expect(message).not.toContain(KEY);
  });

  it('only records the queue options when it does not manage entities', async () => {
    await expect(bus.ensureQueue('gold-manifests', sessions)).resolves.toBeUndefined();
    await expect(bus.ensureQueue('gold-manifests', sessions)).resolves.toBeUndefined();
    await expect(bus.ensureQueue('gold-manifests', { ...sessions, maxDeliveryCount: 3 })).rejects.toThrow(/Queue "gold-manifests" was ensured before with .*"maxDeliveryCount":10/);
  });

  it("rejects queue options outside Service Bus's limits, listing every problem", async () => {
    await expect(bus.ensureQueue('q', { sessions: 'yes', lockDurationMs: 1_000, maxDeliveryCount: 0 } as unknown as QueueOptions)).rejects.toThrow(
      /sessions must be true or false.*lockDurationMs must be an integer from 5000 to 300000.*maxDeliveryCount must be a positive integer/,
    );
    await expect(bus.ensureQueue(' padded', plain)).rejects.toThrow(/A queue name must be a non-empty string/);
  });

  it('checks messages and receivers against the recorded options before calling the service', async () => {
    await bus.ensureQueue('ordered', sessions);
    await bus.ensureQueue('plain', plain);
    await expect(bus.send('ordered', [{ body: 1, sessionId: 'a' }, { body: 2 }])).rejects.toThrow(/Message 1 sent to queue "ordered" needs a sessionId/);
    await expect(bus.send('plain', [{ body: 1, sessionId: 's' }])).rejects.toThrow(/does not use sessions/);
    expect(() => bus.receiver('ordered')).toThrow(/uses sessions; take a session with bus\.acceptSession\("ordered"/);
    await expect(bus.acceptSession('plain', { maxWaitMs: 0 })).rejects.toThrow(/does not use sessions; receive from it with bus\.receiver\("plain"\)/);
    await expect(bus.acceptSession('ordered', { sessionId: '', maxWaitMs: 0 })).rejects.toThrow(/needs a non-empty sessionId/);
    await expect(bus.acceptSession('ordered', { maxWaitMs: -1 })).rejects.toThrow(/needs maxWaitMs, a finite number ≥ 0/);
    await expect(bus.listDeadLetters('plain', { limit: 0 })).rejects.toThrow(/limit must be a positive integer/);
  });

  it('sends nothing, without connecting, for an empty list', async () => {
    await expect(bus.send('anywhere', [])).resolves.toBeUndefined();
  });

  it('refuses work once closed', async () => {
    await bus.close();
    await expect(bus.send('plain', [{ body: 1 }])).rejects.toThrow(/The bus on Service Bus namespace pipeline-test\.servicebus\.windows\.net is closed/);
    expect(() => bus.receiver('plain')).toThrow(/is closed; open it again/);
  });
});

describe('toIsoDuration', () => {
  it('writes lock durations as the administration API takes them', () => {
    expect([5_000, 30_000, 60_000, 300_000, 1_500].map(toIsoDuration)).toEqual(['PT5S', 'PT30S', 'PT60S', 'PT300S', 'PT1.5S']);
  });
});

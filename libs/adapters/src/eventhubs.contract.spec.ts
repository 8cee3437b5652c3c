/**
 * The event hub contract against a live namespace or the Event Hubs emulator. It runs only when
 * configured (nothing here can start Event Hubs); otherwise Jest reports its tests as skipped.
 *
 *   PIPELINE_TEST_EVENTHUBS_CONNECTION_STRING  (emulator or SAS)  or  PIPELINE_TEST_EVENTHUBS_NAMESPACE
 *     (`<name>.servicebus.windows.net`, signed in through DefaultAzureCredential)
 *   PIPELINE_TEST_EVENTHUBS_HUB                an existing event hub; the tests share it safely
 *   PIPELINE_TEST_EVENTHUBS_CONSUMER_GROUP     optional, default $Default
 */
import { randomUUID } from 'node:crypto';
import { DefaultAzureCredential } from '@azure/identity';
import { FatalBackendError } from '@pipeline/ports';
import { describeEventHubContract, type EventHubUnderTest } from '@pipeline/testing';
import type { EventHubsAccess } from './eventhubs.access';
import { EventHubsConsumer } from './eventhubs.consumer';
import { EventHubsProducer } from './eventhubs.producer';

const connectionString = process.env['PIPELINE_TEST_EVENTHUBS_CONNECTION_STRING'];
const namespace = process.env['PIPELINE_TEST_EVENTHUBS_NAMESPACE'];
const hubName = process.env['PIPELINE_TEST_EVENTHUBS_HUB'];
const consumerGroup = process.env['PIPELINE_TEST_EVENTHUBS_CONSUMER_GROUP'] || '$Default';

function liveAccess(): EventHubsAccess | undefined {
  if (connectionString) return { connectionString };
  if (namespace) return { fullyQualifiedNamespace: namespace, credential: new DefaultAzureCredential() };
  return undefined;
}

const access = liveAccess();
const configured = access !== undefined && Boolean(hubName);
const SKIP_REASON =
  'skipped: set PIPELINE_TEST_EVENTHUBS_CONNECTION_STRING (or PIPELINE_TEST_EVENTHUBS_NAMESPACE) and PIPELINE_TEST_EVENTHUBS_HUB to run it against a namespace or the Event Hubs emulator';

async function openHub(): Promise<EventHubUnderTest> {
  if (!access || !hubName) throw new Error(`The live Event Hubs tests are not configured: ${SKIP_REASON}.`);
  const producer = await EventHubsProducer.open(access, hubName);
  try {
    const consumer = await EventHubsConsumer.open(access, hubName, { consumerGroup });
    return { producer, consumer, dispose: async () => undefined };
  } catch (error) {
    await producer.close();
    throw error;
  }
}

if (configured) {
  describeEventHubContract('azure event hubs', openHub);
} else {
  // Declared, not run: Jest lists every contract test as skipped, with the reason in the suite name.
  describe.skip(`Event hub contract (azure event hubs) — ${SKIP_REASON}`, () => describeEventHubContract('azure event hubs', openHub));
}

(configured ? describe : describe.skip)(`azure event hubs adapters against a live namespace${configured ? '' : ` — ${SKIP_REASON}`}`, () => {
  it('fails to open an event hub that does not exist with a FatalBackendError naming it and the fix', async () => {
    if (!access) throw new Error(SKIP_REASON);
    const missing = `missing-${randomUUID()}`;
    const opening = EventHubsProducer.open(access, missing);
    await expect(opening).rejects.toThrow(FatalBackendError);
    await expect(EventHubsConsumer.open(access, missing, { consumerGroup })).rejects.toThrow(new RegExp(`event hub "${missing}".*does not exist`));
  });

  it('reports a maxBatchBytes below the SDK limit of the link', async () => {
    const { producer, consumer } = await openHub();
    try {
      expect(producer.maxBatchBytes).toBeGreaterThan(0);
      expect(producer.maxBatchBytes).toBeLessThan((producer as EventHubsProducer).sdkMaxBatchBytes);
    } finally {
      await producer.close();
      await consumer.close();
    }
  });
});

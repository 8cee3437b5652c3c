import type { ServiceBusMessage } from '@azure/service-bus';
import { BusError } from '@pipeline/ports';
import {
  DEAD_LETTERED_AT_PROPERTY,
  decodeBody,
  fromServiceBusMessage,
  JSON_CONTENT_TYPE,
  resubmissionOf,
  sendInBatches,
  sessionRuns,
  toDeadLetter,
  toServiceBusMessage,
  type MessageBatch,
} from './service-bus.messages';

const enqueued = new Date('2026-01-01T00:00:00.000Z');
const lockedUntil = new Date('2026-01-01T00:00:30.000Z');

/** A received Service Bus message as the SDK shapes it (AMQP delivery count, body as raw bytes). */
function received(fields: Partial<Parameters<typeof fromServiceBusMessage>[0]> = {}) {
  return {
    body: Buffer.from(JSON.stringify({ manifest: 'silver/_manifests/7.json' })),
    messageId: 'm-1',
    sessionId: undefined,
    subject: 'silver.batch',
    applicationProperties: { shard: 3 },
    deliveryCount: 0,
    enqueuedTimeUtc: enqueued,
    lockToken: 'a7f0c0de-0000-4000-8000-000000000001',
    lockedUntilUtc: lockedUntil,
    ...fields,
  };
}

describe('toServiceBusMessage', () => {
  it('carries the body as JSON bytes with the id, session, subject, properties and schedule', () => {
    const message = toServiceBusMessage(
      'gold',
      {
        body: { rows: 42, nested: [1, 'two'] },
        messageId: 'm-7',
        sessionId: 'shard-3',
        subject: 'silver.batch',
        applicationProperties: { shard: 3, replay: false },
        scheduledEnqueueTime: 1_767_225_660_000,
      },
      0,
      { sessions: true },
    );
    expect(message).toEqual({
      body: Buffer.from('{"rows":42,"nested":[1,"two"]}'),
      contentType: JSON_CONTENT_TYPE,
      messageId: 'm-7',
      sessionId: 'shard-3',
      subject: 'silver.batch',
      applicationProperties: { shard: 3, replay: false },
      scheduledEnqueueTimeUtc: new Date(1_767_225_660_000),
    });
  });

  it('gives a message without an id a random one and leaves unset fields out', () => {
    const message = toServiceBusMessage('bronze', { body: null }, 0, undefined);
    expect(message.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(message).sort()).toEqual(['body', 'contentType', 'messageId']);
    expect(message.body).toEqual(Buffer.from('null'));
  });

  it('checks sessions against the queue options when they were recorded, and leaves it to the service otherwise', () => {
    expect(() => toServiceBusMessage('gold', { body: 1 }, 2, { sessions: true })).toThrow(/Message 2 sent to queue "gold" needs a sessionId/);
    expect(() => toServiceBusMessage('plain', { body: 1, sessionId: 's' }, 0, { sessions: false })).toThrow(/does not use sessions/);
    expect(toServiceBusMessage('unknown', { body: 1, sessionId: 's' }, 0, undefined).sessionId).toBe('s');
  });

  it('rejects what cannot travel, naming the message and the fix', () => {
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect(() => toServiceBusMessage('q', { body: circular }, 0, undefined)).toThrow(/Message 0 sent to queue "q" has a body that cannot be serialised to JSON/);
    expect(() => toServiceBusMessage('q', { body: undefined }, 1, undefined)).toThrow(/body must be JSON-serialisable \(use null for none\)/);
    expect(() => toServiceBusMessage('q', { body: 1, messageId: '' }, 0, undefined)).toThrow(/messageId "".*non-empty string/);
    expect(() => toServiceBusMessage('q', { body: 1, applicationProperties: { at: new Date() as unknown as string } }, 0, undefined)).toThrow(
      /application property "at".*strings, finite numbers or booleans/,
    );
    expect(() => toServiceBusMessage('q', { body: 1, scheduledEnqueueTime: Number.NaN }, 0, undefined)).toThrow(/scheduledEnqueueTime NaN; give epoch milliseconds/);
    expect(() => toServiceBusMessage('q', 'text' as never, 0, undefined)).toThrow(BusError);
  });
});

describe('fromServiceBusMessage', () => {
  it("maps a received message to the port's, counting deliveries from 1", () => {
    expect(fromServiceBusMessage(received())).toEqual({
      messageId: 'm-1',
      body: { manifest: 'silver/_manifests/7.json' },
      sessionId: undefined,
      subject: 'silver.batch',
      applicationProperties: { shard: 3 },
      deliveryCount: 1,
      enqueuedTime: enqueued.getTime(),
      lockToken: 'a7f0c0de-0000-4000-8000-000000000001',
      lockedUntil: lockedUntil.getTime(),
    });
    expect(fromServiceBusMessage(received({ deliveryCount: 2 })).deliveryCount).toBe(3);
  });

  it("uses the session lock's expiry for a session message without a lock time of its own", () => {
    const message = fromServiceBusMessage(received({ sessionId: 'shard-1', lockedUntilUtc: undefined }), 1_767_225_690_000);
    expect(message).toMatchObject({ sessionId: 'shard-1', lockedUntil: 1_767_225_690_000 });
  });

  it('keeps only string, number and boolean application properties, a "__proto__" key included', () => {
    const properties = JSON.parse('{"a":"x","b":2,"c":true,"d":null,"__proto__":"kept"}') as Record<string, unknown>;
    const message = fromServiceBusMessage(received({ applicationProperties: { ...properties, e: Buffer.from('x') } as never }));
    expect(Object.keys(message.applicationProperties).sort()).toEqual(['__proto__', 'a', 'b', 'c']);
    expect(Object.getPrototypeOf(message.applicationProperties)).toBe(Object.prototype);
  });

  it('refuses a message without a lock token (received in receive-and-delete mode)', () => {
    expect(() => fromServiceBusMessage(received({ lockToken: undefined }))).toThrow(/has no lock token; receive in peek-lock mode/);
  });
});

describe('decodeBody', () => {
  it('parses JSON bytes, gives other bytes as text, and keeps values that are not bytes', () => {
    expect(decodeBody(Buffer.from('"unreadable"'))).toBe('unreadable');
    expect(decodeBody(Buffer.from('[1,2]'))).toEqual([1, 2]);
    expect(decodeBody(Buffer.from('plain text from another tool'))).toBe('plain text from another tool');
    expect(decodeBody({ already: 'parsed' })).toEqual({ already: 'parsed' });
  });
});

describe('toDeadLetter', () => {
  it('reads the reason and description, and strips the dead-letter bookkeeping from the properties', () => {
    const letter = toDeadLetter({
      ...received({
        deliveryCount: 1,
        applicationProperties: { attempt: 'x', DeadLetterReason: 'ManifestMissing', DeadLetterErrorDescription: 'gone', [DEAD_LETTERED_AT_PROPERTY]: 1_767_225_700_000 },
      }),
      deadLetterReason: 'ManifestMissing',
      deadLetterErrorDescription: 'lake path silver/_manifests/7.json does not exist',
    });
    expect(letter).toEqual({
      messageId: 'm-1',
      body: { manifest: 'silver/_manifests/7.json' },
      sessionId: undefined,
      subject: 'silver.batch',
      applicationProperties: { attempt: 'x' },
      deliveryCount: 2,
      reason: 'ManifestMissing',
      description: 'lake path silver/_manifests/7.json does not exist',
      deadLetteredTime: 1_767_225_700_000,
    });
  });

  it('falls back to the enqueue time for a message Service Bus dead-lettered itself', () => {
    const letter = toDeadLetter({ ...received({ deliveryCount: 9 }), deadLetterReason: 'MaxDeliveryCountExceeded', deadLetterErrorDescription: undefined });
    expect(letter).toMatchObject({ reason: 'MaxDeliveryCountExceeded', description: '', deliveryCount: 10, deadLetteredTime: enqueued.getTime() });
  });
});

describe('resubmissionOf', () => {
  it('copies the body bytes, id, session, subject and application data of a dead letter', () => {
    const body = Buffer.from('{"n":1}');
    const copy = resubmissionOf({
      ...received({ body, sessionId: 's', applicationProperties: { attempt: 'x', DeadLetterReason: 'Test', DeadLetterErrorDescription: 'parked' } }),
      contentType: JSON_CONTENT_TYPE,
    });
    expect(copy).toEqual({ body, contentType: JSON_CONTENT_TYPE, messageId: 'm-1', sessionId: 's', subject: 'silver.batch', applicationProperties: { attempt: 'x' } });
  });
});

describe('sessionRuns', () => {
  it('groups consecutive messages of one session, keeping the order', () => {
    const runs = sessionRuns([{ sessionId: 'a', n: 1 }, { sessionId: 'a', n: 2 }, { sessionId: 'b', n: 3 }, { sessionId: 'a', n: 4 }, { n: 5 }, { n: 6 }]);
    expect(runs.map((run) => run.map((m) => m.n))).toEqual([[1, 2], [3], [4], [5, 6]]);
  });
});

describe('sendInBatches', () => {
  /** A sender whose batches hold at most `maxSizeInBytes` of bodies, recording what it sent. */
  function fakeSender(maxSizeInBytes: number) {
    const sent: string[][] = [];
    const createBatch = () => {
      const bodies: string[] = [];
      let size = 0;
      return {
        bodies,
        maxSizeInBytes,
        get count() {
          return bodies.length;
        },
        tryAddMessage(message: ServiceBusMessage) {
          const body = (message.body as Buffer).toString();
          if (size + body.length > maxSizeInBytes) return false;
          size += body.length;
          bodies.push(body);
          return true;
        },
      };
    };
    type Batch = ReturnType<typeof createBatch> & MessageBatch;
    return {
      sent,
      sender: {
        createMessageBatch: async (): Promise<Batch> => createBatch(),
        sendMessages: async (batch: Batch) => void sent.push(batch.bodies),
      },
    };
  }
  const message = (body: string, sessionId?: string): ServiceBusMessage => ({ body: Buffer.from(body), ...(sessionId ? { sessionId } : {}) });

  it('sends in as few batches as the size allows, in order', async () => {
    const { sender, sent } = fakeSender(10);
    const batches = await sendInBatches(
      sender,
      'q',
      ['aaaa', 'bbbb', 'cccc', 'dd', 'eeeeeeee'].map((body) => message(body)),
    );
    expect(batches).toBe(3);
    expect(sent).toEqual([['aaaa', 'bbbb'], ['cccc', 'dd'], ['eeeeeeee']]);
  });

  it('never mixes sessions in a batch', async () => {
    const { sender, sent } = fakeSender(1_000);
    await sendInBatches(sender, 'q', [message('a1', 'a'), message('a2', 'a'), message('b1', 'b'), message('a3', 'a')]);
    expect(sent).toEqual([['a1', 'a2'], ['b1'], ['a3']]);
  });

  it('refuses a message too large for any batch, naming it, after sending the ones before it', async () => {
    const { sender, sent } = fakeSender(5);
    await expect(sendInBatches(sender, 'gold', [message('ok'), message('far too large')])).rejects.toThrow(
      /Message 1 sent to queue "gold" does not fit in a Service Bus message \(at most 5 bytes.*put the data in the lake and send its path/,
    );
    expect(sent).toEqual([['ok']]);
  });

  it('sends nothing for no messages', async () => {
    const { sender, sent } = fakeSender(5);
    await expect(sendInBatches(sender, 'q', [])).resolves.toBe(0);
    expect(sent).toEqual([]);
  });
});

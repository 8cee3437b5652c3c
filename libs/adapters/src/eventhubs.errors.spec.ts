import { MessagingError } from '@azure/event-hubs';
import { AggregateAuthenticationError, AuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { FatalBackendError } from '@pipeline/ports';
import { classifyEventHubsError, eventHubResource, redactSecrets, toEventHubsFailure } from './eventhubs.errors';

/** A `MessagingError` as @azure/core-amqp's `translate` leaves it: the condition's name in `code`. */
const messaging = (code: string, message = `failure ${code}`) => Object.assign(new MessagingError(message), { code });

describe('classifyEventHubsError', () => {
  it.each([
    'MessagingEntityNotFoundError',
    'MessagingEntityDisabledError',
    'ServiceCommunicationError',
    'UnauthorizedError',
    'PublisherRevokedError',
    'ArgumentOutOfRangeError',
    'ArgumentError',
    'InvalidOperationError',
    'NotImplementedError',
    'MessageTooLargeError',
  ])('calls a %s fatal', (code) => {
    expect(classifyEventHubsError(messaging(code))).toBe('fatal');
  });

  it.each([
    'ServerBusyError',
    'ServiceUnavailableError',
    'InternalServerError',
    'OperationTimeoutError',
    'OperationCancelledError',
    'ConnectionForcedError',
    'DetachForcedError',
    'SenderBusyError',
    'QuotaExceededError',
    'ReceiverDisconnectedError',
    'InsufficientCreditError',
  ])('calls a %s transient', (code) => {
    expect(classifyEventHubsError(messaging(code))).toBe('transient');
  });

  it.each([
    ['ENOTFOUND', 'fatal'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'fatal'],
    ['CERT_HAS_EXPIRED', 'fatal'],
    ['ECONNREFUSED', 'transient'],
    ['ECONNRESET', 'transient'],
    ['ETIMEDOUT', 'transient'],
    ['EAI_AGAIN', 'transient'],
  ])('calls the system error %s %s', (code, expected) => {
    expect(classifyEventHubsError(messaging(code, `getaddrinfo ${code} ns.servicebus.windows.net`))).toBe(expected);
  });

  it('calls credential errors fatal when no credential exists or the token request is refused', () => {
    expect(classifyEventHubsError(new CredentialUnavailableError('no managed identity endpoint'))).toBe('fatal');
    expect(classifyEventHubsError(new AggregateAuthenticationError([new CredentialUnavailableError('none')], 'chain failed'))).toBe('fatal');
    expect(classifyEventHubsError(new AuthenticationError(401, { error: 'invalid_client', error_description: 'bad secret' }))).toBe('fatal');
    expect(classifyEventHubsError(new AuthenticationError(503, { error: 'temporarily_unavailable', error_description: 'try later' }))).toBe('transient');
  });

  it('follows cause chains and needs every member of an AggregateError to be fatal', () => {
    expect(classifyEventHubsError(new Error('wrapped', { cause: messaging('UnauthorizedError') }))).toBe('fatal');
    expect(classifyEventHubsError(new AggregateError([messaging('ENOTFOUND'), messaging('ENOTFOUND')]))).toBe('fatal');
    expect(classifyEventHubsError(new AggregateError([messaging('ENOTFOUND'), messaging('ECONNREFUSED')]))).toBe('transient');
  });

  it('calls unknown errors and non-errors transient', () => {
    expect(classifyEventHubsError(new Error('The underlying AMQP connection is closed.'))).toBe('transient');
    expect(classifyEventHubsError(messaging('SomethingNew'))).toBe('transient');
    expect(classifyEventHubsError('a string')).toBe('transient');
    expect(classifyEventHubsError(undefined)).toBe('transient');
  });
});

describe('toEventHubsFailure', () => {
  const resource = eventHubResource('ns.servicebus.windows.net', 'telemetry');

  it('turns a fatal error into a FatalBackendError that names the event hub, the namespace and the fix', () => {
    const cause = messaging('MessagingEntityNotFoundError', "The messaging entity 'sb://ns.servicebus.windows.net/telemetry' could not be found.");
    const failure = toEventHubsFailure(cause, 'open a producer', resource);
    expect(failure).toBeInstanceOf(FatalBackendError);
    const fatal = failure as FatalBackendError;
    expect(fatal.resource).toBe('Event Hubs event hub "telemetry" in namespace "ns.servicebus.windows.net"');
    expect(fatal.message).toMatch(/^Could not open a producer on Event Hubs event hub "telemetry" in namespace "ns.servicebus.windows.net": the event hub .* does not exist/);
    expect(fatal.message).toContain('create it, or fix the event hub');
    expect(fatal.cause).toBe(cause);
  });

  it('rethrows a transient error as it is', () => {
    const busy = messaging('ServerBusyError');
    expect(toEventHubsFailure(busy, 'send', resource)).toBe(busy);
  });

  it('never copies a key or signature from the cause into its message', () => {
    const cause = messaging('UnauthorizedError', 'Unauthorized: Endpoint=sb://ns/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0a2V5PQ== and sig=abc%2Fdef&se=1');
    const message = (toEventHubsFailure(cause, 'send', resource) as Error).message;
    expect(message).not.toContain('c2VjcmV0a2V5PQ==');
    expect(message).not.toContain('abc%2Fdef');
    expect(message).toContain('SharedAccessKey=<redacted>');
    expect(redactSecrets('AccountKey=abc;Other=1')).toBe('AccountKey=<redacted>;Other=1');
  });
});

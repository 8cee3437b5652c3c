import { RestError } from '@azure/storage-blob';
import { ServiceBusError, type ServiceBusErrorCode } from '@azure/service-bus';
import { BusError, FatalBackendError, isFatalBackendError, MessageLockLostError, QueueNotFoundError, SessionLockLostError } from '@pipeline/ports';
import { classifyServiceBusError, toBusError, type ServiceBusErrorKind } from './service-bus.errors';

const context = { operation: 'send', namespace: 'pipeline.servicebus.windows.net', queue: 'bronze-manifests' } as const;

function namedError(name: string, message = 'failed'): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('classifyServiceBusError', () => {
  const expected: Record<ServiceBusErrorCode, ServiceBusErrorKind> = {
    MessagingEntityNotFound: 'fatal',
    MessagingEntityDisabled: 'fatal',
    UnauthorizedAccess: 'fatal',
    ServiceBusy: 'transient',
    ServiceTimeout: 'transient',
    ServiceCommunicationProblem: 'transient',
    QuotaExceeded: 'transient',
    MessageLockLost: 'message-lock-lost',
    SessionLockLost: 'session-lock-lost',
    SessionCannotBeLocked: 'session-cannot-be-locked',
    MessagingEntityAlreadyExists: 'already-exists',
    MessageSizeExceeded: 'rejected',
    MessageNotFound: 'rejected',
    GeneralError: 'transient',
  };

  it.each(Object.entries(expected))('classifies the Service Bus code %s as %s', (code, kind) => {
    expect(classifyServiceBusError(new ServiceBusError('from the service', code as ServiceBusErrorCode))).toBe(kind);
  });

  it('treats a general error the SDK marks as not retryable as a rejected request', () => {
    const error = new ServiceBusError('InvalidOperationError: the entity requires sessions', 'GeneralError');
    error.retryable = false;
    expect(classifyServiceBusError(error)).toBe('rejected');
  });

  it('treats a namespace host that does not resolve as fatal', () => {
    const error = new ServiceBusError('ENOTFOUND: getaddrinfo ENOTFOUND typo.servicebus.windows.net', 'GeneralError');
    error.retryable = false;
    expect(classifyServiceBusError(error)).toBe('fatal');
  });

  it('treats a missing or refused Microsoft Entra ID credential as fatal', () => {
    expect(classifyServiceBusError(namedError('CredentialUnavailableError'))).toBe('fatal');
    expect(classifyServiceBusError(namedError('AuthenticationError'))).toBe('fatal');
  });

  it('classifies the HTTP answers of the administration client', () => {
    const rest = (statusCode: number) => new RestError('admin', { statusCode });
    expect([401, 403, 404].map((status) => classifyServiceBusError(rest(status)))).toEqual(['fatal', 'fatal', 'fatal']);
    expect(classifyServiceBusError(rest(409))).toBe('already-exists');
    expect([408, 429, 500, 503].map((status) => classifyServiceBusError(rest(status)))).toEqual(['transient', 'transient', 'transient', 'transient']);
    expect(classifyServiceBusError(rest(400))).toBe('rejected');
  });

  it('recognises an aborted wait, and retries anything it does not know', () => {
    expect(classifyServiceBusError(namedError('AbortError'))).toBe('aborted');
    expect(classifyServiceBusError(new Error('socket hang up'))).toBe('transient');
    expect(classifyServiceBusError('a string')).toBe('transient');
  });
});

describe('toBusError', () => {
  it('reports a missing queue as a QueueNotFoundError caused by a FatalBackendError that names the queue, the namespace and the fix', () => {
    const cause = new ServiceBusError('The messaging entity could not be found', 'MessagingEntityNotFound');
    const error = toBusError(cause, context);
    expect(error).toBeInstanceOf(QueueNotFoundError);
    expect(isFatalBackendError(error)).toBe(true);
    expect(error.message).toContain('"bronze-manifests"');
    expect(error.message).toContain('pipeline.servicebus.windows.net');
    expect(error.message).toMatch(/create the queue "bronze-manifests" \(infra\/ does.*\) or fix the queue name/i);
    const fatal = error.cause as FatalBackendError;
    expect(fatal).toBeInstanceOf(FatalBackendError);
    expect(fatal.resource).toBe('Service Bus queue "bronze-manifests"');
    expect(fatal.cause).toBe(cause);
  });

  it('names the data role the identity lacks, by operation', () => {
    const refused = new ServiceBusError('Unauthorized access', 'UnauthorizedAccess');
    const sending = toBusError(refused, context);
    expect(sending).toBeInstanceOf(FatalBackendError);
    expect(sending.message).toContain('grant the identity Azure Service Bus Data Sender');
    expect(sending.message).toContain('the Send right');
    expect(toBusError(refused, { ...context, operation: 'receive' }).message).toContain('grant the identity Azure Service Bus Data Receiver');
    expect(toBusError(refused, { ...context, operation: 'manage' }).message).toContain('Azure Service Bus Data Owner');
  });

  it('tells how to enable a disabled queue', () => {
    const error = toBusError(new ServiceBusError('disabled', 'MessagingEntityDisabled'), context);
    expect(error).toBeInstanceOf(FatalBackendError);
    expect(error.message).toContain('az servicebus queue update --name bronze-manifests --status Active');
  });

  it('tells how to get a credential when none is usable', () => {
    const error = toBusError(namedError('CredentialUnavailableError', 'no managed identity endpoint'), { ...context, operation: 'accept a session' });
    expect(error).toBeInstanceOf(FatalBackendError);
    expect(error.message).toMatch(/managed identity .* az login/);
  });

  it('tells to fix a namespace host that does not resolve', () => {
    const error = toBusError(new ServiceBusError('ENOTFOUND: getaddrinfo ENOTFOUND', 'GeneralError'), context);
    expect(error).toBeInstanceOf(FatalBackendError);
    expect(error.message).toContain('The host pipeline.servicebus.windows.net does not resolve');
  });

  it('maps lost locks to the port lock errors, keeping the SDK error as cause', () => {
    const messageLock = new ServiceBusError('lock expired', 'MessageLockLost');
    const sessionLock = new ServiceBusError('session lock expired', 'SessionLockLost');
    const message = toBusError(messageLock, { ...context, operation: 'settle' });
    const session = toBusError(sessionLock, { ...context, operation: 'renew a lock' });
    expect(message).toBeInstanceOf(MessageLockLostError);
    expect(message.cause).toBe(messageLock);
    expect(session).toBeInstanceOf(SessionLockLostError);
    expect(session.cause).toBe(sessionLock);
  });

  it('keeps transient and rejected failures retryable bus errors, not fatal ones', () => {
    const busy = toBusError(new ServiceBusError('busy', 'ServiceBusy'), context);
    expect(busy).toBeInstanceOf(BusError);
    expect(isFatalBackendError(busy)).toBe(false);
    expect(busy.message).toContain('transient');
    const tooLarge = toBusError(new ServiceBusError('too large', 'MessageSizeExceeded'), context);
    expect(tooLarge).toBeInstanceOf(BusError);
    expect(isFatalBackendError(tooLarge)).toBe(false);
    expect(tooLarge.message).toMatch(/Service Bus refused to send on Service Bus queue "bronze-manifests"/);
  });

  it('passes the port errors through unchanged', () => {
    const own = new BusError('already a bus error');
    expect(toBusError(own, context)).toBe(own);
  });
});

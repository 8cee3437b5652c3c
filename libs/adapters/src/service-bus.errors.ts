/**
 * What a failure of Azure Service Bus means for the bus port, from the SDK's `ServiceBusError.code`
 * (and, for the credential and the administration client, the error's name or HTTP status).
 *
 * - `fatal`: no retry can fix it (missing or disabled queue, refused identity, a namespace host that
 *   does not resolve, no credential at all). It surfaces as `FatalBackendError` — a missing queue as a
 *   `QueueNotFoundError` whose cause is the `FatalBackendError` — so the service exits and the
 *   platform restarts it once the cause is fixed.
 * - `transient`: retried by the caller (busy, timeouts, connection trouble, a full queue, and any
 *   failure this module does not know: "every other failure is retried").
 * - `message-lock-lost` / `session-lock-lost`: the port's lock errors; the message comes back.
 * - `session-cannot-be-locked`: another receiver holds the session; accepting it waits and retries.
 * - `already-exists`: a queue created concurrently; `ensureQueue` reads it instead.
 * - `rejected`: the request itself is wrong (too large, an operation the entity does not allow);
 *   retrying the same request fails the same way, but the service can go on with other work.
 * - `aborted`: the caller gave up waiting.
 * The SDK error always stays reachable as `cause`.
 */
import { isServiceBusError, type ServiceBusErrorCode } from '@azure/service-bus';
import { BusError, FatalBackendError, MessageLockLostError, QueueNotFoundError, SessionLockLostError } from '@pipeline/ports';

export type ServiceBusErrorKind = 'fatal' | 'transient' | 'message-lock-lost' | 'session-lock-lost' | 'session-cannot-be-locked' | 'already-exists' | 'rejected' | 'aborted';

/** What the bus was doing, for messages that say which role or right is missing. */
export type ServiceBusOperation = 'send' | 'receive' | 'accept a session' | 'settle' | 'renew a lock' | 'read dead letters' | 'resubmit a dead letter' | 'manage';

export interface ServiceBusErrorContext {
  operation: ServiceBusOperation;
  /** The namespace host, e.g. `pipeline.servicebus.windows.net`. */
  namespace: string;
  queue: string;
}

/** Credential errors of @azure/identity that no retry fixes: the process has no usable identity. */
const CREDENTIAL_ERROR_NAMES = new Set(['CredentialUnavailableError', 'AuthenticationRequiredError', 'AuthenticationError']);

export function classifyServiceBusError(error: unknown): ServiceBusErrorKind {
  if (isServiceBusError(error)) return classifyCode(error.code, error);
  if (!(error instanceof Error)) return 'transient';
  if (error.name === 'AbortError') return 'aborted';
  if (CREDENTIAL_ERROR_NAMES.has(error.name)) return 'fatal';
  const status = (error as { statusCode?: unknown }).statusCode;
  // The administration client speaks HTTP (RestError).
  if (typeof status === 'number') return classifyStatus(status);
  return 'transient';
}

function classifyCode(code: ServiceBusErrorCode, error: Error & { retryable?: boolean }): ServiceBusErrorKind {
  switch (code) {
    case 'MessagingEntityNotFound':
    case 'MessagingEntityDisabled':
    case 'UnauthorizedAccess':
      return 'fatal';
    case 'ServiceBusy':
    case 'ServiceTimeout':
    case 'ServiceCommunicationProblem':
    case 'QuotaExceeded':
      return 'transient';
    case 'MessageLockLost':
      return 'message-lock-lost';
    case 'SessionLockLost':
      return 'session-lock-lost';
    case 'SessionCannotBeLocked':
      return 'session-cannot-be-locked';
    case 'MessagingEntityAlreadyExists':
      return 'already-exists';
    case 'MessageSizeExceeded':
    case 'MessageNotFound':
      return 'rejected';
    case 'GeneralError':
      // A host that does not resolve keeps not resolving: the namespace name is wrong.
      if (isUnresolvedHost(error)) return 'fatal';
      return error.retryable === false ? 'rejected' : 'transient';
  }
}

function classifyStatus(status: number): ServiceBusErrorKind {
  if (status === 401 || status === 403 || status === 404) return 'fatal';
  if (status === 409) return 'already-exists';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return status >= 400 ? 'rejected' : 'transient';
}

function isUnresolvedHost(error: Error): boolean {
  return /\bENOTFOUND\b/.test(error.message) || (error as { code?: unknown }).code === 'ENOTFOUND';
}

/**
 * The port's error for a Service Bus failure: `FatalBackendError` (a missing queue: `QueueNotFoundError`
 * caused by one), the lock errors, or a `BusError` carrying the SDK error as cause.
 */
export function toBusError(error: unknown, context: ServiceBusErrorContext): Error {
  if (error instanceof BusError || error instanceof FatalBackendError) return error;
  const { operation, namespace, queue } = context;
  const resource = `Service Bus queue "${queue}"`;
  const where = `${resource} in namespace ${namespace}`;
  const detail = describe(error);
  switch (classifyServiceBusError(error)) {
    case 'fatal': {
      const message = `Could not ${operation} on ${where}: ${detail}. ${fatalFix(error, context)}`;
      const fatal = new FatalBackendError(message, resource, { cause: error });
      return isNotFound(error) ? new QueueNotFoundError(message, { cause: fatal }) : fatal;
    }
    case 'message-lock-lost':
      return new MessageLockLostError(
        `The lock on a message of ${where} was lost (${detail}): it expired, or the message was settled already. ` +
          'The message will be (or was) delivered again; make its handling idempotent.',
        { cause: error },
      );
    case 'session-lock-lost':
      return new SessionLockLostError(
        `The lock on a session of ${where} was lost (${detail}): it expired, or the session was released. Accept the session again; its unsettled messages will be delivered again.`,
        { cause: error },
      );
    case 'session-cannot-be-locked':
      return new BusError(`Could not ${operation} on ${where}: another receiver holds the session (${detail}). Try again once it is released or its lock expired.`, {
        cause: error,
      });
    case 'already-exists':
    case 'rejected':
      return new BusError(`Service Bus refused to ${operation} on ${where}: ${detail}.`, { cause: error });
    case 'aborted':
    case 'transient':
      return new BusError(`Could not ${operation} on ${where}: ${detail} (a transient failure; try again).`, { cause: error });
  }
}

function isNotFound(error: unknown): boolean {
  if (isServiceBusError(error)) return error.code === 'MessagingEntityNotFound';
  return (error as { statusCode?: unknown } | null)?.statusCode === 404;
}

/** One sentence telling the operator what to change. */
function fatalFix(error: unknown, context: ServiceBusErrorContext): string {
  const { operation, namespace, queue } = context;
  if (isNotFound(error)) {
    return `Create the queue "${queue}" (infra/ does, or open the bus with manageEntities: true where the identity may manage entities) or fix the queue name.`;
  }
  if (isServiceBusError(error) && error.code === 'MessagingEntityDisabled') {
    return `Enable the queue again (Azure portal, or az servicebus queue update --name ${queue} --status Active).`;
  }
  if (error instanceof Error && CREDENTIAL_ERROR_NAMES.has(error.name)) {
    return 'No Microsoft Entra ID credential is usable: assign the app a managed identity (and AZURE_CLIENT_ID when it is user-assigned), or sign in with az login for local runs.';
  }
  if (error instanceof Error && isUnresolvedHost(error)) {
    return `The host ${namespace} does not resolve: fix the namespace (<name>.servicebus.windows.net) or the connection string's Endpoint.`;
  }
  return `The service refused the credentials: grant the identity ${roleFor(operation)} on the namespace or the queue, or use a connection string whose policy has the ${rightFor(operation)} right.`;
}

function roleFor(operation: ServiceBusOperation): string {
  switch (operation) {
    case 'send':
      return 'Azure Service Bus Data Sender';
    case 'manage':
      return 'Azure Service Bus Data Owner';
    case 'resubmit a dead letter':
      return 'Azure Service Bus Data Receiver and Azure Service Bus Data Sender';
    case 'receive':
    case 'accept a session':
    case 'settle':
    case 'renew a lock':
    case 'read dead letters':
      return 'Azure Service Bus Data Receiver';
  }
}

function rightFor(operation: ServiceBusOperation): string {
  switch (operation) {
    case 'send':
      return 'Send';
    case 'manage':
      return 'Manage';
    case 'resubmit a dead letter':
      return 'Send and Listen';
    case 'receive':
    case 'accept a session':
    case 'settle':
    case 'renew a lock':
    case 'read dead letters':
      return 'Listen';
  }
}

function describe(error: unknown): string {
  if (isServiceBusError(error)) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

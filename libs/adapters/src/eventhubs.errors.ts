/**
 * What to do with a failure of Azure Event Hubs, once the SDK's own retries are spent.
 *
 * - `fatal`: no retry can fix it (an entity that does not exist or is disabled, credentials the
 *   service refuses, a namespace that does not resolve, a request the service calls invalid). The
 *   adapters raise `FatalBackendError` so the service exits and is restarted once the cause is fixed.
 * - `transient`: everything else (throttling, timeouts, dropped connections, unknown errors); the
 *   error is rethrown as it is and the app retries.
 * Messages built here never contain a connection string, key or SAS signature.
 */
import { FatalBackendError } from '@pipeline/ports';

export type EventHubsErrorClass = 'fatal' | 'transient';

/** `MessagingError.code` values (@azure/core-amqp, @azure/event-hubs) that no retry can fix, with the fix. */
const FATAL_CODES: Readonly<Record<string, string>> = {
  MessagingEntityNotFoundError: 'the event hub (or its consumer group) does not exist in this namespace: create it, or fix the event hub / consumer group name',
  MessagingEntityDisabledError: 'the event hub is disabled: set its status to Active in the namespace',
  ServiceCommunicationError: 'the namespace endpoint was not found: check the fully qualified namespace (e.g. "<name>.servicebus.windows.net") or the connection string Endpoint',
  UnauthorizedError:
    'the service refused the credentials: grant the identity "Azure Event Hubs Data Sender" (producers) or "Azure Event Hubs Data Receiver" (consumers) on the event hub, or fix the shared access policy of the connection string',
  PublisherRevokedError: 'the publisher was revoked on this event hub: restore it or use another publisher',
  ArgumentOutOfRangeError: 'the request named a partition or position the event hub does not have: check the partition id, or whether the event hub was recreated',
  ArgumentError: 'the service rejected the request as invalid: check the event hub settings and the request',
  InvalidOperationError: 'the service does not allow this operation on the event hub: check its status and tier',
  NotImplementedError: 'the service does not support this operation: check the namespace tier or emulator version',
  MessageTooLargeError: 'the batch is larger than the event hub accepts: send fewer or smaller events per call',
};

/** Node system error codes that mean the address or the TLS setup is wrong, not that the network hiccupped. */
const FATAL_SYSTEM_CODES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'the namespace host name does not resolve: check the fully qualified namespace (e.g. "<name>.servicebus.windows.net") or the connection string Endpoint',
  CERT_HAS_EXPIRED: 'the endpoint presented an expired TLS certificate: check the endpoint',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the endpoint presented a self-signed TLS certificate: use the real namespace, or the emulator with UseDevelopmentEmulator=true',
  SELF_SIGNED_CERT_IN_CHAIN: 'the endpoint presented an untrusted TLS certificate chain: check the endpoint and the trusted CAs',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the endpoint TLS certificate could not be verified: check the endpoint and the trusted CAs',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the endpoint TLS certificate does not match its host name: check the fully qualified namespace',
};

/** Errors of @azure/identity (matched by name, so the package need not be loaded) and their fix. */
const FATAL_CREDENTIAL_ERRORS: Readonly<Record<string, string>> = {
  CredentialUnavailableError:
    'no Microsoft Entra credential is available: configure a managed identity, workload identity or environment credential (or `az login` on a workstation)',
  AggregateAuthenticationError:
    'no Microsoft Entra credential could get a token: configure a managed identity, workload identity or environment credential (or `az login` on a workstation)',
};

/** Token requests that failed with these statuses were refused, not interrupted. */
const REFUSED_TOKEN_STATUSES = new Set([400, 401, 403]);

/** Classify an error thrown by the Event Hubs SDK (or by its credential). Unknown errors are transient. */
export function classifyEventHubsError(error: unknown): EventHubsErrorClass {
  return fatalReason(error) === undefined ? 'transient' : 'fatal';
}

/**
 * The fix for a fatal error, or `undefined` for a transient one. Follows `cause` chains, since
 * the SDK and the credentials wrap errors, and requires every member of an `AggregateError`
 * (one per address tried) to be fatal.
 */
export function fatalReason(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; isObject(e) && depth < 8; e = e['cause'], depth++) {
    if (e instanceof FatalBackendError) return e.message;
    const name = typeof e['name'] === 'string' ? e['name'] : '';
    if (name === 'AuthenticationError') {
      const status = e['statusCode'];
      if (typeof status === 'number' && REFUSED_TOKEN_STATUSES.has(status)) {
        return `Microsoft Entra ID refused the token request (HTTP ${status}): check the identity's tenant, client id and secret or federation`;
      }
      continue;
    }
    const credential = FATAL_CREDENTIAL_ERRORS[name];
    if (credential !== undefined) return credential;
    if (e instanceof AggregateError && e.errors.length > 0) {
      const reasons = e.errors.map((inner) => fatalReason(inner));
      if (reasons.every((reason) => reason !== undefined)) return reasons[0];
      return undefined;
    }
    const code = typeof e['code'] === 'string' ? e['code'] : undefined;
    if (code !== undefined) {
      const reason = FATAL_CODES[code] ?? FATAL_SYSTEM_CODES[code];
      if (reason !== undefined) return reason;
    }
  }
  return undefined;
}

/** Where a failure happened, for `FatalBackendError.resource` and messages: never a secret. */
export function eventHubResource(namespace: string, hubName: string, consumerGroup?: string): string {
  return `Event Hubs event hub "${hubName}" in namespace "${namespace}"${consumerGroup === undefined ? '' : ` (consumer group "${consumerGroup}")`}`;
}

/**
 * The error to throw for a failed SDK call: a `FatalBackendError` naming the event hub and the
 * fix when no retry can help, otherwise the SDK's error as it is (the app retries it).
 */
export function toEventHubsFailure(error: unknown, operation: string, resource: string): unknown {
  if (error instanceof FatalBackendError) return error;
  const reason = fatalReason(error);
  if (reason === undefined) return error;
  const detail = error instanceof Error ? redactSecrets(error.message) : redactSecrets(String(error));
  return new FatalBackendError(`Could not ${operation} on ${resource}: ${reason}. (${detail})`, resource, { cause: error });
}

/** Blank out anything that looks like a key or a signature, in case a message echoes one. */
export function redactSecrets(text: string): string {
  return text.replace(/(SharedAccessKey|AccountKey|SharedAccessSignature|sig)=([^;&\s"']+)/gi, '$1=<redacted>').replace(/(Authorization:\s*)\S+/gi, '$1<redacted>');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

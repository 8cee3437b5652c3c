/**
 * Failures no retry can fix, whatever the port: an entity that does not exist, credentials the
 * service refuses, a setting that points nowhere. Adapters raise `FatalBackendError` for them (with
 * the service's error as `cause`) so a service stops and exits non-zero — the platform restarts it
 * once the cause is fixed — instead of retrying forever; every other failure is retried.
 */
export class FatalBackendError extends Error {
  override readonly name: string = 'FatalBackendError';
  constructor(
    message: string,
    /** The backend and entity the failure is about, e.g. `Service Bus queue "bronze-manifests"`. */
    readonly resource: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True for a `FatalBackendError`, also one wrapped as the `cause` of another error. */
export function isFatalBackendError(error: unknown): error is FatalBackendError {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof FatalBackendError) return true;
  }
  return false;
}

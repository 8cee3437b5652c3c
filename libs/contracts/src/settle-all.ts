/**
 * Waiting on work that runs at once (stores of several files, sends to several partitions) without
 * returning while any of it still runs.
 */

/** The values of `tasks` once every one has settled; the first failure (in task order) when any failed. */
export async function settleAll<T>(tasks: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(tasks);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<T>).value);
}

/**
 * One page of a key's window documents, as the window and session endpoints answer it: the
 * continuation token a client sends is opened for exactly this query (a token of another query, or
 * one the store no longer accepts, is a 400 naming the parameter), and the store's next-page token
 * is sealed for it again.
 */
import { InvalidContinuationTokenError, type ServingStore, type WindowDocument } from '@pipeline/ports';
import type { ContinuationTokens, PagedQuery } from './continuation-tokens';
import { InvalidParametersException } from './request-parameters';

/** A 400 naming what is wrong with a continuation token. */
export function tokenProblem(expected: string, token: string): InvalidParametersException {
  return new InvalidParametersException([{ parameter: 'continuationToken', expected, found: JSON.stringify(token) }]);
}

/** The page of `paged` after `token` (the first without one), each document as `toDto` makes it. */
export async function windowPage<T>(
  store: ServingStore,
  tokens: ContinuationTokens,
  paged: PagedQuery,
  limit: number,
  token: string | undefined,
  toDto: (document: WindowDocument) => T,
): Promise<{ items: T[]; continuationToken: string | null }> {
  let continuationToken: string | undefined;
  if (token !== undefined) {
    const opened = tokens.open(token, paged);
    if ('problem' in opened) throw tokenProblem(opened.problem, token);
    continuationToken = opened.storeToken;
  }
  try {
    const page = await store.queryWindows({ ...paged, limit, continuationToken });
    return { items: page.items.map(toDto), continuationToken: page.continuationToken === undefined ? null : tokens.seal(page.continuationToken, paged) };
  } catch (error) {
    // Signed by this API yet refused by the store: a token from before a store change.
    if (error instanceof InvalidContinuationTokenError) throw tokenProblem('a token from a previous page of the same query (the store no longer accepts this one)', token ?? '');
    throw error;
  }
}

/**
 * Continuation tokens as the API hands them out: the store's token, bound to the query it pages and
 * signed, so a client can only continue the query it started and cannot forge or edit a position.
 *
 *   token = <store token> "." <query digest> "." <HMAC-SHA256(key, store token "." query digest)>
 *
 * The query digest is a SHA-256 of the query's canonical form (key, window, from, to; not the page
 * size, which may change between pages). Keeping the digest in the token tells the two failures
 * apart: a bad signature (edited, or signed with another key) and a token of another query.
 *
 * The key is `SERVING_TOKEN_KEY`; without it each process makes up its own, so replicas behind one
 * address need the same key or a page fetched from another replica is refused.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** What a page query is, for binding: the fields that select the rows, in a fixed order. */
export interface PagedQuery {
  pk: string;
  window: string | undefined;
  from: number | undefined;
  to: number | undefined;
}

export type OpenedToken = { storeToken: string } | { problem: string };

const STORE_TOKEN = /^[A-Za-z0-9_-]+$/;
const DIGEST_CHARS = 16;
const MAC_BYTES = 32;

export class ContinuationTokens {
  constructor(private readonly key: Buffer) {}

  /** The token a client gets for the next page of `query`. */
  seal(storeToken: string, query: PagedQuery): string {
    const signed = `${storeToken}.${queryDigest(query)}`;
    return `${signed}.${this.mac(signed).toString('base64url')}`;
  }

  /** The store's token inside `token`, or what is wrong with it (never its text). */
  open(token: string, query: PagedQuery): OpenedToken {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => STORE_TOKEN.test(part))) return { problem: 'a token from a previous page of this API (this is not one: wrong shape)' };
    const [storeToken, digest, macText] = parts as [string, string, string];
    const mac = Buffer.from(macText, 'base64url');
    const expected = this.mac(`${storeToken}.${digest}`);
    if (mac.length !== MAC_BYTES || !timingSafeEqual(mac, expected))
      return { problem: 'a token as this API issued it (the signature does not match: the token was changed, or issued with another SERVING_TOKEN_KEY)' };
    if (digest !== queryDigest(query)) return { problem: 'a token of this same query (this token continues another query: keep key, window, from and to as on the first page)' };
    return { storeToken };
  }

  private mac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest();
  }
}

/** A digest of the query's canonical form: JSON of the fields in a fixed order, absent as null. */
export function queryDigest(query: PagedQuery): string {
  const canonical = JSON.stringify([query.pk, query.window ?? null, query.from ?? null, query.to ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, DIGEST_CHARS);
}

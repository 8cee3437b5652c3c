/**
 * Conditional reads: every successful GET under /v1 carries a weak ETag computed from its body, and
 * a request whose `If-None-Match` names it gets 304 with no body. Weak, because the tag stands for
 * the JSON meaning of the answer, not for its bytes on the wire (compression may change those).
 * A handler that knows better what its answer stands for sets the ETag itself (`/v1/status`: the
 * pipeline's state, not its rates); that tag is kept and compared the same way.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export function weakEtag(body: string | Buffer): string {
  return `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison: `W/` prefixes are ignored). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}

export function registerEtags(fastify: FastifyInstance, prefix = '/v1/'): void {
  fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || reply.statusCode !== 200 || !request.url.startsWith(prefix)) return payload;
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const own = reply.getHeader('etag');
    const etag = typeof own === 'string' ? own : weakEtag(payload);
    void reply.header('etag', etag).header('cache-control', 'no-cache');
    if (!matchesIfNoneMatch(request.headers['if-none-match'], etag)) return payload;
    void reply.code(304);
    return '';
  });
}

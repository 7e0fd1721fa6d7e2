import type { FastifyReply, FastifyRequest } from 'fastify'

/** `W/"…"` and `"…"` name the same tag under weak comparison (RFC 9110, 8.8.3.2): what If-None-Match uses */
const opaque = (tag: string): string => tag.startsWith('W/') ? tag.slice(2) : tag

/** true when an If-None-Match header (`*`, or a comma-separated list of tags) names `etag` */
export function ifNoneMatchHits (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag) return true
  const wanted = opaque(etag)
  return header.split(',').some(candidate => {
    const tag = candidate.trim()
    return tag === '*' || opaque(tag) === wanted
  })
}

/**
 * A tenant-data read any client may revalidate (API.md Conventions, Revalidation): the reply gets
 * the weak `etag`, `Cache-Control: private, no-cache` (no shared cache keeps it; a client asks
 * before reusing it) and `Vary: Authorization, X-Tenant`. When the request's If-None-Match names
 * the tag, sends a 304 without a body (nothing is serialized) and returns true: the handler then
 * returns the reply. Called by the handler, so authentication, tenancy and permission were checked
 * and the resource was found first.
 */
export function notModified (request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('etag', etag)
  // the whole values at once when nothing set them before (the article reads): @fastify/sensible's
  // helpers parse and merge what is there, about a microsecond of every read (bench/README.md)
  if (reply.hasHeader('cache-control')) reply.cacheControl('private').cacheControl('no-cache')
  else reply.header('cache-control', 'private, no-cache')
  if (reply.hasHeader('vary')) {
    reply.vary('Authorization')
    reply.vary('X-Tenant')
  } else {
    reply.header('vary', 'Authorization, X-Tenant')
  }
  if (!ifNoneMatchHits(request.headers['if-none-match'], etag)) return false
  reply.code(304).send()
  return true
}

import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring'

/**
 * At most this many query parameters are read; the rest of a query string is ignored, like any
 * unknown parameter (API.md: unknown query parameters are ignored). No route takes more than five.
 */
export const MAX_QUERY_PARAMETERS = 100

// made once: Fastify parses the query string of every request, most of them empty
const options = Object.freeze({ maxKeys: MAX_QUERY_PARAMETERS })

/**
 * Fastify's querystringParser (src/http/server-options.ts): node:querystring stops reading after
 * maxKeys pairs, so a URL with 10,000 parameters costs what one with 100 does. Objects without a
 * prototype: `?__proto__=x` is a key like any other.
 */
export function parseQuerystring (query: string): ParsedUrlQuery {
  return parseQuery(query, '&', '=', options)
}

import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQuery, type ParsedUrlQuery } from 'node:querystring'
import fp from 'fastify-plugin'
import cors from '@fastify/cors'
import type { FastifyBodyParser, FastifyInstance, onSendHookHandler, RouteOptions } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'
import { ConfigError, splitList } from '../src/config.ts'
import { AppError } from '../src/platform/errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** the route serves the docs page or its assets: it gets the docs Content-Security-Policy */
    docs?: boolean
  }
}

/**
 * At most this many query parameters are read; the rest of a query string is ignored, like any
 * unknown parameter (API.md: unknown query parameters are ignored). No route takes more than five.
 */
export const MAX_QUERY_PARAMETERS = 100

/**
 * Fastify's querystringParser (src/app.ts): node:querystring stops reading after maxKeys pairs,
 * so a URL with 10,000 parameters costs what one with 100 does. Objects without a prototype:
 * `?__proto__=x` is a key like any other.
 */
export function parseQuerystring (query: string): ParsedUrlQuery {
  return parseQuery(query, '&', '=', { maxKeys: MAX_QUERY_PARAMETERS })
}

// @fastify/helmet runs helmet's whole middleware chain on every request (and builds it anew for
// each one, in two hooks): measured here at ~28 µs a request against ~16 µs for this. These headers
// never vary per request: helmet itself computes them once, and each response copies a frozen object.

/** Headers helmet would set with these options, read off a stand-in response. */
function helmetHeaders (options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, error => {
    if (error !== undefined) throw error
  })
  return Object.freeze(headers)
}

const sharedHelmetOptions: HelmetOptions = {
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
  xContentTypeOptions: true,
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  // headers for browsers and plug-ins long gone (IE8 downloads, Flash policies, the XSS auditor)
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xDnsPrefetchControl: false,
  xXssProtection: false
}

/** JSON only: nothing may load, frame, or submit anything. */
export const apiHeaders = helmetHeaders({
  ...sharedHelmetOptions,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] }
  }
})

/** swagger-ui: its scripts, styles and images come from /docs/static, the spec from /docs/json. */
export const docsHeaders = helmetHeaders({
  ...sharedHelmetOptions,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"]
    }
  }
})

/**
 * PostgreSQL refuses to store a NUL character: in text 22021 (character_not_in_repertoire), as a
 * \u0000 escape in jsonb 22P05 (untranslatable_character). Only client input carries one there.
 */
const UNSTORABLE_CHARACTER = new Set(['22021', '22P05'])
const unstorable = () => new AppError('validation_failed', {
  detail: 'text may not contain NUL (U+0000) characters',
  errors: [{ path: '/', message: 'may not contain NUL (U+0000) characters' }]
})

/** A UTF-16 surrogate without its pair: JSON can escape one (`"\ud800"`), UTF-8 cannot carry it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Only a `\u` escape in the raw body can produce one: bodies without it skip the walk. */
const surrogateEscape = /\\u[dD][89a-fA-F]/

/** True when a parsed JSON value holds a string or a key with a lone surrogate (iterative: any depth). */
export function hasLoneSurrogate (value: unknown): boolean {
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const item = pending.pop()
    if (typeof item === 'string') {
      if (loneSurrogate.test(item)) return true
    } else if (Array.isArray(item)) {
      for (const element of item) pending.push(element)
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, element] of Object.entries(item)) {
        if (loneSurrogate.test(key)) return true
        pending.push(element)
      }
    }
  }
  return false
}

const notUnicode = () => new AppError('validation_failed', {
  detail: 'strings must be valid Unicode: the body has an unpaired surrogate escape',
  errors: [{ path: '/', message: 'has an unpaired UTF-16 surrogate escape' }]
})

const unsupportedMediaType = (detail: string) => new AppError('unsupported_media_type', { detail })

/** The charset parameter of a Content-Type (quoted or not), if it has one. */
const charsetParameter = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i
const utf8Labels = new Set(['utf-8', 'utf8'])

/** JSON is UTF-8 (RFC 8259): a body labelled with another charset would be misread, not decoded. */
function namesAnotherCharset (contentType: string | undefined): boolean {
  const match = contentType === undefined ? null : charsetParameter.exec(contentType)
  if (match === null) return false
  return !utf8Labels.has((match[1] ?? match[2] ?? '').toLowerCase())
}

/**
 * Fastify's own JSON parser (secure-json-parse: `__proto__` and `constructor.prototype` keys
 * refused) and the checks it lacks: a charset other than UTF-8 is 415 `unsupported_media_type`;
 * an unpaired surrogate escape, which text columns would store as U+FFFD and jsonb refuses, is
 * 400 `validation_failed`. Every JSON body goes through it (the webhook route, which parses its
 * own bytes after checking their signature, included).
 */
export function unicodeJsonParser (app: FastifyInstance): FastifyBodyParser<string> {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  return (request, body, done) => {
    if (namesAnotherCharset(request.headers['content-type'])) {
      return done(unsupportedMediaType('JSON bodies are UTF-8; the Content-Type names another charset'))
    }
    parseJson(request, body, (error, parsed) => {
      if (error !== null) return done(error)
      if (surrogateEscape.test(body) && hasLoneSurrogate(parsed)) return done(notUnicode())
      done(null, parsed)
    })
  }
}

const isDocs = (url: string | undefined) => url !== undefined && (url === '/docs' || url.startsWith('/docs/'))

/** CORS_ORIGINS as a set of exact origins; ConfigError for anything that is not one. */
export function corsOrigins (setting: string): Set<string> {
  const origins = splitList(setting)
  const bad = origins.filter(origin => !URL.canParse(origin) || new URL(origin).origin !== origin)
  if (bad.length > 0) {
    throw new ConfigError([`CORS_ORIGINS: ${bad.join(', ')} is not an origin (scheme://host[:port], no path or trailing slash)`])
  }
  return new Set(origins)
}

/**
 * Response headers, CORS and hostile input for every route.
 *
 * - Security headers (helmet): HSTS, nosniff, X-Frame-Options DENY, no referrer, same-origin
 *   opener and resource policies, and a Content-Security-Policy: `default-src 'none'` for the API,
 *   a policy that lets swagger-ui load its own assets on /docs. Set in onSend, so errors, 404s and
 *   early replies (rate limits, auth failures) carry them too.
 * - CORS (@fastify/cors) from CORS_ORIGINS, comma-separated exact origins; empty: no CORS at all
 *   (no Access-Control headers, OPTIONS is 404). An allowed origin gets its own origin back, the
 *   request headers clients send, and X-Request-Id and Retry-After exposed; bearer tokens, no
 *   cookies, so no credentials mode. A request from any other origin is served without CORS
 *   headers (the browser withholds the answer from the page); its preflight is 404.
 * - Text PostgreSQL cannot store is 400 `validation_failed`, not a 500: a NUL character wherever
 *   it hides (a body field, a query filter, a login email), and a JSON body with an unpaired
 *   surrogate escape (`"\ud800"`), refused as it is parsed.
 * - Bodies are `application/json` (any case; charset UTF-8 if one is named) and nothing else:
 *   Fastify's text/plain parser is removed, and a body of any other type, `+json` types
 *   included, is 415 `unsupported_media_type`, unread. A request without a body passes whatever
 *   its Content-Type says.
 *
 * Registered before auth (auth depends on it): CORS headers must reach a 401 too, or a browser
 * client cannot tell an expired token from a network failure. The docs routes (plugins/openapi.ts,
 * which depends on this plugin) are marked as they are added.
 */
async function securityPlugin (app: FastifyInstance): Promise<void> {
  app.addErrorTranslator(error => {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' && UNSTORABLE_CHARACTER.has(code) ? unstorable() : undefined
  })

  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, unicodeJsonParser(app))
  // every other type; Fastify itself lets a request with no Content-Type and no body through
  app.addContentTypeParser('*', (request, _payload, done) => {
    const { 'content-length': length, 'transfer-encoding': encoding } = request.headers
    if (encoding === undefined && (length === undefined || length === '0')) return done(null, undefined)
    done(unsupportedMediaType('request bodies must be application/json'))
  })

  app.addHook('onRoute', (route: RouteOptions) => {
    if (isDocs(route.url)) route.config = { ...route.config, docs: true }
  })
  const securityHeaders: onSendHookHandler = (request, reply, payload, done) => {
    reply.headers(request.routeConfig?.docs === true ? docsHeaders : apiHeaders)
    done(null, payload)
  }
  app.addHook('onSend', securityHeaders)

  const origins = corsOrigins(app.config.CORS_ORIGINS)
  if (origins.size === 0) return

  // the preflight route answers before authentication: its whole job is to say what is allowed
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, public: true }
  })
  await app.register(cors, {
    origin: (origin, callback) => { callback(null, origin !== undefined && origins.has(origin) ? origin : false) },
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-tenant', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
    credentials: false,
    // an OPTIONS from an allowed origin without Access-Control-Request-Method gets the preflight
    // answer rather than a text/plain 400 outside the problem format
    strictPreflight: false
  })
}

export default fp(securityPlugin, { name: 'security', fastify: '5.x', dependencies: ['errors'] })

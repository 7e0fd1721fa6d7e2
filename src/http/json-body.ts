import type { IncomingMessage } from 'node:http'
import type { FastifyBodyParser, FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../platform/errors.ts'

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
    // Fastify's JSON parser answers through the callback (its return value carries nothing)
    void parseJson(request, body, (error, parsed) => {
      if (error !== null) return done(error)
      if (surrogateEscape.test(body) && hasLoneSurrogate(parsed)) return done(notUnicode())
      done(null, parsed)
    })
  }
}

/**
 * The parser of every other content type: a body that is not JSON is 415, unread. A request with
 * no body (no Content-Length or 0, no Transfer-Encoding) passes whatever its Content-Type says.
 */
export function refuseOtherBodies (request: FastifyRequest, _payload: IncomingMessage, done: (error: Error | null, body?: undefined) => void): void {
  const { 'content-length': length, 'transfer-encoding': encoding } = request.headers
  if (encoding === undefined && (length === undefined || length === '0')) return done(null, undefined)
  done(unsupportedMediaType('request bodies must be application/json'))
}

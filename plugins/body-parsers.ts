import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { refuseOtherBodies, unicodeJsonParser } from '../src/http/json-body.ts'

/**
 * What reaches a route as a body: `application/json` (any case; charset UTF-8 if one is named)
 * and nothing else. Fastify's text/plain parser is removed, and a body of any other type, `+json`
 * types included, is 415 `unsupported_media_type`, unread; a request without a body passes
 * whatever its Content-Type says. A JSON body with an unpaired surrogate escape (`"\ud800"`),
 * which text columns would store as U+FFFD and jsonb refuses, is 400 as it is parsed.
 */
async function bodyParsersPlugin (app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'string' }, unicodeJsonParser(app))
  // every other type; Fastify itself lets a request with no Content-Type and no body through
  app.addContentTypeParser('*', refuseOtherBodies)
}

export default fp(bodyParsersPlugin, { name: 'body-parsers', fastify: '5.x' })

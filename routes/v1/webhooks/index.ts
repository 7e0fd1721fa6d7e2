import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../../../src/platform/errors.ts'
import { PaymentEventBody, PaymentSignatureHeaders, WebhookAck } from '../../../src/features/billing/index.ts'
import { unicodeJsonParser } from '../../../src/http/json-body.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** the body exactly as received, on the webhook routes only (their signatures cover these bytes) */
    rawBody?: Buffer | null
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * Webhooks from outside parties: public routes that authenticate the caller by a signature over
 * the raw body. This plugin's own body parsing (encapsulated: every other route keeps Fastify's
 * JSON parser) hands the handler chain the bytes; the signature is checked on them first, then
 * they are parsed, then the schema validates the result.
 */
const webhooksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { billing, paymentSignatures } = app.services
  const parseJson = unicodeJsonParser(app)

  app.decorateRequest('rawBody', null)
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })

  async function verifyThenParse (request: FastifyRequest): Promise<void> {
    const raw = Buffer.isBuffer(request.body) ? request.body : EMPTY
    request.rawBody = raw
    const header = request.headers['payments-signature']
    if (!paymentSignatures.verify(typeof header === 'string' ? header : undefined, raw)) {
      throw new AppError('invalid_signature', { detail: 'Payments-Signature does not match the body, or its timestamp is not within 5 minutes' })
    }
    request.body = await new Promise<unknown>((resolve, reject) => {
      // Fastify's JSON parser answers through the callback (its return value carries nothing)
      void parseJson(request, raw.toString('utf8'), (error, parsed) => { if (error) reject(error); else resolve(parsed) })
    })
  }

  app.post('/payments', {
    config: { public: true },
    preValidation: verifyThenParse,
    schema: {
      summary: 'Receive a payment provider event (signed; acknowledged at once, processed by a job)',
      tags: ['billing'],
      headers: PaymentSignatureHeaders,
      body: PaymentEventBody,
      response: { 200: WebhookAck }
    }
  }, async (request) => {
    await billing.recordEvent(request.body)
    return { received: true as const }
  })
}

export default webhooksRoutes
